//! `icsw generate`.

use crate::Failure;
use chrono::NaiveDate;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    /// Where to write the extracts.
    #[arg(long, default_value = "landing")]
    landing: PathBuf,
    /// Trusts (ODS codes), comma-separated.
    #[arg(long, default_value = "RYJ,RQM,R1K,RAS", value_delimiter = ',')]
    trusts: Vec<String>,
    /// The first night.
    #[arg(long)]
    from: NaiveDate,
    /// The last night (default: the first).
    #[arg(long)]
    to: Option<NaiveDate>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A&E attendances per trust per day; other feeds scale with it.
    #[arg(long, default_value_t = 50.0)]
    scale: f64,
    /// Days of history the first night's extract covers before --from.
    #[arg(long, default_value_t = 0)]
    history_days: u32,
    /// Days each later night's extract covers.
    #[arg(long, default_value_t = 7)]
    window_days: u32,
    /// Faults to inject, comma-separated, or "all".
    #[arg(long)]
    faults: Option<String>,
    /// Only these feeds, comma-separated (default: all six).
    #[arg(long, value_delimiter = ',')]
    feeds: Vec<String>,
}

pub fn run(a: &GenerateArgs) -> Result<(), Failure> {
    let mut opts = icsw_generate::Options::new(
        &a.trusts.iter().map(String::as_str).collect::<Vec<_>>(),
        a.from,
        a.to.unwrap_or(a.from),
    );
    if opts.to < opts.from {
        return Err(Failure::Usage("--to is before --from".into()));
    }
    opts.seed = a.seed;
    opts.scale = a.scale;
    opts.history_days = a.history_days;
    opts.window_days = a.window_days.max(1);
    opts.feeds = a
        .feeds
        .iter()
        .map(|f| icsw_model::Feed::parse(f).map_err(|e| Failure::Usage(e.to_string())))
        .collect::<Result<_, _>>()?;
    if let Some(f) = &a.faults {
        opts.faults = icsw_generate::Fault::parse_list(f).map_err(Failure::Usage)?;
    }
    let report = icsw_generate::generate(&a.landing, &opts)?;
    eprintln!(
        "wrote {} extract(s), {} rows, into {}{}",
        report.extracts,
        report.rows,
        a.landing.display(),
        if report.faults.is_empty() {
            String::new()
        } else {
            format!(
                "; injected {} fault(s), listed in {}",
                report.faults.len(),
                a.landing.join("_faults.json").display()
            )
        }
    );
    Ok(())
}
