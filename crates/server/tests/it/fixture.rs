//! One warehouse and one running server shared by the tests: generated
//! extracts for four trusts, loaded, served with a token for each role.

use icsw_model::IcsConfig;
use icsw_server::{AppState, ServerOptions};
use icsw_store::Warehouse;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub struct Fixture {
    pub base: String,
    /// The Postgres protocol's address (same server state).
    pub pg: std::net::SocketAddr,
    /// Arrow Flight SQL's address (same server state).
    pub flight: std::net::SocketAddr,
    /// The server's state, for doors started by a test.
    pub state: std::sync::Arc<AppState>,
    pub tokens: HashMap<&'static str, String>,
    pub warehouse: Warehouse,
    pub config: IcsConfig,
    pub audit: PathBuf,
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

const ROLES: &[(&str, &str, &str)] = &[
    ("admin", "admin", ""),
    ("manager", "manager", ""),
    ("manager_ryj", "manager", "trusts = [\"RYJ\"]"),
    ("commissioner", "commissioner", ""),
    (
        "commissioner_w2u3z",
        "commissioner",
        "commissioners = [\"W2U3Z\"]",
    ),
    ("analyst", "analyst", ""),
    ("analyst_ryj", "analyst", "trusts = [\"RYJ\"]"),
];

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        let mut opts = icsw_generate::Options::new(
            &["RYJ", "RQM", "R1K", "RAS"],
            "2026-11-01".parse().unwrap(),
            "2026-11-02".parse().unwrap(),
        );
        opts.scale = 5.0;
        opts.history_days = 70;
        icsw_generate::generate(&landing, &opts).unwrap();
        let audit = dir.path().join("audit.log");
        let mut toml = format!(
            "[access]\npseudonym_key = \"test secret\"\naudit_log = {:?}\n",
            audit.to_str().unwrap()
        );
        let mut tokens = HashMap::new();
        for (name, role, extra) in ROLES {
            let token = format!("icsw_test_{name}");
            toml.push_str(&format!(
                "[[access.token]]\nname = \"{name}\"\nsha256 = \"{}\"\nrole = \"{role}\"\n{extra}\n",
                icsw_server::sha256_hex(&token)
            ));
            tokens.insert(*name, token);
        }
        let config = IcsConfig::from_toml(&toml).unwrap();
        let warehouse = Warehouse::open(dir.path().join("warehouse").to_str().unwrap()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (base, pg, flight, state) = runtime.block_on(async {
            let r = icsw_ingest::load_all(
                &icsw_ingest::Landing::new(&landing),
                &warehouse,
                &config,
                &icsw_ingest::NoProgress,
            )
            .await
            .unwrap();
            assert!(r.loads.iter().all(|l| l.refusal.is_none()));
            let options = ServerOptions {
                addr: "127.0.0.1:0".parse().unwrap(),
                landing: Some(landing.clone()),
                query_timeout: Duration::from_secs(10),
                query_memory: 16 * 1024 * 1024,
                json_rows: 100,
                // The tests run in parallel with the same tokens: admission
                // control is tried on a server of its own.
                max_queries: 64,
                max_queries_per_token: 64,
                // Warming is tried on a server of its own.
                warm_dashboards: false,
                ..Default::default()
            };
            let state = AppState::new(warehouse.clone(), config.clone(), options).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let pg = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let pg_addr = pg.local_addr().unwrap();
            let flight = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let flight_addr = flight.local_addr().unwrap();
            // Dropping a task's handle leaves it running.
            icsw_server::serve_postgres(state.clone(), pg, None).unwrap();
            icsw_server::serve_flight(state.clone(), flight, None).unwrap();
            tokio::spawn(icsw_server::serve(state.clone(), listener));
            (format!("http://{addr}"), pg_addr, flight_addr, state)
        });
        Fixture {
            base,
            pg,
            flight,
            state,
            tokens,
            warehouse,
            config,
            audit,
            runtime,
            _dir: dir,
        }
    })
}

/// A blocking HTTP client for the tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    pub fn header(&self, k: &str) -> String {
        self.headers
            .get(k)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// Sends a request as `who` (a role of the fixture, or "" for none).
pub fn send(
    method: &str,
    path: &str,
    who: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let f = fixture();
    f.runtime.block_on(async {
        let c = client();
        let url = format!("{}{path}", f.base);
        let mut rb = match method {
            "POST" => c.post(url),
            _ => c.get(url),
        };
        if !who.is_empty() {
            let t = f
                .tokens
                .get(who)
                .cloned()
                .unwrap_or_else(|| who.to_string());
            rb = rb.bearer_auth(t);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    })
}

pub fn get(path: &str, who: &str) -> Reply {
    send("GET", path, who, None, &[])
}

pub fn sql(q: &str, who: &str, accept: &str) -> Reply {
    send("POST", "/api/sql", who, Some(q), &[("accept", accept)])
}

/// The first value of a query's CSV answer, which must be 200.
pub fn sql_cell(q: &str, who: &str) -> String {
    let r = sql(q, who, "text/csv");
    assert_eq!(r.status, 200, "{who}: {q}: {}", r.text());
    r.text().lines().nth(1).unwrap_or_default().to_string()
}

/// The rows of every table of a page, as cell texts.
pub fn table_rows(html: &str) -> Vec<Vec<String>> {
    html.split("<tr>")
        .skip(1)
        .filter(|r| r.starts_with("<td>"))
        .map(|r| {
            r.split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap_or("").to_string())
                .collect()
        })
        .collect()
}
