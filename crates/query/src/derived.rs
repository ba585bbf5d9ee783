//! Tables derived from a trust's data and stored with it, in the same
//! version, so no session walks the RTT events again.
//!
//! | table | derived from | how |
//! | --- | --- | --- |
//! | `rtt_period_history` | the trust's `rtt_events` files | the clock walk (contract section 5) |
//! | `rtt_findings` | the trust's `rtt_events` files | the same walk's findings |
//!
//! A trust's derived table is *current* when its format is this build's
//! and it was derived from exactly the input files the trust now holds (a
//! digest of their paths: data files are immutable, so the same paths are
//! the same rows). [`refresh`] derives what is not current; the load calls
//! it before publishing each version, and `icsw rebuild-derived` for a
//! warehouse written before a table existed. A session reads the stored
//! files of every trust whose table is current and walks the events of the
//! rest ([`crate::tables`]), so a warehouse without them gives the same
//! figures, only more slowly.

use crate::rtt::{findings_schema, history_schema, Mode, RttWalkTable};
use crate::tables::files_table;
use crate::Result;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::execute_stream;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use icsw_model::Feed;
use icsw_store::{layout, DataFile, DerivedTable, TrustState, VersionState, Warehouse};
use sha2::{Digest, Sha256};

/// One derived table.
#[derive(Clone, Copy, Debug)]
pub struct Derivation {
    pub table: &'static str,
    /// Bumped whenever how the table is derived changes.
    pub format: u32,
    /// The feeds it is derived from.
    pub inputs: &'static [Feed],
    mode: Mode,
}

impl Derivation {
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    pub fn schema(&self) -> SchemaRef {
        match self.mode {
            Mode::History => history_schema(),
            Mode::Findings => findings_schema(),
        }
    }

    /// The digest of the input files `trust` holds now.
    fn inputs_digest(&self, trust: &TrustState) -> String {
        let mut h = Sha256::new();
        for feed in self.inputs {
            h.update(feed.name().as_bytes());
            for f in trust.feeds.get(feed).into_iter().flat_map(|s| &s.files) {
                h.update(b"\0");
                h.update(f.path.as_bytes());
            }
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    fn input_files<'a>(&self, trust: &'a TrustState) -> impl Iterator<Item = &'a DataFile> + 'a {
        let inputs = self.inputs;
        inputs
            .iter()
            .flat_map(move |feed| trust.feeds.get(feed).into_iter().flat_map(|s| &s.files))
    }

    /// The stored files that stand for this table of `trust`, when they
    /// are current (none are needed for a trust with no input rows), or
    /// `None` when the table must be derived again.
    pub fn stored<'a>(&self, trust: &'a TrustState) -> Option<&'a [DataFile]> {
        if self.input_files(trust).next().is_none() {
            return Some(&[]);
        }
        trust
            .derived
            .get(self.table)
            .filter(|d| d.format == self.format && d.inputs == self.inputs_digest(trust))
            .map(|d| d.files.as_slice())
    }

    /// Derives the table from `trust`'s input files into the files of
    /// `version`, streamed: memory holds one pathway's events and a row
    /// group, not the table.
    async fn derive(
        &self,
        warehouse: &Warehouse,
        trust_code: &str,
        trust: &TrustState,
        version: u64,
        row_group_rows: usize,
    ) -> Result<DerivedTable> {
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_target_partitions(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ));
        ctx.register_object_store(warehouse.store_url(), warehouse.store().clone());
        let events = files_table(
            warehouse,
            Feed::RttEvents.stored_schema(),
            self.input_files(trust).map(|f| f.path.clone()).collect(),
        )?;
        let walk = RttWalkTable::new(events, self.mode);
        let plan = walk.walk_plan(&ctx.state(), None, &[], None).await?;
        let mut stream = execute_stream(plan, ctx.task_ctx())?;
        let path = layout::derived_file(self.table, trust_code, version, 0);
        let mut writer = warehouse.parquet_writer(&path, self.schema(), row_group_rows)?;
        let mut rows = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).await?;
        }
        writer.close().await?;
        let bytes = warehouse.size_of(&path).await?;
        Ok(DerivedTable {
            format: self.format,
            inputs: self.inputs_digest(trust),
            files: vec![DataFile {
                path,
                rows,
                bytes,
                min_date: None,
                max_date: None,
                load_id: version,
            }],
        })
    }
}

/// Every derived table.
pub const DERIVATIONS: &[Derivation] = &[
    Derivation {
        table: "rtt_period_history",
        format: 1,
        inputs: &[Feed::RttEvents],
        mode: Mode::History,
    },
    Derivation {
        table: "rtt_findings",
        format: 1,
        inputs: &[Feed::RttEvents],
        mode: Mode::Findings,
    },
];

/// The derivation of `table`, if it is a derived table.
pub fn derivation(table: &str) -> Option<&'static Derivation> {
    DERIVATIONS.iter().find(|d| d.table == table)
}

/// What [`refresh`] derived: (trust, table, rows) for each table written.
pub type Refreshed = Vec<(String, &'static str, u64)>;

/// Derives, into the files of `version`, every derived table of every
/// trust of `state` that is not current (all of them when `force`), and
/// records them in `state`; tables no longer derived from any input are
/// dropped. Nothing is published: the caller publishes `state` as
/// `version`, so the derived files appear with the data they come from.
pub async fn refresh(
    warehouse: &Warehouse,
    state: &mut VersionState,
    version: u64,
    row_group_rows: usize,
    force: bool,
) -> Result<Refreshed> {
    let mut out = Vec::new();
    for (code, trust) in state.trusts.iter_mut() {
        trust.derived.retain(|name, _| derivation(name).is_some());
        for d in DERIVATIONS {
            let has_inputs = d.input_files(trust).next().is_some();
            if !has_inputs {
                trust.derived.remove(d.table);
                continue;
            }
            if !force && d.stored(trust).is_some() {
                continue;
            }
            let started = std::time::Instant::now();
            let table = d
                .derive(warehouse, code, trust, version, row_group_rows)
                .await?;
            let rows = table.files.iter().map(|f| f.rows).sum();
            tracing::debug!(trust = %code, table = d.table, rows, seconds = started.elapsed().as_secs_f64(), "derived");
            trust.derived.insert(d.table.to_string(), table);
            out.push((code.clone(), d.table, rows));
        }
    }
    Ok(out)
}
