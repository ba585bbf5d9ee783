//! Caps on what one call of a string function may build. DataFusion's
//! memory pool sees what operators hold (sorts, joins, aggregates), not
//! the strings a function returns, and constant folding runs them while a
//! query is planned: `repeat('x', 500000000)` would take half a gigabyte
//! before any limit noticed. Each function that can build more than its
//! inputs is wrapped so that, before it runs, the most it could build over
//! the batch is worked out from its arguments, and a call over
//! [`MAX_BYTES`] (or, for `levenshtein`, over [`MAX_STEPS`]) fails as a
//! resource limit instead.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::length::length;
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Bytes one call may build over a batch.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Steps (characters of one argument times the other's) one call of
/// `levenshtein` may take over a batch.
pub const MAX_STEPS: u64 = 200_000_000;

/// How a function's output grows with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(s, n)`: |s| × n.
    Repeat,
    /// `lpad(s, n[, fill])`, `rpad`: n characters of up to 4 bytes.
    Pad,
    /// `replace(s, from, to)`: |s| + |s| / max(|from|, 1) × |to|.
    Replace,
    /// `regexp_replace(s, pattern, to[, flags])`: |s| × (1 + |to|).
    RegexpReplace,
    /// `levenshtein(a, b)`: |a| × |b| steps.
    Levenshtein,
}

const CAPPED: &[(&str, Growth)] = &[
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("replace", Growth::Replace),
    ("regexp_replace", Growth::RegexpReplace),
    ("levenshtein", Growth::Levenshtein),
];

/// Functions that build an array of any length from a few small
/// arguments (`array_repeat(x, 1e9)`, `range(1e9)`): not offered at all, as
/// no argument bounds what they build cheaply enough to check. The table
/// function `generate_series` (a source of rows, under the memory pool and
/// the time limit) stays.
const UNBOUNDED: &[&str] = &["array_repeat", "array_resize", "range", "generate_series"];

/// Wraps the session's own functions of [`CAPPED`], and takes away those
/// of [`UNBOUNDED`].
pub(crate) fn register(ctx: &SessionContext) {
    for name in UNBOUNDED {
        ctx.deregister_udf(name);
    }
    for (name, growth) in CAPPED {
        if let Some(inner) = ctx
            .udf(name)
            .ok()
            .filter(|f| f.inner().downcast_ref::<Capped>().is_none())
        {
            ctx.register_udf(ScalarUDF::new_from_impl(Capped {
                inner,
                growth: *growth,
            }));
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Capped {
    inner: Arc<ScalarUDF>,
    growth: Growth,
}

/// Per row, a string argument's length in bytes (0 for null).
fn lens(v: &ColumnarValue, rows: usize) -> Result<Vec<u64>> {
    Ok(match v {
        ColumnarValue::Scalar(s) => {
            let n = s.try_as_str().flatten().map_or(0, |s| s.len() as u64);
            vec![n; rows]
        }
        ColumnarValue::Array(a) => {
            let l = cast(&length(a)?, &DataType::Int64)?;
            let l = l.as_primitive::<Int64Type>();
            (0..l.len())
                .map(|i| {
                    if l.is_valid(i) {
                        l.value(i).max(0) as u64
                    } else {
                        0
                    }
                })
                .collect()
        }
    })
}

/// Per row, an integer argument (0 for null or below).
fn counts(v: &ColumnarValue, rows: usize) -> Result<Vec<u64>> {
    Ok(match v {
        ColumnarValue::Scalar(s) => {
            let n = match s.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(n)) => n.max(0) as u64,
                _ => 0,
            };
            vec![n; rows]
        }
        ColumnarValue::Array(a) => {
            let a = cast(a, &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            (0..a.len())
                .map(|i| {
                    if a.is_valid(i) {
                        a.value(i).max(0) as u64
                    } else {
                        0
                    }
                })
                .collect()
        }
    })
}

impl Capped {
    /// The most the call could build (or, for levenshtein, the steps it
    /// could take), over the whole batch.
    fn cost(&self, args: &[ColumnarValue], rows: usize) -> Result<u64> {
        let arg = |i: usize| {
            args.get(i)
                .ok_or_else(|| DataFusionError::Plan("argument".into()))
        };
        let rows = rows.max(1);
        let zip = |a: Vec<u64>, b: Vec<u64>, f: &dyn Fn(u64, u64) -> u64| {
            a.iter()
                .zip(&b)
                .fold(0u64, |acc, (x, y)| acc.saturating_add(f(*x, *y)))
        };
        Ok(match self.growth {
            Growth::Repeat => zip(lens(arg(0)?, rows)?, counts(arg(1)?, rows)?, &|s, n| {
                s.saturating_mul(n)
            }),
            Growth::Pad => counts(arg(1)?, rows)?
                .iter()
                .fold(0u64, |acc, n| acc.saturating_add(n.saturating_mul(4))),
            Growth::Replace => {
                let (s, from, to) = (
                    lens(arg(0)?, rows)?,
                    lens(arg(1)?, rows)?,
                    lens(arg(2)?, rows)?,
                );
                s.iter().zip(&from).zip(&to).fold(0u64, |acc, ((s, f), t)| {
                    acc.saturating_add(s.saturating_add((s / (*f).max(1)).saturating_mul(*t)))
                })
            }
            Growth::RegexpReplace => zip(lens(arg(0)?, rows)?, lens(arg(2)?, rows)?, &|s, t| {
                s.saturating_mul(t.saturating_add(1))
            }),
            Growth::Levenshtein => zip(lens(arg(0)?, rows)?, lens(arg(1)?, rows)?, &|a, b| {
                a.saturating_mul(b)
            }),
        })
    }
}

impl ScalarUDFImpl for Capped {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let cost = self.cost(&args.args, args.number_rows)?;
        let (limit, what) = match self.growth {
            Growth::Levenshtein => (MAX_STEPS, "steps"),
            _ => (MAX_BYTES, "bytes"),
        };
        if cost > limit {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{} would take up to {cost} {what}; one call may take at most {limit}",
                self.name()
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(sql: &str) -> Result<String> {
        let ctx = SessionContext::new();
        crate::udf::register(&ctx);
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
    }

    #[tokio::test]
    async fn functions_that_would_build_too_much_are_stopped_before_they_do() {
        for bomb in [
            "SELECT length(repeat('x', 500000000)) AS n",
            "SELECT length(lpad('x', 1000000000)) AS n",
            "SELECT length(rpad('x', 1000000000, 'yz')) AS n",
            "SELECT length(replace(repeat('a', 1000000), 'a', repeat('b', 1000))) AS n",
            "SELECT length(regexp_replace(repeat('a', 1000000), '', repeat('b', 100), 'g')) AS n",
            "SELECT levenshtein(repeat('a', 100000), repeat('b', 100000)) AS n",
        ] {
            let e = run(bomb).await.expect_err(bomb);
            assert!(
                matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)),
                "{bomb}: {e}"
            );
        }
        // Ordinary uses are as they were.
        let ok = run("SELECT repeat('ab', 3) AS r, lpad('7', 3, '0') AS p, \
                      replace('a-b-c', '-', '+') AS q, levenshtein('kitten', 'sitting') AS l")
        .await
        .unwrap();
        assert!(
            ok.contains("ababab") && ok.contains("007") && ok.contains("a+b+c"),
            "{ok}"
        );
        assert!(ok.contains("| 3 "), "{ok}");
    }
}
