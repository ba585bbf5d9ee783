//! SQL functions for the contract's rules, so SQL and Rust apply the same
//! definition:
//!
//! - `nhs_number_valid(text) -> boolean`: the modulus-11 check (section 6);
//! - `whole_minutes(from, to) -> bigint`: minutes between two instants,
//!   seconds truncated, as ECDS derives durations (section 3);
//! - `london_date(timestamp) -> date`: the Europe/London local date of an
//!   instant, which assigns activity to periods (section 3).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
use icsw_model::{london, nhs_number};
use std::sync::Arc;

fn micros(a: &ArrayRef) -> datafusion::error::Result<ArrayRef> {
    Ok(cast(
        a,
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )?)
}

/// Applies `f` to the arguments as arrays; when every argument is a
/// scalar, returns a scalar, as DataFusion expects.
fn arrays(
    args: &[ColumnarValue],
    f: impl Fn(&[ArrayRef]) -> datafusion::error::Result<ArrayRef>,
) -> datafusion::error::Result<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let a = ColumnarValue::values_to_arrays(args)?;
    let out = f(&a)?;
    if all_scalar {
        Ok(ColumnarValue::Scalar(
            datafusion::scalar::ScalarValue::try_from_array(&out, 0)?,
        ))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

pub(crate) fn register(ctx: &SessionContext) {
    crate::capped::register(ctx);
    ctx.register_udf(create_udf(
        "nhs_number_valid",
        vec![DataType::Utf8],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            arrays(args, |a| {
                let s = cast(&a[0], &DataType::Utf8)?;
                let s = s.as_string::<i32>();
                let out: BooleanArray = s.iter().map(|v| v.map(nhs_number::is_valid)).collect();
                Ok(Arc::new(out) as ArrayRef)
            })
        }),
    ));
    ctx.register_udf(create_udf(
        "whole_minutes",
        vec![
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            arrays(args, |a| {
                let (x, y) = (micros(&a[0])?, micros(&a[1])?);
                let (x, y) = (
                    x.as_primitive::<TimestampMicrosecondType>(),
                    y.as_primitive::<TimestampMicrosecondType>(),
                );
                let out: Int64Array = (0..x.len())
                    .map(|i| {
                        (x.is_valid(i) && y.is_valid(i))
                            .then(|| london::whole_minutes(x.value(i), y.value(i)))
                    })
                    .collect();
                Ok(Arc::new(out) as ArrayRef)
            })
        }),
    ));
    ctx.register_udf(create_udf(
        "london_date",
        vec![DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into()),
        )],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            arrays(args, |a| {
                let x = micros(&a[0])?;
                let x = x.as_primitive::<TimestampMicrosecondType>();
                let out: Date32Array = x
                    .iter()
                    .map(|v| v.map(london::local_day_of_instant))
                    .collect();
                Ok(Arc::new(out) as ArrayRef)
            })
        }),
    ));
}
