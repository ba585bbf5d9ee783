//! Validity: rows rejected (quarantined) or stored with warnings, by
//! reason, and values outside their code lists (`validity.sql`,
//! `loads.sql`).

use super::{from_rows, run_sql, standard_rows};
use crate::{Finding, QualityConfig, Result};
use datafusion::scalar::ScalarValue;
use icsw_query::WarehouseContext;

/// The validity checks for a scope (`common` are the run's parameters).
/// Rejected rows are reported above the configured share of a file's rows.
pub(super) async fn checks(
    ctx: &WarehouseContext,
    q: &QualityConfig,
    common: &[(&str, ScalarValue)],
) -> Result<Vec<Finding>> {
    let mut out = from_rows(q, standard_rows(&run_sql(ctx, "validity", common).await?))?;
    out.extend(
        from_rows(q, standard_rows(&run_sql(ctx, "loads", common).await?))?
            .into_iter()
            .filter(|f| {
                f.check_id != "completeness.rejected_rows"
                    || f.rate().unwrap_or(1.0) > q.rejected_share
            }),
    );
    Ok(out)
}
