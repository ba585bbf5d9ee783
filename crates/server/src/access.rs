//! Access control: tokens (stored only as SHA-256 hashes), roles, scopes,
//! and the audit log.
//!
//! ```toml
//! [access]
//! pseudonym_key = "a long random secret"   # or ICSW_PSEUDONYM_KEY
//! audit_log = "audit.log"
//! [[access.token]]
//! name = "ryj-managers"
//! sha256 = "<hex sha256 of the token>"     # icsw token prints both
//! role = "manager"                           # manager | commissioner | analyst | admin
//! trusts = ["RYJ"]                           # optional: this trust's rows only
//! commissioners = ["W2U3Z"]                  # optional: these commissioners' rows only
//! ```

use icsw_model::IcsConfig;
use icsw_query::Restriction;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Dashboards and headline reports (small numbers suppressed).
    Manager,
    /// Statutory returns.
    Commissioner,
    /// SQL over a de-identified view.
    Analyst,
    /// Everything, identifiable.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Commissioner => "commissioner",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Dashboards,
    Returns,
    Sql,
    /// Loads, quality findings, table list: any signed-in role.
    Any,
}

/// The needs as types, for [`Auth`].
pub mod need {
    use super::Need;

    /// A [`Need`] named by a type.
    pub trait Requirement: Send + Sync {
        const NEED: Need;
    }

    macro_rules! needs {
        ($($name:ident),*) => {$(
            #[doc = concat!("Needs `Need::", stringify!($name), "`.")]
            pub struct $name;
            impl Requirement for $name {
                const NEED: Need = Need::$name;
            }
        )*};
    }
    needs!(Dashboards, Returns, Sql, Any);
}

/// The principal of a request to a route that needs `N`: an extractor, so
/// that a handler says what it needs in its signature, and a request that
/// lacks it is answered 401 or 403 before the handler runs.
pub struct Auth<N>(pub Principal, pub std::marker::PhantomData<N>);

impl<N: need::Requirement> axum::extract::FromRequestParts<std::sync::Arc<crate::AppState>>
    for Auth<N>
{
    type Rejection = crate::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &std::sync::Arc<crate::AppState>,
    ) -> Result<Self, Self::Rejection> {
        state
            .principal(&parts.headers, N::NEED)
            .map(|p| Auth(p, std::marker::PhantomData))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub name: String,
    pub sha256: String,
    pub role: Role,
    #[serde(default)]
    pub trusts: Option<Vec<String>>,
    #[serde(default)]
    pub commissioners: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    #[serde(default)]
    pub pseudonym_key: Option<String>,
    #[serde(default)]
    pub audit_log: Option<String>,
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenConfig>,
}

impl AccessConfig {
    /// The `[access]` section; `None` when there is none (open mode).
    pub fn from(config: &IcsConfig) -> Result<Option<Self>, String> {
        if !config.other.contains_key("access") {
            return Ok(None);
        }
        let a: AccessConfig = config.section("access").map_err(|e| e.to_string())?;
        for t in &a.tokens {
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "[access] token {}: sha256 must be 64 hex digits",
                    t.name
                ));
            }
        }
        Ok(Some(a))
    }
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The token's name (`open` when access control is off).
    pub name: String,
    pub role: Role,
    pub trusts: Option<Vec<String>>,
    pub commissioners: Option<Vec<String>>,
    /// Whether this request carried an identity (audit it).
    pub identified: bool,
}

impl Principal {
    /// The principal a configured token stands for.
    pub fn of(t: &TokenConfig) -> Self {
        Principal {
            name: t.name.clone(),
            role: t.role,
            trusts: t.trusts.clone(),
            commissioners: t.commissioners.clone(),
            identified: true,
        }
    }

    pub fn open() -> Self {
        Principal {
            name: "open".into(),
            role: Role::Admin,
            trusts: None,
            commissioners: None,
            identified: false,
        }
    }

    pub fn may(&self, need: Need) -> bool {
        matches!(
            (self.role, need),
            (Role::Admin, _)
                | (_, Need::Any)
                | (Role::Manager, Need::Dashboards)
                | (Role::Commissioner, Need::Returns)
                | (Role::Analyst, Need::Sql)
        )
    }

    /// Managers see small numbers suppressed.
    pub fn suppressed(&self) -> bool {
        self.role == Role::Manager
    }

    /// What this principal's queries may see.
    pub fn restriction(&self, pseudonym_key: &[u8]) -> Restriction {
        Restriction {
            trusts: self.trusts.clone(),
            commissioners: self.commissioners.clone(),
            pseudonym_key: (self.role == Role::Analyst).then(|| pseudonym_key.to_vec()),
        }
    }
}

pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Finds the principal of a presented token (constant-time comparison of
/// the hashes).
pub fn authenticate(access: &AccessConfig, token: &str) -> Option<Principal> {
    let h = sha256_hex(token);
    access
        .tokens
        .iter()
        .find(|t| {
            let a = t.sha256.to_ascii_lowercase();
            a.len() == h.len()
                && a.bytes()
                    .zip(h.bytes())
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0
        })
        .map(Principal::of)
}

/// A new random token and its hash.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 24];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut bytes);
    }
    let token = format!("icsw_{}", hex::encode(bytes));
    let hash = sha256_hex(&token);
    (token, hash)
}

/// The audit log: one JSON line per request that carried an identity.
/// Never holds query text or patient data (a query is logged by its hash).
pub struct Audit {
    file: Option<Mutex<std::fs::File>>,
}

#[derive(Serialize)]
pub struct AuditRecord<'a> {
    pub at: String,
    pub token: &'a str,
    pub role: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub millis: u128,
    /// For a query: the SHA-256 of its text (never the text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_sha256: Option<&'a str>,
    /// For a query that ran: the rows it returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

impl Audit {
    pub fn open(path: Option<&str>) -> std::io::Result<Self> {
        let file = match path {
            None => None,
            Some(p) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            )),
        };
        Ok(Audit { file })
    }

    pub fn write(&self, r: &AuditRecord<'_>) {
        if let Some(f) = &self.file {
            let mut line = serde_json::to_vec(r).unwrap_or_default();
            line.push(b'\n');
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(&line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_by_hash_and_roles_gate_routes() {
        let (token, hash) = new_token();
        let a = AccessConfig {
            pseudonym_key: None,
            audit_log: None,
            tokens: vec![TokenConfig {
                name: "m".into(),
                sha256: hash,
                role: Role::Manager,
                trusts: Some(vec!["RYJ".into()]),
                commissioners: None,
            }],
        };
        let p = authenticate(&a, &token).unwrap();
        assert_eq!(p.role, Role::Manager);
        assert!(authenticate(&a, "wrong").is_none());
        assert!(p.may(Need::Dashboards) && !p.may(Need::Sql) && !p.may(Need::Returns));
        assert!(p.suppressed());
        assert_eq!(p.restriction(b"k").trusts, Some(vec!["RYJ".to_string()]));
        assert!(p.restriction(b"k").pseudonym_key.is_none());
    }
}
