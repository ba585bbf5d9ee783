//! Referral to treatment pathways: each patient's clock starts, events
//! and stops over the lead-in and the generated nights.

use super::*;

impl TrustWorld {
    /// RTT pathways from the lead-in to the last day, with their events
    /// and the referrals, outpatient appointments and admissions they imply.
    pub(super) fn make_pathways(&mut self) {
        let (main_sites, _) = sites(&self.ods);
        let mut events: Vec<RttEvent> = Vec::new();
        let mut event_n: u64 = 0;
        let mut pathway_n: u64 = 0;
        let per_day = 0.375 * self.scale;
        let start = self.first_day - RTT_LEAD_IN_DAYS;
        let mut days: std::collections::BTreeMap<i32, Day> = Default::default();
        // The day each patient's pathway in a treatment function closes, so
        // that no patient has two open at once (that is a data-quality
        // finding, not a shape of clean data).
        let mut open_until: std::collections::HashMap<(u32, &'static str), i32> =
            Default::default();
        for day in start..=self.last_day {
            let mut rng = self.rng(&[2, day as u64]);
            let wf = if non_working(day) { 0.08 } else { 1.25 };
            let n = rng.poisson(per_day * wf);
            for _ in 0..n {
                pathway_n += 1;
                let pathway = format!("{}-PW{:08}", self.ods, pathway_n);
                let tfc = if rng.chance(0.02) {
                    "420"
                } else {
                    rng.pick(RTT_TFCS)
                };
                let mut patient = self.patient(&mut rng);
                for _ in 0..20 {
                    if open_until.get(&(patient, tfc)).is_none_or(|end| *end < day) {
                        break;
                    }
                    patient = self.patient(&mut rng);
                }
                let commissioner = rng.pick(COMMISSIONERS);
                let source = rng.pick(SOURCES);
                let priority = rng.pick(&[("1", 75.0), ("2", 15.0), ("3", 10.0)]);
                let site = main_sites[rng.below(main_sites.len() as u64) as usize];
                // The pathway's timeline: (day, status, activity).
                let mut t: Vec<(i32, &'static str, &'static str)> = vec![(day, "10", "REFERRAL")];
                let first_wait = match priority {
                    "3" => rng.lognormal(11.0, 0.3),
                    "2" => rng.lognormal(25.0, 0.5),
                    _ => rng.lognormal(55.0, 0.7),
                };
                let mut d = day + first_wait.round().max(1.0) as i32;
                let r = rng.f64();
                if rng.chance(0.006) {
                    // Never seen: waiting with no further activity, until
                    // (usually) a validation exercise closes the pathway.
                    if rng.chance(0.7) {
                        t.push((day + rng.range(150, 500) as i32, "35", "ADMIN"));
                    }
                } else if rng.chance(0.05) {
                    t.push((d, "33", "OUTPATIENT"));
                } else if r < 0.30 {
                    t.push((
                        d,
                        rng.pick(&[("30", 70.0), ("34", 20.0), ("31", 10.0)]),
                        "OUTPATIENT",
                    ));
                } else {
                    t.push((d, "20", "OUTPATIENT"));
                    let mut admitted = r >= 0.72;
                    if !admitted {
                        // Follow-ups, then a non-admitted stop or a decision to admit.
                        for _ in 0..rng.range(1, 2) {
                            d += rng.lognormal(35.0, 0.6).round().max(7.0) as i32;
                            t.push((d, "20", "OUTPATIENT"));
                        }
                        if rng.chance(0.5) {
                            let last = t.len() - 1;
                            t[last].1 = rng.pick(&[("30", 70.0), ("34", 20.0), ("35", 10.0)]);
                        } else {
                            admitted = true;
                        }
                    }
                    if admitted {
                        if rng.chance(0.03) {
                            t.push((d + rng.range(5, 40) as i32, "21", "ADMIN"));
                        } else {
                            t.push((d, "20", "DECISION_TO_ADMIT"));
                            d += rng.lognormal(70.0, 0.6).round().max(3.0) as i32;
                            t.push((d, "30", "ADMISSION"));
                        }
                    }
                }
                if t.last().is_some_and(|e| e.1 == "30") && rng.chance(0.2) {
                    let d = t.last().expect("last").0 + rng.range(30, 120) as i32;
                    t.push((d, "90", "OUTPATIENT"));
                }
                let closes = match t.last() {
                    Some((d, s, _)) if s.starts_with('3') || *s == "21" => *d,
                    Some((d, "90", _)) => *d,
                    _ => i32::MAX,
                };
                open_until.insert((patient, tfc), closes);
                let mut first_op = true;
                for (k, (d, status, activity)) in t.into_iter().enumerate() {
                    if d > self.last_day {
                        break;
                    }
                    event_n += 1;
                    events.push(RttEvent {
                        id: format!("{}E{:09}", self.ods, event_n),
                        pathway: pathway.clone(),
                        day: d,
                        status,
                        activity,
                        tfc,
                        commissioner,
                        patient,
                    });
                    let entry = days.entry(d).or_default();
                    match activity {
                        "REFERRAL" => entry.referrals.push(Referral {
                            id: format!("{pathway}-R"),
                            pathway: Some(pathway.clone()),
                            day: d,
                            source,
                            tfc,
                            priority: Some(priority),
                            commissioner,
                            patient,
                        }),
                        "OUTPATIENT" => {
                            let tele = rng.chance(0.15);
                            let first = match (first_op, tele) {
                                (true, false) => "1",
                                (true, true) => "3",
                                (false, false) => "2",
                                (false, true) => "4",
                            };
                            entry.op.push(Op {
                                id: format!("{pathway}-A{k}"),
                                pathway: Some(pathway.clone()),
                                day: d,
                                status: if status == "33" {
                                    "3"
                                } else if rng.chance(0.1) {
                                    "6"
                                } else {
                                    "5"
                                },
                                first,
                                tfc,
                                source: Some(source),
                                priority: Some(priority),
                                consultant_led: Some(true),
                                commissioner,
                                site,
                                patient,
                            });
                            first_op = false;
                        }
                        "ADMISSION" => {
                            let day_case = rng.chance(0.7);
                            let admission = at(d, rng.range(7 * 60, 11 * 60));
                            let los_days = if day_case { 0 } else { rng.range(1, 6) };
                            let discharge = at(d + los_days as i32, rng.range(12 * 60, 19 * 60));
                            entry.spells.push(Spell {
                                id: format!("{pathway}-S"),
                                admission,
                                discharge: discharge.max(admission + 60 * US_PER_MIN),
                                method: rng.pick(&[("11", 80.0), ("12", 15.0), ("13", 5.0)]),
                                class: if day_case { "2" } else { "1" },
                                tfc,
                                commissioner,
                                site,
                                ae_id: None,
                                patient,
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
        events.sort_by(|a, b| a.day.cmp(&b.day).then_with(|| a.id.cmp(&b.id)));
        self.rtt = events;
        self.pathway_days = days;
    }
}
