use icsw_model::Feed;
use serde::Serialize;

/// Why a whole extract was refused. The previous data stays served, and the
/// extract is tried again when its manifest changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The trust is not in the ICS configuration.
    UnknownTrust,
    /// The manifest is missing a field, malformed, or disagrees with its folder.
    InvalidManifest,
    /// A file named in the manifest is not in the folder.
    MissingFile,
    /// A file's row count differs from the manifest's.
    RowCountMismatch,
    /// A file's sha256 differs from the manifest's.
    Sha256Mismatch,
    /// A file is not readable Parquet.
    UnreadableFile,
    /// A required column is missing, or a contract column has a type the
    /// contract does not accept.
    SchemaDrift,
    /// Guard: more than the allowed fraction of a feed's rows were rejected.
    TooManyRejected,
    /// Guard: a snapshot feed shrank below the allowed fraction of the
    /// previous snapshot.
    ShrunkenSnapshot,
}

impl RefusalKind {
    pub fn code(self) -> &'static str {
        match self {
            RefusalKind::UnknownTrust => "unknown_trust",
            RefusalKind::InvalidManifest => "invalid_manifest",
            RefusalKind::MissingFile => "missing_file",
            RefusalKind::RowCountMismatch => "row_count_mismatch",
            RefusalKind::Sha256Mismatch => "sha256_mismatch",
            RefusalKind::UnreadableFile => "unreadable_file",
            RefusalKind::SchemaDrift => "schema_drift",
            RefusalKind::TooManyRejected => "too_many_rejected",
            RefusalKind::ShrunkenSnapshot => "shrunken_snapshot",
        }
    }
}

/// A refused extract, naming the trust, extract date, file and column.
/// Never carries a row's values: messages go to logs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub trust: String,
    pub extract_date: String,
    pub file: Option<String>,
    pub feed: Option<Feed>,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "extract {} {} refused ({})",
            self.trust,
            self.extract_date,
            self.kind.code()
        )?;
        if let Some(file) = &self.file {
            write!(f, ": file {file}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Errors that stop a load run (as opposed to refusing one extract); each
/// keeps its cause as its source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The warehouse could not be read or written.
    #[error(transparent)]
    Store(#[from] icsw_store::Error),
    /// Reading a landed file that passed its checks, or writing a
    /// warehouse file, failed in Parquet.
    #[error("parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Building a batch of stored or quarantined rows failed in Arrow.
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A quarantined record did not serialise as UTF-8 JSON (a bug).
    #[error("quarantined record: {0}")]
    Record(#[from] std::string::FromUtf8Error),
    /// Deriving a table from the stored rows (the RTT walk) failed.
    #[error("deriving tables: {0}")]
    Derive(#[source] Box<icsw_query::Error>),
    /// The landing zone, or a file in it, could not be read.
    #[error("landing zone {path}: {source}")]
    Landing {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<icsw_query::Error> for Error {
    fn from(e: icsw_query::Error) -> Self {
        Error::Derive(Box::new(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
