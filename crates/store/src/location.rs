//! Opening a warehouse by directory or URL, and reading and publishing its
//! versions.

use crate::state::{VersionState, View};
use crate::{Error, Result};
use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

/// Which state of the warehouse to read: the newest (both `None`), as at an
/// extract date, or the state after a load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AsAt {
    /// Only extracts dated on or before this date.
    pub date: Option<NaiveDate>,
    /// The state after this load.
    pub load: Option<u64>,
}

/// A warehouse: an object store and the root path inside it.
#[derive(Clone, Debug)]
pub struct Warehouse {
    store: Arc<dyn ObjectStore>,
    /// `file://`, `s3://bucket`, `az://container`, ...: what DataFusion
    /// registers the store under.
    store_url: Url,
    root: Path,
    /// What the user gave, for messages.
    location: String,
}

const VERSIONS: &str = "_versions";
const LATEST: &str = "_latest";

fn version_name(v: u64) -> String {
    format!("v{v:020}.json")
}

fn parse_version_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix('v')?.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl Warehouse {
    /// Opens (creating, for a local directory) the warehouse at `location`:
    /// a directory path, a `file://` URL, or an `s3://`, `az://`, `abfs://`
    /// or `memory://` URL. Cloud credentials come from the environment as
    /// `object_store` reads them (`AWS_*`, `AZURE_*`).
    pub fn open(location: &str) -> Result<Self> {
        let err = |message: String| Error::Location {
            location: location.to_string(),
            message,
        };
        let looks_like_url = location.contains("://");
        if !looks_like_url || location.starts_with("file://") {
            let dir = if looks_like_url {
                Url::parse(location)
                    .map_err(|e| err(e.to_string()))?
                    .to_file_path()
                    .map_err(|_| err("not a local file URL".into()))?
            } else {
                std::path::PathBuf::from(location)
            };
            std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
            let dir = dir.canonicalize().map_err(|e| err(e.to_string()))?;
            let root = Path::from_absolute_path(&dir).map_err(|e| err(e.to_string()))?;
            return Ok(Warehouse {
                store: Arc::new(LocalFileSystem::new()),
                store_url: Url::parse("file:///").expect("static url"),
                root,
                location: location.to_string(),
            });
        }
        let url = Url::parse(location).map_err(|e| err(e.to_string()))?;
        let options: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("AZURE_"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let (store, root) =
            object_store::parse_url_opts(&url, options).map_err(|e| err(e.to_string()))?;
        let authority = &url[url::Position::BeforeUsername..url::Position::AfterPort];
        let store_url = Url::parse(&format!("{}://{authority}", url.scheme()))
            .map_err(|e| err(e.to_string()))?;
        Ok(Warehouse {
            store: Arc::from(store),
            store_url,
            root,
            location: location.to_string(),
        })
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn store_url(&self) -> &Url {
        &self.store_url
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// The object path of `relative` (a `/`-separated path under the root).
    pub fn path(&self, relative: &str) -> Path {
        let mut p = self.root.clone();
        for part in relative.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// The URL DataFusion reads `relative` by.
    pub fn url_of(&self, relative: &str) -> String {
        let authority = &self.store_url[url::Position::BeforeUsername..url::Position::AfterPort];
        format!(
            "{}://{authority}/{}",
            self.store_url.scheme(),
            self.path(relative)
        )
    }

    /// The newest published version (0 for an empty warehouse).
    pub async fn latest_version(&self) -> Result<u64> {
        let hint = match self
            .store
            .get(&self.path(&format!("{VERSIONS}/{LATEST}")))
            .await
        {
            Ok(r) => std::str::from_utf8(&r.bytes().await?)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let mut v = match hint {
            Some(v) if self.exists(v).await? => v,
            _ => self.list_versions().await?.last().copied().unwrap_or(0),
        };
        // The hint is written after the version: step past a stale one.
        while self.exists(v + 1).await? {
            v += 1;
        }
        Ok(v)
    }

    async fn exists(&self, v: u64) -> Result<bool> {
        if v == 0 {
            return Ok(true);
        }
        match self.store.head(&self.version_path(v)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every published version number, ascending.
    pub async fn list_versions(&self) -> Result<Vec<u64>> {
        let prefix = self.path(VERSIONS);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut out: Vec<u64> = metas
            .iter()
            .filter_map(|m| m.location.filename().and_then(parse_version_name))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn version_path(&self, v: u64) -> Path {
        self.path(&format!("{VERSIONS}/{}", version_name(v)))
    }

    /// Reads version `v` (version 0 is the empty warehouse).
    pub async fn read_version(&self, v: u64) -> Result<VersionState> {
        if v == 0 {
            return Ok(VersionState::empty());
        }
        let bytes = match self.store.get(&self.version_path(v)).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::NoSuchVersion(v)),
            Err(e) => return Err(e.into()),
        };
        let state: VersionState =
            serde_json::from_slice(&bytes).map_err(|e| Error::BadVersion {
                version: v,
                message: e.to_string(),
            })?;
        if state.version != v || state.format != VersionState::FORMAT {
            return Err(Error::BadVersion {
                version: v,
                message: format!(
                    "names itself version {} of format {}",
                    state.version, state.format
                ),
            });
        }
        Ok(state)
    }

    /// The newest published state.
    pub async fn current(&self) -> Result<VersionState> {
        let v = self.latest_version().await?;
        self.read_version(v).await
    }

    /// Publishes `state` as its version, atomically: the version file is
    /// created whole or not at all, and never replaces an existing one.
    pub async fn publish(&self, state: &VersionState) -> Result<()> {
        let json = serde_json::to_vec_pretty(state).expect("state serialises");
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&self.version_path(state.version), json.into(), opts)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                return Err(Error::Conflict(state.version))
            }
            Err(e) => return Err(e.into()),
        }
        // Best effort: a missing or stale hint only costs a listing.
        let _ = self
            .store
            .put(
                &self.path(&format!("{VERSIONS}/{LATEST}")),
                PutPayload::from(state.version.to_string()),
            )
            .await;
        Ok(())
    }

    /// The view a reader asked for: the newest, or as at a load or an
    /// extract date (the one place `--as-at` and `--as-at-load` are read).
    pub async fn view(&self, as_at: AsAt) -> Result<View> {
        match (as_at.date, as_at.load) {
            (Some(d), _) => self.view_as_at_date(d).await,
            (None, Some(v)) => self.view_at_version(v).await,
            (None, None) => Ok(self.current().await?.view()),
        }
    }

    /// The view as at version `v`: every trust as that version left it.
    pub async fn view_at_version(&self, v: u64) -> Result<View> {
        Ok(self.read_version(v).await?.view())
    }

    /// The view as at extract date `d`: for each trust, its state after the
    /// last load such that no extract dated after `d` had been loaded for it
    /// by then. The newest extract date loaded never decreases from one
    /// version to the next, so each trust's version is found by bisection.
    pub async fn view_as_at_date(&self, d: NaiveDate) -> Result<View> {
        let latest = self.current().await?;
        let mut trusts = BTreeMap::new();
        let mut cache: BTreeMap<u64, VersionState> = BTreeMap::new();
        let mut newest = 0;
        for trust in latest.trusts.keys() {
            let ok = |s: &VersionState| {
                s.trusts
                    .get(trust)
                    .and_then(|t| t.latest_extract_date)
                    .is_none_or(|e| e <= d)
            };
            // Invariant: ok(lo), !ok(hi) unless hi is the latest and ok.
            let (mut lo, mut hi) = (0u64, latest.version);
            if ok(&latest) {
                lo = hi;
            } else {
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    let s = match cache.get(&mid) {
                        Some(s) => s.clone(),
                        None => {
                            let s = self.read_version(mid).await?;
                            cache.insert(mid, s.clone());
                            s
                        }
                    };
                    if ok(&s) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
            }
            let state = if lo == latest.version {
                latest.clone()
            } else if let Some(s) = cache.get(&lo) {
                s.clone()
            } else {
                self.read_version(lo).await?
            };
            if let Some(t) = state.trusts.get(trust) {
                if t.latest_extract_date.is_some() {
                    trusts.insert(trust.clone(), (lo, t.clone()));
                    newest = newest.max(lo);
                }
            }
        }
        Ok(View {
            trusts,
            version: newest,
        })
    }

    /// Writes a small object (JSON logs, test fixtures).
    pub async fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.path(relative), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Removes everything under `relative` (used to clear what a killed load
    /// left for a version that was never published).
    pub async fn remove_prefix(&self, relative: &str) -> Result<usize> {
        let prefix = self.path(relative);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        for m in &metas {
            match self.store.delete(&m.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(metas.len())
    }

    /// The size in bytes of one object.
    pub async fn size_of(&self, relative: &str) -> Result<u64> {
        Ok(self.store.head(&self.path(relative)).await?.size)
    }

    /// Lists the objects under `relative`, as paths relative to the root.
    pub async fn list(&self, relative: &str) -> Result<Vec<(String, u64)>> {
        let prefix = self.path(relative);
        let root = self.root.to_string();
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .map(|m| {
                let p = m.location.to_string();
                let rel = p
                    .strip_prefix(&root)
                    .map(|s| s.trim_start_matches('/').to_string())
                    .unwrap_or(p);
                (rel, m.size)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TrustState;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    async fn publish_trust(w: &Warehouse, v: u64, trust: &str, latest: &str) {
        let mut s = w.read_version(v - 1).await.unwrap();
        s.version = v;
        let t = s
            .trusts
            .entry(trust.into())
            .or_insert_with(TrustState::default);
        t.mark_loaded(d(latest));
        w.publish(&s).await.unwrap();
    }

    #[tokio::test]
    async fn versions_publish_once_and_as_at_bisects() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(w.latest_version().await.unwrap(), 0);
        publish_trust(&w, 1, "RYJ", "2026-11-01").await;
        publish_trust(&w, 2, "RQM", "2026-11-01").await;
        publish_trust(&w, 3, "RYJ", "2026-11-02").await;
        publish_trust(&w, 4, "RYJ", "2026-11-03").await;
        publish_trust(&w, 5, "RQM", "2026-11-03").await;
        assert_eq!(w.latest_version().await.unwrap(), 5);
        // Publishing a version twice is refused.
        let s = w.read_version(5).await.unwrap();
        assert!(matches!(w.publish(&s).await, Err(Error::Conflict(5))));

        let v = w.view_as_at_date(d("2026-11-02")).await.unwrap();
        assert_eq!(v.trusts["RYJ"].0, 3);
        assert_eq!(v.trusts["RQM"].0, 4, "RQM unchanged until version 5");
        let v = w.view_as_at_date(d("2026-10-31")).await.unwrap();
        assert!(v.trusts.is_empty());
        let v = w.view_as_at_date(d("2026-12-31")).await.unwrap();
        assert_eq!(v.trusts["RYJ"].0, 5);

        // A stale hint is stepped past.
        w.put("_versions/_latest", b"2".to_vec()).await.unwrap();
        assert_eq!(w.latest_version().await.unwrap(), 5);
    }

    #[test]
    fn urls() {
        let w = Warehouse::open("memory:///wh").unwrap();
        assert_eq!(w.url_of("data/x.parquet"), "memory:///wh/data/x.parquet");
        assert_eq!(parse_version_name("v00000000000000000042.json"), Some(42));
        assert_eq!(parse_version_name("v42.json"), None);
    }
}
