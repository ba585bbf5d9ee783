//! SPC over any query's result (`icsw spc`): the rows become one series
//! per facet, in x order, and each series a Making Data Count chart
//! ([`icsw_spc`]). A null y is a gap, never a 0.

use crate::{Error, Result};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use icsw_spc::table::Faceted;
use icsw_spc::{Direction, Options};
use std::collections::BTreeMap;

/// What to chart from a query's result.
#[derive(Clone, Debug)]
pub struct SpcRequest {
    pub x: String,
    pub y: String,
    pub facet: Option<String>,
    pub direction: Direction,
    /// x values (as the result shows them, e.g. `2018-04-01`) at which a
    /// new segment starts.
    pub rebase: Vec<String>,
    pub options: Options,
}

/// How x values sort: numbers as numbers, everything else (ISO dates
/// included) as text.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Text(String),
}

/// One chart per facet (in facet order) of `df`'s rows.
pub async fn charts(df: DataFrame, req: &SpcRequest) -> Result<Vec<Faceted>> {
    let schema = df.schema().as_arrow().clone();
    let find = |name: &str| {
        schema.index_of(name).map_err(|_| {
            Error::Invalid(format!(
                "the result has no column {name} (it has {})",
                schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    let (xc, yc) = (find(&req.x)?, find(&req.y)?);
    let fc = req.facet.as_deref().map(find).transpose()?;
    let numeric_x = schema.field(xc).data_type().is_numeric();
    if !schema.field(yc).data_type().is_numeric() {
        return Err(Error::Invalid(format!(
            "the y column {} is {}, not a number",
            req.y,
            schema.field(yc).data_type()
        )));
    }
    let opts = FormatOptions::default().with_null("");
    let mut series: BTreeMap<String, Vec<(Key, String, Option<f64>)>> = BTreeMap::new();
    let mut stream = df.execute_stream().await.map_err(icsw_query::Error::from)?;
    let mut seen = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(icsw_query::Error::from)?;
        let x = batch.column(xc);
        let xf = ArrayFormatter::try_new(x.as_ref(), &opts).map_err(icsw_query::Error::from)?;
        let xn = numeric_x
            .then(|| cast(x, &DataType::Float64))
            .transpose()
            .map_err(icsw_query::Error::from)?;
        let y = cast(batch.column(yc), &DataType::Float64).map_err(icsw_query::Error::from)?;
        let y = y.as_primitive::<Float64Type>();
        let f = fc
            .map(|c| ArrayFormatter::try_new(batch.column(c).as_ref(), &opts))
            .transpose()
            .map_err(icsw_query::Error::from)?;
        for i in 0..batch.num_rows() {
            if x.is_null(i) {
                return Err(Error::Invalid(format!(
                    "row {} has no {} (every point needs an x)",
                    seen + i + 1,
                    req.x
                )));
            }
            let label = xf.value(i).to_string();
            let key = match &xn {
                Some(n) => Key::Number(n.as_primitive::<Float64Type>().value(i)),
                None => Key::Text(label.clone()),
            };
            let facet = f
                .as_ref()
                .map_or("no facet".to_string(), |f| f.value(i).to_string());
            let v = (y.is_valid(i) && y.value(i).is_finite()).then(|| y.value(i));
            series.entry(facet).or_default().push((key, label, v));
        }
        seen += batch.num_rows();
    }
    for r in &req.rebase {
        if !series.values().flatten().any(|(_, label, _)| label == r) {
            return Err(Error::Invalid(format!(
                "the rebase date {r} is not an x value of any point"
            )));
        }
    }
    let mut out = Vec::with_capacity(series.len());
    for (facet, mut rows) in series {
        rows.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        if let Some(w) = rows.windows(2).find(|w| w[0].1 == w[1].1) {
            return Err(Error::Invalid(format!(
                "{} {} appears twice{}: one row per x{}",
                req.x,
                w[0].1,
                if req.facet.is_some() {
                    format!(" in facet {facet}")
                } else {
                    String::new()
                },
                if req.facet.is_some() {
                    " and facet"
                } else {
                    ""
                }
            )));
        }
        let y: Vec<Option<f64>> = rows.iter().map(|r| r.2).collect();
        let x: Vec<String> = rows.into_iter().map(|r| r.1).collect();
        out.push(
            Faceted::compute(facet, x, &y, &req.rebase, req.direction, &req.options)
                .map_err(|e| Error::Invalid(e.0))?,
        );
    }
    Ok(out)
}
