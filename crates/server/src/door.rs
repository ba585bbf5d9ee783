//! What the two SQL doors for analysts' own tools (the Postgres protocol,
//! [`crate::pg`], and Arrow Flight SQL, [`crate::flight`]) share, so that
//! neither holds a copy of a rule: the session a principal's statements are
//! planned in, the copy each query runs in (time and memory limits, a
//! cancel flag), admission and the audit line, and a result stream that
//! counts its rows and holds the query's place until it ends.
//!
//! The session is the principal's restricted session from
//! [`AppState::context`] (the one `/api/sql` plans in: statement bounds,
//! read-only, scoping, pseudonyms), forked so that the catalogs these
//! clients browse can be added without meeting anyone else's query: the
//! catalog under the name `icsw` (what clients are told the database is
//! called) and datafusion-pg-catalog's `pg_catalog`.

use crate::access::{authenticate, sha256_hex, Principal, Role};
use crate::admission::Permit;
use crate::{ApiError, ApiResult, AppState};
use futures::Stream;
use icsw_query::WarehouseContext;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Why a sign-in to a SQL door was refused.
pub(crate) enum Refused {
    /// No token matches, or the user name is not the token's name.
    Credentials(String),
    /// The token's role may not use SQL (managers, commissioners).
    Role(Role),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Credentials(user) => write!(
                f,
                "password authentication failed for user \"{user}\" (the user name is the \
                 token's name and the password the token)"
            ),
            Refused::Role(r) => write!(
                f,
                "the {} role may not sign in to SQL: use the dashboards or the returns",
                r.name()
            ),
        }
    }
}

/// Sign-in to a SQL door: the user name (when the protocol sends one) is
/// the token's name and the password the token (its SHA-256 checked in
/// constant time); only analysts and admins may sign in.
pub(crate) fn sign_in(
    state: &AppState,
    user: Option<&str>,
    token: &str,
) -> Result<Principal, Refused> {
    let p = state
        .access
        .as_ref()
        .and_then(|a| authenticate(a, token))
        .filter(|p| user.is_none_or(|u| p.name == u))
        .ok_or_else(|| Refused::Credentials(user.unwrap_or("(bearer token)").to_string()))?;
    match p.role {
        Role::Analyst | Role::Admin => Ok(p),
        r => Err(Refused::Role(r)),
    }
}

/// The name clients know the warehouse's catalog by (`dbname=icsw`, Flight
/// SQL's catalog).
pub(crate) const CATALOG: &str = "icsw";

/// The schema the warehouse's tables are in.
pub(crate) const SCHEMA: &str = "public";

/// The sessions of the SQL doors, per snapshot and scope.
pub(crate) struct Sessions {
    pub(crate) state: Arc<AppState>,
    cache: tokio::sync::Mutex<(String, HashMap<String, WarehouseContext>)>,
}

impl Sessions {
    pub(crate) fn new(state: Arc<AppState>) -> Self {
        Sessions {
            state,
            cache: tokio::sync::Mutex::new((String::new(), HashMap::new())),
        }
    }

    /// The session a principal's statements are planned in.
    pub(crate) async fn session(&self, p: &Principal) -> ApiResult<WarehouseContext> {
        let snap = self.state.snapshot().await?;
        let scope = AppState::scope_key(p);
        let mut m = self.cache.lock().await;
        if m.0 != snap.key {
            *m = (snap.key.clone(), HashMap::new());
        }
        if let Some(c) = m.1.get(&scope) {
            return Ok(c.clone());
        }
        let base = self.state.context(&snap, p).await?;
        let c = base.fork().await?;
        if let Some(catalog) = c.session().catalog("datafusion") {
            c.session().register_catalog(CATALOG, catalog);
        }
        datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog(
            c.session(),
            CATALOG,
            datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider,
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        m.1.insert(scope, c.clone());
        Ok(c)
    }

    /// The time limit, in whole seconds, as errors name it.
    pub(crate) fn timeout_secs(&self) -> u64 {
        self.state.options.query_timeout.as_secs().max(1)
    }

    /// A copy of the principal's session for one query: its own memory
    /// pool, the time limit from now, and `cancel` (cleared first).
    pub(crate) async fn one_query(
        &self,
        p: &Principal,
        cancel: Option<Arc<AtomicBool>>,
    ) -> ApiResult<WarehouseContext> {
        let o = &self.state.options;
        if let Some(c) = &cancel {
            c.store(false, Ordering::SeqCst);
        }
        self.session(p)
            .await?
            .for_one_query(
                Some(o.query_memory),
                Some(Instant::now() + o.query_timeout),
                cancel,
            )
            .map_err(|e| self.failed(e))
    }

    /// A query's place among those running (admission, as `/api/sql`) and
    /// its audit line, from now.
    pub(crate) async fn admit(
        &self,
        p: &Principal,
        door: &'static str,
        sql: &str,
    ) -> ApiResult<(Permit, Audited)> {
        let permit = self.state.admission.admit(&p.name).await?;
        Ok((permit, Audited::new(&self.state, p, door, sql)))
    }

    /// A query-layer error as the doors report it.
    pub(crate) fn failed(&self, e: icsw_query::Error) -> ApiError {
        query_failed(e, self.timeout_secs())
    }
}

/// A query-layer error as every door reports it: past the time limit is
/// [`ApiError::Timeout`], the rest as [`ApiError`] has them.
pub(crate) fn query_failed(e: icsw_query::Error, timeout_secs: u64) -> ApiError {
    if e.is_time_limit() {
        ApiError::Timeout(timeout_secs)
    } else {
        ApiError::from(e)
    }
}

/// The audit line of one query, written once when it ends (or when it is
/// dropped before its end: the client went away, 499).
pub(crate) struct Audited {
    state: Arc<AppState>,
    principal: Principal,
    door: &'static str,
    sha256: String,
    started: Instant,
    done: bool,
}

impl Audited {
    pub(crate) fn new(state: &Arc<AppState>, p: &Principal, door: &'static str, sql: &str) -> Self {
        Audited {
            state: state.clone(),
            principal: p.clone(),
            door,
            sha256: sha256_hex(sql),
            started: Instant::now(),
            done: false,
        }
    }

    pub(crate) fn finish(mut self, rows: Option<u64>, status: u16) {
        self.write(rows, status);
    }

    fn write(&mut self, rows: Option<u64>, status: u16) {
        if !self.done {
            self.done = true;
            self.state.audit_query(
                &self.principal,
                self.door,
                &self.sha256,
                rows,
                status,
                self.started,
            );
        }
    }
}

impl Drop for Audited {
    fn drop(&mut self) {
        self.write(None, 499);
    }
}

/// A result as it streams: its rows counted (`rows_of` an item, `None` for
/// an error) for the audit line, written at the end, and the query's
/// admission place held until then.
pub(crate) struct Tracked<T> {
    inner: Pin<Box<dyn Stream<Item = T> + Send>>,
    rows_of: fn(&T) -> Option<u64>,
    audit: Option<Audited>,
    _permit: Permit,
    count: u64,
    failed: bool,
}

impl<T> Tracked<T> {
    pub(crate) fn new(
        inner: Pin<Box<dyn Stream<Item = T> + Send>>,
        rows_of: fn(&T) -> Option<u64>,
        audit: Audited,
        permit: Permit,
    ) -> Self {
        Tracked {
            inner,
            rows_of,
            audit: Some(audit),
            _permit: permit,
            count: 0,
            failed: false,
        }
    }
}

impl<T> Stream for Tracked<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let next = self.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(item)) => match (self.rows_of)(item) {
                Some(n) => self.count += n,
                None => self.failed = true,
            },
            Poll::Ready(None) => {
                let (n, failed) = (self.count, self.failed);
                if let Some(a) = self.audit.take() {
                    a.finish(Some(n), if failed { 500 } else { 200 });
                }
            }
            Poll::Pending => {}
        }
        next
    }
}
