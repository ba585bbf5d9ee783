//! The warehouse on `object_store`: where things live, the published
//! versions of its state, the writer's lock, and history ("as at").
//!
//! Layout under the warehouse root:
//!
//! ```text
//! _versions/v00000000000000000042.json   one published state per load
//! _versions/_latest                      a hint: the newest version number
//! _lock.json                             held by the one running loader
//! data/<feed>/trust=<T>/<YYYY-MM|snapshot>/v<version>-<n>.parquet
//! derived/<table>/trust=<T>/v<version>-<n>.parquet   tables derived from a trust's data
//! log/loads/v=<version>/loads.parquet
//! log/load_files/v=<version>/load_files.parquet
//! log/quarantine/v=<version>/<trust>-<feed>-<n>.parquet
//! ```
//!
//! Data files are immutable and never overwritten once a version names
//! them. A load writes its new files, then publishes version N+1 by
//! creating its JSON file, which either appears whole or not at all
//! (create-if-absent). Readers take a version and see exactly the files it
//! lists, and the log files under `v <= N`; anything a killed load left
//! behind is unreferenced and is removed by the next load before it writes.
//! Old versions are kept, so the warehouse can be read as at any load.
//!
//! This crate knows nothing of validation or SQL.

pub mod layout;
mod location;
mod lock;
pub mod log_schema;
mod parquet_io;
mod state;

pub use location::{AsAt, Warehouse};
pub use lock::LoadLock;
pub use parquet_io::{StoreFileReader, StoreWriter};
pub use state::{
    Coverage, DataFile, DateRange, DerivedTable, FeedState, LoadOutcome, RefusedExtract,
    SnapshotInfo, TrustState, VersionState, View,
};

pub use object_store;
pub use object_store::path::Path;

/// Errors of the warehouse store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The warehouse location is not a directory or a supported URL.
    #[error("warehouse location {location:?}: {message}")]
    Location { location: String, message: String },
    /// The object store failed (I/O, permissions, network).
    #[error("warehouse storage: {0}")]
    Store(#[from] object_store::Error),
    /// A version file exists but cannot be read: the warehouse is damaged.
    #[error("warehouse version {version} is unreadable: {message}")]
    BadVersion { version: u64, message: String },
    /// Another loader published the version this one meant to publish.
    #[error("another load published version {0} first; run the load again")]
    Conflict(u64),
    /// Another loader holds the lock.
    #[error("{0}")]
    Locked(String),
    /// A version asked for does not exist.
    #[error("the warehouse has no version {0}")]
    NoSuchVersion(u64),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
