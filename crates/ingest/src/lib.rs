//! Loading trusts' nightly extracts into the warehouse (contract sections
//! 1, 2, 4 and 6): finding complete extracts in the landing zone, checking
//! manifests and files, validating every row, quarantining what cannot be
//! stored with its reason, and publishing the rest atomically as a new
//! warehouse version with a record of the load.
//!
//! Every row read is either stored or quarantined, and a load either
//! publishes whole or not at all. Validation streams record batches: a file
//! is read twice (check, then write) and never held whole in memory.

mod error;
mod landing;
mod load;
mod log;
mod manifest;
mod merge;
mod parallel;
mod progress;
mod summary;
mod validate;

pub use error::{Error, Refusal, RefusalKind, Result};
pub use landing::{discover, ArrivingFolder, LandedExtract, Landing};
pub use load::{load_all, rebuild_derived};
pub use manifest::{Manifest, ManifestFile};
pub use progress::{NoProgress, Progress};
pub use summary::{FileSummary, LoadReport, LoadSummary, Skipped};
