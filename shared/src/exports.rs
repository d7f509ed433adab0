//! Where a CSV export is downloaded and what its file is called, for the server (which streams
//! it and names it) and the dashboard (which asks for it and saves it) alike.

use chrono::NaiveDate;

/// The streamed download of export `what` (`calls`, `appointments`, `metrics`) for clinic days
/// `from` to `to`, inclusive.
pub fn csv_download_path(what: &str, from: NaiveDate, to: NaiveDate) -> String {
    format!("/export/{what}.csv?from={from}&to={to}")
}

/// The file name export `what` for `from` to `to` is saved as.
pub fn csv_file_name(what: &str, from: NaiveDate, to: NaiveDate) -> String {
    format!("ringback-{what}-{from}-to-{to}.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_names_carry_the_kind_and_the_days() {
        let from = NaiveDate::from_ymd_opt(2030, 1, 1).expect("a day");
        let to = NaiveDate::from_ymd_opt(2030, 1, 31).expect("a day");
        assert_eq!(
            csv_download_path("calls", from, to),
            "/export/calls.csv?from=2030-01-01&to=2030-01-31"
        );
        assert_eq!(
            csv_file_name("metrics", from, to),
            "ringback-metrics-2030-01-01-to-2030-01-31.csv"
        );
    }
}
