//! Progress reporting, implemented by the command line (a bar on a
//! terminal, log lines otherwise).

use crate::summary::LoadSummary;

pub trait Progress: Send + Sync {
    /// An extract is about to load; `rows` is the manifest's total.
    fn extract_started(&self, trust: &str, extract_date: &str, rows: u64);
    /// More rows have been read (each file is read twice: check, then write).
    fn rows(&self, n: u64);
    fn extract_finished(&self, summary: &LoadSummary);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn extract_started(&self, _: &str, _: &str, _: u64) {}
    fn rows(&self, _: u64) {}
    fn extract_finished(&self, _: &LoadSummary) {}
}
