//! What the server holds: its settings, the sessions and rendered
//! responses of the warehouse version it serves, and who is asking.

use crate::access::{authenticate, Audit, Need};
use crate::metrics::Metrics;
use crate::{AccessConfig, ApiError, ApiResult, Principal};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use icsw_model::IcsConfig;
use icsw_query::{Limits, Restriction, WarehouseContext};
use icsw_store::Warehouse;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Server settings (the `icsw serve` options).
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
    /// Queries running at once, over all tokens.
    pub max_queries: usize,
    /// Queries running at once for one token.
    pub max_queries_per_token: usize,
    /// How long a query waits for a place before it is refused (503).
    pub queue_wait: Duration,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers (and
    /// may sit idle between requests) before it is closed.
    pub header_timeout: Duration,
    /// Bytes at most in a request body.
    pub max_body: usize,
    /// The address users reach the server at (`https://...` behind TLS:
    /// cookies are then `Secure`).
    pub public_url: Option<String>,
    /// Render every dashboard for every configured principal as soon as a
    /// new warehouse version is served, so no one waits for a first page.
    pub warm_dashboards: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            addr: "127.0.0.1:8080".parse().expect("address"),
            landing: None,
            query_timeout: Duration::from_secs(30),
            query_memory: 512 * 1024 * 1024,
            json_rows: 10_000,
            max_queries: 4,
            max_queries_per_token: 2,
            queue_wait: Duration::from_secs(2),
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            max_body: 1024 * 1024,
            public_url: None,
            warm_dashboards: true,
        }
    }
}

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
    pub(crate) audit: Audit,
    pub(crate) admission: crate::admission::Admission,
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
        let pseudonym_key = config.pseudonym_key();
        let audit = Audit::open(access.as_ref().and_then(|a| a.audit_log.as_deref()))
            .map_err(|e| format!("opening the audit log: {e}"))?;
        Ok(Arc::new(AppState {
            warehouse,
            config,
            access,
            pseudonym_key,
            snapshot: tokio::sync::RwLock::new(None),
            checked: Mutex::new(None),
            metrics: Metrics::default(),
            audit,
            admission: crate::admission::Admission::new(&options),
            options,
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

    /// The key of the snapshot being served, if any (without looking for a
    /// newer version).
    pub async fn serving_key(&self) -> Option<String> {
        self.snapshot.read().await.as_ref().map(|s| s.key.clone())
    }

    /// Keeps the dashboards of the newest version rendered: at start, and
    /// within `every` of each new version, so the first manager of the
    /// morning is answered from the cache. Runs until the server stops.
    pub async fn keep_warm(self: Arc<Self>, every: Duration) {
        let mut warmed = String::new();
        loop {
            match self.snapshot().await {
                Ok(snap) if snap.key != warmed => {
                    let started = Instant::now();
                    let n = crate::dashboards::warm(&self, &snap).await;
                    tracing::info!(
                        pages = n,
                        seconds = started.elapsed().as_secs_f64(),
                        "dashboards rendered for the new version"
                    );
                    warmed = snap.key.clone();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("warming the dashboards: {e}"),
            }
            tokio::time::sleep(every).await;
        }
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

    /// The audit line of a query: who ran it, through which door (`/api/sql`,
    /// `postgres`, `flight-sql`), the SHA-256 of its text, the rows it
    /// returned (when it ran) and how it ended. Never the text.
    pub(crate) fn audit_query(
        &self,
        p: &Principal,
        door: &str,
        query_sha256: &str,
        rows: Option<u64>,
        status: u16,
        started: Instant,
    ) {
        if !p.identified {
            return;
        }
        self.audit.write(&crate::access::AuditRecord {
            at: chrono::Utc::now().to_rfc3339(),
            token: &p.name,
            role: p.role.name(),
            method: "QUERY",
            path: door,
            status,
            millis: started.elapsed().as_millis(),
            query_sha256: Some(query_sha256),
            rows,
        });
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
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<&str> {
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
