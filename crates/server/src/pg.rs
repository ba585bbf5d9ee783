//! The Postgres wire door, for psql, DBeaver, Power BI (Npgsql), R's
//! RPostgres, psycopg and JDBC: pgwire with datafusion-postgres' protocol
//! handling (simple and extended query, prepared statements, cursors,
//! `SET`/`SHOW`, transactions) and datafusion-pg-catalog's `pg_catalog`.
//!
//! Nothing here is a second copy of a rule: sign-in is the HTTP door's
//! token check ([`crate::access::authenticate`]) with the user name held to
//! the token's name; every statement is planned by the principal's
//! restricted session ([`WarehouseContext::sql`]: statement bounds,
//! read-only, scoping, pseudonyms) and runs in a copy for one query with the
//! same time and memory limits ([`WarehouseContext::for_one_query`]),
//! admission ([`crate::admission`]) and audit line as `/api/sql`. A cancel
//! request stops the plan where the time limit would.

use crate::access::Principal;
use crate::door::{query_failed, sign_in, Audited, Refused, Sessions, Tracked};
use crate::error::without_paths;
use crate::{ApiError, AppState};
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire;
use datafusion_postgres::DfSessionService;
use futures::{Sink, SinkExt, StreamExt};
use icsw_query::WarehouseContext;
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{DescribePortalResponse, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator, METADATA_USER,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// This door's name in the audit log.
const DOOR: &str = "postgres";

/// Session parameters a client may set (how results are presented); any
/// other `SET` is refused, as `/api/sql` refuses it.
const CLIENT_SETTINGS: &[&str] = &[
    "application_name",
    "bytea_output",
    "client_encoding",
    "client_min_messages",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "search_path",
    "standard_conforming_strings",
    "statement_timeout",
];

/// A Postgres error with its SQLSTATE.
fn pg_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message.into(),
    )))
}

/// The HTTP door's error as a Postgres error (no server path in it).
fn from_api(e: ApiError) -> PgWireError {
    let code = match &e {
        ApiError::Timeout(_) => "57014",
        ApiError::Memory(_) => "53200",
        ApiError::Busy(_) => "53000",
        ApiError::Forbidden(_) | ApiError::Unauthorized => "42501",
        ApiError::BadRequest { .. } => "42601",
        _ => "XX000",
    };
    pg_error(code, without_paths(&e.to_string()))
}

/// A query-layer error as a Postgres error.
fn from_query(e: icsw_query::Error, timeout_secs: u64) -> PgWireError {
    if e.is_cancelled() {
        return pg_error("57014", "canceling statement due to user request");
    }
    from_api(query_failed(e, timeout_secs))
}

/// An error datafusion-postgres passes on (DataFusion's, inside
/// `ApiError`) as the query layer's, with no server path in it.
fn from_wire(e: PgWireError, timeout_secs: u64) -> PgWireError {
    match e {
        PgWireError::ApiError(e) => match e.downcast::<datafusion::error::DataFusionError>() {
            Ok(e) => from_query((*e).into(), timeout_secs),
            Err(e) => pg_error("XX000", without_paths(&e.to_string())),
        },
        e => e,
    }
}

/// Who signed in on a connection, and its cancel flag.
struct Connection {
    principal: Principal,
    cancel: Arc<AtomicBool>,
    /// Removes the connection from [`Cancels`] when it closes.
    _registered: Registered,
}

/// The cancel flags of open connections, by process id and secret key.
#[derive(Default)]
struct Cancels(Mutex<HashMap<CancelKey, Arc<AtomicBool>>>);

/// A connection's process id and secret key, as a cancel request names it.
type CancelKey = (i32, Vec<u8>);

struct Registered {
    key: CancelKey,
    cancels: Arc<Cancels>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut m) = self.cancels.0.lock() {
            m.remove(&self.key);
        }
    }
}

#[async_trait]
impl CancelHandler for Cancels {
    async fn on_cancel_request(&self, r: CancelRequest) {
        let key = (r.pid, r.secret_key.to_bytes().to_vec());
        if let Some(flag) = self.0.lock().ok().and_then(|m| m.get(&key).cloned()) {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

fn connection(client: &(impl ClientInfo + ?Sized)) -> PgWireResult<Arc<Connection>> {
    client
        .session_extensions()
        .get::<Connection>()
        .ok_or_else(|| pg_error("28000", "not signed in"))
}

/// Sign-in: the user name is the token's name and the password the token
/// (its SHA-256 checked in constant time). Only analysts and admins may
/// sign in. Open mode (no `[access]`): loopback only, any user name, no
/// password, as an admin.
struct Startup {
    state: Arc<AppState>,
    /// With TLS configured, a connection that did not negotiate it is
    /// refused before any password is sent.
    tls_required: bool,
    cancels: Arc<Cancels>,
    keys: RandomPidSecretKeyGenerator,
}

impl Startup {
    async fn finish<C>(&self, client: &mut C, principal: Principal) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, secret) = self.keys.generate(client);
        let key = (pid, secret.to_bytes().to_vec());
        client.set_pid_and_secret_key(pid, secret);
        let cancel = Arc::new(AtomicBool::new(false));
        if let Ok(mut m) = self.cancels.0.lock() {
            m.insert(key.clone(), cancel.clone());
        }
        client.session_extensions().insert(Connection {
            principal,
            cancel,
            _registered: Registered {
                key,
                cancels: self.cancels.clone(),
            },
        });
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = "16.0 (icsw)".into();
        finish_authentication(client, &params).await
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                if self.tls_required && !client.is_secure() {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        "28000".into(),
                        "this server requires TLS: connect with sslmode=require".into(),
                    ))));
                }
                save_startup_parameters_to_metadata(client, startup);
                if self.state.access.is_none() {
                    // Open mode: the listener takes loopback connections only.
                    return self.finish(client, Principal::open()).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let p = sign_in(&self.state, Some(&user), &pwd.password).map_err(|r| {
                    let code = match r {
                        Refused::Credentials(_) => "28P01",
                        Refused::Role(_) => "28000",
                    };
                    PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        code.into(),
                        r.to_string(),
                    )))
                })?;
                self.finish(client, p).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// What a statement is to this door.
enum Kind {
    /// Planned and run by the principal's session.
    Query,
    /// Answered by datafusion-postgres' hooks (a client setting, `SHOW`, a
    /// transaction, a cursor).
    Protocol,
    /// Refused, with the reason.
    Refused(&'static str),
}

fn kind(s: &Statement) -> Kind {
    match s {
        Statement::Query(_) | Statement::Explain { .. } => Kind::Query,
        Statement::Set(set) => match set {
            Set::SingleAssignment { variable, .. }
                if CLIENT_SETTINGS.contains(&variable.to_string().to_lowercase().as_str()) =>
            {
                Kind::Protocol
            }
            Set::SetTimeZone { .. } | Set::SetNames { .. } => Kind::Protocol,
            _ => Kind::Refused("SET is refused: the session's settings are the server's"),
        },
        Statement::ShowVariable { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Discard { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => Kind::Protocol,
        Statement::Copy { .. } => Kind::Refused("COPY is refused: the warehouse is read-only"),
        _ => Kind::Refused("the warehouse is read-only: only queries are allowed"),
    }
}

/// The plan of a statement the hooks answer without planning.
fn empty_plan() -> LogicalPlan {
    LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(datafusion::common::DFSchema::empty()),
    })
}

/// The one hook: plans and runs every query in the principal's session,
/// hands client settings, `SHOW`, transactions and cursors to
/// datafusion-postgres' hooks, and refuses everything else, so that no
/// statement reaches a session that is not the principal's.
struct Door {
    sessions: Sessions,
}

impl Door {
    fn timeout_secs(&self) -> u64 {
        self.sessions.timeout_secs()
    }

    /// A copy of the connection's session for one query, with the
    /// connection's cancel flag.
    async fn one_query(&self, c: &Connection) -> PgWireResult<WarehouseContext> {
        self.sessions
            .one_query(&c.principal, Some(c.cancel.clone()))
            .await
            .map_err(from_api)
    }

    /// `DECLARE`, `FETCH` and `CLOSE` of a cursor, by datafusion-postgres'
    /// cursor hook; a cursor's query is first planned by the principal's
    /// session (bounds, read-only), then run in a copy for one query (its
    /// time limit covers the cursor's life), and audited when declared.
    async fn cursor(
        &self,
        c: &Connection,
        statement: &Statement,
        dummy: &SessionContext,
        client: &mut dyn HookClient,
        extended: Option<(&LogicalPlan, &ParamValues)>,
    ) -> PgWireResult<Response> {
        let mut ctx = dummy.clone();
        if let Statement::Declare { stmts } = statement {
            let one = self.one_query(c).await?;
            for d in stmts {
                if let Some(q) = &d.for_query {
                    let sql = q.to_string();
                    let audit = Audited::new(&self.sessions.state, &c.principal, DOOR, &sql);
                    match one.sql(&sql).await {
                        Ok(_) => audit.finish(None, 200),
                        Err(e) => {
                            audit.finish(None, 400);
                            return Err(from_query(e, self.timeout_secs()));
                        }
                    }
                }
            }
            ctx = one.session().clone();
        }
        let answered = match extended {
            None => {
                CursorStatementHook
                    .handle_simple_query(statement, &ctx, client)
                    .await
            }
            Some((plan, params)) => {
                CursorStatementHook
                    .handle_extended_query(statement, plan, params, &ctx, client)
                    .await
            }
        };
        answered.unwrap_or_else(|| Err(pg_error("0A000", "unsupported cursor statement")))
    }

    /// A query's place among those running and its audit line.
    async fn admit(
        &self,
        c: &Connection,
        sql: &str,
    ) -> PgWireResult<(crate::admission::Permit, Audited)> {
        self.sessions
            .admit(&c.principal, DOOR, sql)
            .await
            .map_err(from_api)
    }

    /// A simple-protocol query: planned and run in one go, results as text.
    async fn run(&self, c: &Connection, sql: &str) -> PgWireResult<Response> {
        let (permit, audit) = self.admit(c, sql).await?;
        let one = self.one_query(c).await?;
        let df = match one.sql(sql).await {
            Ok(df) => df,
            Err(e) => {
                let e = from_query(e, self.timeout_secs());
                audit.finish(None, 400);
                return Err(e);
            }
        };
        let fields = Arc::new(arrow_schema_to_pg_fields(
            df.schema().as_arrow(),
            &Format::UnifiedText,
            None,
        )?);
        let batches = df
            .execute_stream()
            .await
            .map_err(|e| from_query(e.into(), self.timeout_secs()))?;
        let f = fields.clone();
        let timeout = self.timeout_secs();
        let rows = batches
            .map(move |b| {
                let it: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> = match b {
                    Ok(b) => encode_recordbatch(f.clone(), b),
                    Err(e) => Box::new(std::iter::once(Err(from_query(e.into(), timeout)))),
                };
                futures::stream::iter(it)
            })
            .flatten();
        Ok(Response::Query(QueryResponse::new(
            fields,
            Tracked::new(Box::pin(rows), data_row, audit, permit),
        )))
    }
}

#[async_trait]
impl QueryHook for Door {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        dummy: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let c = match connection(client) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        Some(match kind(statement) {
            Kind::Query => self.run(&c, &statement.to_string()).await,
            Kind::Refused(why) => Err(pg_error("25006", why)),
            Kind::Protocol => match statement {
                Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. } => {
                    self.cursor(&c, statement, dummy, client, None).await
                }
                Statement::Discard { .. } => Ok(Response::Execution(Tag::new("DISCARD ALL"))),
                _ => protocol(statement, dummy, client).await,
            },
        })
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _dummy: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        Some(match kind(statement) {
            Kind::Refused(why) => Err(pg_error("25006", why)),
            Kind::Protocol => Ok(empty_plan()),
            Kind::Query => {
                async {
                    let c = connection(client)?;
                    let one = self.one_query(&c).await?;
                    let df = one
                        .sql(&statement.to_string())
                        .await
                        .map_err(|e| from_query(e, self.timeout_secs()))?;
                    Ok(df.logical_plan().clone())
                }
                .await
            }
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        dummy: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        match kind(statement) {
            // Run by datafusion-postgres in a copy for one query (see
            // `Queries::do_query`), which knows the portal's result formats.
            Kind::Query => None,
            Kind::Refused(why) => Some(Err(pg_error("25006", why))),
            Kind::Protocol => Some(match statement {
                Statement::Discard { .. } => Ok(Response::Execution(Tag::new("DISCARD ALL"))),
                Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. } => {
                    match connection(client) {
                        Ok(c) => {
                            self.cursor(&c, statement, dummy, client, Some((plan, params)))
                                .await
                        }
                        Err(e) => Err(e),
                    }
                }
                _ => protocol(statement, dummy, client).await,
            }),
        }
    }
}

/// A client setting, `SHOW` or a transaction, answered by
/// datafusion-postgres' hooks (settings go to the connection, never to a
/// session that runs queries).
async fn protocol(
    statement: &Statement,
    dummy: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    if let Some(r) = SetShowHook
        .handle_simple_query(statement, dummy, client)
        .await
    {
        return r;
    }
    if let Some(r) = TransactionStatementHook
        .handle_simple_query(statement, dummy, client)
        .await
    {
        return r;
    }
    Err(pg_error("0A000", "this statement is not supported"))
}

/// A data row counts one row; an error none.
fn data_row(r: &PgWireResult<DataRow>) -> Option<u64> {
    r.as_ref().ok().map(|_| 1)
}

/// The query handlers: datafusion-postgres' protocol handling with [`Door`]
/// as its only hook. `base` answers parsing and describing (its own
/// session is never used: the hook plans every statement); each extended
/// execution gets a service over a copy of the principal's session for one
/// query.
struct Queries {
    door: Arc<Door>,
    base: Arc<DfSessionService>,
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        SimpleQueryHandler::do_query(self.base.as_ref(), client, query).await
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = <DfSessionService as ExtendedQueryHandler>::QueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.base.query_parser()
    }

    /// A cursor's portal is described by the rows it holds (psycopg's
    /// server-side cursors describe the portal before they fetch).
    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PortalExecutionState::Suspended(r) = &*target.state().lock().await {
            return Ok(DescribePortalResponse::new(r.row_schema().as_ref().clone()));
        }
        let schema = self.query_parser().get_result_schema(
            &target.statement.statement,
            Some(&target.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(schema))
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let c = connection(client)?;
        let (permit, audit) = self.door.admit(&c, &portal.statement.statement.0).await?;
        let one = self.door.one_query(&c).await?;
        let service = DfSessionService::new_with_hooks(
            Arc::new(one.session().clone()),
            vec![self.door.clone() as Arc<dyn QueryHook>],
        );
        let timeout = self.door.timeout_secs();
        match ExtendedQueryHandler::do_query(&service, client, portal, max_rows).await {
            Ok(Response::Query(q)) => {
                let fields = q.row_schema();
                let rows = q
                    .data_rows
                    .map(move |r| r.map_err(|e| from_wire(e, timeout)));
                Ok(Response::Query(QueryResponse::new(
                    fields,
                    Tracked::new(Box::pin(rows), data_row, audit, permit),
                )))
            }
            Ok(other) => {
                audit.finish(Some(0), 200);
                Ok(other)
            }
            Err(e) => {
                audit.finish(None, 400);
                Err(from_wire(e, timeout))
            }
        }
    }
}

struct Handlers {
    queries: Arc<Queries>,
    startup: Arc<Startup>,
    cancels: Arc<Cancels>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.cancels.clone()
    }
}

/// Serves the Postgres protocol on `listener` until the task is aborted,
/// over TLS when `tls` is given. In open mode only loopback peers are
/// answered.
pub(crate) async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    tls: Option<pgwire::tokio::TlsAcceptor>,
) {
    let door = Arc::new(Door {
        sessions: Sessions::new(state.clone()),
    });
    let base = Arc::new(DfSessionService::new_with_hooks(
        Arc::new(SessionContext::new()),
        vec![door.clone() as Arc<dyn QueryHook>],
    ));
    let cancels = Arc::new(Cancels::default());
    let handlers = Arc::new(Handlers {
        queries: Arc::new(Queries { door, base }),
        startup: Arc::new(Startup {
            state: state.clone(),
            tls_required: tls.is_some(),
            cancels: cancels.clone(),
            keys: RandomPidSecretKeyGenerator::default(),
        }),
        cancels,
    });
    let open = state.access.is_none();
    let slots = Arc::new(tokio::sync::Semaphore::new(state.options.max_connections));
    loop {
        let Ok((socket, peer)) = listener.accept().await else {
            continue;
        };
        if open && !peer.ip().is_loopback() {
            continue;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let handlers = handlers.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                tracing::debug!("postgres connection: {e}");
            }
        });
    }
}
