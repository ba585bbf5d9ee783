//! JSON endpoints: tables, data-quality findings, the load log, reports,
//! health and metrics.

use crate::access::{need, Auth};
use crate::{ApiError, ApiResult, AppState, Cached};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::RecordBatch;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn tables(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Any>,
) -> ApiResult<Response> {
    let snap = state.snapshot().await?;
    let ctx = state.context(&snap, &p).await?;
    Ok(axum::Json(ctx.tables().await?).into_response())
}

/// Batches as JSON rows.
pub fn json_rows(batches: &[RecordBatch]) -> ApiResult<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = datafusion::arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b).map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        w.finish().map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    if buf.is_empty() {
        buf = b"[]".to_vec();
    }
    Ok(buf)
}

/// A finding as a manager sees it: counts suppressed as every count a
/// manager sees is, no example keys (record ids are patient-level), and
/// the check's description in place of a message that would quote the
/// exact counts.
#[derive(Serialize)]
struct ManagerFinding<'a> {
    scope: icsw_quality::Scope,
    check_id: &'a str,
    severity: icsw_quality::Severity,
    trust: &'a str,
    feed: Option<&'a str>,
    day: Option<chrono::NaiveDate>,
    count: String,
    denominator: Option<String>,
    message: &'static str,
}

impl<'a> From<&'a icsw_quality::Finding> for ManagerFinding<'a> {
    fn from(f: &'a icsw_quality::Finding) -> Self {
        ManagerFinding {
            scope: f.scope,
            check_id: &f.check_id,
            severity: f.severity,
            trust: &f.trust,
            feed: f.feed.as_deref(),
            day: f.day,
            count: crate::disclosure::suppress(f.count),
            denominator: f.denominator.map(crate::disclosure::suppress),
            message: icsw_quality::check_info(&f.check_id).map_or("", |c| c.description),
        }
    }
}

#[derive(Deserialize)]
pub struct QualityQuery {
    date: Option<String>,
    period: Option<String>,
    trust: Option<String>,
}

pub async fn quality(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Any>,
    headers: HeaderMap,
    Query(q): Query<QualityQuery>,
) -> ApiResult<Response> {
    let snap = state.snapshot().await?;
    let scope = match (&q.period, &q.date) {
        (Some(m), _) => icsw_quality::Scope::Period(crate::month(m)?),
        (None, Some(d)) => icsw_quality::Scope::Date(
            d.parse()
                .map_err(|_| ApiError::bad("bad_request", "date must be YYYY-MM-DD"))?,
        ),
        (None, None) => *icsw_quality::default_scopes(snap.full.view())
            .first()
            .ok_or_else(|| ApiError::bad("bad_request", "nothing is loaded yet"))?,
    };
    let trust = crate::trust_asked(&p, q.trust.as_deref())?;
    let key = format!("quality|{scope}|{trust:?}|{}", AppState::scope_key(&p));
    if let Some(c) = snap.cached(&key) {
        return Ok(c.respond(&headers));
    }
    let arriving = state
        .options
        .landing
        .as_ref()
        .map(|l| icsw_ingest::Landing::new(l).arriving())
        .unwrap_or_default();
    // In the principal's own session: what the checks count is of its
    // scope (a commissioner's rows, a trust's), keys pseudonymised there.
    let ctx = state.context(&snap, &p).await?;
    let findings =
        icsw_quality::run(&ctx, &state.config, scope, trust.as_deref(), &arriving).await?;
    let findings = icsw_quality::restrict(findings, &p.restriction(state.pseudonym_key()));
    let body = if p.suppressed() {
        let shown: Vec<ManagerFinding<'_>> = findings.iter().map(ManagerFinding::from).collect();
        serde_json::to_vec(&shown)
    } else {
        serde_json::to_vec(&findings)
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(snap
        .keep(key, Cached::new("application/json", body, vec![]))
        .respond(&headers))
}

pub async fn loads(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Any>,
) -> ApiResult<Response> {
    let snap = state.snapshot().await?;
    let ctx = state.context(&snap, &p).await?;
    let file = icsw_query::SqlFile::parse("loads", include_str!("../../../sql/api/loads.sql"))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let batches = ctx.file(&file, &[]).await?.collect().await?;
    Ok(([("content-type", "application/json")], json_rows(&batches)?).into_response())
}

pub async fn report_list(_: Auth<need::Dashboards>) -> ApiResult<Response> {
    Ok(axum::Json(icsw_returns::reports()).into_response())
}

#[derive(Deserialize)]
pub struct ReportQuery {
    period: String,
    trust: Option<String>,
    /// `frequent-attenders`: the threshold (6 when not given).
    min_attendances: Option<u32>,
}

/// A headline report as JSON (counts suppressed for managers).
pub async fn report(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Dashboards>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let period = crate::month(&q.period)?;
    let trust = crate::trust_asked(&p, q.trust.as_deref())?;
    let snap = state.snapshot().await?;
    let key = format!(
        "report|{name}|{period}|{:?}|{:?}|{}",
        trust,
        q.min_attendances,
        AppState::scope_key(&p)
    );
    if let Some(c) = snap.cached(&key) {
        return Ok(c.respond(&headers));
    }
    let file = icsw_returns::report_file(&name)?;
    let ctx = if file.get("scope") == Some("ics") {
        // An ICS-wide linkage report reads every trust's records (a
        // patient's attendance elsewhere is what it counts) and shows
        // only counts: a trust-scoped token gets its own trust's rows.
        if p.commissioners.is_some() {
            return Err(ApiError::Forbidden(
                "ICS-wide linkage reports are by provider, not by commissioner".into(),
            ));
        }
        if p.trusts.is_some() && trust.is_none() {
            return Err(ApiError::bad(
                "bad_request",
                "name one of your trusts with ?trust=",
            ));
        }
        snap.full.clone()
    } else {
        state.context(&snap, &p).await?
    };
    let options = icsw_returns::ReportOptions {
        min_attendances: q.min_attendances,
    };
    let df = icsw_returns::report(&ctx, &name, period, trust.as_deref(), &options).await?;
    let mut batches = df.collect().await?;
    if p.suppressed() {
        let rates = crate::disclosure::rates(&file);
        batches = crate::disclosure::for_managers(batches, &rates)?;
    }
    // A linked measure's completeness: every trust's days and snapshots it
    // reads (the reasons name trusts and dates, nothing of a record).
    let mut extra = Vec::new();
    if let Some(reasons) =
        icsw_returns::report_completeness(ctx.view(), &state.config, &name, period)?
    {
        extra.push((
            "x-icsw-complete".to_string(),
            reasons.is_empty().to_string(),
        ));
        if !reasons.is_empty() {
            extra.push((
                "x-icsw-incomplete-reasons".to_string(),
                reasons.join("; ").replace(['\r', '\n'], " "),
            ));
        }
    }
    Ok(snap
        .keep(
            key,
            Cached::new("application/json", json_rows(&batches)?, extra),
        )
        .respond(&headers))
}
