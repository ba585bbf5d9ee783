//! The Arrow Flight SQL door, with Apache Arrow's own Flight SQL client
//! (arrow-flight's `FlightSqlServiceClient`) and, where it is installed,
//! the ADBC Flight SQL driver from Python (`tests/clients/adbc_door.py`;
//! CI installs it and sets ICSW_REQUIRE_FLIGHT_CLIENTS=1 so that it cannot
//! be skipped).

use crate::fixture::{fixture, sql};
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables};
use arrow_flight::FlightInfo;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::Schema;
use futures::TryStreamExt;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

type Client = FlightSqlServiceClient<Channel>;

async fn connect(endpoint: Endpoint) -> Client {
    FlightSqlServiceClient::new(endpoint.connect().await.expect("connects"))
}

/// A client of the fixture's door, signed in as `who` (basic
/// authentication with the token's name and `password`).
async fn signed_in(who: &str, password: &str) -> Result<Client, String> {
    let f = fixture();
    let mut c = connect(Endpoint::from_shared(format!("http://{}", f.flight)).unwrap()).await;
    c.handshake(who, password)
        .await
        .map_err(|e| e.to_string())?;
    Ok(c)
}

async fn analyst(who: &str) -> Client {
    signed_in(who, &fixture().tokens[who]).await.unwrap()
}

/// Every batch of every endpoint of `info`.
async fn fetch(c: &mut Client, info: FlightInfo) -> Result<Vec<RecordBatch>, String> {
    let mut out = Vec::new();
    for e in info.endpoint {
        let ticket = e.ticket.expect("a ticket");
        let stream = c.do_get(ticket).await.map_err(|e| e.to_string())?;
        let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(|e| e.to_string())?;
        out.extend(batches);
    }
    Ok(out)
}

async fn query(c: &mut Client, q: &str) -> Result<Vec<RecordBatch>, String> {
    let info = c.execute(q.into(), None).await.map_err(|e| e.to_string())?;
    fetch(c, info).await
}

/// The rows of a result as CSV lines (no header), as the HTTP door gives.
fn csv_lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut buf = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(false)
            .build(&mut buf);
        for b in batches {
            w.write(b).unwrap();
        }
    }
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The HTTP door's rows for the same query and token (on a thread of its
/// own, as the tests call it from inside the runtime).
fn http_lines(q: &str, who: &str) -> Vec<String> {
    let r = std::thread::scope(|s| s.spawn(|| sql(q, who, "text/csv")).join().unwrap());
    assert_eq!(r.status, 200, "{}", r.text());
    r.text().lines().skip(1).map(str::to_string).collect()
}

#[test]
fn flight_sql_signs_in_with_a_token_and_sees_what_the_http_door_shows() {
    let f = fixture();
    f.runtime.block_on(async {
        // The same counts as the HTTP door for the same token; a scoped
        // token sees only its trust.
        let q = "SELECT count(*) FROM ae_attendances";
        for who in ["analyst", "analyst_ryj", "admin"] {
            let mut c = analyst(who).await;
            let got = csv_lines(&query(&mut c, q).await.unwrap());
            assert_eq!(got, http_lines(q, who), "{who}");
        }
        let mut ryj = analyst("analyst_ryj").await;
        let trusts = query(&mut ryj, "SELECT DISTINCT trust FROM ae_attendances")
            .await
            .unwrap();
        assert_eq!(csv_lines(&trusts), vec!["RYJ".to_string()]);
        // NHS numbers come back as the analyst's pseudonyms, as over HTTP.
        let q = "SELECT nhs_number FROM patients ORDER BY nhs_number LIMIT 3";
        let mut c = analyst("analyst").await;
        let pseud = csv_lines(&query(&mut c, q).await.unwrap());
        assert_eq!(pseud, http_lines(q, "analyst"));
        let mut a = analyst("admin").await;
        assert_ne!(csv_lines(&query(&mut a, q).await.unwrap()), pseud);
        // A bearer token alone works too (ADBC's authorization header).
        let mut b = connect(Endpoint::from_shared(format!("http://{}", f.flight)).unwrap()).await;
        b.set_token(f.tokens["analyst"].clone());
        let got = csv_lines(
            &query(&mut b, "SELECT count(*) FROM ae_attendances")
                .await
                .unwrap(),
        );
        assert_eq!(
            got,
            http_lines("SELECT count(*) FROM ae_attendances", "analyst")
        );
    });
}

#[test]
fn flight_sql_refuses_wrong_credentials_other_roles_and_writes() {
    let f = fixture();
    f.runtime.block_on(async {
        let e = signed_in("analyst", "icsw_wrong").await.unwrap_err();
        assert!(e.contains("password authentication failed"), "{e}");
        // The right token under another token's name.
        let e = signed_in("admin", &f.tokens["analyst"]).await.unwrap_err();
        assert!(e.contains("password authentication failed"), "{e}");
        let e = signed_in("manager", &f.tokens["manager"])
            .await
            .unwrap_err();
        assert!(e.contains("manager role may not sign in"), "{e}");
        // No credentials at all: every call is refused.
        let mut none =
            connect(Endpoint::from_shared(format!("http://{}", f.flight)).unwrap()).await;
        let e = query(&mut none, "SELECT 1").await.unwrap_err();
        assert!(e.contains("sign in"), "{e}");
        let e = none.get_catalogs().await.unwrap_err().to_string();
        assert!(e.contains("sign in"), "{e}");
        // A manager's bearer token is refused as the handshake refuses it.
        let mut m = connect(Endpoint::from_shared(format!("http://{}", f.flight)).unwrap()).await;
        m.set_token(f.tokens["manager"].clone());
        let e = query(&mut m, "SELECT 1").await.unwrap_err();
        assert!(e.contains("manager role may not sign in"), "{e}");
        // DDL, DML and updates are refused; the door still serves.
        let mut c = analyst("analyst").await;
        for stmt in [
            "CREATE TABLE x AS SELECT 1",
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
            "INSERT INTO ae_attendances SELECT * FROM ae_attendances",
            "COPY ae_attendances TO '/tmp/out.csv'",
            "SET datafusion.execution.batch_size = 1",
        ] {
            let e = query(&mut c, stmt).await.unwrap_err();
            assert!(
                e.contains("not allowed")
                    || e.contains("not supported")
                    || e.contains("read-only")
                    || e.contains("refused"),
                "{stmt}: {e}"
            );
        }
        let e = c
            .execute_update("DELETE FROM ae_attendances".into(), None)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("read-only"), "{e}");
        let ok = query(&mut c, "SELECT 1 AS one").await.unwrap();
        assert_eq!(csv_lines(&ok), vec!["1".to_string()]);
    });
}

#[test]
fn flight_sql_prepared_statements_bind_parameters() {
    let f = fixture();
    f.runtime.block_on(async {
        let mut c = analyst("analyst").await;
        let mut ps = c
            .prepare(
                "SELECT count(*) AS n FROM ae_attendances WHERE trust = $1 AND CAST(arrival_time AS DATE) >= $2"
                    .into(),
                None,
            )
            .await
            .unwrap();
        let params = ps.parameter_schema().unwrap().clone();
        assert_eq!(params.fields().len(), 2, "{params:?}");
        let d = Arc::new(datafusion::arrow::array::Date32Array::from(vec![
            // 2026-10-01
            20727,
        ]));
        let batch = RecordBatch::try_new(
            Arc::new(params),
            vec![Arc::new(StringArray::from(vec!["RQM"])), d],
        )
        .unwrap();
        ps.set_parameters(batch).unwrap();
        let info = ps.execute().await.unwrap();
        let got = csv_lines(&fetch(&mut c, info).await.unwrap());
        let want = http_lines(
            "SELECT count(*) AS n FROM ae_attendances WHERE trust = 'RQM' \
             AND CAST(arrival_time AS DATE) >= DATE '2026-10-01'",
            "analyst",
        );
        assert_eq!(got, want);
        assert_ne!(want, vec!["0".to_string()], "the test binds values that match rows");
        // Another token cannot run this token's prepared statement.
        let mut other = analyst("analyst_ryj").await;
        let cmd = arrow_flight::sql::CommandPreparedStatementQuery {
            prepared_statement_handle: prepared_handle(&mut c, "SELECT 1").await,
        };
        let ticket = arrow_flight::Ticket::new(prost::Message::encode_to_vec(
            &arrow_flight::sql::ProstMessageExt::as_any(&cmd),
        ));
        let e = match other.do_get(ticket).await {
            Ok(s) => s
                .try_collect::<Vec<_>>()
                .await
                .map(|_| ())
                .unwrap_err()
                .to_string(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("no such prepared statement"), "{e}");
        ps.close().await.unwrap();
    });
}

/// A prepared statement's handle, as the server gives it.
async fn prepared_handle(c: &mut Client, sql: &str) -> bytes::Bytes {
    let cmd = arrow_flight::sql::ActionCreatePreparedStatementRequest {
        query: sql.into(),
        transaction_id: None,
    };
    let action = arrow_flight::Action::new(
        "CreatePreparedStatement",
        prost::Message::encode_to_vec(&arrow_flight::sql::ProstMessageExt::as_any(&cmd)),
    );
    let mut results = c.do_action(action).await.unwrap();
    let r = futures::StreamExt::next(&mut results)
        .await
        .unwrap()
        .unwrap();
    let any: arrow_flight::sql::Any = prost::Message::decode(&*r.body).unwrap();
    let res: arrow_flight::sql::ActionCreatePreparedStatementResult =
        any.unpack().unwrap().unwrap();
    res.prepared_statement_handle
}

#[test]
fn flight_sql_lists_catalogs_schemas_and_tables_with_their_schemas() {
    let f = fixture();
    f.runtime.block_on(async {
        let mut c = analyst("analyst").await;
        let info = c.get_catalogs().await.unwrap();
        let cats = fetch(&mut c, info).await.unwrap();
        assert_eq!(csv_lines(&cats), vec!["icsw".to_string()]);
        let info = c
            .get_db_schemas(CommandGetDbSchemas {
                catalog: None,
                db_schema_filter_pattern: None,
            })
            .await
            .unwrap();
        assert_eq!(
            csv_lines(&fetch(&mut c, info).await.unwrap()),
            vec!["icsw,public".to_string()]
        );
        let info = c
            .get_tables(CommandGetTables {
                catalog: None,
                db_schema_filter_pattern: None,
                table_name_filter_pattern: Some("ae_%".into()),
                table_types: vec![],
                include_schema: true,
            })
            .await
            .unwrap();
        let tables = fetch(&mut c, info).await.unwrap();
        let names = tables[0]
            .column_by_name("table_name")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
            .iter()
            .flatten()
            .map(str::to_string)
            .collect::<Vec<_>>();
        assert!(names.contains(&"ae_attendances".to_string()), "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("ae_")), "{names:?}");
        let schemas = tables[0]
            .column_by_name("table_schema")
            .unwrap()
            .as_any()
            .downcast_ref::<datafusion::arrow::array::BinaryArray>()
            .unwrap();
        let i = names.iter().position(|n| n == "ae_attendances").unwrap();
        let schema: Schema = arrow_flight::IpcMessage(schemas.value(i).to_vec().into())
            .try_into()
            .unwrap();
        assert!(schema.field_with_name("arrival_time").is_ok(), "{schema:?}");
        // The same tables as GET /api/tables shows this token.
        let http = std::thread::scope(|s| {
            s.spawn(|| crate::fixture::get("/api/tables", "analyst").json())
                .join()
                .unwrap()
        });
        assert!(http
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "ae_attendances"));
        let info = c.get_sql_info(vec![]).await.unwrap();
        assert!(!fetch(&mut c, info).await.unwrap().is_empty());
        let info = c.get_table_types().await.unwrap();
        assert_eq!(
            csv_lines(&fetch(&mut c, info).await.unwrap()),
            vec!["TABLE".to_string()]
        );
    });
}

#[test]
fn flight_sql_runs_within_the_time_limit_and_is_audited() {
    let f = fixture();
    f.runtime.block_on(async {
        let mut c = analyst("analyst").await;
        let started = Instant::now();
        let e = query(
            &mut c,
            "SELECT max(a.value - b.value) FROM generate_series(1, 1000000) a, \
             generate_series(1, 1000000) b",
        )
        .await
        .unwrap_err();
        assert!(e.contains("time limit"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "{:?}",
            started.elapsed()
        );
        // Audited as the other doors are: token, door, hash, never the text.
        let q = "SELECT count(*) AS flight_audit FROM ae_attendances";
        query(&mut c, q).await.unwrap();
        let hash = icsw_server::sha256_hex(q);
        let log = std::fs::read_to_string(&f.audit).unwrap();
        let line = log
            .lines()
            .find(|l| l.contains(&hash))
            .unwrap_or_else(|| panic!("no audit line for the query in {log}"));
        assert!(
            line.contains("flight-sql") && line.contains("\"analyst\""),
            "{line}"
        );
        assert!(line.contains("\"rows\":1"), "{line}");
        assert!(!log.contains("flight_audit"));
    });
}

/// The ADBC Flight SQL driver (Python), into pandas.
#[test]
fn adbc_flight_sql_driver_reads_into_pandas() {
    let probe = Command::new("python3")
        .args(["-c", "import adbc_driver_flightsql, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !probe {
        assert!(
            std::env::var("ICSW_REQUIRE_FLIGHT_CLIENTS").is_err(),
            "ICSW_REQUIRE_FLIGHT_CLIENTS is set but adbc_driver_flightsql or pandas is missing"
        );
        eprintln!("skipped: the ADBC Flight SQL driver is not installed");
        return;
    }
    let f = fixture();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/adbc_door.py");
    let o = Command::new("python3")
        .arg(script)
        .arg(format!("grpc://{}", f.flight))
        .env("ICSW_ANALYST_TOKEN", &f.tokens["analyst"])
        .env("ICSW_ANALYST_RYJ_TOKEN", &f.tokens["analyst_ryj"])
        .env("ICSW_MANAGER_TOKEN", &f.tokens["manager"])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let q = "SELECT count(*) AS n FROM ae_attendances";
    assert_eq!(out["count"].to_string(), http_lines(q, "analyst")[0]);
    assert_eq!(
        out["count_ryj"].to_string(),
        http_lines(q, "analyst_ryj")[0]
    );
    assert_eq!(out["trusts_ryj"], serde_json::json!(["RYJ"]));
    let bound = http_lines(
        "SELECT count(*) AS n FROM ae_attendances WHERE trust = 'RQM'",
        "analyst",
    );
    assert_eq!(out["bound"].to_string(), bound[0]);
    assert!(
        out["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "ae_attendances"),
        "{out}"
    );
    assert_eq!(out["wrong_password"], "refused", "{out}");
    assert_eq!(out["manager"], "refused", "{out}");
}

/// Both doors over TLS with a certificate made for the test: psql with
/// `sslmode=require` and the Flight SQL client with the certificate as
/// its root sign in and query; a plaintext Flight client is not answered.
#[test]
fn both_doors_speak_tls_when_a_certificate_is_configured() {
    if !Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var("ICSW_REQUIRE_FLIGHT_CLIENTS").is_err(),
            "ICSW_REQUIRE_FLIGHT_CLIENTS is set but openssl is missing"
        );
        eprintln!("skipped: openssl (to make the test's certificates) is not installed");
        return;
    }
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let ca = dir.path().join("ca.crt");
    // A certificate authority of the test's own, and the server's
    // certificate signed by it for localhost.
    let ext = dir.path().join("san.ext");
    std::fs::write(&ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=icsw test CA",
        ]
        .into_iter()
        .map(String::from)
        .chain(["-keyout".into(), d("ca.key"), "-out".into(), d("ca.crt")])
        .collect::<Vec<_>>(),
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ]
        .into_iter()
        .map(String::from)
        .chain([
            "-keyout".into(),
            d("server.key"),
            "-out".into(),
            d("server.csr"),
        ])
        .collect(),
        vec!["x509", "-req", "-days", "1", "-CAcreateserial"]
            .into_iter()
            .map(String::from)
            .chain([
                "-in".into(),
                d("server.csr"),
                "-CA".into(),
                d("ca.crt"),
                "-CAkey".into(),
                d("ca.key"),
                "-extfile".into(),
                d("san.ext"),
                "-out".into(),
                d("server.crt"),
            ])
            .collect(),
    ] {
        let made = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl runs");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let tls = icsw_server::Tls::load(&cert, &key).unwrap();
    // A key that is not one stops the set-up with the file named.
    std::fs::write(dir.path().join("bad.key"), "not a key").unwrap();
    let e = icsw_server::Tls::load(&cert, &dir.path().join("bad.key"))
        .err()
        .unwrap();
    assert!(e.contains("bad.key"), "{e}");
    f.runtime.block_on(async {
        let pg = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pg_addr = pg.local_addr().unwrap();
        let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fl_addr = fl.local_addr().unwrap();
        let _pg = icsw_server::serve_postgres(f.state.clone(), pg, Some(&tls)).unwrap();
        let _fl = icsw_server::serve_flight(f.state.clone(), fl, Some(&tls)).unwrap();
        let pem = std::fs::read_to_string(&ca).unwrap();
        let endpoint = Endpoint::from_shared(format!("https://localhost:{}", fl_addr.port()))
            .unwrap()
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(&pem))
                    .domain_name("localhost"),
            )
            .unwrap();
        let mut c = connect(endpoint).await;
        c.handshake("analyst", &f.tokens["analyst"]).await.unwrap();
        let q = "SELECT count(*) FROM ae_attendances";
        assert_eq!(
            csv_lines(&query(&mut c, q).await.unwrap()),
            http_lines(q, "analyst")
        );
        // Plaintext to the TLS door: no answer.
        let plain = Endpoint::from_shared(format!("http://{fl_addr}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(5));
        if let Ok(ch) = plain.connect().await {
            let mut p = FlightSqlServiceClient::new(ch);
            assert!(p.handshake("analyst", &f.tokens["analyst"]).await.is_err());
        }
        if crate::pg::have("psql", &["--version"]) {
            let pg_port = pg_addr.port();
            let token = f.tokens["analyst"].clone();
            let out = tokio::task::spawn_blocking(move || {
                Command::new("psql")
                    .arg(format!(
                        "host=localhost port={pg_port} user=analyst dbname=icsw sslmode=require"
                    ))
                    .args([
                        "-X",
                        "-A",
                        "-t",
                        "-c",
                        "SELECT count(*) FROM ae_attendances",
                    ])
                    .env("PGPASSWORD", token)
                    .env("PGCONNECT_TIMEOUT", "30")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                text.lines().collect::<Vec<_>>(),
                http_lines(q, "analyst"),
                "{text}"
            );
            // A connection that does not negotiate TLS is refused before
            // it sends the password.
            let out = Command::new("psql")
                .arg(format!(
                    "host=localhost port={pg_port} user=analyst dbname=icsw sslmode=disable"
                ))
                .args(["-X", "-A", "-t", "-c", "SELECT 1"])
                .env("PGPASSWORD", &f.tokens["analyst"])
                .env("PGCONNECT_TIMEOUT", "30")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && text.contains("requires TLS"),
                "{text}"
            );
        }
    });
}
