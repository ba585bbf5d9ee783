//! The Arrow Flight SQL door, for the ADBC drivers (Python, R, Go, Java),
//! the Flight SQL JDBC driver and DBeaver through it: arrow-flight's
//! Flight SQL server over tonic.
//!
//! As the Postgres door, it holds no rule of its own ([`crate::door`]):
//! sign-in is the token check (a basic-auth handshake with the token's name
//! and the token, answered with `authorization: Bearer <token>`, or that
//! header on every call); every statement is planned in the principal's
//! restricted session and run in a copy for one query with the time and
//! memory limits, admission and audit line of `/api/sql`. Results stream
//! as the plan's own Arrow record batches, encoded once as Flight data.
//!
//! A ticket holds only the statement's text (or a prepared statement's
//! handle): each `DoGet` signs in, plans and checks it again, so a ticket
//! passed to someone else gives them nothing their own token does not.
//! Prepared statements are held per token, at most [`MAX_PREPARED`] at
//! once (the oldest is dropped), with their bound parameters.

use crate::access::Principal;
use crate::door::{sign_in, Refused, Sessions, Tracked, CATALOG, SCHEMA};
use crate::error::without_paths;
use crate::{ApiError, AppState};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage,
    SchemaAsIpc, Ticket,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::prelude::DataFrame;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

/// This door's name in the audit log.
const DOOR: &str = "flight-sql";

/// Prepared statements held at once, over all tokens.
pub(crate) const MAX_PREPARED: usize = 1024;

/// A Flight SQL response stream.
type FlightStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// An error as a gRPC status, with no server path in it (an internal
/// error's detail is logged, not sent).
fn status(e: ApiError) -> Status {
    let m = without_paths(&e.to_string());
    match e {
        ApiError::Unauthorized => Status::unauthenticated(m),
        ApiError::Forbidden(_) => Status::permission_denied(m),
        ApiError::BadRequest { .. } => Status::invalid_argument(m),
        ApiError::NotFound => Status::not_found(m),
        ApiError::Timeout(_) => Status::deadline_exceeded(m),
        ApiError::Memory(_) => Status::resource_exhausted(m),
        ApiError::Busy(_) => Status::unavailable(m),
        ApiError::Internal(detail) => {
            tracing::error!("flight-sql: {detail}");
            Status::internal(m)
        }
        _ => Status::internal(m),
    }
}

/// A statement prepared by a token, with its bound parameters.
struct Prepared {
    /// The scope it was prepared in ([`AppState::scope_key`]) and the token.
    owner: (String, String),
    sql: String,
    params: Option<Vec<ScalarValue>>,
    at: Instant,
}

/// The Flight SQL service.
pub(crate) struct Door {
    sessions: Sessions,
    prepared: Mutex<HashMap<Vec<u8>, Prepared>>,
}

impl Door {
    fn state(&self) -> &AppState {
        &self.sessions.state
    }

    /// Who is calling: the bearer token (or basic credentials) in the
    /// `authorization` header; in open mode anyone on the loopback
    /// interface, as an admin.
    fn principal<T>(&self, req: &Request<T>) -> Result<Principal, Status> {
        if self.state().access.is_none() {
            return Ok(Principal::open());
        }
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Status::unauthenticated(
                    "sign in with the token's name and the token (basic authentication), \
                     or send authorization: Bearer <token>",
                )
            })?;
        let signed = if let Some(token) = header.strip_prefix("Bearer ") {
            sign_in(self.state(), None, token.trim())
        } else if let Some(b) = header.strip_prefix("Basic ") {
            let decoded = base64_decode(b.trim())
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Status::unauthenticated("malformed basic credentials"))?;
            let (user, token) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
            sign_in(self.state(), Some(user), token)
        } else {
            return Err(Status::unauthenticated("unsupported authorization scheme"));
        };
        signed.map_err(|r| match r {
            Refused::Credentials(_) => Status::unauthenticated(r.to_string()),
            Refused::Role(_) => Status::permission_denied(r.to_string()),
        })
    }

    /// Plans `sql` (with `params` bound) in the principal's session, within
    /// the time limit: what a statement's schema is checked against.
    async fn plan(
        &self,
        p: &Principal,
        sql: &str,
        params: Option<&[ScalarValue]>,
    ) -> Result<DataFrame, Status> {
        let one = self.sessions.one_query(p, None).await.map_err(status)?;
        let df = one
            .sql(sql)
            .await
            .map_err(|e| status(self.sessions.failed(e)))?;
        match params {
            Some(v) => df
                .with_param_values(ParamValues::from(v.to_vec()))
                .map_err(|e| status(self.sessions.failed(e.into()))),
            None => Ok(df),
        }
    }

    /// Runs a statement for `DoGet`: admitted, planned and run in a copy
    /// of the principal's session for one query, its batches streamed as
    /// Flight data as the plan yields them, and audited when it ends.
    async fn run(
        &self,
        p: &Principal,
        sql: &str,
        params: Option<&[ScalarValue]>,
    ) -> Result<Response<FlightStream>, Status> {
        let (permit, audit) = self.sessions.admit(p, DOOR, sql).await.map_err(status)?;
        let df = match self.plan(p, sql, params).await {
            Ok(df) => df,
            Err(e) => {
                audit.finish(None, 400);
                return Err(e);
            }
        };
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let timeout = self.sessions.timeout_secs();
        let batches = match df.execute_stream().await {
            Ok(s) => s,
            Err(e) => {
                audit.finish(None, 500);
                return Err(status(crate::door::query_failed(e.into(), timeout)));
            }
        };
        let batches = batches.map(move |b| {
            b.map_err(|e| FlightError::from(status(crate::door::query_failed(e.into(), timeout))))
        });
        let rows_of = |b: &Result<RecordBatch, FlightError>| match b {
            Ok(b) => Some(b.num_rows() as u64),
            Err(_) => None,
        };
        let tracked = Tracked::new(Box::pin(batches), rows_of, audit, permit);
        let data = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(tracked)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(data)))
    }

    /// A prepared statement of the caller's, by handle.
    fn prepared_of(
        &self,
        p: &Principal,
        handle: &[u8],
    ) -> Result<(String, Option<Vec<ScalarValue>>), Status> {
        let m = self.prepared.lock().expect("lock");
        match m.get(handle) {
            Some(s) if s.owner == owner(p) => Ok((s.sql.clone(), s.params.clone())),
            _ => Err(Status::not_found("no such prepared statement")),
        }
    }

    /// The tables the principal's session holds, with their schemas.
    async fn tables(&self, p: &Principal) -> Result<Vec<(String, SchemaRef)>, Status> {
        let c = self.sessions.session(p).await.map_err(status)?;
        c.table_schemas()
            .await
            .map_err(|e| status(self.sessions.failed(e)))
    }
}

/// Whose a prepared statement is: the scope and the token.
fn owner(p: &Principal) -> (String, String) {
    (AppState::scope_key(p), p.name.clone())
}

/// Standard base64 with or without its padding (basic credentials: the
/// ADBC driver sends none), or `None` when malformed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(s).ok()
}

/// A Flight endpoint whose ticket is `message`, for a result of `schema`.
fn info(
    message: impl ProstMessageExt,
    schema: &Schema,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(message.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(e.to_string()))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// One batch as a Flight stream.
fn one_batch(batch: arrow_flight::error::Result<RecordBatch>) -> Response<FlightStream> {
    let stream = FlightDataEncoderBuilder::new()
        .build(futures::stream::once(async move { batch }))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

/// What `GetSqlInfo` says of the server.
fn sql_info() -> &'static SqlInfoData {
    static INFO: OnceLock<SqlInfoData> = OnceLock::new();
    INFO.get_or_init(|| {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "icsw");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(SqlInfo::FlightSqlServerTransaction, 0i32);
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.build().expect("the server's SQL info")
    })
}

/// The refusal of anything that would change the warehouse.
fn read_only() -> Status {
    Status::permission_denied("the warehouse is read-only: only queries are allowed")
}

/// A prepared statement's parameter types, in order (`$1`, `$2`, ...), as
/// the schema clients bind against.
fn parameter_schema(df: &DataFrame) -> Result<Schema, Status> {
    let types = df
        .logical_plan()
        .get_parameter_types()
        .map_err(|e| Status::invalid_argument(without_paths(&e.to_string())))?;
    let mut names: Vec<(usize, String, Option<DataType>)> = types
        .into_iter()
        .map(|(name, t)| {
            let n = name.trim_start_matches('$').parse().unwrap_or(usize::MAX);
            (n, name, t)
        })
        .collect();
    names.sort();
    Ok(Schema::new(
        names
            .into_iter()
            .map(|(_, name, t)| Field::new(name, t.unwrap_or(DataType::Utf8), true))
            .collect::<Vec<_>>(),
    ))
}

fn schema_ipc(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(b) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(b)
}

#[tonic::async_trait]
impl FlightSqlService for Door {
    type FlightService = Door;

    /// Basic authentication (the token's name and the token), answered
    /// with the token as the bearer token of the calls that follow.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        self.principal(&request)?;
        let bearer = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| {
                if let Some(b) = h.strip_prefix("Basic ") {
                    let d = String::from_utf8(base64_decode(b.trim())?).ok()?;
                    Some(d.split_once(':')?.1.to_string())
                } else {
                    h.strip_prefix("Bearer ").map(|t| t.trim().to_string())
                }
            });
        let out = futures::stream::iter([Ok(HandshakeResponse {
            protocol_version: 0,
            payload: Default::default(),
        })]);
        let mut resp: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(out));
        if let Some(token) = bearer {
            let v = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| Status::unauthenticated("malformed token"))?;
            resp.metadata_mut().insert("authorization", v);
        }
        Ok(resp)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let p = self.principal(&request)?;
        let df = self.plan(&p, &query.query, None).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        info(ticket, df.schema().as_arrow(), request.into_inner())
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let p = self.principal(&request)?;
        let sql = String::from_utf8(ticket.statement_handle.to_vec())
            .map_err(|_| Status::invalid_argument("the ticket is not a statement"))?;
        self.run(&p, &sql, None).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let p = self.principal(&request)?;
        let df = self.plan(&p, &query.query, None).await?;
        let parameters = parameter_schema(&df)?;
        let handle = crate::access::new_token().0.into_bytes();
        {
            let mut m = self.prepared.lock().expect("lock");
            if m.len() >= MAX_PREPARED {
                if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.at).map(|(k, _)| k.clone()) {
                    m.remove(&oldest);
                }
            }
            m.insert(
                handle.clone(),
                Prepared {
                    owner: owner(&p),
                    sql: query.query,
                    params: None,
                    at: Instant::now(),
                },
            );
        }
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into(),
            dataset_schema: schema_ipc(df.schema().as_arrow())?,
            parameter_schema: schema_ipc(&parameters)?,
        })
    }

    /// Binds parameters: one row, a column per parameter in order.
    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let p = self.principal(&request)?;
        self.prepared_of(&p, &query.prepared_statement_handle)?;
        let mut batches = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
            request.into_inner().map_err(FlightError::from),
        );
        let mut row: Option<Vec<ScalarValue>> = None;
        while let Some(b) = batches.next().await {
            let b = b.map_err(Status::from)?;
            if b.num_rows() == 0 {
                continue;
            }
            if row.is_some() || b.num_rows() > 1 {
                return Err(Status::invalid_argument(
                    "bind one row of parameters at a time",
                ));
            }
            row = Some(
                b.columns()
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, 0))
                    .collect::<Result<_, _>>()
                    .map_err(|e| Status::invalid_argument(e.to_string()))?,
            );
        }
        let mut m = self.prepared.lock().expect("lock");
        if let Some(s) = m.get_mut(query.prepared_statement_handle.as_ref()) {
            s.params = row;
        }
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(query.prepared_statement_handle),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let p = self.principal(&request)?;
        let (sql, params) = self.prepared_of(&p, &cmd.prepared_statement_handle)?;
        let df = self.plan(&p, &sql, params.as_deref()).await?;
        info(cmd, df.schema().as_arrow(), request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let p = self.principal(&request)?;
        let (sql, params) = self.prepared_of(&p, &query.prepared_statement_handle)?;
        self.run(&p, &sql, params.as_deref()).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        let p = self.principal(&request)?;
        let mut m = self.prepared.lock().expect("lock");
        if m.get(query.prepared_statement_handle.as_ref())
            .is_some_and(|s| s.owner == owner(&p))
        {
            m.remove(query.prepared_statement_handle.as_ref());
        }
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request)?;
        let schema = query.into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.principal(&request)?;
        let mut b = query.into_builder();
        b.append(CATALOG);
        Ok(one_batch(b.build()))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request)?;
        let schema = query.clone().into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.principal(&request)?;
        let mut b = query.into_builder();
        b.append(CATALOG, SCHEMA);
        Ok(one_batch(b.build()))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request)?;
        let schema = query.clone().into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let p = self.principal(&request)?;
        let tables = self.tables(&p).await?;
        let mut b = query.into_builder();
        for (name, schema) in tables {
            b.append(CATALOG, SCHEMA, name, "TABLE", &schema)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(one_batch(b.build()))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request)?;
        let schema = query.into_builder().schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.principal(&request)?;
        let mut b = query.into_builder();
        b.append("TABLE");
        Ok(one_batch(b.build()))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.principal(&request)?;
        let schema = query.clone().into_builder(sql_info()).schema();
        info(query, &schema, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.principal(&request)?;
        Ok(one_batch(query.into_builder(sql_info()).build()))
    }

    async fn do_get_fallback(
        &self,
        request: Request<Ticket>,
        _message: Any,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.principal(&request)?;
        Err(Status::unimplemented(
            "this ticket is not one this server issues",
        ))
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.principal(&request)?;
        Err(read_only())
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.principal(&request)?;
        Err(read_only())
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.principal(&request)?;
        Err(read_only())
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.principal(&request)?;
        Err(read_only())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// A Flight SQL server, built (TLS and all) before it listens, so that a
/// set-up failure stops the server at start.
pub(crate) struct Server {
    router: tonic::transport::server::Router,
    open: bool,
}

/// The Flight SQL server for `state`, over `tls` when given.
pub(crate) fn server(
    state: Arc<AppState>,
    tls: Option<&crate::tls::Tls>,
) -> Result<Server, String> {
    let open = state.access.is_none();
    let max_message = state.options.max_body;
    let request_timeout = state.options.query_timeout + std::time::Duration::from_secs(30);
    let door = Door {
        sessions: Sessions::new(state),
        prepared: Mutex::new(HashMap::new()),
    };
    let service = FlightServiceServer::new(door)
        .max_decoding_message_size(max_message)
        .max_encoding_message_size(64 * 1024 * 1024);
    let mut server = tonic::transport::Server::builder().timeout(request_timeout);
    if let Some(tls) = tls {
        server = server
            .tls_config(tls.for_tonic())
            .map_err(|e| format!("Flight SQL TLS: {e}"))?;
    }
    Ok(Server {
        router: server.add_service(service),
        open,
    })
}

impl Server {
    /// Serves on `listener` until the task is aborted (in open mode,
    /// loopback peers only).
    pub(crate) async fn serve(self, listener: tokio::net::TcpListener) {
        let incoming = accepted(listener, self.open);
        if let Err(e) = self.router.serve_with_incoming(incoming).await {
            tracing::error!("the Flight SQL door: {e}");
        }
    }
}

/// The connections `listener` accepts (in open mode, loopback ones only).
fn accepted(
    listener: tokio::net::TcpListener,
    loopback_only: bool,
) -> impl Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, move |l| async move {
        loop {
            match l.accept().await {
                Ok((s, peer)) if !loopback_only || peer.ip().is_loopback() => {
                    let _ = s.set_nodelay(true);
                    return Some((Ok(s), l));
                }
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("flight-sql: accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    })
}
