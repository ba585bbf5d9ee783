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
use crate::{Result, SqlFile};
use datafusion::prelude::SessionContext;

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
    for (name, text) in VIEWS {
        let file = SqlFile::parse(name, text)?;
        let df = ctx
            .sql(&file.text)
            .await
            .map_err(|e| crate::Error::SqlFile {
                file: format!("linkage/{name}.sql"),
                message: e.to_string(),
            })?;
        ctx.register_table(*name, df.into_view())?;
    }
    Ok(())
}
