//! A synthetic world of hospital activity for one trust, from which every
//! night's extract is cut. Deterministic in (seed, trust, day).
//!
//! Shapes: A&E arrivals follow daily and weekly cycles, most stays are 2-6
//! hours with a tail past 12; RTT pathways run from referral through
//! outpatient events, decisions to admit and admissions to a stop, with
//! waits long enough that some pass 52 weeks; outpatients mix first,
//! follow-up and did-not-attend; referrals mix GP and other sources.

use crate::rng::Rng;
use icsw_model::london::{date_to_day, day_to_date, instant};

mod daily;
mod pathways;

const US_PER_MIN: i64 = 60_000_000;
const US_PER_DAY: i64 = 86_400_000_000;
/// RTT pathways start this long before the first generated day, so that
/// the waiting list is already full (with some long waiters) on day one.
pub const RTT_LEAD_IN_DAYS: i32 = 730;

#[derive(Clone, Debug)]
pub struct Ae {
    pub id: String,
    pub site: &'static str,
    pub dept: &'static str,
    pub arrival: i64,
    pub booked: bool,
    pub dta: Option<i64>,
    pub departure: i64,
    pub admitted: bool,
    pub commissioner: &'static str,
    pub patient: u32,
}

#[derive(Clone, Debug)]
pub struct Spell {
    pub id: String,
    pub admission: i64,
    pub discharge: i64,
    pub method: &'static str,
    pub class: &'static str,
    pub tfc: &'static str,
    pub commissioner: &'static str,
    pub site: &'static str,
    pub ae_id: Option<String>,
    pub patient: u32,
}

#[derive(Clone, Debug)]
pub struct Op {
    pub id: String,
    pub pathway: Option<String>,
    pub day: i32,
    pub status: &'static str,
    pub first: &'static str,
    pub tfc: &'static str,
    pub source: Option<&'static str>,
    pub priority: Option<&'static str>,
    pub consultant_led: Option<bool>,
    pub commissioner: &'static str,
    pub site: &'static str,
    pub patient: u32,
}

#[derive(Clone, Debug)]
pub struct Referral {
    pub id: String,
    pub pathway: Option<String>,
    pub day: i32,
    pub source: &'static str,
    pub tfc: &'static str,
    pub priority: Option<&'static str>,
    pub commissioner: &'static str,
    pub patient: u32,
}

#[derive(Clone, Debug)]
pub struct RttEvent {
    pub id: String,
    pub pathway: String,
    pub day: i32,
    pub status: &'static str,
    pub activity: &'static str,
    pub tfc: &'static str,
    pub commissioner: &'static str,
    pub patient: u32,
}

#[derive(Clone, Debug)]
pub struct Patient {
    pub id: String,
    pub nhs_number: Option<String>,
    pub birth_day: i32,
    pub sex: &'static str,
    pub postcode: &'static str,
    pub practice: String,
    pub death_day: Option<i32>,
}

/// Everything whose activity falls on one day.
#[derive(Clone, Debug, Default)]
pub struct Day {
    pub ae: Vec<Ae>,
    pub spells: Vec<Spell>,
    pub op: Vec<Op>,
    pub referrals: Vec<Referral>,
}

/// One trust's world.
pub struct TrustWorld {
    pub ods: String,
    pub index: u64,
    pub seed: u64,
    /// A&E attendances per day, the unit of `--scale`.
    pub scale: f64,
    pub first_day: i32,
    pub last_day: i32,
    pub patients: Vec<Patient>,
    /// Every RTT event from the lead-in to the last day, by date.
    pub rtt: Vec<RttEvent>,
    /// Pathway-derived activity by day (referrals, outpatients, admissions).
    pathway_days: std::collections::BTreeMap<i32, Day>,
}

const HOURS: [f64; 24] = [
    0.025, 0.020, 0.017, 0.015, 0.013, 0.013, 0.017, 0.027, 0.045, 0.058, 0.062, 0.061, 0.058,
    0.056, 0.054, 0.053, 0.054, 0.055, 0.056, 0.055, 0.051, 0.045, 0.039, 0.031,
];
/// Monday first.
const AE_WEEK: [f64; 7] = [1.12, 1.03, 1.00, 0.99, 0.98, 0.93, 0.95];

const COMMISSIONERS: &[(&str, f64)] = &[
    ("W2U3Z", 86.0),
    ("93C", 3.0),
    ("36L", 3.0),
    ("72Q", 2.0),
    ("A3A8R", 2.0),
    ("13Q", 3.5),
    ("NONC", 0.5),
];

const RTT_TFCS: &[(&str, f64)] = &[
    ("100", 8.0),
    ("101", 6.0),
    ("103", 2.0),
    ("107", 1.0),
    ("108", 2.0),
    ("110", 12.0),
    ("120", 7.0),
    ("130", 10.0),
    ("140", 3.0),
    ("144", 1.0),
    ("145", 2.0),
    ("160", 2.0),
    ("170", 1.0),
    ("171", 1.0),
    ("214", 1.0),
    ("300", 3.0),
    ("301", 6.0),
    ("302", 2.0),
    ("303", 2.0),
    ("306", 1.0),
    ("320", 7.0),
    ("330", 6.0),
    ("340", 4.0),
    ("361", 1.0),
    ("400", 4.0),
    ("410", 3.0),
    ("420", 2.0),
    ("430", 2.0),
    ("502", 8.0),
    ("710", 0.5),
];

const EMERGENCY_TFCS: &[(&str, f64)] = &[
    ("300", 30.0),
    ("100", 15.0),
    ("110", 10.0),
    ("320", 8.0),
    ("340", 7.0),
    ("430", 10.0),
    ("420", 8.0),
    ("326", 7.0),
    ("502", 3.0),
    ("501", 2.0),
];

const SOURCES: &[(&str, f64)] = &[
    ("03", 68.0),
    ("01", 5.0),
    ("02", 3.0),
    ("10", 4.0),
    ("11", 3.0),
    ("06", 3.0),
    ("04", 4.0),
    ("05", 2.0),
    ("12", 2.0),
    ("13", 2.0),
    ("92", 2.0),
    ("97", 2.0),
];

const POSTCODES: &[&str] = &[
    "W2", "W9", "W10", "W11", "W12", "W14", "SW10", "SW6", "SW3", "TW7", "TW3", "HA1", "HA2",
    "HA9", "NW10", "W5", "UB1", "UB8", "UB10", "UB4",
];

fn sites(ods: &str) -> (&'static [&'static str], &'static str) {
    // (type 1 sites, urgent treatment centre site)
    match ods {
        "RYJ" => (&["RYJ01", "RYJ02"], "RYJ03"),
        "RQM" => (&["RQM01", "RQM91"], "RQM01"),
        "R1K" => (&["R1K01", "R1K04"], "R1K04"),
        "RAS" => (&["RAS01"], "RAS02"),
        _ => (&["SITE1"], "SITE2"),
    }
}

/// The share of patients who use two of the ICS's trusts (the first four
/// generated): patient `i` of both is one person with one NHS number, so
/// the linked measures (linkage spec) see re-attendances elsewhere,
/// waits at two trusts and frequent attenders at more than one.
const SHARED: f64 = 0.12;
const ICS_TRUSTS: u64 = 4;

/// The two trusts (by index) that patient `i` uses when it is one of the
/// ICS's shared patients; the same whichever trust asks.
fn shared_trusts(seed: u64, i: u64) -> Option<(u64, u64)> {
    let mut rng = Rng::derive(seed, &[0x1C5_5EED, i]);
    if !rng.chance(SHARED) {
        return None;
    }
    let a = rng.below(ICS_TRUSTS);
    Some((a, (a + 1 + rng.below(ICS_TRUSTS - 1)) % ICS_TRUSTS))
}

/// Patient `i`'s NHS number at trust `index`: the ICS-wide one of a shared
/// patient of that trust, else the trust's own.
fn patient_number(seed: u64, index: u64, i: u64) -> String {
    match shared_trusts(seed, i) {
        Some((a, b)) if index == a || index == b => nhs_number(seed ^ 0x1C5, i),
        _ => nhs_number(seed ^ index, i),
    }
}

/// A valid NHS number for a patient, made from its index.
pub fn nhs_number(seed: u64, n: u64) -> String {
    let mut rng = Rng::derive(seed, &[0x4e48_5300, n]);
    loop {
        let mut d = [0u8; 10];
        d[0] = 4 + rng.below(5) as u8; // 4xxxxxxxxx..8xxxxxxxxx
        for x in d.iter_mut().take(9).skip(1) {
            *x = rng.below(10) as u8;
        }
        let sum: u32 = d[..9]
            .iter()
            .zip((2..=10).rev())
            .map(|(v, w)| u32::from(*v) * w)
            .sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            10 => continue,
            c => c,
        };
        d[9] = check as u8;
        return d.iter().map(|v| char::from(b'0' + v)).collect();
    }
}

/// Weekends and bank holidays: planned activity (referrals, clinics) is low.
fn non_working(day: i32) -> bool {
    icsw_model::calendar::is_non_working_day(day_to_date(day))
}

fn weekday(day: i32) -> usize {
    // 1970-01-01 was a Thursday (index 3 with Monday = 0).
    ((day as i64 + 3).rem_euclid(7)) as usize
}

/// A local wall-clock time on `day` at `minute` past midnight, as an
/// instant; a time in the skipped spring hour moves an hour on.
fn at(day: i32, minute: i64) -> i64 {
    let naive = day_to_date(day).and_hms_opt(0, 0, 0).expect("midnight")
        + chrono::Duration::minutes(minute);
    instant(naive)
        .or_else(|| instant(naive + chrono::Duration::hours(1)))
        .expect("an hour later exists")
        .timestamp_micros()
}

impl TrustWorld {
    pub fn new(
        ods: &str,
        index: u64,
        seed: u64,
        scale: f64,
        first_day: i32,
        last_day: i32,
    ) -> Self {
        Self::with_pathways(ods, index, seed, scale, first_day, last_day, true)
    }

    /// As [`TrustWorld::new`]; without RTT pathways (and the referrals,
    /// outpatient appointments and admissions they imply) when `pathways`
    /// is false, for extracts of A&E alone.
    pub fn with_pathways(
        ods: &str,
        index: u64,
        seed: u64,
        scale: f64,
        first_day: i32,
        last_day: i32,
        pathways: bool,
    ) -> Self {
        let mut w = TrustWorld {
            ods: ods.to_string(),
            index,
            seed,
            scale,
            first_day,
            last_day,
            patients: Vec::new(),
            rtt: Vec::new(),
            pathway_days: Default::default(),
        };
        w.make_patients();
        if pathways {
            w.make_pathways();
        }
        w
    }

    fn rng(&self, parts: &[u64]) -> Rng {
        let mut p = vec![self.index];
        p.extend_from_slice(parts);
        Rng::derive(self.seed, &p)
    }

    fn make_patients(&mut self) {
        let n = ((self.scale * 120.0) as usize).max(500);
        let mut rng = self.rng(&[1]);
        let today = self.last_day;
        self.patients = (0..n)
            .map(|i| {
                let age_years = rng.range(0, 95);
                let birth_day = today - (age_years as i32) * 365 - rng.range(0, 364) as i32;
                Patient {
                    id: format!("{}P{:07}", self.ods, i),
                    nhs_number: if rng.chance(0.985) {
                        Some(patient_number(self.seed, self.index, i as u64))
                    } else {
                        None
                    },
                    birth_day,
                    sex: rng.pick(&[("1", 49.0), ("2", 50.5), ("9", 0.2), ("X", 0.3)]),
                    postcode: POSTCODES[rng.below(POSTCODES.len() as u64) as usize],
                    practice: format!("E85{:03}", rng.below(700)),
                    death_day: if age_years > 80 && rng.chance(0.03) {
                        Some(today - rng.range(1, 300) as i32)
                    } else {
                        None
                    },
                }
            })
            .collect();
    }

    fn patient(&self, rng: &mut Rng) -> u32 {
        rng.below(self.patients.len() as u64) as u32
    }

    /// Everything whose activity date is `day` (day >= first_day - lead-in).
    pub fn day(&self, day: i32) -> Day {
        let mut out = self.pathway_days.get(&day).cloned().unwrap_or_default();
        self.ae_and_emergencies(day, &mut out);
        self.other_outpatients(day, &mut out);
        out
    }

    /// RTT events dated on or before `day`.
    pub fn rtt_until(&self, day: i32) -> &[RttEvent] {
        let n = self.rtt.partition_point(|e| e.day <= day);
        &self.rtt[..n]
    }
}

pub fn day_of(d: chrono::NaiveDate) -> i32 {
    date_to_day(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_one_patient_in_eight_uses_two_trusts() {
        let n = 4000u64;
        let mut shared = 0;
        for i in 0..n {
            // Patient i's number at each trust.
            let numbers: Vec<String> = (0..ICS_TRUSTS).map(|t| patient_number(7, t, i)).collect();
            let at: Vec<usize> = (0..numbers.len())
                .filter(|&t| (0..numbers.len()).any(|u| u != t && numbers[u] == numbers[t]))
                .collect();
            assert!(at.is_empty() || at.len() == 2, "patient {i}: {at:?}");
            shared += usize::from(!at.is_empty());
        }
        let share = shared as f64 / n as f64;
        assert!((0.10..0.14).contains(&share), "{share}");
        // A trust's own patients' numbers are not another trust's.
        assert_ne!(nhs_number(7, 1), nhs_number(7 ^ 1, 1));
    }

    #[test]
    fn nhs_numbers_are_valid() {
        for i in 0..200 {
            assert!(icsw_model::nhs_number::is_valid(&nhs_number(1, i)));
        }
    }

    #[test]
    fn shapes_are_plausible() {
        let d0 = day_of("2026-01-05".parse().unwrap());
        let w = TrustWorld::new("RYJ", 0, 42, 300.0, d0, d0 + 27);
        let days: Vec<Day> = (d0..d0 + 28).map(|d| w.day(d)).collect();
        let ae: Vec<&Ae> = days.iter().flat_map(|d| &d.ae).collect();
        let n = ae.len() as f64;
        assert!((n / 28.0 - 300.0).abs() < 30.0, "{n}");
        let mins: Vec<f64> = ae
            .iter()
            .map(|a| ((a.departure - a.arrival) / US_PER_MIN) as f64)
            .collect();
        let over_12h = mins.iter().filter(|m| **m > 720.0).count() as f64 / n;
        let two_to_six = mins.iter().filter(|m| **m >= 120.0 && **m <= 360.0).count() as f64 / n;
        assert!(over_12h > 0.005 && over_12h < 0.08, "{over_12h}");
        assert!(two_to_six > 0.45, "{two_to_six}");
        // Weekly cycle: Mondays busier than Saturdays.
        let monday: usize = days.iter().step_by(7).map(|d| d.ae.len()).sum();
        let saturday: usize = days.iter().skip(5).step_by(7).map(|d| d.ae.len()).sum();
        assert!(monday > saturday);
        // Long waits exist on the waiting list at the end.
        let open_long = w
            .rtt
            .iter()
            .filter(|e| e.status == "10" && e.day < d0 + 27 - 364)
            .count();
        assert!(open_long > 0);
    }
}
