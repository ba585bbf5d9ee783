//! `icsw serve` and `icsw token`.

use crate::Failure;
use clap::{Args, ValueEnum};
use icsw_model::IcsConfig;
use icsw_server::Role;
use icsw_store::Warehouse;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Queries running at once, over all tokens (more wait, then get 503).
    #[arg(long, default_value_t = 4)]
    max_queries: usize,
    /// Queries running at once for one token.
    #[arg(long, default_value_t = 2)]
    max_queries_per_token: usize,
    /// The address users reach the server at; an https:// one makes the
    /// sign-in cookie Secure.
    #[arg(long)]
    public_url: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// The landing zone (for the late-manifest check).
    #[arg(long, default_value = "landing")]
    pub landing: PathBuf,
    #[command(flatten)]
    pub serve: ServeOptions,
}

#[derive(Args)]
pub struct TokenArgs {
    #[arg(long, value_enum)]
    role: RoleArg,
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

/// A token's role.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum RoleArg {
    Manager,
    Commissioner,
    Analyst,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Manager => Role::Manager,
            RoleArg::Commissioner => Role::Commissioner,
            RoleArg::Analyst => Role::Analyst,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// Serves until Ctrl-C; on the loopback address, a port in use is
/// replaced by a free one (the address is printed).
pub async fn serve(
    w: Warehouse,
    config: IcsConfig,
    o: &ServeOptions,
    landing: Option<PathBuf>,
) -> Result<(), Failure> {
    let options = icsw_server::ServerOptions {
        addr: o.addr,
        landing,
        query_timeout: Duration::from_secs(o.query_timeout.max(1)),
        query_memory: o.query_memory_mb.max(16) * 1024 * 1024,
        json_rows: o.json_rows.max(1),
        max_queries: o.max_queries.max(1),
        max_queries_per_token: o.max_queries_per_token.max(1),
        public_url: o.public_url.clone(),
        ..Default::default()
    };
    let state = icsw_server::AppState::new(w, config, options.clone()).map_err(Failure::Usage)?;
    let open = state.access.is_none();
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

/// Prints a new token and the configuration lines that hold only its hash.
pub fn token(a: &TokenArgs) {
    let (token, hash) = icsw_server::new_token();
    println!("token: {token}");
    println!("(give the token to its holder; only its hash goes in the configuration)\n");
    println!("[[access.token]]");
    println!("name = {:?}", a.name);
    println!("sha256 = \"{hash}\"");
    println!("role = \"{}\"", Role::from(a.role).name());
    if !a.trusts.is_empty() {
        println!("trusts = {:?}", a.trusts);
    }
    if !a.commissioners.is_empty() {
        println!("commissioners = {:?}", a.commissioners);
    }
}
