//! Prometheus metrics: requests by route and status, their latency, and
//! the warehouse version served.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Route {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, Route>>,
    version: AtomicU64,
    /// Dashboard pages rendered ahead of any request for the version served.
    warmed: AtomicU64,
    /// Dashboard pages answered from the cache, and rendered for a request.
    page_hits: AtomicU64,
    page_misses: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Ok(mut m) = self.routes.lock() {
            let r = m.entry(route.to_string()).or_default();
            *r.by_status.entry(status).or_default() += 1;
            r.count += 1;
            r.sum += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    r.buckets[i] += 1;
                }
            }
        }
    }

    pub fn set_version(&self, v: u64) {
        self.version.store(v, Ordering::Relaxed);
        self.warmed.store(0, Ordering::Relaxed);
    }

    pub fn page_warmed(&self) {
        self.warmed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn page(&self, hit: bool) {
        let c = if hit {
            &self.page_hits
        } else {
            &self.page_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP icsw_warehouse_version The warehouse version served."
        );
        let _ = writeln!(out, "# TYPE icsw_warehouse_version gauge");
        let _ = writeln!(
            out,
            "icsw_warehouse_version {}",
            self.version.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP icsw_dashboard_pages_warmed Dashboard pages rendered ahead of requests for the version served.\n\
             # TYPE icsw_dashboard_pages_warmed gauge\n\
             icsw_dashboard_pages_warmed {}\n\
             # HELP icsw_dashboard_pages_total Dashboard pages requested, by whether the cache had them.\n\
             # TYPE icsw_dashboard_pages_total counter\n\
             icsw_dashboard_pages_total{{cache=\"hit\"}} {}\n\
             icsw_dashboard_pages_total{{cache=\"miss\"}} {}",
            self.warmed.load(Ordering::Relaxed),
            self.page_hits.load(Ordering::Relaxed),
            self.page_misses.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP icsw_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE icsw_http_requests_total counter");
        let routes = self.routes.lock().map(|m| {
            m.iter()
                .map(|(k, r)| (k.clone(), r.by_status.clone(), r.buckets, r.count, r.sum))
                .collect::<Vec<_>>()
        });
        let routes = routes.unwrap_or_default();
        for (route, by_status, _, _, _) in &routes {
            for (status, n) in by_status {
                let _ = writeln!(
                    out,
                    "icsw_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP icsw_http_request_duration_seconds Time to the response."
        );
        let _ = writeln!(out, "# TYPE icsw_http_request_duration_seconds histogram");
        for (route, _, buckets, count, sum) in &routes {
            for (b, n) in BUCKETS.iter().zip(buckets) {
                let _ = writeln!(
                    out,
                    "icsw_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "icsw_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "icsw_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "icsw_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        out
    }
}
