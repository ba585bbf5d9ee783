//! The ICS configuration (`icsw.toml`): which trusts make up the ICS, what
//! each is expected to send, and the thresholds the loader and the checks
//! use. With no file, the four North West London acute trusts.

use crate::feed::Feed;
use crate::reference::ods_trust_name;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One provider trust.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// The 3-character ODS code, e.g. `RYJ`.
    pub ods: String,
    /// The trust's name in capitals as in the ODS file; taken from
    /// `sql/reference/trusts.csv` when not given.
    #[serde(default)]
    pub name: String,
    /// The EPR the extracts come from.
    #[serde(default)]
    pub source_system: String,
    /// Feeds the trust is expected to send every night.
    #[serde(default = "all_feeds")]
    pub expected_feeds: Vec<Feed>,
}

/// Thresholds of the loader (contract section 4's guards, and memory).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// Hold the extract when more than this fraction of a feed's rows read
    /// are rejected.
    pub max_rejected_fraction: f64,
    /// Hold the extract when a snapshot feed delivers fewer rows than this
    /// fraction of the previous accepted snapshot's rows read.
    pub min_snapshot_fraction: f64,
    /// Ids held in memory at once while looking for duplicates; a larger
    /// delivery is checked in several passes so memory stays bounded.
    pub ids_in_memory: usize,
    /// Rows per stored Parquet row group.
    pub row_group_rows: usize,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            max_rejected_fraction: 0.5,
            min_snapshot_fraction: 0.5,
            ids_in_memory: 4_000_000,
            row_group_rows: 128 * 1024,
        }
    }
}

/// Targets of the SPC charts' assurance icons (defaults: the constitutional
/// standards, `shared/spc/README.md`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TargetConfig {
    pub ae_four_hour: f64,
    pub rtt_18_weeks: f64,
    pub rtt_52_weeks: f64,
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            ae_four_hour: 0.95,
            rtt_18_weeks: 0.92,
            rtt_52_weeks: 0.0,
        }
    }
}

/// Top-level sections that other crates own.
pub const OTHER_SECTIONS: &[&str] = &["quality", "access", "doors"];

/// The whole configuration file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IcsConfig {
    #[serde(default = "default_ics_name")]
    pub name: String,
    #[serde(rename = "trust", default)]
    pub trusts: Vec<TrustConfig>,
    #[serde(default)]
    pub load: LoadConfig,
    #[serde(default)]
    pub targets: TargetConfig,
    /// Sections other crates own (quality thresholds, server access), kept
    /// as raw TOML so each crate parses its own part.
    #[serde(flatten)]
    pub other: toml::Table,
}

fn default_ics_name() -> String {
    "North West London ICS".into()
}

fn all_feeds() -> Vec<Feed> {
    Feed::ALL.to_vec()
}

impl Default for IcsConfig {
    /// The four North West London acute trusts, all on the shared Cerner
    /// Millennium EPR, each expected to send every feed.
    fn default() -> Self {
        let trusts = ["RYJ", "RQM", "R1K", "RAS"]
            .into_iter()
            .map(|ods| TrustConfig {
                ods: ods.into(),
                name: ods_trust_name(ods).unwrap_or_default(),
                source_system: "Cerner Millennium".into(),
                expected_feeds: all_feeds(),
            })
            .collect();
        IcsConfig {
            name: default_ics_name(),
            trusts,
            load: LoadConfig::default(),
            targets: TargetConfig::default(),
            other: toml::Table::new(),
        }
    }
}

impl IcsConfig {
    /// The secret that keys every pseudonym (analysts' identifiers, the
    /// linked measures' `patient_key`): `ICSW_PSEUDONYM_KEY`, else
    /// `[access] pseudonym_key`, else one drawn at random for this process
    /// (so pseudonyms are stable within a process and differ between runs).
    pub fn pseudonym_key(&self) -> Vec<u8> {
        static RANDOM: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        std::env::var("ICSW_PSEUDONYM_KEY")
            .ok()
            .or_else(|| {
                self.other
                    .get("access")
                    .and_then(|a| a.get("pseudonym_key"))
                    .and_then(|k| k.as_str())
                    .map(str::to_string)
            })
            .map(String::into_bytes)
            .unwrap_or_else(|| {
                RANDOM
                    .get_or_init(|| {
                        let mut bytes = [0u8; 32];
                        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
                            let _ = std::io::Read::read_exact(&mut f, &mut bytes);
                        }
                        bytes.to_vec()
                    })
                    .clone()
            })
    }

    /// Parses and checks a configuration file's text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let mut c: IcsConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        if let Some(k) = c
            .other
            .keys()
            .find(|k| !OTHER_SECTIONS.contains(&k.as_str()))
        {
            return Err(Error::Config(format!(
                "unknown setting {k:?} (expected name, trust, load, targets or one of {OTHER_SECTIONS:?})"
            )));
        }
        if c.trusts.is_empty() {
            c.trusts = IcsConfig::default().trusts;
        }
        for t in &mut c.trusts {
            if t.ods.len() != 3 || !t.ods.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Error::Config(format!(
                    "trust ods {:?} is not a 3-character ODS code",
                    t.ods
                )));
            }
            if t.name.is_empty() {
                t.name = ods_trust_name(&t.ods).unwrap_or_else(|| t.ods.clone());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for t in &c.trusts {
            if !seen.insert(&t.ods) {
                return Err(Error::Config(format!("trust {} is listed twice", t.ods)));
            }
        }
        let l = &c.load;
        if !(0.0..=1.0).contains(&l.max_rejected_fraction)
            || !(0.0..=1.0).contains(&l.min_snapshot_fraction)
        {
            return Err(Error::Config(
                "load fractions must lie between 0 and 1".into(),
            ));
        }
        if l.ids_in_memory == 0 || l.row_group_rows == 0 {
            return Err(Error::Config(
                "load.ids_in_memory and load.row_group_rows must be positive".into(),
            ));
        }
        Ok(c)
    }

    pub fn trust(&self, ods: &str) -> Option<&TrustConfig> {
        self.trusts.iter().find(|t| t.ods == ods)
    }

    /// A section owned by another crate, deserialised into its own type.
    pub fn section<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        match self.other.get(name) {
            None => Ok(T::default()),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| Error::Config(format!("[{name}]: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_north_west_london() {
        let c = IcsConfig::default();
        let codes: Vec<_> = c.trusts.iter().map(|t| t.ods.as_str()).collect();
        assert_eq!(codes, ["RYJ", "RQM", "R1K", "RAS"]);
        assert_eq!(
            c.trust("RQM").unwrap().name,
            "CHELSEA AND WESTMINSTER HOSPITAL NHS FOUNDATION TRUST"
        );
        assert_eq!(c.load.max_rejected_fraction, 0.5);
    }

    #[test]
    fn parses_a_file() {
        let c = IcsConfig::from_toml(
            r#"
            name = "Test ICS"
            [[trust]]
            ods = "RYJ"
            source_system = "Cerner Millennium"
            expected_feeds = ["ae_attendances", "rtt_events"]
            [load]
            max_rejected_fraction = 0.2
            [quality]
            manifest_deadline_hours = 9
            "#,
        )
        .unwrap();
        assert_eq!(c.trusts.len(), 1);
        assert_eq!(c.trusts[0].name, "IMPERIAL COLLEGE HEALTHCARE NHS TRUST");
        assert_eq!(
            c.trusts[0].expected_feeds,
            [Feed::AeAttendances, Feed::RttEvents]
        );
        assert_eq!(c.load.max_rejected_fraction, 0.2);
        assert!(c.other.contains_key("quality"));
    }

    #[test]
    fn rejects_bad_files() {
        assert!(IcsConfig::from_toml("[[trust]]\nods = \"TOOLONG\"").is_err());
        assert!(
            IcsConfig::from_toml("[[trust]]\nods = \"RYJ\"\nexpected_feeds = [\"x\"]").is_err()
        );
        assert!(IcsConfig::from_toml("[[trust]]\nods=\"RYJ\"\n[[trust]]\nods=\"RYJ\"").is_err());
        assert!(IcsConfig::from_toml("[load]\nmax_rejected_fraction = 2.0").is_err());
        assert!(IcsConfig::from_toml("[lod]\nmax_rejected_fraction = 0.2").is_err());
        // Server settings are command-line options: a [server] section
        // would be silently ignored, so it is refused.
        assert!(IcsConfig::from_toml("[server]\naddr = \"0.0.0.0:80\"").is_err());
    }
}
