//! The dashboards in a real browser: headless Chromium loads each page
//! (signed in by the token cookie), and its screenshot and rendered DOM are
//! checked. Skipped, with a message, where Chromium is not installed; CI
//! installs it and sets ICSW_REQUIRE_CHROMIUM=1 so that it cannot be
//! skipped there.

use crate::fixture::fixture;
use std::path::PathBuf;
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Runs headless Chromium on a URL with the extra arguments given.
fn run(
    bin: &PathBuf,
    profile: &std::path::Path,
    args: &[String],
    url: &str,
) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("running chromium")
}

/// Serves, on a port of its own, a page that posts the sign-in form to
/// `base` with the token and, as `next`, the path it was asked for; its
/// address.
fn sign_in_page(base: &str, token: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (base, token) = (base.to_string(), token.to_string());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&stream);
            let _ = reader.read_line(&mut line);
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            let body = format!(
                "<form method=\"post\" action=\"{base}/login\">\
                 <input name=\"token\" value=\"{token}\"><input name=\"next\" value=\"{path}\">\
                 </form><script>document.forms[0].submit()</script>"
            );
            let mut stream = &stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn dashboards_render_in_a_headless_browser() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var("ICSW_REQUIRE_CHROMIUM").is_err(),
            "ICSW_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        eprintln!("skipped: chromium is not installed");
        return;
    };
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    // Sign in as a person would, by posting the sign-in form: here a page
    // on another port of the same host (so the same site) submits it at
    // once, with the dashboard as `next`.
    let profile = dir.path().join("profile");
    let sign_in = sign_in_page(&f.base, &f.tokens["manager"]);
    for name in ["ae", "rtt", "long_waits", "activity", "quality"] {
        let url = format!("{sign_in}/dashboards/{name}");
        let shot = dir.path().join(format!("{name}.png"));
        let out = run(
            &bin,
            &profile,
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1280,2400".into(),
            ],
            &url,
        );
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "{name}: no screenshot ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        // A page with charts is far from a blank one.
        assert!(
            png.len() > 30_000,
            "{name}: screenshot of {} bytes",
            png.len()
        );

        let out = run(&bin, &profile, &["--dump-dom".into()], &url);
        let dom = String::from_utf8_lossy(&out.stdout);
        assert!(dom.contains("<svg class=\"chart\""), "{name}: {dom:.2000}");
        assert!(dom.contains("<table>"), "{name}");
        assert!(!dom.contains("unauthorized"), "{name}: not signed in");
    }
    // A phone-sized window: the page still renders its charts.
    let url = format!("{sign_in}/dashboards/ae");
    let shot = dir.path().join("phone.png");
    run(
        &bin,
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=390,2000".into(),
        ],
        &url,
    );
    assert!(std::fs::read(&shot)
        .map(|b| b.len() > 10_000)
        .unwrap_or(false));
}
