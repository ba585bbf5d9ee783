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

fn run_error(e: datafusion::error::DataFusionError) -> ApiError {
    icsw_query::Error::from(e).into()
}

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
    let opts = state.options.clone();
    let deadline = Instant::now() + opts.query_timeout;
    let timeout = || ApiError::Timeout(opts.query_timeout.as_secs().max(1));
    let snap = state.snapshot().await?;
    let ctx = state
        .context(&snap, &p)
        .await?
        .for_one_query(Some(opts.query_memory))?;
    let mut df = ctx.sql(&body).await?;
    let mut headers_out = vec![("content-type", format.content_type().to_string())];
    if matches!(format, Format::Json | Format::JsonLines) {
        df = df.limit(0, Some(opts.json_rows))?;
        headers_out.push(("x-icsw-row-limit", opts.json_rows.to_string()));
    }
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut stream = tokio::time::timeout(left(), df.execute_stream())
        .await
        .map_err(|_| timeout())?
        .map_err(run_error)?;
    // Wait for the first batch before answering, so that a query that fails
    // or runs past its limits gets a clear error and status.
    let first = match tokio::time::timeout(left(), stream.next()).await {
        Err(_) => return Err(timeout()),
        Ok(None) => None,
        Ok(Some(Err(e))) => return Err(run_error(e)),
        Ok(Some(Ok(b))) => Some(b),
    };
    let schema = stream.schema();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let chunks = Chunks::default();
        let mut writer = match ResultWriter::new(format, schema, chunks.clone()) {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                return;
            }
        };
        let fail = |m: String| Err(std::io::Error::other(m));
        let mut next = first;
        loop {
            if let Some(batch) = next.take() {
                if let Err(e) = writer.write(&batch) {
                    let _ = tx.send(fail(e.to_string())).await;
                    return;
                }
                let c = chunks.take();
                if !c.is_empty() && tx.send(Ok(c)).await.is_err() {
                    // The client went away: dropping the stream cancels the query.
                    return;
                }
            }
            match tokio::time::timeout(
                deadline.saturating_duration_since(Instant::now()),
                stream.next(),
            )
            .await
            {
                Err(_) => {
                    let _ = tx
                        .send(fail("the query ran past its time limit".into()))
                        .await;
                    return;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    let _ = tx.send(fail(e.to_string())).await;
                    return;
                }
                Ok(Some(Ok(b))) => next = Some(b),
            }
        }
        match writer.finish() {
            Ok(_) => {
                let c = chunks.take();
                if !c.is_empty() {
                    let _ = tx.send(Ok(c)).await;
                }
            }
            Err(e) => {
                let _ = tx.send(fail(e.to_string())).await;
            }
        }
    });
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
