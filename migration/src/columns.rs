//! Column and index builders shared by the migrations, so every table spells the common columns
//! (ids, tenant key, timestamps) the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

/// The tenant key: a non-null reference to `clinics.id`.
pub fn clinic_id() -> ColumnDef {
    schema::uuid("clinic_id")
}

/// A foreign key from `table.clinic_id` to `clinics.id`; deleting a clinic deletes its rows.
pub fn clinic_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_clinic"))
        .from(table, "clinic_id")
        .to("clinics", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// `created_at`, a non-null instant in UTC.
pub fn created_at() -> ColumnDef {
    schema::timestamp_with_time_zone("created_at")
}

/// `updated_at`, a non-null instant in UTC.
pub fn updated_at() -> ColumnDef {
    schema::timestamp_with_time_zone("updated_at")
}

/// An index on a tenant table; `columns` follow `clinic_id`, which always leads.
pub fn tenant_index(
    table: &'static str,
    suffix: &str,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("idx_{table}_{suffix}"))
        .table(table)
        .col("clinic_id");
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

/// A unique index on a tenant table, led by `clinic_id`.
pub fn tenant_unique_index(
    table: &'static str,
    suffix: &str,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut index = tenant_index(table, suffix, columns);
    index.unique();
    index
}

/// Drops `table`; used by every `down`.
pub async fn drop_table(manager: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    manager
        .drop_table(Table::drop().table(table).to_owned())
        .await
}

/// Adds `columns` to `table`, one statement each (SQLite takes one change per ALTER TABLE).
pub async fn add_columns(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// Drops `columns` from `table`, one statement each; used by the `down` of [`add_columns`].
pub async fn drop_columns(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(Table::alter().table(table).drop_column(*column).to_owned())
            .await?;
    }
    Ok(())
}
