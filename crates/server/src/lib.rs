//! The HTTP layer: analysts' read-only SQL, managers' dashboards with SPC
//! charts, commissioners' return downloads, the load log and data-quality
//! findings, health and metrics, behind token access control.
//!
//! A thin layer over the library crates: every figure comes from the same
//! SQL and code as the command line. Sessions and rendered responses are
//! kept per warehouse version; a new load starts afresh.

mod access;
mod api;
mod dashboards;
mod error;
mod html;
mod metrics;
mod returns;
mod sql;
mod state;

pub use access::{new_token, sha256_hex, AccessConfig, Principal, Role};
pub use error::{ApiError, ApiResult};
pub use state::{month, trust_asked, AppState, Cached, ServerOptions, Snapshot};

use access::{authenticate, AuditRecord};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
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
        });
    }
    resp
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
        .route("/returns", get(returns::list_json))
        .route("/returns/{kind}/{file}", get(returns::download));
    Router::new()
        .route("/", get(dashboards::index))
        .route("/dashboards/{name}", get(dashboards::page))
        .route("/returns", get(returns::page))
        .route("/login", get(html::login))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .nest("/api", api)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            state.options.query_timeout + Duration::from_secs(30),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until Ctrl-C (or SIGTERM), finishing requests in flight.
pub async fn serve(state: Arc<AppState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("signal handler");
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
        })
        .await
}
