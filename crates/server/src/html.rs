//! Pages: the layout (NHS colours, readable on a laptop and a phone, no
//! JavaScript), escaping, small-number suppression and the Making Data
//! Count icons.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use icsw_spc::{Assurance, Direction, PointType};
use serde::Deserialize;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = r#"
body{margin:0;font-family:Arial,Helvetica,sans-serif;color:#212b32;background:#f0f4f5;line-height:1.4}
header{background:#005eb8;color:#fff;padding:12px 16px}
header a{color:#fff;text-decoration:none;font-weight:bold;font-size:1.2em}
nav{background:#003087;padding:6px 16px}
nav a{color:#fff;margin-right:14px;font-size:.95em}
main{max-width:1100px;margin:0 auto;padding:12px 16px}
h1{font-size:1.6em;color:#003087;margin:.4em 0}
h2{font-size:1.2em;color:#003087;margin:.2em 0}
.panel{background:#fff;border:1px solid #d8dde0;padding:12px;margin:14px 0}
.panel svg.chart{width:100%;height:auto;display:block}
.icons{float:right}
.icons svg{width:40px;height:40px;margin-left:4px}
table{border-collapse:collapse;width:100%;font-size:.9em;margin-top:8px}
th,td{border-bottom:1px solid #d8dde0;padding:4px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#e8edee;color:#003087}
form.filters{background:#fff;border:1px solid #d8dde0;padding:8px 12px}
form.filters label{margin-right:12px}
select{max-width:100%}
.note{color:#4c6272;font-size:.9em}
.ok{color:#007f3b;font-weight:bold}.held{color:#d5281b;font-weight:bold}
.scroll{overflow-x:auto}
@media (max-width:600px){main{padding:8px}h1{font-size:1.3em}table{font-size:.8em}form.filters label{display:block;margin:4px 0}}
"#;

/// A page in the common layout.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} - icsw</title><style>{STYLE}</style></head><body>\
<header><a href=\"/\">icsw</a> <span>Integrated care system warehouse</span></header>\
<nav><a href=\"/\">Dashboards</a><a href=\"/returns\">Returns</a><a href=\"/api/tables\">Tables</a></nav>\
<main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    )
}

fn icon(letter: &str, fill: &str, title: &str) -> String {
    format!(
        "<svg viewBox=\"0 0 40 40\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>\
<circle cx=\"20\" cy=\"20\" r=\"18\" fill=\"{fill}\"/>\
<text x=\"20\" y=\"26\" font-size=\"16\" text-anchor=\"middle\" fill=\"#fff\" font-family=\"Arial\">{letter}</text></svg>",
        t = esc(title)
    )
}

/// The variation icon of the latest point: H or L for the way its special
/// cause points (`high`), a neutral measure included.
pub fn variation_icon(t: PointType, d: Direction, high: bool) -> String {
    let hl = if high { "H" } else { "L" };
    match t {
        PointType::CommonCause => icon("~", "#768692", "Common cause variation"),
        PointType::Improvement => icon(hl, "#005eb8", "Special cause variation: improvement"),
        PointType::Concern => icon(hl, "#ed8b00", "Special cause variation: concern"),
        PointType::NeutralHigh | PointType::NeutralLow => icon(
            if t == PointType::NeutralHigh {
                "H"
            } else {
                "L"
            },
            "#330072",
            if d == Direction::Neither {
                "Special cause variation"
            } else {
                "Special cause variation: neither"
            },
        ),
    }
}

pub fn assurance_icon(a: Option<Assurance>) -> String {
    match a {
        None => String::new(),
        Some(Assurance::ConsistentlyPass) => {
            icon("P", "#005eb8", "The target will consistently be met")
        }
        Some(Assurance::ConsistentlyFail) => {
            icon("F", "#ed8b00", "The target will consistently be missed")
        }
        Some(Assurance::Inconsistent) => {
            icon("?", "#768692", "The target will be inconsistently met")
        }
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    /// Where to go once signed in: a path of this server only.
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `next` as a path of this server, or `/`: resolved against the server
/// the way a browser would (tabs and new lines dropped, backslashes read
/// as slashes, `%2F` left encoded), and kept only if it stays on it.
pub fn same_site_path(next: Option<&str>) -> String {
    let base = url::Url::parse("http://icsw.invalid/").expect("base");
    next.filter(|n| n.starts_with('/'))
        .and_then(|n| base.join(n).ok())
        .filter(|u| u.origin() == base.origin())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
        .unwrap_or_else(|| "/".into())
}

fn login_form(next: &str, note: &str) -> String {
    page(
        "Sign in",
        &format!(
            "{note}<form method=\"post\" action=\"/login\" class=\"filters\"><label>Token \
<input name=\"token\" type=\"password\" autocomplete=\"off\"></label>\
<input type=\"hidden\" name=\"next\" value=\"{}\"><button>Sign in</button></form>",
            esc(next)
        ),
    )
}

/// `GET /login`: the sign-in form (the token never goes in a URL).
pub async fn login_page(Query(q): Query<LoginQuery>) -> Response {
    Html(login_form(&same_site_path(q.next.as_deref()), "")).into_response()
}

/// `POST /login`: checks the token, then sets it as an `HttpOnly`,
/// `SameSite=Strict` cookie (`Secure` behind https) and goes to `next`.
/// A token that is not valid sets nothing.
pub async fn login(
    State(state): State<std::sync::Arc<crate::AppState>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = same_site_path(f.next.as_deref());
    let valid = state
        .access
        .as_ref()
        .is_some_and(|a| crate::access::authenticate(a, f.token.trim()).is_some());
    if !valid {
        let note = "<p class=\"note\">That token is not valid.</p>";
        return (StatusCode::UNAUTHORIZED, Html(login_form(&next, note))).into_response();
    }
    let mut resp = (StatusCode::SEE_OTHER, "signed in").into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&next) {
        h.insert("location", v);
    }
    let secure = state
        .options
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let cookie = format!(
        "icsw_token={}; HttpOnly; SameSite=Strict; Path=/{}",
        f.token.trim(),
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert("set-cookie", v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(
            same_site_path(Some("/dashboards/rtt?trust=RYJ")),
            "/dashboards/rtt?trust=RYJ"
        );
        for evil in [
            "//evil.example/",
            "/\t/evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "https://evil.example/",
            "/\n/evil.example",
        ] {
            assert_eq!(same_site_path(Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(same_site_path(None), "/");
        assert_eq!(same_site_path(Some("/a/../returns")), "/returns");
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("<a&\"'>"), "&lt;a&amp;&quot;&#39;&gt;");
    }
}
