//! The HTTP layer: analysts' read-only SQL, managers' dashboards with SPC
//! charts, commissioners' return downloads, the load log and data-quality
//! findings, health and metrics, behind token access control.
//!
//! A thin layer over the library crates: every figure comes from the same
//! SQL and code as the command line. Sessions and rendered responses are
//! kept per warehouse version; a new load starts afresh.

mod access;
mod admission;
mod api;
mod dashboards;
mod disclosure;
mod door;
mod error;
mod flight;
mod html;
mod metrics;
mod pg;
mod returns;
mod sql;
mod state;
mod tls;

pub use access::{new_token, sha256_hex, AccessConfig, Principal, Role};
pub use error::{ApiError, ApiResult};
pub use state::{month, trust_asked, AppState, Cached, ServerOptions, Snapshot};
pub use tls::{DoorsConfig, Tls};

use access::{authenticate, AuditRecord};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use state::presented_token;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Times and counts every request, and writes the audit log.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let who = state.access.as_ref().and_then(|a| {
        let t = presented_token(req.headers())?;
        Some(
            authenticate(a, t)
                .map(|p| (p.name, p.role.name().to_string()))
                .unwrap_or_else(|| ("(invalid token)".into(), "none".into())),
        )
    });
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    state
        .metrics
        .observe(&route, resp.status().as_u16(), elapsed);
    if let Some((name, role)) = who {
        state.audit.write(&AuditRecord {
            at: chrono::Utc::now().to_rfc3339(),
            token: &name,
            role: &role,
            method: &method,
            path: &path,
            status: resp.status().as_u16(),
            millis: elapsed.as_millis(),
            query_sha256: None,
            rows: None,
        });
    }
    resp
}

/// Every response: headers that keep the pages out of frames, stop type
/// sniffing and send no referrer. In open mode (no access control), only
/// a loopback `Host` is answered and a foreign `Origin` is refused, so a
/// web page elsewhere cannot reach the server through DNS rebinding or a
/// cross-site request.
async fn edge(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if state.access.is_none() && !from_loopback_page(req.headers()) {
        return ApiError::Forbidden(
            "in open mode only requests to localhost, 127.0.0.1 or [::1] are answered".into(),
        )
        .into_response();
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in [
        ("x-frame-options", "DENY"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        h.insert(k, axum::http::HeaderValue::from_static(v));
    }
    resp
}

/// Whether a request names this machine's loopback interface as its
/// `Host`, and comes from no page but a loopback one (`Origin`).
fn from_loopback_page(h: &axum::http::HeaderMap) -> bool {
    let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    let host_ok = header("host").is_some_and(is_loopback_host);
    let origin_ok = header("origin").is_none_or(|o| {
        url::Url::parse(o)
            .ok()
            .and_then(|u| u.host_str().map(is_loopback_host))
            .unwrap_or(false)
    });
    host_ok && origin_ok
}

/// Whether a `Host` value (with or without its port) names this machine's
/// loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name == "127.0.0.1" || name == "::1"
}

/// The application's routes.
pub fn app(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/sql", post(sql::sql))
        .route("/tables", get(api::tables))
        .route("/quality", get(api::quality))
        .route("/loads", get(api::loads))
        .route("/reports", get(api::report_list))
        .route("/reports/{name}", get(api::report))
        .route("/dashboards/{name}/{panel}", get(dashboards::series))
        .route("/returns", get(returns::list_json))
        .route("/returns/{kind}/{file}", get(returns::download));
    Router::new()
        .route("/", get(dashboards::index))
        .route("/dashboards/{name}", get(dashboards::page))
        .route("/returns", get(returns::page))
        .route("/login", get(html::login_page).post(html::login))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .nest("/api", api)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::extract::DefaultBodyLimit::max(state.options.max_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a handler panicked");
                ApiError::Internal("a handler panicked".into()).into_response()
            },
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), edge))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.options.query_timeout + Duration::from_secs(30),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The `MALLOC_ARENA_MAX` a server runs with on glibc unless the environment
/// sets one (`icsw serve` and `demo` start again with it): glibc gives a
/// busy multi-threaded process up to eight malloc arenas per core, and in
/// the soak (README) they held the server's memory at 800 MB rising to
/// 1,350 MB within seconds; with two it stayed flat at 760 MB, for about
/// half the dashboard throughput (7.4 k rather than 17 k requests/s, still
/// p99 16 ms). mimalloc was worse (2.2 GB rising to 5.5 GB).
pub const MALLOC_ARENA_MAX: &str = "2";

/// Serves until Ctrl-C (or SIGTERM), finishing requests in flight. Each
/// connection must send a request's headers within `header_timeout` (a
/// connection that trickles them, or sits idle, is closed), and at most
/// `max_connections` are open at once (more are closed as they come).
pub async fn serve(state: Arc<AppState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let router = app(state.clone());
    // The dashboards rendered in the background; stops with the server.
    let _warm = state.options.warm_dashboards.then(|| {
        AbortOnDrop(tokio::spawn(
            state.clone().keep_warm(Duration::from_secs(5)),
        ))
    });
    accept_loop(state, router, listener).await
}

/// Serves the Postgres wire protocol on `listener` (psql, DBeaver, Power BI,
/// psycopg, JDBC) with the same sessions, limits and audit as `/api/sql`,
/// over `tls` when given, on the query runtime. In open mode only loopback
/// peers are answered. Stops when the handle is aborted.
pub fn serve_postgres(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<&Tls>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = listener.into_std()?;
    let acceptor = tls.map(Tls::acceptor);
    Ok(admission::query_runtime().spawn(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => pg::serve(state, l, acceptor).await,
            Err(e) => tracing::error!("the Postgres door: {e}"),
        }
    }))
}

/// Serves Arrow Flight SQL on `listener` (ADBC, the Flight SQL JDBC
/// driver) with the same sessions, limits and audit as `/api/sql`, over
/// `tls` when given, on the query runtime. In open mode only loopback
/// peers are answered. Stops when the handle is aborted.
pub fn serve_flight(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Option<&Tls>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = listener.into_std()?;
    let server = flight::server(state, tls).map_err(std::io::Error::other)?;
    Ok(admission::query_runtime().spawn(async move {
        match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => server.serve(l).await,
            Err(e) => tracing::error!("the Flight SQL door: {e}"),
        }
    }))
}

/// Whether a SQL door (Postgres, Flight SQL) may listen on `addr`: on the
/// loopback address always; elsewhere only with access control and TLS,
/// or when the configuration says `allow_plaintext = true`.
pub fn door_may_listen(
    state: &AppState,
    door: &str,
    addr: std::net::SocketAddr,
    tls: bool,
    allow_plaintext: bool,
) -> Result<(), String> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if state.access.is_none() {
        return Err(format!(
            "refusing to serve {door} on {addr} without access control: listen on 127.0.0.1"
        ));
    }
    if !tls && !allow_plaintext {
        return Err(format!(
            "refusing to serve {door} on {addr} without TLS: configure a certificate and key, \
             or set allow_plaintext = true"
        ));
    }
    Ok(())
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn accept_loop(
    state: Arc<AppState>,
    router: axum::Router,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;
    let slots = Arc::new(tokio::sync::Semaphore::new(
        state.options.max_connections.max(1),
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.options.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service =
            hyper_util::service::TowerToHyperService::new(router.clone().map_request(
                |r: hyper::Request<hyper::body::Incoming>| r.map(axum::body::Body::new),
            ));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
