//! Disclosure control for managers: the one owner of small-number
//! suppression. Every count a manager is shown is suppressed (0 as 0, 1 to
//! 7 as `*`, others to the nearest 5), and every rate is computed from the
//! counts as shown, never from the exact ones: a rate to two decimals
//! would otherwise give the exact count back. A query says which of its
//! columns are rates, and of which counts, in its header:
//!
//! ```sql
//! -- rates: pct_within_4_hours = 100 * within_4_hours / attendances
//! -- rates: pct_within_18_weeks           (no counts to compute it from: withheld)
//! ```
//!
//! A rate whose counts are shown as `*` is withheld with them. SPC
//! signals and icons may still come from the exact series (they reveal no
//! count); the points drawn are those shown.

use crate::{ApiError, ApiResult};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use icsw_query::SqlFile;
use std::sync::Arc;

/// A count as a manager sees it.
pub fn suppress(n: i64) -> String {
    match n {
        0 => "0".into(),
        1..=7 => "*".into(),
        n => (((n as f64) / 5.0).round() as i64 * 5).to_string(),
    }
}

/// The number a manager is shown for a count: `None` for `*`.
pub fn shown(n: i64) -> Option<f64> {
    suppress(n).parse().ok()
}

/// A column a query declares a rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    pub column: String,
    /// `scale * numerator / denominator`, or `None`: withheld.
    pub of: Option<(f64, String, String)>,
}

/// The rates a query's header declares (`-- rates: ...`, entries apart by
/// commas).
pub fn rates(file: &SqlFile) -> Vec<Rate> {
    file.extra
        .iter()
        .filter(|(k, _)| k == "rates")
        .flat_map(|(_, v)| v.split(','))
        .filter_map(|entry| {
            let (column, expr) = match entry.split_once('=') {
                Some((c, e)) => (c.trim(), Some(e.trim())),
                None => (entry.trim(), None),
            };
            if column.is_empty() {
                return None;
            }
            let of = expr.and_then(|e| {
                let (scale, ratio) = match e.split_once('*') {
                    Some((k, r)) => (k.trim().parse().ok()?, r),
                    None => (1.0, e),
                };
                let (num, den) = ratio.split_once('/')?;
                Some((scale, num.trim().to_string(), den.trim().to_string()))
            });
            Some(Rate {
                column: column.to_string(),
                of,
            })
        })
        .collect()
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Batches as a manager sees them: counts (integer columns) as their
/// suppressed text, declared rates from the shown counts (or null), other
/// columns as they are.
pub fn for_managers(batches: Vec<RecordBatch>, rates: &[Rate]) -> ApiResult<Vec<RecordBatch>> {
    let mut out = Vec::with_capacity(batches.len());
    for b in batches {
        let schema = b.schema();
        let ints = |name: &str| -> ApiResult<Option<Vec<Option<i64>>>> {
            let Some(c) = b.column_by_name(name) else {
                return Ok(None);
            };
            let c = cast(c, &DataType::Int64).map_err(internal)?;
            let c = c
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .ok_or_else(|| internal("cast"))?;
            Ok(Some(
                (0..c.len())
                    .map(|i| c.is_valid(i).then(|| c.value(i)))
                    .collect(),
            ))
        };
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (f, c) in schema.fields().iter().zip(b.columns()) {
            if let Some(rate) = rates.iter().find(|r| &r.column == f.name()) {
                let values: Vec<Option<f64>> = match &rate.of {
                    None => vec![None; b.num_rows()],
                    Some((scale, num, den)) => {
                        let (Some(n), Some(d)) = (ints(num)?, ints(den)?) else {
                            return Err(internal(format!(
                                "rate {} of missing counts",
                                rate.column
                            )));
                        };
                        n.iter()
                            .zip(&d)
                            .map(|(n, d)| {
                                let (n, d) = (shown((*n)?)?, shown((*d)?)?);
                                (d > 0.0).then(|| scale * n / d)
                            })
                            .collect()
                    }
                };
                fields.push(Field::new(f.name(), DataType::Float64, true));
                cols.push(Arc::new(Float64Array::from(values)));
            } else if matches!(
                f.data_type(),
                DataType::Int64 | DataType::Int32 | DataType::UInt64 | DataType::UInt32
            ) {
                let v = ints(f.name())?.unwrap_or_default();
                let text: StringArray = v.iter().map(|n| n.map(suppress)).collect();
                fields.push(Field::new(f.name(), DataType::Utf8, true));
                cols.push(Arc::new(text));
            } else {
                fields.push(f.as_ref().clone());
                cols.push(c.clone());
            }
        }
        out.push(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(internal)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_suppressed_and_rates_come_from_what_is_shown() {
        assert_eq!(suppress(0), "0");
        assert_eq!(suppress(7), "*");
        assert_eq!(suppress(8), "10");
        assert_eq!(suppress(1234), "1235");
        let file = SqlFile::parse(
            "t",
            "-- title: t\n-- source: s\n-- rates: pct = 100 * within / total, withheld\nSELECT 1",
        )
        .unwrap();
        let r = rates(&file);
        assert_eq!(r.len(), 2);
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("within", DataType::Int64, false),
                Field::new("total", DataType::Int64, false),
                Field::new("pct", DataType::Float64, false),
                Field::new("withheld", DataType::Float64, false),
            ])),
            vec![
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![34, 3])),
                Arc::new(datafusion::arrow::array::Int64Array::from(vec![96, 96])),
                Arc::new(Float64Array::from(vec![35.42, 3.13])),
                Arc::new(Float64Array::from(vec![0.5, 0.5])),
            ],
        )
        .unwrap();
        let m = &for_managers(vec![b], &r).unwrap()[0];
        let pct = m.column(2).as_any().downcast_ref::<Float64Array>().unwrap();
        // 34 of 96 is shown as 35 of 95: 36.84%, which gives back no 34.
        assert!((pct.value(0) - 100.0 * 35.0 / 95.0).abs() < 1e-9);
        // 3 is shown as *: its rate is withheld with it.
        assert!(pct.is_null(1));
        assert_eq!(m.column(3).null_count(), 2);
        let within = m.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((within.value(0), within.value(1)), ("35", "*"));
    }
}
