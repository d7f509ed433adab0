//! The deployment's periodic work, leased so that exactly one of several servers on one database
//! runs each due task. A task is due when it never ran or its last start is an interval old; a
//! server takes it with one conditional update (due, and not leased by anyone whose lease still
//! runs), which only one of several racing servers can win on PostgreSQL and on SQLite alike. The
//! lease covers the longest a run may take; a server that dies mid-run leaves a lease that simply
//! runs out. Finishing records the end and the outcome (no personal data) and frees the lease.

use chrono::{DateTime, Duration, Utc};
use ringback_entity::scheduled_task;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::db::DbError;

/// Makes sure task `name` has its row (a new task is due at once).
pub async fn register(db: &DatabaseConnection, name: &str) -> Result<(), DbError> {
    scheduled_task::Entity::insert(scheduled_task::ActiveModel {
        name: Set(name.to_owned()),
        lease_until: Set(None),
        leased_by: Set(None),
        last_started_at: Set(None),
        last_finished_at: Set(None),
        last_outcome: Set(None),
    })
    .on_conflict(
        OnConflict::column(scheduled_task::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Takes task `name` for `holder` if it is due at `now` (every `interval`) and nobody holds it;
/// the lease lasts `lease`. Whether this call took it.
pub async fn take_if_due(
    db: &DatabaseConnection,
    name: &str,
    holder: &str,
    (interval, lease): (Duration, Duration),
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    use scheduled_task::Column;
    let taken = scheduled_task::Entity::update_many()
        .col_expr(Column::LeaseUntil, Expr::value(now + lease))
        .col_expr(Column::LeasedBy, Expr::value(holder))
        .col_expr(Column::LastStartedAt, Expr::value(now))
        .filter(Column::Name.eq(name))
        .filter(
            Condition::any()
                .add(Column::LastStartedAt.is_null())
                .add(Column::LastStartedAt.lte(now - interval)),
        )
        .filter(
            Condition::any()
                .add(Column::LeaseUntil.is_null())
                .add(Column::LeaseUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Records the end of `holder`'s run of task `name` with `outcome`, and frees the lease.
pub async fn finish(
    db: &DatabaseConnection,
    name: &str,
    holder: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    use scheduled_task::Column;
    let outcome: String = outcome.chars().take(400).collect();
    scheduled_task::Entity::update_many()
        .col_expr(
            Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LeasedBy, Expr::value(Option::<String>::None))
        .col_expr(Column::LastFinishedAt, Expr::value(now))
        .col_expr(Column::LastOutcome, Expr::value(outcome))
        .filter(Column::Name.eq(name))
        .filter(Column::LeasedBy.eq(holder))
        .exec(db)
        .await?;
    Ok(())
}

/// The record of task `name`, if it was registered.
pub async fn record(
    db: &DatabaseConnection,
    name: &str,
) -> Result<Option<scheduled_task::Model>, DbError> {
    Ok(scheduled_task::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?)
}

/// The clinic ids a deployment-wide query names: on PostgreSQL from `function` (a call of the
/// security-definer function that runs the query, e.g. `ringback_clinics_billing_stale($1, $2)`),
/// elsewhere from `query` itself. `values` fill the `$n` placeholders (read as SQLite's numbered
/// `?n`, so one may appear more than once); the query answers a `clinic_id` column.
pub async fn clinic_ids(
    db: &DatabaseConnection,
    function: &str,
    query: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<uuid::Uuid>, DbError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!("SELECT clinic_id FROM {function}"),
        _ => (1..=values.len()).rev().fold(query.to_owned(), |sql, n| {
            sql.replace(&format!("${n}"), &format!("?{n}"))
        }),
    };
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .iter()
        .map(|row| Ok(row.try_get("", "clinic_id")?))
        .collect()
}

/// Up to `size` clinic ids after `after` (from the first when `None`), in id order: the clinics
/// deployment-wide work visits, one page at a time. On PostgreSQL the list comes from a function
/// that returns ids only.
pub async fn clinic_page(
    db: &DatabaseConnection,
    after: Option<uuid::Uuid>,
    size: u32,
) -> Result<Vec<uuid::Uuid>, DbError> {
    clinic_ids(
        db,
        "ringback_clinic_page($1, $2)",
        "SELECT id AS clinic_id FROM clinics WHERE $1 IS NULL OR id > $1 ORDER BY id LIMIT $2",
        vec![after.into(), i32::try_from(size).unwrap_or(i32::MAX).into()],
    )
    .await
}
