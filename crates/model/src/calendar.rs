//! England and Wales bank holidays, for the data-quality checks that expect
//! less activity on weekends and bank holidays.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Easter Sunday (the anonymous Gregorian algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("a date")
}

fn first_monday(year: i32, month: u32) -> NaiveDate {
    let d = NaiveDate::from_ymd_opt(year, month, 1).expect("date");
    let ahead = (7 - d.weekday().num_days_from_monday()) % 7;
    d + Duration::days(i64::from(ahead))
}

fn last_monday(year: i32, month: u32) -> NaiveDate {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("date");
    let last = next.pred_opt().expect("date");
    last - Duration::days(i64::from(last.weekday().num_days_from_monday()))
}

/// The bank holidays of England and Wales in `year` (from 1978, when the
/// current pattern began), with weekend substitutes and the one-off
/// holidays of 1995-2023.
pub fn bank_holidays(year: i32) -> Vec<NaiveDate> {
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("date");
    let mut out = Vec::new();
    let new_year = ymd(1, 1);
    out.push(match new_year.weekday() {
        Weekday::Sat => ymd(1, 3),
        Weekday::Sun => ymd(1, 2),
        _ => new_year,
    });
    let e = easter(year);
    out.push(e - Duration::days(2));
    out.push(e + Duration::days(1));
    // Early May: moved to 8 May in 1995 and 2020 (VE day anniversaries).
    out.push(match year {
        1995 | 2020 => ymd(5, 8),
        _ => first_monday(year, 5),
    });
    // Spring: moved for the jubilees of 2002, 2012 and 2022.
    out.push(match year {
        2002 => ymd(6, 4),
        2012 => ymd(6, 4),
        2022 => ymd(6, 2),
        _ => last_monday(year, 5),
    });
    out.push(last_monday(year, 8));
    let christmas = ymd(12, 25);
    let (xmas, boxing) = match christmas.weekday() {
        Weekday::Fri => (christmas, ymd(12, 28)),
        Weekday::Sat => (ymd(12, 27), ymd(12, 28)),
        Weekday::Sun => (ymd(12, 27), ymd(12, 26)),
        _ => (christmas, ymd(12, 26)),
    };
    out.push(xmas);
    out.push(boxing);
    out.extend(match year {
        1999 => vec![ymd(12, 31)],
        2002 => vec![ymd(6, 3)],
        2011 => vec![ymd(4, 29)],
        2012 => vec![ymd(6, 5)],
        2022 => vec![ymd(6, 3), ymd(9, 19)],
        2023 => vec![ymd(5, 8)],
        _ => vec![],
    });
    out.sort();
    out
}

pub fn is_bank_holiday(d: NaiveDate) -> bool {
    bank_holidays(d.year()).contains(&d)
}

/// Weekends and bank holidays, when planned activity (referrals,
/// outpatients) is normally low.
pub fn is_non_working_day(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun) || is_bank_holiday(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn bank_holidays_2026_and_2022() {
        // Published by GOV.UK for England and Wales.
        let want: Vec<NaiveDate> = [
            "2026-01-01",
            "2026-04-03",
            "2026-04-06",
            "2026-05-04",
            "2026-05-25",
            "2026-08-31",
            "2026-12-25",
            "2026-12-28",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        assert_eq!(bank_holidays(2026), want);
        let want: Vec<NaiveDate> = [
            "2022-01-03",
            "2022-04-15",
            "2022-04-18",
            "2022-05-02",
            "2022-06-02",
            "2022-06-03",
            "2022-08-29",
            "2022-09-19",
            "2022-12-26",
            "2022-12-27",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        assert_eq!(bank_holidays(2022), want);
        assert_eq!(easter(2025), d("2025-04-20"));
        assert!(is_non_working_day(d("2026-11-21")));
        assert!(!is_non_working_day(d("2026-11-23")));
    }
}
