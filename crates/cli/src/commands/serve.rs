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
    /// Also serve the Postgres wire protocol here (psql, DBeaver, Power BI,
    /// psycopg): user name the token's name, password the token. Overrides
    /// `[doors] pg_addr`.
    #[arg(long)]
    pg_addr: Option<std::net::SocketAddr>,
    /// Also serve Arrow Flight SQL here (ADBC, the Flight SQL JDBC driver):
    /// basic authentication with the token's name and the token, or a
    /// bearer token. Overrides `[doors] flight_addr`.
    #[arg(long)]
    flight_addr: Option<std::net::SocketAddr>,
    /// The PEM certificate chain both SQL doors present (with --tls-key);
    /// overrides `[doors] tls_cert`.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert; overrides `[doors] tls_key`.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Allow a SQL door to listen beyond the loopback address without TLS
    /// (as `[doors] allow_plaintext = true`).
    #[arg(long)]
    allow_plaintext: bool,
}

impl ServeOptions {
    /// As given, with the Postgres and Flight SQL doors on free loopback
    /// ports when no address was given (what `icsw demo` runs).
    pub fn with_doors(&self) -> ServeOptions {
        let mut o = self.clone();
        o.pg_addr = o.pg_addr.or_else(|| "127.0.0.1:0".parse().ok());
        o.flight_addr = o.flight_addr.or_else(|| "127.0.0.1:0".parse().ok());
        o
    }

    /// The doors' settings: the configuration's `[doors]`, with what the
    /// command line gives in place of its values.
    fn doors(&self, config: &IcsConfig) -> Result<icsw_server::DoorsConfig, Failure> {
        let mut d = icsw_server::DoorsConfig::from(config).map_err(Failure::Usage)?;
        d.pg_addr = self.pg_addr.or(d.pg_addr);
        d.flight_addr = self.flight_addr.or(d.flight_addr);
        if self.tls_cert.is_some() || self.tls_key.is_some() {
            d.tls_cert = self.tls_cert.clone();
            d.tls_key = self.tls_key.clone();
        }
        d.allow_plaintext |= self.allow_plaintext;
        Ok(d)
    }
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
    let doors = o.doors(&config)?;
    // A TLS set-up that fails stops the server here, before anything listens.
    let tls = doors.tls().map_err(Failure::Usage)?;
    let state = icsw_server::AppState::new(w, config, options.clone()).map_err(Failure::Usage)?;
    let open = state.access.is_none();
    for (door, addr) in [
        ("the Postgres protocol", doors.pg_addr),
        ("Flight SQL", doors.flight_addr),
    ] {
        if let Some(addr) = addr {
            icsw_server::door_may_listen(&state, door, addr, tls.is_some(), doors.allow_plaintext)
                .map_err(Failure::Usage)?;
        }
    }
    let listener = bind(options.addr).await?;
    let addr = listener.local_addr()?;
    println!("\nServing at http://{addr}/  (dashboards /, returns /returns, SQL POST /api/sql)");
    if open {
        println!("Open mode: no [access] section in the configuration, so there is no access control; listening on the loopback address only.");
    }
    let user = if open { "icsw" } else { "<token name>" };
    let password = if open {
        ""
    } else {
        " (the password is the token)"
    };
    let _pg = match doors.pg_addr {
        Some(pg) => {
            let l = bind(pg).await?;
            let at = l.local_addr()?;
            let ssl = if tls.is_some() {
                " sslmode=require"
            } else {
                ""
            };
            println!(
                "Postgres protocol at {at}: psql \"host={} port={} user={user} dbname=icsw{ssl}\"{password}",
                at.ip(),
                at.port(),
            );
            Some(AbortOnDrop(icsw_server::serve_postgres(
                state.clone(),
                l,
                tls.as_ref(),
            )?))
        }
        None => None,
    };
    let _flight = match doors.flight_addr {
        Some(f) => {
            let l = bind(f).await?;
            let at = l.local_addr()?;
            let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
            let auth = if open {
                String::new()
            } else {
                format!(", db_kwargs={{\"username\": \"{user}\", \"password\": \"<token>\"}}")
            };
            println!("Flight SQL at {at}{password}; from Python (pip install adbc-driver-flightsql pyarrow pandas):");
            println!("    import adbc_driver_flightsql.dbapi as flight_sql");
            println!("    conn = flight_sql.connect(\"{scheme}://{at}\"{auth})");
            println!("    conn.cursor().execute(\"SELECT trust, count(*) FROM ae_attendances GROUP BY trust\").fetch_df()");
            Some(AbortOnDrop(icsw_server::serve_flight(
                state.clone(),
                l,
                tls.as_ref(),
            )?))
        }
        None => None,
    };
    println!("Ctrl-C stops it.");
    icsw_server::serve(state, listener).await?;
    Ok(())
}

/// Listens on `addr`; on the loopback address a port in use is replaced by
/// a free one (the caller prints the address).
async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, Failure> {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && addr.ip().is_loopback() => {
            eprintln!("{addr} is in use; taking a free port instead");
            Ok(tokio::net::TcpListener::bind((addr.ip(), 0)).await?)
        }
        Err(e) => Err(anyhow::anyhow!("listening on {addr}: {e}").into()),
    }
}

/// Aborts a background task when dropped (a door stops with the server).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
