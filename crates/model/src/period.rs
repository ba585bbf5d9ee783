//! Reporting months and the labels the returns give them.

use crate::{Error, Result};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A calendar month, the period of every return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Result<Self> {
        if !(1..=12).contains(&month) || !(1900..=2199).contains(&year) {
            return Err(Error::Invalid(format!("no such month: {year}-{month:02}")));
        }
        Ok(Month { year, month })
    }

    pub fn of(d: NaiveDate) -> Self {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("expected a month as YYYY-MM, got {s:?}"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        Month::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?)
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("valid month")
    }

    /// The last day: the RTT census date.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().expect("valid date")
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Self {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month `n` months before this one.
    pub fn back(self, n: u32) -> Self {
        (0..n).fold(self, |m, _| m.prev())
    }

    pub fn name(self) -> &'static str {
        MONTH_NAMES[(self.month - 1) as usize]
    }

    /// `RTT-October-2026`.
    pub fn rtt_label(self) -> String {
        format!("RTT-{}-{}", self.name(), self.year)
    }

    /// `MSitAE-OCTOBER-2026`.
    pub fn ae_label(self) -> String {
        format!("MSitAE-{}-{}", self.name().to_uppercase(), self.year)
    }

    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last_day();
        self.first_day().iter_days().take_while(move |d| *d <= last)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for Month {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Month::parse(&s)
    }
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_edges() {
        let m = Month::parse("2026-10").unwrap();
        assert_eq!(m.rtt_label(), "RTT-October-2026");
        assert_eq!(m.ae_label(), "MSitAE-OCTOBER-2026");
        assert_eq!(m.to_string(), "2026-10");
        assert_eq!(m.last_day(), NaiveDate::from_ymd_opt(2026, 10, 31).unwrap());
        assert_eq!(
            Month::parse("2028-02").unwrap().last_day(),
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        );
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        assert_eq!(m.days().count(), 31);
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("2026-1").is_err());
        assert!(Month::parse("October").is_err());
    }
}
