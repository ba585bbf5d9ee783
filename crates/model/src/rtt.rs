//! The RTT clock walk of contract section 5, for one pathway.
//!
//! The walk turns a pathway's events into the history of its periods: one
//! state per period per date on which the period changed. The state of a
//! period at census date D is the one with `valid_from <= D < valid_to`; it
//! equals the walk over the events dated on or before D, because events of
//! one date are always taken together and the order within a date depends
//! only on the state when the day begins. So one walk serves every census
//! date, and `rtt_periods_at(D)` is a filter.

/// An RTT status code's role in the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusClass {
    /// `10 11 12`
    Start,
    /// `20`
    Running,
    /// `21`
    TransferOut,
    /// `30`..`36`
    Stop,
    /// `90`..`99`: no effect on the clock.
    NotRtt,
}

pub fn status_class(code: &str) -> StatusClass {
    match code {
        "10" | "11" | "12" => StatusClass::Start,
        "20" => StatusClass::Running,
        "21" => StatusClass::TransferOut,
        "30" | "31" | "32" | "33" | "34" | "35" | "36" => StatusClass::Stop,
        _ => StatusClass::NotRtt,
    }
}

/// One event, as the walk sees it. Dates are days since 1970-01-01.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    pub event_id: &'a str,
    pub date: i32,
    pub status: &'a str,
    pub activity: &'a str,
    pub treatment_function: &'a str,
    pub commissioner: &'a str,
    /// The patient's NHS number as the event carries it.
    pub nhs_number: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodStatus {
    Open,
    Stopped,
    Nullified,
    TransferredOut,
}

impl PeriodStatus {
    pub fn code(self) -> &'static str {
        match self {
            PeriodStatus::Open => "open",
            PeriodStatus::Stopped => "stopped",
            PeriodStatus::Nullified => "nullified",
            PeriodStatus::TransferredOut => "transferred_out",
        }
    }
}

/// A period's state from `valid_from` until the period's next state.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodState {
    /// 1 for the pathway's first period, 2 for the next, ...
    pub period_number: u32,
    pub valid_from: i32,
    /// `None`: an unknown clock start (a migrated or broken pathway).
    pub clock_start: Option<i32>,
    pub start_event_id: String,
    pub status: PeriodStatus,
    pub clock_stop: Option<i32>,
    pub stop_status: Option<String>,
    /// Stopped by `30` at an `ADMISSION`.
    pub admitted: bool,
    pub has_decision_to_admit: bool,
    pub transfer_date: Option<i32>,
    pub treatment_function: String,
    pub commissioner: String,
    /// The NHS number on the event that gave the treatment function (the
    /// period's patient, for linkage across trusts).
    pub nhs_number: Option<String>,
    pub last_event_date: i32,
    pub event_count: u32,
    /// An OUTPATIENT, DECISION_TO_ADMIT or ADMISSION event is among the
    /// period's events (decides whether a `33` nullifies).
    pub had_clinical_activity: bool,
}

/// An event the walk could not apply as it stands (contract section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingCode {
    StartWhileOpen,
    ActivityOnClosedPathway,
    TransferWithoutOpenPeriod,
    TransferredOut,
    StopWithoutStart,
    StopAfterStop,
    DnaAfterFirstActivity,
}

impl FindingCode {
    pub fn code(self) -> &'static str {
        match self {
            FindingCode::StartWhileOpen => "start_while_open",
            FindingCode::ActivityOnClosedPathway => "activity_on_closed_pathway",
            FindingCode::TransferWithoutOpenPeriod => "transfer_without_open_period",
            FindingCode::TransferredOut => "transferred_out",
            FindingCode::StopWithoutStart => "stop_without_start",
            FindingCode::StopAfterStop => "stop_after_stop",
            FindingCode::DnaAfterFirstActivity => "dna_after_first_activity",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub event_id: String,
    pub date: i32,
    pub code: FindingCode,
    /// The period the finding concerns, where there is one.
    pub period_number: Option<u32>,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    NoneYet,
    Open(usize),
    Closed,
}

/// The result of walking one pathway.
#[derive(Debug, Default)]
pub struct Walk {
    pub states: Vec<PeriodState>,
    pub findings: Vec<Finding>,
}

/// Walks one pathway's events (any order; they are sorted here by date,
/// then within a date as section 5 says, ties by event id).
pub fn walk(events: &[Event<'_>]) -> Walk {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| {
        events[a]
            .date
            .cmp(&events[b].date)
            .then_with(|| events[a].event_id.cmp(events[b].event_id))
    });
    let mut out = Walk::default();
    let mut periods: Vec<PeriodState> = Vec::new();
    let mut phase = Phase::NoneYet;
    let mut i = 0;
    while i < order.len() {
        let date = events[order[i]].date;
        let mut j = i;
        while j < order.len() && events[order[j]].date == date {
            j += 1;
        }
        let mut day: Vec<&Event<'_>> = order[i..j].iter().map(|&k| &events[k]).collect();
        let open_at_start = matches!(phase, Phase::Open(_));
        day.sort_by_key(|e| (rank(status_class(e.status), open_at_start), e.event_id));
        let mut touched: Vec<usize> = Vec::new();
        for e in day {
            if let Some(p) = apply(e, &mut phase, &mut periods, &mut out.findings) {
                if !touched.contains(&p) {
                    touched.push(p);
                }
            }
        }
        touched.sort_unstable();
        for p in touched {
            let mut s = periods[p].clone();
            s.valid_from = date;
            out.states.push(s);
        }
        i = j;
    }
    out
}

/// Order within a day: with a period open when the day begins, running
/// events, then stops, then starts; otherwise starts, running, stops.
fn rank(c: StatusClass, open_at_start: bool) -> u8 {
    match (c, open_at_start) {
        (StatusClass::Running | StatusClass::TransferOut, true) => 0,
        (StatusClass::Stop, true) => 1,
        (StatusClass::Start, true) => 2,
        (StatusClass::Start, false) => 0,
        (StatusClass::Running | StatusClass::TransferOut, false) => 1,
        (StatusClass::Stop, false) => 2,
        (StatusClass::NotRtt, _) => 3,
    }
}

fn is_clinical_activity(activity: &str) -> bool {
    matches!(activity, "OUTPATIENT" | "DECISION_TO_ADMIT" | "ADMISSION")
}

fn new_period(number: usize, e: &Event<'_>, clock_start: Option<i32>) -> PeriodState {
    PeriodState {
        period_number: number as u32 + 1,
        valid_from: e.date,
        clock_start,
        start_event_id: e.event_id.to_string(),
        status: PeriodStatus::Open,
        clock_stop: None,
        stop_status: None,
        admitted: false,
        has_decision_to_admit: false,
        transfer_date: None,
        treatment_function: e.treatment_function.to_string(),
        commissioner: e.commissioner.to_string(),
        nhs_number: e.nhs_number.map(str::to_string),
        last_event_date: e.date,
        event_count: 0,
        had_clinical_activity: false,
    }
}

/// Records `e` as one of the period's events.
fn count(p: &mut PeriodState, e: &Event<'_>) {
    p.treatment_function = e.treatment_function.to_string();
    p.commissioner = e.commissioner.to_string();
    p.nhs_number = e.nhs_number.map(str::to_string);
    p.last_event_date = e.date;
    p.event_count += 1;
    if e.activity == "DECISION_TO_ADMIT" {
        p.has_decision_to_admit = true;
    }
    if is_clinical_activity(e.activity) {
        p.had_clinical_activity = true;
    }
}

/// Applies one event; returns the index of the period it changed.
fn apply(
    e: &Event<'_>,
    phase: &mut Phase,
    periods: &mut Vec<PeriodState>,
    findings: &mut Vec<Finding>,
) -> Option<usize> {
    let finding = |code, period: Option<usize>| Finding {
        event_id: e.event_id.to_string(),
        date: e.date,
        code,
        period_number: period.map(|p| p as u32 + 1),
    };
    let last = periods.len().checked_sub(1);
    match (status_class(e.status), *phase) {
        (StatusClass::NotRtt, _) => None,
        (StatusClass::Start, Phase::Open(p)) => {
            findings.push(finding(FindingCode::StartWhileOpen, Some(p)));
            None
        }
        (StatusClass::Start, _) => {
            let p = periods.len();
            let mut period = new_period(p, e, Some(e.date));
            count(&mut period, e);
            periods.push(period);
            *phase = Phase::Open(p);
            Some(p)
        }
        (StatusClass::Running, Phase::Open(p)) => {
            count(&mut periods[p], e);
            Some(p)
        }
        (StatusClass::Running, Phase::NoneYet) => {
            let p = periods.len();
            let mut period = new_period(p, e, None);
            count(&mut period, e);
            periods.push(period);
            *phase = Phase::Open(p);
            Some(p)
        }
        (StatusClass::Running, Phase::Closed) => {
            findings.push(finding(FindingCode::ActivityOnClosedPathway, last));
            None
        }
        (StatusClass::TransferOut, Phase::Open(p)) => {
            let period = &mut periods[p];
            count(period, e);
            period.status = PeriodStatus::TransferredOut;
            period.transfer_date = Some(e.date);
            findings.push(finding(FindingCode::TransferredOut, Some(p)));
            *phase = Phase::Closed;
            Some(p)
        }
        (StatusClass::TransferOut, _) => {
            findings.push(finding(FindingCode::TransferWithoutOpenPeriod, last));
            None
        }
        (StatusClass::Stop, Phase::Open(p)) => {
            let period = &mut periods[p];
            // Whether an outpatient, decision to admit or admission came
            // before this stop in the period (the start event included).
            let had_activity = period.had_clinical_activity;
            count(period, e);
            period.clock_stop = Some(e.date);
            period.stop_status = Some(e.status.to_string());
            if e.status == "33" && !had_activity {
                period.status = PeriodStatus::Nullified;
            } else {
                period.status = PeriodStatus::Stopped;
                period.admitted = e.status == "30" && e.activity == "ADMISSION";
                if e.status == "33" {
                    findings.push(finding(FindingCode::DnaAfterFirstActivity, Some(p)));
                }
            }
            *phase = Phase::Closed;
            Some(p)
        }
        (StatusClass::Stop, Phase::NoneYet) => {
            let p = periods.len();
            let mut period = new_period(p, e, None);
            count(&mut period, e);
            period.status = PeriodStatus::Stopped;
            period.clock_stop = Some(e.date);
            period.stop_status = Some(e.status.to_string());
            period.admitted = e.status == "30" && e.activity == "ADMISSION";
            periods.push(period);
            findings.push(finding(FindingCode::StopWithoutStart, Some(p)));
            *phase = Phase::Closed;
            Some(p)
        }
        (StatusClass::Stop, Phase::Closed) => {
            findings.push(finding(FindingCode::StopAfterStop, last));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(id: &'a str, date: i32, status: &'a str, activity: &'a str) -> Event<'a> {
        Event {
            event_id: id,
            date,
            status,
            activity,
            treatment_function: "110",
            commissioner: "W2U3Z",
            nhs_number: None,
        }
    }

    /// The state of each period at census date `d`.
    fn at(w: &Walk, d: i32) -> Vec<PeriodState> {
        let mut out: Vec<PeriodState> = Vec::new();
        for s in &w.states {
            if s.valid_from <= d {
                out.retain(|o| o.period_number != s.period_number);
                out.push(s.clone());
            }
        }
        out.sort_by_key(|s| s.period_number);
        out
    }

    #[test]
    fn simple_admitted_pathway() {
        let w = walk(&[
            ev("a", 100, "10", "REFERRAL"),
            ev("b", 120, "20", "OUTPATIENT"),
            ev("c", 130, "20", "DECISION_TO_ADMIT"),
            ev("d", 200, "30", "ADMISSION"),
        ]);
        assert!(w.findings.is_empty());
        let s = at(&w, 150);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].status, PeriodStatus::Open);
        assert!(s[0].has_decision_to_admit);
        assert_eq!(s[0].clock_start, Some(100));
        let s = at(&w, 200);
        assert_eq!(s[0].status, PeriodStatus::Stopped);
        assert!(s[0].admitted);
        assert_eq!(s[0].clock_stop, Some(200));
        assert!(at(&w, 99).is_empty());
    }

    #[test]
    fn same_day_pathway_starts_then_stops() {
        let w = walk(&[
            ev("z", 50, "30", "OUTPATIENT"),
            ev("a", 50, "10", "REFERRAL"),
        ]);
        assert!(w.findings.is_empty(), "{:?}", w.findings);
        let s = at(&w, 50);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].clock_start, Some(50));
        assert_eq!(s[0].clock_stop, Some(50));
        assert!(!s[0].admitted);
    }

    #[test]
    fn restart_after_stop_same_day_opens_second_period() {
        // 30 then 11 on one day with a period open: stop first, then start.
        let w = walk(&[
            ev("a", 10, "10", "REFERRAL"),
            ev("b", 40, "11", "OUTPATIENT"),
            ev("c", 40, "30", "OUTPATIENT"),
        ]);
        assert!(w.findings.is_empty(), "{:?}", w.findings);
        let s = at(&w, 40);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].status, PeriodStatus::Stopped);
        assert_eq!(s[0].clock_stop, Some(40));
        assert_eq!(s[1].status, PeriodStatus::Open);
        assert_eq!(s[1].clock_start, Some(40));
    }

    #[test]
    fn dna_first_activity_nullifies() {
        let w = walk(&[
            ev("a", 10, "10", "REFERRAL"),
            ev("b", 30, "33", "OUTPATIENT"),
        ]);
        assert_eq!(at(&w, 30)[0].status, PeriodStatus::Nullified);
        assert!(w.findings.is_empty());
    }

    #[test]
    fn dna_after_first_activity_is_a_non_admitted_stop() {
        let w = walk(&[
            ev("a", 10, "10", "REFERRAL"),
            ev("b", 20, "20", "OUTPATIENT"),
            ev("c", 30, "33", "OUTPATIENT"),
        ]);
        let s = at(&w, 30);
        assert_eq!(s[0].status, PeriodStatus::Stopped);
        assert!(!s[0].admitted);
        assert_eq!(w.findings[0].code, FindingCode::DnaAfterFirstActivity);
    }

    #[test]
    fn running_first_gives_unknown_start() {
        let w = walk(&[ev("a", 10, "20", "OUTPATIENT")]);
        let s = at(&w, 10);
        assert_eq!(s[0].clock_start, None);
        assert_eq!(s[0].status, PeriodStatus::Open);
    }

    #[test]
    fn stop_without_start() {
        let w = walk(&[ev("a", 10, "30", "ADMISSION")]);
        let s = at(&w, 10);
        assert_eq!(s[0].clock_start, None);
        assert_eq!(s[0].status, PeriodStatus::Stopped);
        assert!(s[0].admitted);
        assert_eq!(w.findings[0].code, FindingCode::StopWithoutStart);
    }

    #[test]
    fn findings_change_nothing() {
        let w = walk(&[
            ev("a", 10, "10", "REFERRAL"),
            ev("b", 20, "11", "REFERRAL"),
            ev("c", 30, "34", "OUTPATIENT"),
            ev("d", 40, "20", "OUTPATIENT"),
            ev("e", 50, "31", "OUTPATIENT"),
            ev("f", 60, "21", "OUTPATIENT"),
            ev("g", 70, "99", "OUTPATIENT"),
        ]);
        let codes: Vec<_> = w.findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [
                FindingCode::StartWhileOpen,
                FindingCode::ActivityOnClosedPathway,
                FindingCode::StopAfterStop,
                FindingCode::TransferWithoutOpenPeriod
            ]
        );
        let s = at(&w, 100);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].clock_stop, Some(30));
        assert_eq!(s[0].stop_status.as_deref(), Some("34"));
        assert_eq!(s[0].event_count, 2);
    }

    #[test]
    fn transfer_out_leaves_without_stop() {
        let w = walk(&[
            ev("a", 10, "10", "REFERRAL"),
            ev("b", 20, "21", "OUTPATIENT"),
        ]);
        let s = at(&w, 20);
        assert_eq!(s[0].status, PeriodStatus::TransferredOut);
        assert_eq!(s[0].transfer_date, Some(20));
        assert_eq!(s[0].clock_stop, None);
        assert_eq!(w.findings[0].code, FindingCode::TransferredOut);
        assert_eq!(at(&w, 19)[0].status, PeriodStatus::Open);
    }

    #[test]
    fn the_event_giving_the_treatment_function_gives_the_patient() {
        let mut a = ev("a", 10, "10", "REFERRAL");
        a.nhs_number = Some("9990000018");
        let mut b = ev("b", 20, "20", "OUTPATIENT");
        b.nhs_number = Some("9990000026");
        let mut c = ev("c", 30, "90", "ADMIN");
        c.nhs_number = Some("4000000632");
        let mut d = ev("d", 40, "21", "ADMIN");
        d.nhs_number = None;
        let w = walk(&[a, b, c, d]);
        assert_eq!(at(&w, 15)[0].nhs_number.as_deref(), Some("9990000018"));
        // A 90 gives neither the treatment function nor the patient.
        assert_eq!(at(&w, 35)[0].nhs_number.as_deref(), Some("9990000026"));
        // The 21's own number, even none.
        assert_eq!(at(&w, 40)[0].nhs_number, None);
    }

    #[test]
    fn latest_event_gives_treatment_function() {
        let mut e2 = ev("b", 20, "20", "OUTPATIENT");
        e2.treatment_function = "306";
        e2.commissioner = "NONC";
        let w = walk(&[
            ev("a", 10, "10", "REFERRAL"),
            e2,
            ev("c", 30, "90", "ADMIN"),
        ]);
        let s = at(&w, 25);
        assert_eq!(s[0].treatment_function, "306");
        assert_eq!(s[0].commissioner, "NONC");
        assert_eq!(at(&w, 15)[0].treatment_function, "110");
    }

    #[test]
    fn census_cut_equals_walk_of_prefix() {
        // The property the history relies on: for every census date, the
        // state from the full walk equals the walk of the events up to it.
        let events = vec![
            ev("a", 1, "10", "REFERRAL"),
            ev("b", 3, "20", "OUTPATIENT"),
            ev("c", 3, "30", "OUTPATIENT"),
            ev("d", 3, "12", "REFERRAL"),
            ev("e", 5, "20", "DECISION_TO_ADMIT"),
            ev("f", 7, "33", "OUTPATIENT"),
            ev("g", 7, "10", "REFERRAL"),
            ev("h", 9, "21", "OUTPATIENT"),
        ];
        let full = walk(&events);
        for d in 0..12 {
            let prefix: Vec<_> = events.iter().filter(|e| e.date <= d).cloned().collect();
            let mut expect = at(&walk(&prefix), d);
            let mut got = at(&full, d);
            for s in expect.iter_mut().chain(got.iter_mut()) {
                s.valid_from = 0;
            }
            assert_eq!(got, expect, "census {d}");
        }
    }
}
