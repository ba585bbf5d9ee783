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
mod html;
mod metrics;
mod returns;
mod sql;

pub use access::{new_token, sha256_hex, AccessConfig, Principal, Role};

use access::{authenticate, Audit, AuditRecord, Need};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use icsw_model::IcsConfig;
use icsw_query::{Limits, Restriction, WarehouseContext};
use icsw_store::Warehouse;
use metrics::Metrics;
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Server settings (`icsw serve` options and `[server]` in icsw.toml).
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub addr: SocketAddr,
    /// The landing zone, for the late-manifest check.
    pub landing: Option<PathBuf>,
    /// A query's time limit.
    pub query_timeout: Duration,
    /// A query's memory limit, in bytes.
    pub query_memory: usize,
    /// Rows at most in a JSON result.
    pub json_rows: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            addr: "127.0.0.1:8080".parse().expect("address"),
            landing: None,
            query_timeout: Duration::from_secs(30),
            query_memory: 512 * 1024 * 1024,
            json_rows: 10_000,
        }
    }
}

/// Errors of the HTTP layer, each with a stable code. Internal detail is
/// logged, not returned.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("not found")]
    NotFound,
    #[error("the query ran past its time limit of {0} seconds")]
    Timeout(u64),
    #[error("the query needed more memory than its limit: {0}")]
    Memory(String),
    #[error("the return is held: {}", .0.join("; "))]
    Held(Vec<String>, Box<icsw_returns::Provenance>),
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<&'a [String]>,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::BadRequest { code, .. } => code,
            ApiError::NotFound => "not_found",
            ApiError::Timeout(_) => "query_time_limit",
            ApiError::Memory(_) => "query_memory_limit",
            ApiError::Held(..) => "return_held",
            ApiError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Memory(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Held(..) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!("{detail}");
        }
        let reasons = match &self {
            ApiError::Held(r, _) => Some(r.as_slice()),
            _ => None,
        };
        let body = ErrorBody {
            error: self.code(),
            message: self.to_string(),
            reasons,
        };
        let mut resp = (self.status(), axum::Json(body)).into_response();
        if let ApiError::Held(_, p) = &self {
            returns::provenance_headers(resp.headers_mut(), p);
        }
        if matches!(self, ApiError::Unauthorized) {
            resp.headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<icsw_query::Error> for ApiError {
    fn from(e: icsw_query::Error) -> Self {
        if e.is_users() {
            ApiError::bad("bad_query", e.to_string())
        } else if e.is_memory_limit() {
            ApiError::Memory(e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<icsw_returns::Error> for ApiError {
    fn from(e: icsw_returns::Error) -> Self {
        match e {
            icsw_returns::Error::Invalid(m) => ApiError::bad("bad_request", m),
            icsw_returns::Error::Held(p) => ApiError::Held(p.reasons.clone(), p),
            icsw_returns::Error::Query(q) => q.into(),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<icsw_quality::Error> for ApiError {
    fn from(e: icsw_quality::Error) -> Self {
        match e {
            icsw_quality::Error::Query(q) => q.into(),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<icsw_store::Error> for ApiError {
    fn from(e: icsw_store::Error) -> Self {
        match e {
            icsw_store::Error::NoSuchVersion(v) => {
                ApiError::bad("bad_request", format!("no load {v}"))
            }
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<datafusion::error::DataFusionError> for ApiError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        icsw_query::Error::from(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A rendered response kept for the warehouse version.
#[derive(Clone)]
pub struct Cached {
    pub status: StatusCode,
    pub content_type: String,
    pub etag: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Cached {
    pub fn new(content_type: &str, body: Vec<u8>, headers: Vec<(String, String)>) -> Self {
        let etag = format!("\"{}\"", &sha256_hex_bytes(&body)[..32]);
        Cached {
            status: StatusCode::OK,
            content_type: content_type.to_string(),
            etag,
            headers,
            body: Bytes::from(body),
        }
    }

    /// The response, or 304 when the client has it already.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let fresh = request
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == self.etag));
        let mut resp = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (self.status, self.body.clone()).into_response()
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.content_type) {
            h.insert("content-type", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert("etag", v);
        }
        h.insert(
            "cache-control",
            HeaderValue::from_static("private, no-cache"),
        );
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                axum::http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                h.insert(k, v);
            }
        }
        resp
    }
}

fn sha256_hex_bytes(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The sessions and responses of one warehouse version.
pub struct Snapshot {
    pub key: String,
    pub full: WarehouseContext,
    restricted: tokio::sync::Mutex<HashMap<Restriction, WarehouseContext>>,
    cache: Mutex<HashMap<String, Arc<Cached>>>,
}

impl Snapshot {
    pub fn cached(&self, key: &str) -> Option<Arc<Cached>> {
        self.cache.lock().ok()?.get(key).cloned()
    }

    pub fn keep(&self, key: String, c: Cached) -> Arc<Cached> {
        let c = Arc::new(c);
        if let Ok(mut m) = self.cache.lock() {
            // Bounded: a burst of distinct URLs cannot grow it for ever.
            if m.len() > 2000 {
                m.clear();
            }
            m.insert(key, c.clone());
        }
        c
    }
}

pub struct AppState {
    pub warehouse: Warehouse,
    pub config: IcsConfig,
    pub access: Option<AccessConfig>,
    pub options: ServerOptions,
    pseudonym_key: Vec<u8>,
    snapshot: tokio::sync::RwLock<Option<Arc<Snapshot>>>,
    checked: Mutex<Option<Instant>>,
    pub metrics: Metrics,
    audit: Audit,
}

impl AppState {
    pub fn new(
        warehouse: Warehouse,
        config: IcsConfig,
        options: ServerOptions,
    ) -> Result<Arc<Self>, String> {
        let access = AccessConfig::from(&config)?;
        if access.is_none() && !options.addr.ip().is_loopback() {
            return Err(format!(
                "refusing to serve {} without access control: add an [access] section \
                 with tokens to the configuration, or listen on 127.0.0.1",
                options.addr
            ));
        }
        let pseudonym_key = std::env::var("ICSW_PSEUDONYM_KEY")
            .ok()
            .or_else(|| access.as_ref().and_then(|a| a.pseudonym_key.clone()))
            .map(String::into_bytes)
            .unwrap_or_else(|| new_token().0.into_bytes());
        let audit = Audit::open(access.as_ref().and_then(|a| a.audit_log.as_deref()))
            .map_err(|e| format!("opening the audit log: {e}"))?;
        Ok(Arc::new(AppState {
            warehouse,
            config,
            access,
            options,
            pseudonym_key,
            snapshot: tokio::sync::RwLock::new(None),
            checked: Mutex::new(None),
            metrics: Metrics::default(),
            audit,
        }))
    }

    /// Who is asking: from `Authorization: Bearer <token>` or the
    /// `icsw_token` cookie. Everyone is an admin in open mode.
    pub fn principal(&self, headers: &HeaderMap, need: Need) -> ApiResult<Principal> {
        let Some(access) = &self.access else {
            return Ok(Principal::open());
        };
        let token = presented_token(headers).ok_or(ApiError::Unauthorized)?;
        let p = authenticate(access, token).ok_or(ApiError::Unauthorized)?;
        if !p.may(need) {
            return Err(ApiError::Forbidden(format!(
                "the {} role may not do this",
                p.role.name()
            )));
        }
        Ok(p)
    }

    /// The newest version's snapshot (checked at most once a second).
    pub async fn snapshot(&self) -> ApiResult<Arc<Snapshot>> {
        let recheck = {
            let mut c = self.checked.lock().expect("lock");
            let due = c.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
            if due {
                *c = Some(Instant::now());
            }
            due
        };
        if !recheck {
            if let Some(s) = self.snapshot.read().await.as_ref() {
                return Ok(s.clone());
            }
        }
        let state = self.warehouse.current().await?;
        let view = state.view();
        let key = view.cache_key();
        if let Some(s) = self.snapshot.read().await.as_ref() {
            if s.key == key {
                return Ok(s.clone());
            }
        }
        let mut slot = self.snapshot.write().await;
        if let Some(s) = slot.as_ref() {
            if s.key == key {
                return Ok(s.clone());
            }
        }
        let full =
            WarehouseContext::new(&self.warehouse, view, &self.config, &Limits::default()).await?;
        icsw_quality::register_findings_table(&full, &self.config)?;
        let s = Arc::new(Snapshot {
            key,
            full,
            restricted: tokio::sync::Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
        });
        tracing::info!(version = state.version, "serving warehouse version");
        self.metrics.set_version(state.version);
        *slot = Some(s.clone());
        Ok(s)
    }

    /// The session a principal's queries run in.
    pub async fn context(&self, snap: &Snapshot, p: &Principal) -> ApiResult<WarehouseContext> {
        let r = p.restriction(&self.pseudonym_key);
        if r.is_none() {
            return Ok(snap.full.clone());
        }
        let mut m = snap.restricted.lock().await;
        if let Some(c) = m.get(&r) {
            return Ok(c.clone());
        }
        let c = snap.full.restricted(&r).await?;
        m.insert(r, c.clone());
        Ok(c)
    }

    pub fn pseudonym_key(&self) -> &[u8] {
        &self.pseudonym_key
    }

    /// A cache key for a principal's view of a request.
    pub fn scope_key(p: &Principal) -> String {
        format!("{}|{:?}|{:?}", p.role.name(), p.trusts, p.commissioners)
    }
}

/// The trust a request is about: the one asked for (403 when the token is
/// scoped to others), else a single-trust token's own, else none (all the
/// token may see).
pub fn trust_asked(p: &Principal, asked: Option<&str>) -> ApiResult<Option<String>> {
    match (&p.trusts, asked) {
        (Some(ts), Some(t)) if !ts.iter().any(|x| x == t) => {
            Err(ApiError::Forbidden(format!("trust {t} is not yours")))
        }
        (_, Some(t)) => Ok(Some(t.to_string())),
        (Some(ts), None) if ts.len() == 1 => Ok(Some(ts[0].clone())),
        _ => Ok(None),
    }
}

/// A `YYYY-MM` from a URL.
pub fn month(s: &str) -> ApiResult<icsw_model::Month> {
    icsw_model::Month::parse(s).map_err(|e| ApiError::bad("bad_request", e.to_string()))
}

/// The token a request carries: `Authorization: Bearer <token>`, or the
/// `icsw_token` cookie `/login` sets.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = || {
        headers
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| {
                c.split(';')
                    .find_map(|kv| kv.trim().strip_prefix("icsw_token="))
            })
    };
    bearer.or_else(cookie).map(str::trim)
}

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
