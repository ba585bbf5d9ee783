//! Europe/London wall-clock rules (contract section 3).
//!
//! Instants are microseconds since the Unix epoch, UTC. A naive timestamp is
//! wall-clock time in London: in the repeated autumn hour it means the first
//! (BST) instant; in the hour skipped in spring it names no instant at all.
//! Every period is assigned by the London local date of its activity.
//!
//! Conversions go through a table of each day's UTC offset, filled once from
//! chrono-tz, so the loader does not search the zone's transitions per row.
//! Days on which the offset changes fall back to chrono-tz.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Europe::London;
use std::sync::OnceLock;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
const MICROS_PER_DAY: i64 = SECONDS_PER_DAY * MICROS_PER_SECOND;
/// The table covers days from 1900-01-01 up to 2200-01-01.
const FIRST_DAY: i64 = -25_567;
const LAST_DAY: i64 = 84_006;
/// Marks a day on which the offset is not constant.
const CHANGING: i32 = i32::MIN;

/// Offset in seconds for each UTC day, or CHANGING.
fn utc_day_offsets() -> &'static [i32] {
    static T: OnceLock<Vec<i32>> = OnceLock::new();
    T.get_or_init(|| {
        (FIRST_DAY..LAST_DAY)
            .map(|d| {
                let start = offset_at(d * SECONDS_PER_DAY);
                let end = offset_at(d * SECONDS_PER_DAY + SECONDS_PER_DAY - 1);
                if start == end {
                    start
                } else {
                    CHANGING
                }
            })
            .collect()
    })
}

/// Offset in seconds for each local day, or CHANGING.
fn local_day_offsets() -> &'static [i32] {
    static T: OnceLock<Vec<i32>> = OnceLock::new();
    T.get_or_init(|| {
        (FIRST_DAY..LAST_DAY)
            .map(|d| {
                let naive = |s: i64| {
                    DateTime::from_timestamp(d * SECONDS_PER_DAY + s, 0)
                        .map(|t| t.naive_utc())
                        .expect("in range")
                };
                match (
                    London.from_local_datetime(&naive(0)),
                    London.from_local_datetime(&naive(SECONDS_PER_DAY - 1)),
                ) {
                    (LocalResult::Single(a), LocalResult::Single(b))
                        if a.offset().fix() == b.offset().fix() =>
                    {
                        a.offset().fix().local_minus_utc()
                    }
                    _ => CHANGING,
                }
            })
            .collect()
    })
}

fn offset_at(utc_seconds: i64) -> i32 {
    let t = DateTime::from_timestamp(utc_seconds, 0).expect("in range");
    London
        .offset_from_utc_datetime(&t.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The London local date (days since 1970-01-01) of an instant.
pub fn local_day_of_instant(micros: i64) -> i32 {
    local_micros_of_instant(micros).div_euclid(MICROS_PER_DAY) as i32
}

/// The London wall-clock time of an instant, as microseconds since
/// 1970-01-01T00:00 local (the inverse of [`instant_of_local`]).
pub fn local_micros_of_instant(micros: i64) -> i64 {
    let utc_day = micros.div_euclid(MICROS_PER_DAY);
    let offset = match utc_day_offsets().get((utc_day - FIRST_DAY) as usize) {
        Some(&o) if o != CHANGING && utc_day >= FIRST_DAY => o,
        _ => offset_at(micros.div_euclid(MICROS_PER_SECOND)),
    };
    micros + i64::from(offset) * MICROS_PER_SECOND
}

/// The instant of a naive London wall-clock time given as microseconds since
/// 1970-01-01T00:00 *local*. `None` when the time falls in the skipped spring
/// hour; the earlier instant when it falls in the repeated autumn hour.
pub fn instant_of_local(local_micros: i64) -> Option<i64> {
    let local_day = local_micros.div_euclid(MICROS_PER_DAY);
    if local_day >= FIRST_DAY {
        if let Some(&o) = local_day_offsets().get((local_day - FIRST_DAY) as usize) {
            if o != CHANGING {
                return Some(local_micros - i64::from(o) * MICROS_PER_SECOND);
            }
        }
    }
    let secs = local_micros.div_euclid(MICROS_PER_SECOND);
    let sub = local_micros.rem_euclid(MICROS_PER_SECOND);
    let naive = DateTime::from_timestamp(secs, 0)?.naive_utc();
    let instant = match London.from_local_datetime(&naive) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(first, _) => first,
        LocalResult::None => return None,
    };
    Some(instant.timestamp() * MICROS_PER_SECOND + sub)
}

/// The London local date of an instant, as a date.
pub fn local_date(instant: DateTime<Utc>) -> NaiveDate {
    day_to_date(local_day_of_instant(instant.timestamp_micros()))
}

/// The instant of a naive London wall-clock time (see [`instant_of_local`]).
pub fn instant(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    let local = naive.and_utc().timestamp_micros();
    instant_of_local(local).and_then(DateTime::from_timestamp_micros)
}

/// Whole minutes from `a` to `b`, seconds truncated (as ECDS derives them).
pub fn whole_minutes(a_micros: i64, b_micros: i64) -> i64 {
    (b_micros - a_micros) / (60 * MICROS_PER_SECOND)
}

pub fn day_to_date(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day + 719_163).expect("date in range")
}

pub fn date_to_day(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - 719_163
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        naive(s).and_utc()
    }

    #[test]
    fn bst_half_past_midnight_first_of_july_is_july() {
        // 00:30 BST on 1 July is 23:30 UTC on 30 June.
        let t = instant(naive("2026-07-01 00:30:00")).unwrap();
        assert_eq!(t, utc("2026-06-30 23:30:00"));
        assert_eq!(local_date(t), NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(
            local_date(utc("2026-06-30 23:29:59")),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
        );
        assert_eq!(
            local_date(utc("2026-06-30 22:59:59")),
            NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()
        );
    }

    #[test]
    fn spring_gap_is_invalid() {
        // Clocks go forward at 01:00 GMT on Sunday 29 March 2026.
        assert!(instant(naive("2026-03-29 01:30:00")).is_none());
        assert!(instant(naive("2026-03-29 01:00:00")).is_none());
        assert_eq!(
            instant(naive("2026-03-29 00:59:59")).unwrap(),
            utc("2026-03-29 00:59:59")
        );
        assert_eq!(
            instant(naive("2026-03-29 02:00:00")).unwrap(),
            utc("2026-03-29 01:00:00")
        );
    }

    #[test]
    fn autumn_repeat_takes_first_instant() {
        // Clocks go back at 02:00 BST on Sunday 25 October 2026: 01:30 happens
        // twice, first at 00:30 UTC (BST) and then at 01:30 UTC (GMT).
        assert_eq!(
            instant(naive("2026-10-25 01:30:00")).unwrap(),
            utc("2026-10-25 00:30:00")
        );
        assert_eq!(
            instant(naive("2026-10-25 02:30:00")).unwrap(),
            utc("2026-10-25 02:30:00")
        );
    }

    #[test]
    fn duration_across_october_change() {
        // Arrive 23:00 BST Saturday 24 Oct, leave 03:00 GMT Sunday: five hours
        // pass, not four.
        let a = instant(naive("2026-10-24 23:00:00")).unwrap();
        let b = instant(naive("2026-10-25 03:00:00")).unwrap();
        assert_eq!(
            whole_minutes(a.timestamp_micros(), b.timestamp_micros()),
            300
        );
    }

    #[test]
    fn minutes_truncate_seconds() {
        let a = utc("2026-01-10 10:00:00").timestamp_micros();
        let b = utc("2026-01-10 14:00:59").timestamp_micros();
        assert_eq!(whole_minutes(a, b), 240);
        assert_eq!(whole_minutes(a, b + 1_000_000), 241);
    }

    #[test]
    fn table_agrees_with_chrono_tz() {
        // Every hour of 2025-2027 (both directions) against the zone itself.
        let start = utc("2025-01-01 00:00:00").timestamp();
        for h in 0..(3 * 366 * 24) {
            let s = start + h * 3600 + 1799;
            let t = DateTime::from_timestamp(s, 0).unwrap();
            let expect = t.with_timezone(&London).date_naive();
            assert_eq!(local_date(t), expect, "{t}");
            let n = t.naive_utc();
            let expect = match London.from_local_datetime(&n) {
                LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
                LocalResult::Ambiguous(x, _) => Some(x.with_timezone(&Utc)),
                LocalResult::None => None,
            };
            assert_eq!(instant(n), expect, "{n}");
        }
    }

    #[test]
    fn days_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert_eq!(day_to_date(date_to_day(d)), d);
        assert_eq!(date_to_day(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
    }
}
