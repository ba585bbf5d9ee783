//! The extract contract (`shared/contract/README.md`) as types and pure
//! functions: the six feeds and their columns, code lists, the NHS number
//! check, Europe/London wall-clock rules, reporting months, the ICS
//! configuration and the RTT clock walk.
//!
//! Nothing here does I/O: the loader, the query layer and the generator all
//! build on these definitions, so a rule of the contract is written once.

pub mod calendar;
pub mod codes;
pub mod config;
pub mod feed;
pub mod london;
pub mod manifest;
pub mod nhs_number;
pub mod period;
pub mod reason;
pub mod reference;
pub mod rtt;

pub use config::{IcsConfig, TrustConfig};
pub use feed::{ColumnKind, ColumnSpec, Feed, FeedKind};
pub use period::Month;
pub use reason::{Reason, Warning};

/// Errors from parsing configuration or contract values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is not valid TOML or breaks a rule of its own.
    #[error("configuration: {0}")]
    Config(String),
    /// A value given by the user (a month, a date, a feed name) is malformed.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
