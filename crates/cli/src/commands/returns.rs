//! `icsw return`.

use super::{month, returns_failure, AsAtArgs};
use crate::Failure;
use anyhow::Context;
use clap::{Args, ValueEnum};
use icsw_model::IcsConfig;
use icsw_query::WarehouseContext;
use icsw_returns::{ReturnKind, ReturnRequest};
use icsw_store::Warehouse;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReturnArgs {
    kind: KindArg,
    /// The month, YYYY-MM.
    #[arg(long)]
    period: String,
    /// One trust (ODS code); default every trust.
    #[arg(long)]
    trust: Option<String>,
    #[command(flatten)]
    as_at: AsAtArgs,
    /// Write here (and the provenance to FILE.provenance.json) instead of
    /// stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the return even when the gate holds it; the provenance then
    /// says complete: false and why.
    #[arg(long)]
    allow_incomplete: bool,
}

/// The return to write.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum KindArg {
    Rtt,
    Ae,
    Activity,
}

impl From<KindArg> for ReturnKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Rtt => ReturnKind::Rtt,
            KindArg::Ae => ReturnKind::Ae,
            KindArg::Activity => ReturnKind::Activity,
        }
    }
}

pub async fn run(w: &Warehouse, config: &IcsConfig, a: &ReturnArgs) -> Result<(), Failure> {
    let req = ReturnRequest {
        kind: a.kind.into(),
        period: month(&a.period)?,
        trust: a.trust.clone(),
        as_at: (&a.as_at).into(),
        allow_incomplete: a.allow_incomplete,
    };
    // One session for the gate and the return.
    let ctx = WarehouseContext::at(w, req.as_at, config).await?;
    let gate = icsw_quality::QualityGate;
    let Some(path) = &a.out else {
        let mut out = std::io::BufWriter::new(std::io::stdout());
        let provenance = icsw_returns::write_return(&ctx, config, &req, &gate, &mut out)
            .await
            .map_err(returns_failure)?;
        out.flush()?;
        if !provenance.complete {
            eprintln!("complete: false: {}", provenance.reasons.join("; "));
        }
        return Ok(());
    };
    // Written beside the target and renamed: a reader never sees half a
    // return.
    let tmp = path.with_extension("csv.partial");
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    let provenance = match icsw_returns::write_return(&ctx, config, &req, &gate, &mut f).await {
        Ok(p) => p,
        Err(e) => {
            drop(f);
            let _ = std::fs::remove_file(&tmp);
            return Err(returns_failure(e));
        }
    };
    f.flush()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    let side = PathBuf::from(format!("{}.provenance.json", path.display()));
    std::fs::write(&side, serde_json::to_vec_pretty(&provenance)?)?;
    eprintln!(
        "wrote {} and {}{}",
        path.display(),
        side.display(),
        if provenance.complete {
            String::new()
        } else {
            format!(" (complete: false: {})", provenance.reasons.join("; "))
        }
    );
    Ok(())
}
