//! Return downloads for commissioners: exactly the bytes `icsw return`
//! writes, with the provenance in the response headers, held (409) by the
//! publication gate unless `allow_incomplete=true`; and the list of periods
//! with their completeness.

use crate::access::{need, Auth};
use crate::{html, ApiError, ApiResult, AppState, Cached};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use icsw_model::Month;
use icsw_returns::{AsAt, Provenance, ReturnKind, ReturnRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Headers carrying a return's provenance.
pub fn provenance_headers(h: &mut HeaderMap, p: &Provenance) {
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set("x-icsw-complete", p.complete.to_string());
    set("x-icsw-warehouse-version", p.warehouse_version.to_string());
    let loads: Vec<String> = p
        .trusts
        .iter()
        .map(|t| {
            let extracts: Vec<String> = t
                .feeds
                .iter()
                .flat_map(|(f, used)| {
                    used.iter()
                        .map(move |u| format!("{f}:{}@{}", u.load_id, u.extract_date))
                })
                .collect();
            format!("{}={}", t.trust, extracts.join(" "))
        })
        .collect();
    set("x-icsw-loads", loads.join("; "));
    if !p.reasons.is_empty() {
        set(
            "x-icsw-incomplete-reasons",
            p.reasons.join("; ").replace(['\r', '\n'], " "),
        );
    }
    if let Ok(json) = serde_json::to_string(p) {
        if json.len() < 16 * 1024 && json.is_ascii() {
            set("x-icsw-provenance", json);
        }
    }
}

#[derive(Deserialize)]
pub struct DownloadQuery {
    trust: Option<String>,
    as_at: Option<String>,
    allow_incomplete: Option<bool>,
}

pub async fn download(
    State(state): State<Arc<AppState>>,
    Auth(p, _): Auth<need::Returns>,
    headers: HeaderMap,
    Path((kind, file)): Path<(String, String)>,
    Query(q): Query<DownloadQuery>,
) -> ApiResult<Response> {
    let kind = ReturnKind::parse(&kind)?;
    let (period, provenance_only) = match (
        file.strip_suffix(".csv"),
        file.strip_suffix(".provenance.json"),
    ) {
        (Some(m), _) => (m, false),
        (None, Some(m)) => (m, true),
        _ => return Err(ApiError::NotFound),
    };
    let period = crate::month(period)?;
    let trust = crate::trust_asked(&p, q.trust.as_deref())?;
    let as_at = AsAt {
        date: match &q.as_at {
            None => None,
            Some(d) => Some(
                d.parse()
                    .map_err(|_| ApiError::bad("bad_request", "as_at must be YYYY-MM-DD"))?,
            ),
        },
        load: None,
    };
    let req = ReturnRequest {
        kind,
        period,
        trust,
        as_at,
        allow_incomplete: q.allow_incomplete.unwrap_or(false),
    };
    let snap = state.snapshot().await?;
    let key = format!(
        "return|{kind}|{period}|{:?}|{:?}|{}|{provenance_only}|{}",
        req.trust,
        q.as_at,
        req.allow_incomplete,
        AppState::scope_key(&p)
    );
    if let Some(c) = snap.cached(&key) {
        return Ok(c.respond(&headers));
    }
    // The same path as `icsw return`: the as-at view, the data-quality gate
    // and the completeness of returns, then the return's SQL, in one
    // session (the principal's).
    let view = state.warehouse.view(req.as_at).await?;
    let base = if view.cache_key() == snap.full.view().cache_key() {
        snap.full.clone()
    } else {
        icsw_query::WarehouseContext::new(
            &state.warehouse,
            view,
            &state.config,
            &Default::default(),
        )
        .await?
    };
    // The gate runs in the principal's session: a commissioner's return is
    // held by findings of its own rows, and its reasons name no others'.
    let r = p.restriction(state.pseudonym_key());
    let ctx = if r.is_none() {
        base
    } else {
        base.restricted(&r).await?
    };
    let provenance =
        icsw_returns::publish(&ctx, &state.config, &req, &icsw_quality::QualityGate).await?;
    let mut h = HeaderMap::new();
    provenance_headers(&mut h, &provenance);
    let extra: Vec<(String, String)> = h
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let cached = if provenance_only {
        Cached::new(
            "application/json",
            serde_json::to_vec_pretty(&provenance)
                .map_err(|e| ApiError::Internal(e.to_string()))?,
            extra,
        )
    } else {
        let mut csv = Vec::new();
        icsw_returns::write_csv(&ctx, &req, &mut csv).await?;
        let mut extra = extra;
        extra.push((
            "content-disposition".into(),
            format!("attachment; filename=\"{}-{}.csv\"", kind.name(), period),
        ));
        Cached::new("text/csv; charset=utf-8", csv, extra)
    };
    Ok(snap.keep(key, cached).respond(&headers))
}

#[derive(Serialize)]
struct PeriodStatus {
    period: String,
    returns: Vec<ReturnStatus>,
}

#[derive(Serialize)]
struct ReturnStatus {
    kind: ReturnKind,
    complete: bool,
    reasons: Vec<String>,
}

/// Every month from the first data to the latest one every trust is past,
/// newest first, with each return's completeness.
async fn periods(state: &AppState) -> ApiResult<Vec<PeriodStatus>> {
    let snap = state.snapshot().await?;
    let view = snap.full.view();
    let first = view
        .trusts
        .values()
        .flat_map(|(_, s)| s.feeds.values())
        .flat_map(|fs| fs.coverage.iter())
        .map(|c| Month::of(c.from))
        .min();
    let last = view.latest_complete_month();
    let mut out = Vec::new();
    let (Some(first), Some(mut m)) = (first, last) else {
        return Ok(out);
    };
    while m >= first {
        let mut returns = Vec::new();
        for kind in ReturnKind::ALL {
            let req = ReturnRequest {
                kind,
                period: m,
                trust: None,
                as_at: AsAt::default(),
                allow_incomplete: false,
            };
            let p = icsw_returns::provenance(view, &state.config, &req, vec![])?;
            returns.push(ReturnStatus {
                kind,
                complete: p.complete,
                reasons: p.reasons,
            });
        }
        out.push(PeriodStatus {
            period: m.to_string(),
            returns,
        });
        m = m.prev();
    }
    Ok(out)
}

pub async fn list_json(
    State(state): State<Arc<AppState>>,
    _: Auth<need::Returns>,
) -> ApiResult<Response> {
    Ok(axum::Json(periods(&state).await?).into_response())
}

/// `GET /returns`: the periods with their completeness and download links.
pub async fn page(
    State(state): State<Arc<AppState>>,
    _: Auth<need::Returns>,
) -> ApiResult<Response> {
    let mut body = String::from(
        "<p class=\"note\">Completeness as the returns specification defines it (every day of \
the month covered by the expected feeds, and for RTT a snapshot after the census date). A \
download answers 409 with its reasons while the publication gate holds it (data-quality \
errors included).</p><div class=\"panel scroll\"><table><tr><th>Period</th>",
    );
    for k in ReturnKind::ALL {
        body.push_str(&format!("<th>{}</th>", k.name().to_uppercase()));
    }
    body.push_str("</tr>");
    for p in periods(&state).await? {
        body.push_str(&format!("<tr><td>{}</td>", p.period));
        for r in p.returns {
            let link = format!("/api/returns/{}/{}.csv", r.kind.name(), p.period);
            let status = if r.complete {
                "<span class=\"ok\">complete</span>".to_string()
            } else {
                format!(
                    "<span class=\"held\" title=\"{}\">incomplete</span>",
                    html::esc(&r.reasons.join("; "))
                )
            };
            body.push_str(&format!("<td>{status} <a href=\"{link}\">CSV</a></td>"));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table></div>");
    Ok(Html(html::page("Statutory returns", &body)).into_response())
}
