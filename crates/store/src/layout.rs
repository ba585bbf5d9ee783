//! Where everything lives under the warehouse root: the one place a path
//! of the warehouse is named (the crate docs draw the tree).

/// A log table's folder: `log/<table>`.
pub fn log_dir(table: &str) -> String {
    format!("log/{table}")
}

/// The folder of what the load publishing `version` wrote to a log table:
/// `log/<table>/v=<version>` (20 digits, so folders sort by version).
pub fn log_version_dir(table: &str, version: u64) -> String {
    format!("log/{table}/v={version:020}")
}

/// One file of a log table written by the load publishing `version`.
pub fn log_file(table: &str, version: u64, name: &str) -> String {
    format!("{}/{name}.parquet", log_version_dir(table, version))
}

/// The `n`th data file a load publishing `version` writes for a trust's
/// feed: `data/<feed>/trust=<T>/<part>/v<version>-<n>.parquet`, where the
/// part is the month of activity (`YYYY-MM`) or `snapshot`.
pub fn data_file(feed: &str, trust: &str, part: &str, version: u64, n: u32) -> String {
    format!("data/{feed}/trust={trust}/{part}/v{version:020}-{n}.parquet")
}

/// The `n`th file of a table derived from a trust's data by the version
/// `version`: `derived/<table>/trust=<T>/v<version>-<n>.parquet`.
pub fn derived_file(table: &str, trust: &str, version: u64, n: u32) -> String {
    format!("derived/{table}/trust={trust}/v{version:020}-{n}.parquet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_documented_layout() {
        assert_eq!(
            log_file("loads", 42, "loads"),
            "log/loads/v=00000000000000000042/loads.parquet"
        );
        assert_eq!(
            data_file("ae_attendances", "RYJ", "2026-10", 7, 0),
            "data/ae_attendances/trust=RYJ/2026-10/v00000000000000000007-0.parquet"
        );
        assert_eq!(
            derived_file("rtt_period_history", "RYJ", 7, 0),
            "derived/rtt_period_history/trust=RYJ/v00000000000000000007-0.parquet"
        );
    }
}
