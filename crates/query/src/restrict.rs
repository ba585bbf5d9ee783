//! Restricted sessions: a trust's or a commissioner's rows only, and for
//! analysts a de-identified view in which every identifier is replaced by a
//! keyed pseudonym (the same in every table, so joins still work) and birth
//! dates by years.
//!
//! A restricted session has its own catalog: each table is a view over the
//! full session's table with the rows filtered and the identifiers
//! replaced, and the derived views are planned again over those. The full
//! tables are never registered in it by name, and the pseudonym function is
//! not callable from its SQL.

use crate::{Result, WarehouseContext};
use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{col, create_udf, lit, ColumnarValue, Expr, ScalarUDF, Volatility};
use datafusion::prelude::SessionContext;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Who may see what.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Restriction {
    /// Only these trusts' rows.
    pub trusts: Option<Vec<String>>,
    /// Only rows of these commissioners; patient-level tables without a
    /// commissioner are hidden.
    pub commissioners: Option<Vec<String>>,
    /// Replace identifiers with pseudonyms keyed by this secret.
    pub pseudonym_key: Option<Vec<u8>>,
}

impl Restriction {
    pub fn is_none(&self) -> bool {
        self.trusts.is_none() && self.commissioners.is_none() && self.pseudonym_key.is_none()
    }

    /// Whether a trust's rows may be seen.
    pub fn allows_trust(&self, trust: &str) -> bool {
        self.trusts
            .as_ref()
            .is_none_or(|ts| ts.iter().any(|t| t == trust))
    }

    /// An identifier as this session shows it: its pseudonym when the
    /// session is de-identified, else itself.
    pub fn identifier(&self, value: &str) -> String {
        match &self.pseudonym_key {
            Some(k) => pseudonym(k, value),
            None => value.to_string(),
        }
    }
}

/// Columns that identify a patient or a record.
const IDENTIFIERS: &[&str] = &[
    "nhs_number",
    "local_patient_id",
    "attendance_id",
    "spell_id",
    "appointment_id",
    "referral_id",
    "event_id",
    "pathway_id",
    "ae_attendance_id",
    "start_event_id",
    "record_id",
    "value",
    "record",
];

/// Patient-level tables with no commissioner column: hidden from a
/// commissioner-scoped session.
const NO_COMMISSIONER: &[&str] = &["patients", "quarantine", "superseded", "rtt_findings"];

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The pseudonym of a value: `p` and 20 hex digits of its keyed hash.
pub fn pseudonym(key: &[u8], value: &str) -> String {
    format!(
        "p{}",
        &hex::encode(hmac_sha256(key, value.as_bytes()))[..20]
    )
}

fn pseudonym_udf(key: Vec<u8>, list: bool) -> ScalarUDF {
    let name = if list { "pseudonym_list" } else { "pseudonym" };
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let a = ColumnarValue::values_to_arrays(args)?;
            let s = cast(&a[0], &DataType::Utf8)?;
            let out: StringArray = s
                .as_string::<i32>()
                .iter()
                .map(|v| {
                    v.map(|v| {
                        if list {
                            v.split(',')
                                .filter(|x| !x.is_empty())
                                .map(|x| pseudonym(&key, x))
                                .collect::<Vec<_>>()
                                .join(",")
                        } else {
                            pseudonym(&key, v)
                        }
                    })
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    )
}

impl WarehouseContext {
    /// A session over the same data showing only what `r` allows.
    pub async fn restricted(&self, r: &Restriction) -> Result<WarehouseContext> {
        let full = self.session();
        let ctx = SessionContext::new_with_config_rt(full.copied_config(), full.runtime_env());
        crate::udf::register(&ctx);
        let ids = r.pseudonym_key.clone().map(|k| pseudonym_udf(k, false));
        let id_lists = r.pseudonym_key.clone().map(|k| pseudonym_udf(k, true));
        let catalog = full.catalog("datafusion").expect("default catalog");
        let schema = catalog.schema("public").expect("default schema");
        let mut names = schema.table_names();
        names.sort();
        for name in names {
            if crate::tables::is_derived(&name) {
                continue;
            }
            let Some(provider) = schema.table(&name).await? else {
                continue;
            };
            let table_schema = provider.schema();
            let has = |c: &str| table_schema.column_with_name(c).is_some();
            let mut df = ctx.read_table(provider.clone())?;
            if let (Some(ts), true) = (&r.trusts, has("trust")) {
                df = df.filter(
                    col("trust").in_list(ts.iter().map(|t| lit(t.clone())).collect(), false),
                )?;
            }
            if let Some(cs) = &r.commissioners {
                if has("commissioner_code") {
                    df = df.filter(
                        col("commissioner_code")
                            .in_list(cs.iter().map(|c| lit(c.clone())).collect(), false),
                    )?;
                } else if NO_COMMISSIONER.contains(&name.as_str()) {
                    df = df.filter(lit(false))?;
                }
            }
            if let (Some(ids), Some(lists)) = (&ids, &id_lists) {
                let exprs: Vec<Expr> = table_schema
                    .fields()
                    .iter()
                    .map(|f| {
                        let n = f.name().as_str();
                        if IDENTIFIERS.contains(&n) {
                            ids.call(vec![col(n)]).alias(n)
                        } else if n == "example_keys" {
                            lists.call(vec![col(n)]).alias(n)
                        } else if n == "birth_date" {
                            datafusion::logical_expr::cast(
                                datafusion::functions::expr_fn::date_part(lit("year"), col(n)),
                                DataType::Int32,
                            )
                            .alias("birth_year")
                        } else {
                            col(n)
                        }
                    })
                    .collect();
                df = df.select(exprs)?;
            }
            ctx.register_table(name.as_str(), df.into_view())?;
        }
        crate::tables::register_derived(&ctx).await?;
        Ok(self.with_session(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(pseudonym(b"k", "9434765919"), pseudonym(b"k", "9434765919"));
        assert_ne!(pseudonym(b"k", "9434765919"), pseudonym(b"j", "9434765919"));
    }
}
