//! Admission control: at most `max_queries` queries run at once, and at
//! most `max_queries_per_token` for one token; a query that finds no place
//! waits up to `queue_wait`, then is refused with 503 and `Retry-After`.
//! Queries run on a runtime of their own ([`query_runtime`]), so that
//! however busy they keep it, the HTTP runtime still answers `/healthz`
//! and cached pages at once.

use crate::{ApiError, ApiResult, ServerOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Admission {
    overall: Arc<Semaphore>,
    per_token: Mutex<HashMap<String, Arc<Semaphore>>>,
    each: usize,
    wait: Duration,
}

/// A place for one query; dropping it frees the place.
pub struct Permit {
    _overall: OwnedSemaphorePermit,
    _token: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(o: &ServerOptions) -> Self {
        Admission {
            overall: Arc::new(Semaphore::new(o.max_queries.max(1))),
            per_token: Mutex::new(HashMap::new()),
            each: o.max_queries_per_token.max(1),
            wait: o.queue_wait,
        }
    }

    /// A place for a query of `token`'s, or 503 once `queue_wait` passes.
    pub async fn admit(&self, token: &str) -> ApiResult<Permit> {
        let mine = {
            let mut m = self.per_token.lock().expect("lock");
            m.entry(token.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.each)))
                .clone()
        };
        let busy = || ApiError::Busy(self.wait.as_secs().max(1));
        let wait = tokio::time::sleep(self.wait);
        tokio::pin!(wait);
        let token = tokio::select! {
            p = mine.acquire_owned() => p.map_err(|_| busy())?,
            _ = &mut wait => return Err(busy()),
        };
        let overall = tokio::select! {
            p = self.overall.clone().acquire_owned() => p.map_err(|_| busy())?,
            _ = &mut wait => return Err(busy()),
        };
        Ok(Permit {
            _overall: overall,
            _token: token,
        })
    }
}

/// The runtime queries are planned and run on.
pub fn query_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .thread_name("icsw-query")
            .enable_all()
            .build()
            .expect("the query runtime")
    })
}
