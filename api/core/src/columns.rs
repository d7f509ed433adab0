//! One value of a result row read by its position, for [`crate::row_by_position!`] rows. A null in
//! an optional column is seen on the raw value and read as `None` at once: SeaORM reads an
//! optional column by reading the value as required and turning the null error it gets into
//! `None`, and each such error formats the column's position into a new string. A page of calls
//! holds a few hundred nulls (uncredited calls, calls not answered), and those errors cost more
//! than the page's other values. Values that are there decode as SeaORM decodes them; a
//! [`Tolerant`] column keeps a value that does not decode as its error instead of failing the row.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sqlx::{Row, ValueRef};
use sea_orm::{DbErr, QueryResult, TryGetable};
use uuid::Uuid;

/// A type one column of a row decodes into.
pub trait ByPosition: Sized {
    /// The value of the result's column `position`.
    fn read(row: &QueryResult, position: usize) -> Result<Self, DbErr>;
}

impl<T: TryGetable> ByPosition for Option<T> {
    fn read(row: &QueryResult, position: usize) -> Result<Self, DbErr> {
        match is_null(row, position) {
            Some(true) => Ok(None),
            Some(false) => row.try_get_by_index::<T>(position).map(Some),
            None => row.try_get_by_index::<Option<T>>(position),
        }
    }
}

/// An optional column whose stored value may fail to decode (JSON the server writes, which a bug
/// or a hand edit can break): read as `Ok(value)`, or as `Err(what failed)` instead of failing the
/// whole row, so that the reader can repair or pass over the value. A column the row lacks still
/// fails the row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tolerant<T>(pub Result<Option<T>, String>);

impl<T: TryGetable> ByPosition for Tolerant<T> {
    fn read(row: &QueryResult, position: usize) -> Result<Self, DbErr> {
        match is_null(row, position) {
            Some(true) => Ok(Self(Ok(None))),
            Some(false) => Ok(Self(
                row.try_get_by_index::<T>(position)
                    .map(Some)
                    .map_err(|error| error.to_string()),
            )),
            None => row
                .try_get_by_index::<Option<T>>(position)
                .map(|value| Self(Ok(value))),
        }
    }
}

/// Whether the value at `position` is null, or None when the row is neither PostgreSQL's nor
/// SQLite's or has no such column (SeaORM then says so).
fn is_null(row: &QueryResult, position: usize) -> Option<bool> {
    if let Some(row) = row.try_as_pg_row() {
        return row.try_get_raw(position).ok().map(|value| value.is_null());
    }
    if let Some(row) = row.try_as_sqlite_row() {
        return row.try_get_raw(position).ok().map(|value| value.is_null());
    }
    None
}

/// Required columns decode as SeaORM decodes them.
macro_rules! required {
    ($($ty:ty),+ $(,)?) => {
        $(impl ByPosition for $ty {
            fn read(row: &QueryResult, position: usize) -> Result<Self, DbErr> {
                row.try_get_by_index(position)
            }
        })+
    };
}

required!(Uuid, String, bool, i32, i64, DateTime<Utc>, NaiveDate);

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

    use super::*;

    /// The one row `select` gives on an in-memory SQLite database.
    async fn sqlite_row(select: &str) -> QueryResult {
        let db = Database::connect("sqlite::memory:").await.expect("sqlite");
        db.query_one_raw(Statement::from_string(DbBackend::Sqlite, select))
            .await
            .expect("query")
            .expect("a row")
    }

    #[tokio::test]
    async fn nulls_read_as_none_and_values_as_seaorm_reads_them() {
        let row = sqlite_row("SELECT NULL, 'text', 7, NULL, 12").await;
        assert_eq!(Option::<String>::read(&row, 0).expect("null"), None);
        assert_eq!(
            Option::<String>::read(&row, 1).expect("text"),
            Some("text".to_owned())
        );
        assert_eq!(i64::read(&row, 2).expect("number"), 7);
        assert_eq!(Option::<i64>::read(&row, 3).expect("null"), None);
        assert_eq!(Option::<i64>::read(&row, 4).expect("number"), Some(12));
        assert!(
            String::read(&row, 0).is_err(),
            "a required column is not null"
        );
        assert!(Option::<i64>::read(&row, 1).is_err(), "text is no number");
        assert!(Option::<i64>::read(&row, 9).is_err(), "no such column");
    }

    #[tokio::test]
    async fn a_tolerant_column_reads_what_does_not_decode_as_its_error() {
        let row = sqlite_row("SELECT NULL, 12, 'twelve'").await;
        assert_eq!(Tolerant::<i64>::read(&row, 0).expect("null").0, Ok(None));
        assert_eq!(
            Tolerant::<i64>::read(&row, 1).expect("number").0,
            Ok(Some(12))
        );
        let unreadable = Tolerant::<i64>::read(&row, 2).expect("the row still reads");
        assert!(unreadable.0.is_err(), "{unreadable:?}");
        assert!(
            Tolerant::<i64>::read(&row, 9).is_err(),
            "a column the row lacks fails it"
        );
    }
}
