//! ICS-wide linkage (`shared/linkage/README.md`): one patient's records
//! joined across the ICS's trusts by a valid NHS number.
//!
//! The per-record views (`sql/linkage/*.sql`) are registered in the full
//! session, over every trust's rows, and show no NHS number and no record
//! id: `icsw_patient_key(nhs_number)` is the keyed pseudonym an analyst's
//! session shows for a valid number (null for a missing or invalid one,
//! which never links), `icsw_record_key(id)` that of a record id, both
//! under [`IcsConfig::pseudonym_key`]. A restricted session does not plan
//! them again over its own rows (a patient's attendance at another trust is
//! what they count): it shows the full view's rows of its own trusts
//! ([`crate::restrict`]), so what crosses a trust boundary is the fact of a
//! record elsewhere and that trust's code. The key functions are not in a
//! restricted session's SQL.
//!
//! [`IcsConfig::pseudonym_key`]: icsw_model::IcsConfig::pseudonym_key

use crate::restrict::{pseudonym_udf, Keyed};
use crate::Result;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, ScalarValue};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::logical_expr::{col, lit, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// The linkage views, by name.
pub const VIEWS: &[(&str, &str)] = &[
    (
        "ics_ae_reattendance",
        include_str!("../../../sql/linkage/ics_ae_reattendance.sql"),
    ),
    (
        "ics_rtt_multi_provider",
        include_str!("../../../sql/linkage/ics_rtt_multi_provider.sql"),
    ),
    (
        "ics_rtt_transfers",
        include_str!("../../../sql/linkage/ics_rtt_transfers.sql"),
    ),
];

/// The linkage views by census date, each with a table function
/// `NAME_at(date)`: the view at that month-end census date.
const BY_CENSUS: &[&str] = &["ics_rtt_multi_provider", "ics_rtt_transfers"];

/// Whether `name` is a linkage view (hidden from a commissioner's session:
/// these are by provider, and patient-level).
pub(crate) fn is_linkage(name: &str) -> bool {
    VIEWS.iter().any(|(n, _)| *n == name)
}

/// Registers the key functions and the linkage views in a full session.
pub(crate) async fn register(ctx: &SessionContext, key: Vec<u8>) -> Result<()> {
    ctx.register_udf(pseudonym_udf(
        "icsw_patient_key",
        key.clone(),
        Keyed::NhsNumber,
    ));
    ctx.register_udf(pseudonym_udf("icsw_record_key", key, Keyed::Value));
    crate::tables::register_views(ctx, "linkage", VIEWS.iter()).await?;
    register_functions(ctx).await
}

/// `NAME_at(date)` for each view of [`BY_CENSUS`], over the session's own
/// table of that name (the full view, or a restricted session's rows of
/// it).
pub(crate) async fn register_functions(ctx: &SessionContext) -> Result<()> {
    for name in BY_CENSUS {
        let view = ctx.table_provider(*name).await?;
        let at = format!("{name}_at");
        ctx.register_udtf(
            &at,
            Arc::new(ViewAt {
                name: at.clone(),
                view,
            }),
        );
    }
    Ok(())
}

/// A view by census date read at one: `view WHERE census_date = date`.
#[derive(Debug)]
struct ViewAt {
    name: String,
    view: Arc<dyn TableProvider>,
}

impl TableFunctionImpl for ViewAt {
    fn call_with_args(
        &self,
        args: TableFunctionArgs<'_, '_>,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        let day = crate::rtt::date_arg(&self.name, args.exprs())?;
        let date = icsw_model::london::day_to_date(day);
        if icsw_model::Month::of(date).last_day() != date {
            return plan_err!(
                "{} takes a month-end census date, e.g. DATE '2026-10-31' (not {date})",
                self.name
            );
        }
        let plan = LogicalPlanBuilder::scan(
            self.name.as_str(),
            provider_as_source(self.view.clone()),
            None,
        )?
        .filter(col("census_date").eq(lit(ScalarValue::Date32(Some(day)))))?
        .build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}
