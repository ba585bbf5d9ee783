//! `POST /api/sql`: an analyst's read-only query, in the format the Accept
//! header asks for, streamed as it is produced, within a time and a memory
//! limit of its own.

use crate::access::{need, Auth};
use crate::{ApiError, ApiResult, AppState};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use icsw_query::output::{Format, ResultWriter};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The format an Accept header asks for (JSON when it names none we have).
fn format_of(headers: &HeaderMap) -> Format {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let t = part.split(';').next().unwrap_or("").trim();
        let f = match t {
            "text/csv" => Format::Csv,
            "application/json" => Format::Json,
            "application/x-ndjson" => Format::JsonLines,
            "application/vnd.apache.arrow.stream" => Format::ArrowStream,
            "application/vnd.apache.parquet" => Format::Parquet,
            "text/plain" => Format::Table,
            _ => continue,
        };
        return f;
    }
    Format::Json
}

/// A buffer the writer fills and the response drains, batch by batch.
#[derive(Clone, Default)]
struct Chunks(Arc<Mutex<Vec<u8>>>);

impl Write for Chunks {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Chunks {
    fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(&mut *self.0.lock().expect("lock")))
    }
}

/// What the query task tells the handler before the body: the headers, or
/// the error to answer with.
type Start = Result<Vec<(&'static str, String)>, ApiError>;

pub async fn sql(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Sql>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Response> {
    if body.trim().is_empty() {
        return Err(ApiError::bad(
            "bad_query",
            "the request body must hold the SQL",
        ));
    }
    let format = format_of(&headers);
    let permit = state.admission.admit(&p.name).await?;
    let opts = state.options.clone();
    let started = Instant::now();
    let deadline = started + opts.query_timeout;
    let snap = state.snapshot().await?;
    let ctx = state.context(&snap, &p).await?.for_one_query(
        Some(opts.query_memory),
        Some(deadline),
        None,
    )?;
    let (start_tx, start_rx) = tokio::sync::oneshot::channel::<Start>();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let audit = state.clone();
    // Planning, running and writing happen on the query runtime, within
    // the time limit from the first byte of planning to the last row.
    crate::admission::query_runtime().spawn(async move {
        let _permit = permit;
        let timeout = || ApiError::Timeout(opts.query_timeout.as_secs().max(1));
        // The session stops the plan at the deadline (TimeLimit); the
        // timers here only bound the waits between its polls.
        let failed = |e: icsw_query::Error| {
            crate::door::query_failed(e, opts.query_timeout.as_secs().max(1))
        };
        let left = || deadline.saturating_duration_since(Instant::now());
        let query_sha256 = crate::access::sha256_hex(&body);
        let mut rows: u64 = 0;
        let planned = async {
            let mut df = tokio::time::timeout(left(), ctx.sql(&body))
                .await
                .map_err(|_| timeout())?
                .map_err(failed)?;
            let mut headers_out = vec![("content-type", format.content_type().to_string())];
            if matches!(format, Format::Json | Format::JsonLines) {
                df = df.limit(0, Some(opts.json_rows))?;
                headers_out.push(("x-icsw-row-limit", opts.json_rows.to_string()));
            }
            let mut stream = tokio::time::timeout(left(), df.execute_stream())
                .await
                .map_err(|_| timeout())?
                .map_err(|e| failed(e.into()))?;
            // The first batch before answering, so that a query that fails
            // or runs past its limits gets a clear error and status.
            let first = match tokio::time::timeout(left(), stream.next()).await {
                Err(_) => return Err(timeout()),
                Ok(None) => None,
                Ok(Some(Err(e))) => return Err(failed(e.into())),
                Ok(Some(Ok(b))) => Some(b),
            };
            Ok((headers_out, stream, first))
        };
        let (headers_out, mut stream, first) = match planned.await {
            Ok(x) => x,
            Err(e) => {
                audit.audit_query(
                    &p,
                    "/api/sql",
                    &query_sha256,
                    None,
                    e.status().as_u16(),
                    started,
                );
                let _ = start_tx.send(Err(e));
                return;
            }
        };
        if start_tx.send(Ok(headers_out)).is_err() {
            return;
        }
        let fail = |m: String| Err(std::io::Error::other(m));
        let chunks = Chunks::default();
        let mut writer = match ResultWriter::new(format, stream.schema(), chunks.clone()) {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(fail(e.to_string())).await;
                return;
            }
        };
        let mut next = first;
        let outcome: Result<(), String> = loop {
            if let Some(batch) = next.take() {
                rows += batch.num_rows() as u64;
                if let Err(e) = writer.write(&batch) {
                    break Err(e.to_string());
                }
                let c = chunks.take();
                if !c.is_empty() && tx.send(Ok(c)).await.is_err() {
                    // The client went away: dropping the stream cancels the query.
                    break Err("the client went away".into());
                }
            }
            match tokio::time::timeout(left(), stream.next()).await {
                Err(_) => break Err("the query ran past its time limit".into()),
                Ok(None) => break Ok(()),
                Ok(Some(Err(e))) => break Err(e.to_string()),
                Ok(Some(Ok(b))) => next = Some(b),
            }
        };
        let outcome = outcome.and_then(|()| writer.finish().map_err(|e| e.to_string()));
        let status = match outcome {
            Ok(_) => {
                let c = chunks.take();
                if !c.is_empty() {
                    let _ = tx.send(Ok(c)).await;
                }
                200
            }
            Err(e) => {
                let _ = tx.send(fail(e)).await;
                500
            }
        };
        audit.audit_query(&p, "/api/sql", &query_sha256, Some(rows), status, started);
    });
    let headers_out = start_rx
        .await
        .map_err(|_| ApiError::Internal("the query task stopped".into()))??;
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|x| (x, rx))
    }));
    let mut resp = body.into_response();
    for (k, v) in headers_out {
        if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_format() {
        let mut h = HeaderMap::new();
        assert_eq!(format_of(&h), Format::Json);
        h.insert("accept", "text/csv".parse().unwrap());
        assert_eq!(format_of(&h), Format::Csv);
        h.insert(
            "accept",
            "text/html, application/vnd.apache.arrow.stream;q=0.9"
                .parse()
                .unwrap(),
        );
        assert_eq!(format_of(&h), Format::ArrowStream);
        h.insert("accept", "application/vnd.apache.parquet".parse().unwrap());
        assert_eq!(format_of(&h), Format::Parquet);
    }
}
