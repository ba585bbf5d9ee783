//! The subcommands: each parses its arguments into a library call.

use crate::progress::LoadProgress;
use crate::{Cli, Command, Failure};
use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use futures::StreamExt;
use icsw_ingest::{load_all, Landing, LoadReport};
use icsw_model::IcsConfig;
use icsw_query::output::{Format, ResultWriter};
use icsw_query::{Limits, WarehouseContext};
use icsw_store::{View, Warehouse};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct LoadArgs {
    /// The landing zone: <landing>/<trust>/<extract_date>/_manifest.json.
    #[arg(long, default_value = "landing")]
    landing: PathBuf,
}

#[derive(Args)]
pub struct SqlArgs {
    /// The query; read from stdin when absent.
    query: Option<String>,
    /// Output format: table, csv, json, jsonl, parquet or arrow.
    #[arg(long, default_value = "table")]
    format: String,
    /// Write to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    as_at: AsAtArgs,
}

#[derive(Args, Clone, Default)]
pub struct AsAtArgs {
    /// Read the warehouse as it stood with only the extracts dated on or
    /// before this date (YYYY-MM-DD).
    #[arg(long, conflicts_with = "as_at_load")]
    as_at: Option<NaiveDate>,
    /// Read the warehouse as it stood after this load (a load id).
    #[arg(long)]
    as_at_load: Option<u64>,
}

#[derive(Args)]
pub struct ReturnArgs {
    /// rtt, ae or activity.
    kind: String,
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

#[derive(Args)]
pub struct ReportArgs {
    /// The report's name (see --list).
    name: Option<String>,
    /// List the reports with their descriptions.
    #[arg(long)]
    list: bool,
    /// The month, YYYY-MM.
    #[arg(long)]
    period: Option<String>,
    /// One trust (ODS code); default every trust.
    #[arg(long)]
    trust: Option<String>,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    format: String,
    #[command(flatten)]
    as_at: AsAtArgs,
}

#[derive(Args)]
pub struct QualityArgs {
    /// The morning after this night (default: the latest extract loaded).
    #[arg(long, conflicts_with = "period")]
    date: Option<NaiveDate>,
    /// A month, YYYY-MM.
    #[arg(long)]
    period: Option<String>,
    /// One trust (ODS code).
    #[arg(long)]
    trust: Option<String>,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    format: String,
    /// The landing zone, for folders still without a manifest.
    #[arg(long, default_value = "landing")]
    landing: PathBuf,
    /// List the checks with their severities instead.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    as_at: AsAtArgs,
}

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

#[derive(Args)]
pub struct DemoArgs {
    /// The landing zone to load (default: the bundled sample_data/).
    #[arg(long)]
    landing: Option<PathBuf>,
    /// Print the figures and stop, without serving.
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    serve: ServeOptions,
}

#[derive(Args, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// A query's time limit, in seconds.
    #[arg(long, default_value_t = 30)]
    query_timeout: u64,
    /// A query's memory limit, in MiB.
    #[arg(long, default_value_t = 512)]
    query_memory_mb: usize,
    /// Rows at most in a JSON result.
    #[arg(long, default_value_t = 10_000)]
    json_rows: usize,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The landing zone (for the late-manifest check).
    #[arg(long, default_value = "landing")]
    landing: PathBuf,
    #[command(flatten)]
    serve: ServeOptions,
}

#[derive(Args)]
pub struct TokenArgs {
    /// manager, commissioner, analyst or admin.
    #[arg(long)]
    role: String,
    /// A name for the token (it appears in the audit log).
    #[arg(long)]
    name: String,
    /// Limit the token to these trusts' rows.
    #[arg(long, value_delimiter = ',')]
    trusts: Vec<String>,
    /// Limit the token to these commissioners' rows.
    #[arg(long, value_delimiter = ',')]
    commissioners: Vec<String>,
}

fn load_config(cli: &Cli) -> anyhow::Result<IcsConfig> {
    let path = match &cli.config {
        Some(p) => p.clone(),
        None if Path::new("icsw.toml").exists() => PathBuf::from("icsw.toml"),
        None => return Ok(IcsConfig::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading configuration {}", path.display()))?;
    IcsConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))
}

fn open_warehouse(cli: &Cli, default: &str) -> anyhow::Result<Warehouse> {
    let location = cli.warehouse.clone().unwrap_or_else(|| default.to_string());
    Ok(Warehouse::open(&location)?)
}

pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let config = load_config(&cli)?;
    match &cli.command {
        Command::Load(a) => {
            let w = open_warehouse(&cli, "warehouse")?;
            let report = load(&w, &config, &a.landing).await?;
            Ok(if report.loads.iter().any(|l| l.refusal.is_some()) {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Sql(a) => {
            let w = open_warehouse(&cli, "warehouse")?;
            sql(&w, &config, a).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Return(a) => {
            let w = open_warehouse(&cli, "warehouse")?;
            write_return(&w, &config, a).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Quality(a) => {
            let w = open_warehouse(&cli, "warehouse")?;
            quality(&w, &config, a).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(a) => {
            let w = open_warehouse(&cli, "warehouse")?;
            report(&w, &config, a).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(a) => {
            let w = open_warehouse(&cli, "warehouse")?;
            serve(w, config, &a.serve, Some(a.landing.clone())).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(a) => {
            token(a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(a) => {
            generate(a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(a) => {
            let w = open_warehouse(&cli, "demo-warehouse")?;
            demo(&w, &config, a).await?;
            if !a.no_serve {
                serve(w, config, &a.serve, a.landing.clone()).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn load(w: &Warehouse, config: &IcsConfig, landing: &Path) -> anyhow::Result<LoadReport> {
    let progress = LoadProgress::new();
    let report = load_all(&Landing::new(landing), w, config, &progress).await;
    progress.finish();
    let report = report?;
    for s in &report.skipped {
        tracing::debug!("{} {}: skipped, {}", s.trust, s.extract_date, s.why);
    }
    for a in &report.arriving {
        tracing::info!(
            "{} {}: no manifest yet (still arriving)",
            a.trust,
            a.extract_date
        );
    }
    let refused = report.loads.iter().filter(|l| l.refusal.is_some()).count();
    eprintln!(
        "{} extract(s) loaded, {} refused, {} skipped (already loaded or unchanged), {} still arriving; warehouse version {}",
        report.loads.len() - refused,
        refused,
        report.skipped.len(),
        report.arriving.len(),
        report.version
    );
    Ok(report)
}

/// The view a command reads: the newest, or as at a load or a date.
pub async fn view(w: &Warehouse, as_at: &AsAtArgs) -> anyhow::Result<View> {
    Ok(match (as_at.as_at, as_at.as_at_load) {
        (Some(d), _) => w.view_as_at_date(d).await?,
        (None, Some(v)) => w.view_at_version(v).await?,
        (None, None) => w.current().await?.view(),
    })
}

fn query_failure(e: icsw_query::Error) -> Failure {
    match e {
        icsw_query::Error::Query(m) => Failure::Usage(m),
        e => Failure::Error(e.into()),
    }
}

async fn sql(w: &Warehouse, config: &IcsConfig, a: &SqlArgs) -> Result<(), Failure> {
    let format = Format::parse(&a.format).ok_or_else(|| {
        Failure::Usage(format!(
            "unknown format {:?} (table, csv, json, jsonl, parquet, arrow)",
            a.format
        ))
    })?;
    let query = match &a.query {
        Some(q) => q.clone(),
        None => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            s
        }
    };
    if query.trim().is_empty() {
        return Err(Failure::Usage("no query given".into()));
    }
    let v = view(w, &a.as_at).await?;
    let ctx = WarehouseContext::new(w, v, config, &Limits::default()).await?;
    icsw_quality::register_findings_table(&ctx, config)?;
    let df = ctx.sql(&query).await.map_err(query_failure)?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| query_failure(e.into()))?;
    let out: Box<dyn Write + Send> = match &a.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut writer = ResultWriter::new(format, stream.schema(), out)?;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| query_failure(e.into()))?;
        writer.write(&batch)?;
    }
    writer.finish()?.flush()?;
    Ok(())
}

fn month(s: &str) -> Result<icsw_model::Month, Failure> {
    icsw_model::Month::parse(s).map_err(|e| Failure::Usage(e.to_string()))
}

fn returns_failure(e: icsw_returns::Error) -> Failure {
    match e {
        icsw_returns::Error::Invalid(m) => Failure::Usage(m),
        icsw_returns::Error::Query(q) => query_failure(q),
        icsw_returns::Error::Held(p) => Failure::Held(format!(
            "the {} return for {} is held and was not written:\n{}\n(--allow-incomplete writes it anyway, marked complete: false)",
            p.kind,
            p.period,
            p.reasons
                .iter()
                .map(|r| format!("  - {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
        e => Failure::Error(e.into()),
    }
}

async fn write_return(w: &Warehouse, config: &IcsConfig, a: &ReturnArgs) -> Result<(), Failure> {
    let req = icsw_returns::ReturnRequest {
        kind: icsw_returns::ReturnKind::parse(&a.kind).map_err(returns_failure)?,
        period: month(&a.period)?,
        trust: a.trust.clone(),
        as_at: icsw_returns::AsAt {
            date: a.as_at.as_at,
            load: a.as_at.as_at_load,
        },
        allow_incomplete: a.allow_incomplete,
    };
    // One session for the gate and the return.
    let view = req.as_at.view(w).await.map_err(returns_failure)?;
    let ctx = WarehouseContext::new(w, view, config, &Limits::default()).await?;
    let held_by =
        icsw_quality::gate_reasons(&ctx, config, req.period, req.trust.as_deref()).await?;
    match &a.out {
        Some(path) => {
            // Written beside the target and renamed: a reader never sees
            // half a return.
            let tmp = path.with_extension("csv.partial");
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?,
            );
            let result = icsw_returns::write_return_in(&ctx, config, &req, held_by, &mut f).await;
            let provenance = match result {
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
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let provenance = icsw_returns::write_return_in(&ctx, config, &req, held_by, &mut out)
                .await
                .map_err(returns_failure)?;
            out.flush()?;
            if !provenance.complete {
                eprintln!("complete: false: {}", provenance.reasons.join("; "));
            }
        }
    }
    Ok(())
}

async fn quality(w: &Warehouse, config: &IcsConfig, a: &QualityArgs) -> Result<(), Failure> {
    if a.list {
        for c in icsw_quality::CHECKS {
            println!("{:<46} {:<8} {}", c.id, c.severity.name(), c.description);
        }
        return Ok(());
    }
    let v = view(w, &a.as_at).await?;
    let scope = match (&a.period, a.date) {
        (Some(p), _) => icsw_quality::Scope::Period(month(p)?),
        (None, Some(d)) => icsw_quality::Scope::Date(d),
        (None, None) => *icsw_quality::default_scopes(&v)
            .first()
            .ok_or_else(|| Failure::Usage("nothing is loaded yet".into()))?,
    };
    let ctx = WarehouseContext::new(w, v, config, &Limits::default()).await?;
    let landing = icsw_quality::landing(&a.landing);
    let findings =
        icsw_quality::run(&ctx, config, scope, a.trust.as_deref(), landing.as_ref()).await?;
    let batch = icsw_quality::findings_batch(&findings);
    let format = match a.format.as_str() {
        "table" => Format::Table,
        "csv" => Format::Csv,
        "json" => Format::Json,
        f => {
            return Err(Failure::Usage(format!(
                "unknown format {f:?} (table, csv, json)"
            )))
        }
    };
    let out = std::io::BufWriter::new(std::io::stdout());
    if format == Format::Table {
        let errors = findings
            .iter()
            .filter(|f| f.severity == icsw_quality::Severity::Error)
            .count();
        eprintln!(
            "{} finding(s) for {scope}: {errors} error(s), {} warning(s)",
            findings.len(),
            findings.len() - errors
        );
    }
    let mut writer = ResultWriter::new(format, batch.schema(), out)?;
    writer.write(&batch)?;
    writer.finish()?.flush()?;
    Ok(())
}

async fn report(w: &Warehouse, config: &IcsConfig, a: &ReportArgs) -> Result<(), Failure> {
    if a.list || a.name.is_none() {
        for r in icsw_returns::reports() {
            println!("{:<16} {}\n{:<16} {}\n", r.name, r.title, "", r.description);
        }
        return Ok(());
    }
    let name = a.name.as_deref().expect("checked");
    let period = month(
        a.period
            .as_deref()
            .ok_or_else(|| Failure::Usage("--period YYYY-MM is required".into()))?,
    )?;
    let format = match a.format.as_str() {
        "table" => Format::Table,
        "csv" => Format::Csv,
        "json" => Format::Json,
        f => {
            return Err(Failure::Usage(format!(
                "unknown format {f:?} (table, csv, json)"
            )))
        }
    };
    let v = view(w, &a.as_at).await?;
    let ctx = WarehouseContext::new(w, v, config, &Limits::default()).await?;
    let df = icsw_returns::report(&ctx, name, period, a.trust.as_deref())
        .await
        .map_err(returns_failure)?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| query_failure(e.into()))?;
    let out = std::io::BufWriter::new(std::io::stdout());
    let mut writer = ResultWriter::new(format, stream.schema(), out)?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch.map_err(|e| query_failure(e.into()))?)?;
    }
    writer.finish()?.flush()?;
    Ok(())
}

async fn serve(
    w: Warehouse,
    config: IcsConfig,
    o: &ServeOptions,
    landing: Option<PathBuf>,
) -> Result<(), Failure> {
    let options = icsw_server::ServerOptions {
        addr: o.addr,
        landing,
        query_timeout: std::time::Duration::from_secs(o.query_timeout.max(1)),
        query_memory: o.query_memory_mb.max(16) * 1024 * 1024,
        json_rows: o.json_rows.max(1),
    };
    let open = !config.other.contains_key("access");
    let state = icsw_server::AppState::new(w, config, options.clone()).map_err(Failure::Usage)?;
    let listener = match tokio::net::TcpListener::bind(options.addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && options.addr.ip().is_loopback() => {
            eprintln!("{} is in use; taking a free port instead", options.addr);
            tokio::net::TcpListener::bind((options.addr.ip(), 0)).await?
        }
        Err(e) => return Err(anyhow::anyhow!("listening on {}: {e}", options.addr).into()),
    };
    let addr = listener.local_addr()?;
    println!("\nServing at http://{addr}/  (dashboards /, returns /returns, SQL POST /api/sql)");
    if open {
        println!("Open mode: no [access] section in the configuration, so there is no access control; listening on the loopback address only.");
    }
    println!("Ctrl-C stops it.");
    icsw_server::serve(state, listener).await?;
    Ok(())
}

fn token(a: &TokenArgs) -> Result<(), Failure> {
    if !["manager", "commissioner", "analyst", "admin"].contains(&a.role.as_str()) {
        return Err(Failure::Usage(format!(
            "unknown role {:?} (manager, commissioner, analyst, admin)",
            a.role
        )));
    }
    let (token, hash) = icsw_server::new_token();
    println!("token: {token}");
    println!("(give the token to its holder; only its hash goes in the configuration)\n");
    println!("[[access.token]]");
    println!("name = {:?}", a.name);
    println!("sha256 = \"{hash}\"");
    println!("role = \"{}\"", a.role);
    if !a.trusts.is_empty() {
        println!("trusts = {:?}", a.trusts);
    }
    if !a.commissioners.is_empty() {
        println!("commissioners = {:?}", a.commissioners);
    }
    Ok(())
}

fn generate(a: &GenerateArgs) -> Result<(), Failure> {
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

/// The bundled sample data: ./sample_data, or the repository's.
fn sample_data() -> PathBuf {
    let here = PathBuf::from("sample_data");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample_data")
}

async fn demo(w: &Warehouse, config: &IcsConfig, a: &DemoArgs) -> Result<(), Failure> {
    let landing = a.landing.clone().unwrap_or_else(sample_data);
    eprintln!(
        "icsw demo: loading {} into {}",
        landing.display(),
        w.location()
    );
    load(w, config, &landing).await?;
    let state = w.current().await?;
    let ctx = WarehouseContext::new(w, state.view(), config, &Limits::default()).await?;
    let mut out = std::io::stdout();
    print_query(&ctx, &mut out, "Loads", DEMO_LOADS).await?;
    // The latest month every trust's extracts are past.
    let Some(latest) = state
        .trusts
        .values()
        .filter_map(|t| t.latest_extract_date)
        .min()
    else {
        writeln!(out, "\nNo data loaded.")?;
        return Ok(());
    };
    let period = icsw_model::Month::of(latest).prev();
    writeln!(
        out,
        "\nStatutory returns for {period} (icsw return KIND --period {period}):"
    )?;
    for kind in icsw_returns::ReturnKind::ALL {
        let req = icsw_returns::ReturnRequest {
            kind,
            period,
            trust: None,
            as_at: Default::default(),
            allow_incomplete: false,
        };
        // As `icsw return` would: completeness and the data-quality gate.
        let held_by = icsw_quality::gate_reasons(&ctx, config, period, None).await?;
        let p = icsw_returns::provenance(ctx.view(), config, &req, held_by)?;
        writeln!(
            out,
            "  {:<9} {}",
            kind.name(),
            if p.complete {
                "complete: ready to publish".to_string()
            } else {
                format!("held: {}", p.reasons.join("; "))
            }
        )?;
    }
    for (title, name, filter) in DEMO_REPORTS {
        let df = icsw_returns::report(&ctx, name, period, None)
            .await
            .map_err(returns_failure)?;
        let df = df.filter(
            datafusion::prelude::col("level")
                .not_eq(datafusion::prelude::lit("provider_commissioner_function")),
        )?;
        let df = match filter {
            Some((c, v)) => {
                df.filter(datafusion::prelude::col(*c).eq(datafusion::prelude::lit(*v)))?
            }
            None => df,
        };
        let batches = df.collect().await?;
        writeln!(
            out,
            "\n{title}, {period} (icsw report {name} --period {period})"
        )?;
        writeln!(
            out,
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
        )?;
    }
    print_query(
        &ctx,
        &mut out,
        "Rows quarantined by reason",
        DEMO_QUARANTINE,
    )
    .await?;
    icsw_quality::register_findings_table(&ctx, config)?;
    print_query(
        &ctx,
        &mut out,
        "Data-quality findings (icsw quality; SQL table quality_findings)",
        DEMO_QUALITY,
    )
    .await?;
    Ok(())
}

async fn print_query(
    ctx: &WarehouseContext,
    out: &mut impl Write,
    title: &str,
    q: &str,
) -> anyhow::Result<()> {
    let batches = ctx.collect(q).await?;
    writeln!(out, "\n{title}")?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        writeln!(out, "(none)")?;
    } else {
        writeln!(
            out,
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
        )?;
    }
    Ok(())
}

type ReportFilter = Option<(&'static str, &'static str)>;

const DEMO_REPORTS: &[(&str, &str, ReportFilter)] = &[
    (
        "A&E 4-hour performance, all types",
        "ae-performance",
        Some(("type", "All")),
    ),
    (
        "RTT incomplete pathways (Part_2)",
        "rtt-waits",
        Some(("part", "Part_2")),
    ),
    ("Activity", "activity", None),
];

const DEMO_LOADS: &str =
    "SELECT trust, outcome, count(*) AS loads, max(extract_date) AS latest_extract, \
     sum(rows_read) AS rows_read, sum(rows_stored) AS rows_stored, \
     sum(rows_quarantined) AS rows_quarantined \
     FROM loads GROUP BY trust, outcome ORDER BY trust, outcome";

const DEMO_QUALITY: &str =
    "SELECT scope, trust, severity, check_id, count(*) AS findings, sum(count) AS rows \
     FROM quality_findings GROUP BY scope, trust, severity, check_id \
     ORDER BY scope, trust, severity, check_id";

const DEMO_QUARANTINE: &str = "SELECT trust, feed, reason, count(*) AS rows FROM quarantine \
     GROUP BY trust, feed, reason ORDER BY trust, feed, reason";
