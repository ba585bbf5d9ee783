//! The writer's lock: one loader at a time.
//!
//! The lock is an object created only if absent. A lock left by a process
//! that died is broken by the next loader when it can tell: the same host
//! and a process id no longer running, or a lock older than a day.

use crate::{Error, Result, Warehouse};
use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions};
use serde::{Deserialize, Serialize};

const LOCK: &str = "_lock.json";
const STALE_AFTER_HOURS: i64 = 24;

#[derive(Debug, Serialize, Deserialize)]
struct LockInfo {
    host: String,
    pid: u32,
    since: DateTime<Utc>,
}

/// Held while loading; released on drop of the guard via [`LoadLock::release`].
#[must_use = "release the lock when the load ends"]
pub struct LoadLock {
    warehouse: Warehouse,
    released: bool,
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl LoadLock {
    /// Takes the lock, breaking a stale one.
    pub async fn acquire(warehouse: &Warehouse) -> Result<LoadLock> {
        let path = warehouse.path(LOCK);
        let me = LockInfo {
            host: host(),
            pid: std::process::id(),
            since: Utc::now(),
        };
        for _ in 0..3 {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            let body = serde_json::to_vec(&me).expect("lock serialises");
            match warehouse.store().put_opts(&path, body.into(), opts).await {
                Ok(_) => {
                    return Ok(LoadLock {
                        warehouse: warehouse.clone(),
                        released: false,
                    })
                }
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let held: Option<LockInfo> = match warehouse.store().get(&path).await {
                Ok(r) => serde_json::from_slice(&r.bytes().await?).ok(),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let stale = match &held {
                None => true,
                Some(h) => {
                    (h.host == me.host && !pid_alive(h.pid))
                        || (Utc::now() - h.since).num_hours() >= STALE_AFTER_HOURS
                }
            };
            if !stale {
                let h = held.expect("not stale");
                return Err(Error::Locked(format!(
                    "the warehouse {} is being loaded by process {} on {} since {}; \
                     if no load is running there, delete {}",
                    warehouse.location(),
                    h.pid,
                    h.host,
                    h.since.format("%Y-%m-%d %H:%M:%S UTC"),
                    path
                )));
            }
            tracing::warn!(lock = %path, "breaking a stale lock left by a load that did not finish");
            match warehouse.store().delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Locked(format!(
            "could not take the lock {path} after three tries"
        )))
    }

    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        match self
            .warehouse
            .store()
            .delete(&self.warehouse.path(LOCK))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for LoadLock {
    fn drop(&mut self) {
        if !self.released {
            // A panic or early return: leave the lock; this process's pid
            // will be gone, so the next load on this host breaks it.
            tracing::debug!("load lock not released explicitly");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_and_stale_locks_break() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path().to_str().unwrap()).unwrap();
        let l = LoadLock::acquire(&w).await.unwrap();
        assert!(matches!(LoadLock::acquire(&w).await, Err(Error::Locked(_))));
        l.release().await.unwrap();
        // A lock of a dead process on this host is broken.
        let dead = LockInfo {
            host: host(),
            pid: 999_999_999,
            since: Utc::now(),
        };
        w.put(LOCK, serde_json::to_vec(&dead).unwrap())
            .await
            .unwrap();
        let l = LoadLock::acquire(&w).await.unwrap();
        l.release().await.unwrap();
    }
}
