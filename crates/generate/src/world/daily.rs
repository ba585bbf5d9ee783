//! A day's A&E attendances, emergency admissions and the outpatient
//! activity not on an RTT pathway.

use super::*;

impl TrustWorld {
    pub(super) fn ae_and_emergencies(&self, day: i32, out: &mut Day) {
        let (main_sites, utc) = sites(&self.ods);
        let mut rng = self.rng(&[3, day as u64]);
        let n = rng.poisson(self.scale * AE_WEEK[weekday(day)]);
        let mut ae = Vec::with_capacity(n as usize);
        for i in 0..n {
            let hour = rng.pick(
                &HOURS
                    .iter()
                    .enumerate()
                    .map(|(h, w)| (h as i64, *w))
                    .collect::<Vec<_>>(),
            );
            let arrival = at(day, hour * 60 + rng.range(0, 59)) + rng.range(0, 59) * 1_000_000;
            let dept = rng.pick(&[("01", 68.0), ("02", 3.0), ("03", 26.0), ("04", 3.0)]);
            let site = match dept {
                "01" | "02" => main_sites[rng.below(main_sites.len() as u64) as usize],
                _ => utc,
            };
            let booked = rng.chance(if dept == "01" { 0.01 } else { 0.04 });
            let admitted = dept == "01" && rng.chance(0.27);
            let los_min = if admitted {
                rng.lognormal(330.0, 0.6)
            } else if dept == "01" {
                rng.lognormal(200.0, 0.55)
            } else {
                rng.lognormal(80.0, 0.5)
            };
            let los = (los_min.max(5.0) * 60.0) as i64 * 1_000_000 + rng.range(0, 59) * 1_000_000;
            let departure = arrival + los;
            let dta = admitted.then(|| arrival + (los as f64 * (0.25 + 0.45 * rng.f64())) as i64);
            let id = format!("{}-AE{:07}-{:05}", self.ods, day, i);
            let commissioner = rng.pick(COMMISSIONERS);
            let patient = self.patient(&mut rng);
            if admitted {
                out.spells.push(Spell {
                    id: format!("{id}-S"),
                    admission: departure,
                    discharge: departure
                        + rng.lognormal(3.0, 0.8).max(0.2) as i64 * US_PER_DAY
                        + rng.range(60, 600) * US_PER_MIN,
                    method: "21",
                    class: "1",
                    tfc: rng.pick(EMERGENCY_TFCS),
                    commissioner,
                    site,
                    ae_id: Some(id.clone()),
                    patient,
                });
            }
            ae.push(Ae {
                id,
                site,
                dept,
                arrival,
                booked,
                dta,
                departure,
                admitted,
                commissioner,
                patient,
            });
        }
        ae.sort_by_key(|a| a.arrival);
        out.ae = ae;
        // Emergency admissions not through this A&E, maternity and other.
        let k = rng.poisson(self.scale * 0.07);
        for i in 0..k {
            let method = rng.pick(&[
                ("22", 30.0),
                ("23", 3.0),
                ("24", 15.0),
                ("25", 2.0),
                ("28", 10.0),
                ("2A", 8.0),
                ("2B", 10.0),
                ("2D", 5.0),
                ("31", 8.0),
                ("32", 3.0),
                ("81", 4.0),
                ("82", 2.0),
            ]);
            let admission = at(day, rng.range(0, 1439));
            let tfc = match method {
                "31" | "32" | "82" => "501",
                _ => rng.pick(EMERGENCY_TFCS),
            };
            out.spells.push(Spell {
                id: format!("{}-NE{:07}-{:04}", self.ods, day, i),
                admission,
                discharge: admission + rng.range(4 * 60, 9 * 24 * 60) * US_PER_MIN,
                method,
                class: "1",
                tfc,
                commissioner: rng.pick(COMMISSIONERS),
                site: main_sites[0],
                ae_id: None,
                patient: self.patient(&mut rng),
            });
        }
        out.spells.sort_by_key(|s| s.admission);
    }

    /// Follow-up clinics outside RTT pathways, and some non-consultant
    /// services with their own referrals.
    pub(super) fn other_outpatients(&self, day: i32, out: &mut Day) {
        let (main_sites, _) = sites(&self.ods);
        let mut rng = self.rng(&[4, day as u64]);
        let weekend = non_working(day);
        let n = rng.poisson(self.scale * if weekend { 0.3 } else { 5.2 });
        for i in 0..n {
            let nurse_led = rng.chance(0.12);
            let tfc = if nurse_led {
                rng.pick(&[("650", 4.0), ("654", 2.0), ("840", 2.0), ("320", 1.0)])
            } else {
                rng.pick(RTT_TFCS)
            };
            let status = rng.pick(&[("5", 80.0), ("6", 5.0), ("3", 7.0), ("2", 4.0), ("4", 4.0)]);
            let first = rng.pick(&[("2", 72.0), ("4", 16.0), ("1", 8.0), ("3", 4.0)]);
            out.op.push(Op {
                id: format!("{}-OP{:07}-{:05}", self.ods, day, i),
                pathway: None,
                day,
                status,
                first,
                tfc,
                source: if rng.chance(0.9) {
                    Some(rng.pick(SOURCES))
                } else {
                    None
                },
                priority: if rng.chance(0.8) { Some("1") } else { None },
                consultant_led: if nurse_led {
                    Some(false)
                } else if rng.chance(0.5) {
                    None
                } else {
                    Some(true)
                },
                commissioner: rng.pick(COMMISSIONERS),
                site: main_sites[rng.below(main_sites.len() as u64) as usize],
                patient: self.patient(&mut rng),
            });
        }
        let r = rng.poisson(self.scale * if weekend { 0.01 } else { 0.05 });
        for i in 0..r {
            out.referrals.push(Referral {
                id: format!("{}-RF{:07}-{:04}", self.ods, day, i),
                pathway: None,
                day,
                source: rng.pick(&[("03", 60.0), ("06", 20.0), ("92", 20.0)]),
                tfc: rng.pick(&[("650", 5.0), ("654", 2.0), ("840", 3.0)]),
                priority: Some("1"),
                commissioner: rng.pick(COMMISSIONERS),
                patient: self.patient(&mut rng),
            });
        }
    }
}
