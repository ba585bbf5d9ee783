//! RTT: the integrity of pathways and their events (`rtt_integrity.sql`),
//! and the checks NHS England runs on a monthly RTT return
//! (`rtt_return.sql`) over the return icsw would submit.

use super::{date, from_rows, run_sql, standard_rows};
use crate::{Finding, QualityConfig, Result};
use datafusion::scalar::ScalarValue;
use icsw_model::{IcsConfig, Month};
use icsw_query::WarehouseContext;
use icsw_returns::ReturnKind;

/// The pathway integrity checks for a scope (`common` are the run's
/// parameters).
pub(super) async fn integrity(
    ctx: &WarehouseContext,
    q: &QualityConfig,
    common: &[(&str, ScalarValue)],
) -> Result<Vec<Finding>> {
    from_rows(
        q,
        standard_rows(&run_sql(ctx, "rtt_integrity", common).await?),
    )
}

/// The RTT return checks for month `m`: the return for the month and the
/// one before, registered for the checks NHS England runs on a return. Without `with_prev` the month
/// before is taken as empty: only the checks of the month alone (the errors)
/// are then meaningful.
pub(super) async fn return_checks(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    m: Month,
    trust: Option<&str>,
    with_prev: bool,
) -> Result<Vec<Finding>> {
    // A catalog of its own, so the return tables never meet another query.
    let own = ctx.fork().await?;
    for (name, month) in [("rtt_return_now", m), ("rtt_return_prev", m.prev())] {
        let req = icsw_returns::ReturnRequest {
            kind: ReturnKind::Rtt,
            period: month,
            trust: trust.map(str::to_string),
            as_at: Default::default(),
            allow_incomplete: true,
        };
        let df = icsw_returns::return_frame(&own, &req).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let batches = if name == "rtt_return_prev" && !with_prev {
            vec![]
        } else {
            df.collect().await.map_err(icsw_query::Error::from)?
        };
        let t = datafusion::datasource::MemTable::try_new(schema, vec![batches])
            .map_err(icsw_query::Error::from)?;
        own.session()
            .register_table(name, std::sync::Arc::new(t))
            .map_err(icsw_query::Error::from)?;
    }
    rtt_return_findings(&own, config, m).await
}

/// The RTT return checks over the tables `rtt_return_now` and
/// `rtt_return_prev` of `ctx` (the RTT return for month `m` and the one
/// before, in the return's columns).
pub async fn rtt_return_findings(
    ctx: &WarehouseContext,
    config: &IcsConfig,
    m: Month,
) -> Result<Vec<Finding>> {
    let q = &QualityConfig::from(config)?;
    let params = vec![
        ("census_date", date(m.last_day())),
        (
            "swing_fraction",
            ScalarValue::Float64(Some(q.swing_fraction)),
        ),
        ("swing_min", ScalarValue::Int64(Some(q.swing_min))),
        (
            "short_wait_share",
            ScalarValue::Float64(Some(q.short_wait_share)),
        ),
        ("jump_fraction", ScalarValue::Float64(Some(q.jump_fraction))),
        ("jump_min", ScalarValue::Int64(Some(q.jump_min))),
    ];
    from_rows(
        q,
        standard_rows(&run_sql(ctx, "rtt_return", &params).await?),
    )
}
