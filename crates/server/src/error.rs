//! The HTTP layer's one error type: each variant has a stable code and a
//! status, and answers as JSON (`IntoResponse`, as axum's error-handling
//! example does). Internal detail is logged, never returned.

use crate::returns;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Errors of the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or one that matches none configured (401).
    #[error("a token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// The token's role or scope does not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request is malformed, or its query is (400, with a code such as
    /// `bad_request` or `bad_query`).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// No such route, dashboard, report or file (404).
    #[error("not found")]
    NotFound,
    /// A query ran past its time limit and was stopped (408).
    #[error("the query ran past its time limit of {0} seconds")]
    Timeout(u64),
    /// A query needed more than its memory limit (422).
    #[error("the query needed more memory than its limit: {0}")]
    Memory(String),
    /// The publication gate holds the return (409, with the reasons and
    /// the provenance headers).
    #[error("the return is held: {}", .0.join("; "))]
    Held(Vec<String>, Box<icsw_returns::Provenance>),
    /// Too many queries are running (overall or for this token) and none
    /// finished within the wait (503, with `Retry-After` in seconds).
    #[error("the server is busy with other queries; try again in {0} seconds")]
    Busy(u64),
    /// Anything else (500): the detail is logged, the caller sees none.
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
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Memory(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Held(..) => StatusCode::CONFLICT,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        if let ApiError::Busy(s) = &self {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
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
            ApiError::bad("bad_query", without_paths(&e.to_string()))
        } else if e.is_memory_limit() {
            ApiError::Memory(without_paths(&e.to_string()))
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

/// A message for a user with every file path and URL in it replaced by
/// `<path>`: no error shows where the server keeps its data.
pub(crate) fn without_paths(message: &str) -> String {
    message
        .split(' ')
        .map(|word| {
            let start = word
                .find(|c: char| !matches!(c, '\'' | '"' | '(' | '[' | '`'))
                .unwrap_or(word.len());
            let (lead, rest) = word.split_at(start);
            let end = rest
                .rfind(|c: char| !matches!(c, '\'' | '"' | ')' | ']' | '`' | ',' | '.' | ':' | ';'))
                .map_or(0, |i| {
                    i + rest[i..].chars().next().map_or(1, char::len_utf8)
                });
            let (core, trail) = rest.split_at(end);
            match path_start(core) {
                Some(i) => format!("{lead}{}<path>{trail}", &core[..i]),
                None => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a path or URL begins in a word: a URL's scheme, or a `/` that
/// does not follow a letter or digit and is followed by another `/`.
fn path_start(core: &str) -> Option<usize> {
    if let Some(i) = core.find("://") {
        let scheme = core[..i]
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |j| j + 1);
        return Some(scheme);
    }
    if core.starts_with("~/") {
        return Some(0);
    }
    let bytes = core.as_bytes();
    (0..bytes.len()).find(|&i| {
        bytes[i] == b'/'
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && core[i + 1..].contains('/')
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls_are_taken_out_of_messages() {
        assert_eq!(
            without_paths("Object at location /srv/wh/data/ae/trust=RYJ/x.parquet not found"),
            "Object at location <path> not found"
        );
        assert_eq!(
            without_paths("table 'file:///srv/wh/log/loads/' failed: (s3://bucket/wh/x)."),
            "table '<path>' failed: (<path>)."
        );
        assert_eq!(
            without_paths("Divide by zero error: a / b"),
            "Divide by zero error: a / b"
        );
        assert_eq!(
            without_paths("table 'datafusion.public./srv/wh/data/' not found"),
            "table 'datafusion.public.<path>' not found"
        );
        assert_eq!(without_paths("keys W2U3Z/110/x"), "keys W2U3Z/110/x");
    }
}
