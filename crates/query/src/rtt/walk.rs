//! The walk itself: one pathway's events in order, the clock rules of
//! contract section 5 applied, each state of each period written out.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Int32Builder, RecordBatch,
    StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, SchemaRef};
use datafusion::common::Result;
use datafusion::execution::SendableRecordBatchStream;
use icsw_model::rtt::{walk, Event, PeriodState};
use std::collections::VecDeque;
use std::sync::Arc;

use super::*;

/// Rows in each batch the walk puts out.
const OUT_ROWS: usize = 8192;

pub(super) struct OwnedEvent {
    pub(super) id: String,
    pub(super) date: i32,
    pub(super) status: String,
    pub(super) activity: String,
    pub(super) tfc: String,
    pub(super) commissioner: String,
    pub(super) nhs_number: Option<String>,
}

pub(super) struct Walker {
    pub(super) mode: Mode,
    pub(super) schema: SchemaRef,
    pub(super) input: SendableRecordBatchStream,
    pub(super) key: Option<(String, String)>,
    pub(super) extract_day: i32,
    pub(super) events: Vec<OwnedEvent>,
    pub(super) out: Out,
    pub(super) ready: VecDeque<RecordBatch>,
    pub(super) done: bool,
}

/// Output columns being built.
pub(super) struct Out {
    pub(super) rows: usize,
    pub(super) s: Vec<StringBuilder>,
    pub(super) d: Vec<Date32Builder>,
    pub(super) i: Vec<Int32Builder>,
    pub(super) b: Vec<BooleanBuilder>,
}

impl Out {
    pub(super) fn new() -> Self {
        Out {
            rows: 0,
            s: (0..9).map(|_| StringBuilder::new()).collect(),
            d: (0..8).map(|_| Date32Builder::new()).collect(),
            i: (0..2).map(|_| Int32Builder::new()).collect(),
            b: (0..3).map(|_| BooleanBuilder::new()).collect(),
        }
    }
}

impl Walker {
    pub(super) fn new(mode: Mode, schema: SchemaRef, input: SendableRecordBatchStream) -> Self {
        Walker {
            mode,
            schema,
            input,
            key: None,
            extract_day: 0,
            events: Vec::new(),
            out: Out::new(),
            ready: VecDeque::new(),
            done: false,
        }
    }

    pub(super) fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        let text = |i: usize| -> Result<ArrayRef> { Ok(cast(batch.column(i), &DataType::Utf8)?) };
        let (trust, pathway, id) = (text(0)?, text(1)?, text(2)?);
        let (status, activity, tfc, comm) = (text(4)?, text(5)?, text(6)?, text(7)?);
        let nhs = text(9)?;
        let nhs = nhs.as_string::<i32>();
        let dates = batch.column(3).as_primitive::<Date32Type>();
        let extracts = batch.column(8).as_primitive::<Date32Type>();
        let s = |a: &ArrayRef, i: usize| -> String {
            let a = a.as_string::<i32>();
            if a.is_valid(i) {
                a.value(i).to_string()
            } else {
                String::new()
            }
        };
        let (t, p) = (trust.as_string::<i32>(), pathway.as_string::<i32>());
        for r in 0..batch.num_rows() {
            let same = self
                .key
                .as_ref()
                .is_some_and(|(kt, kp)| kt == t.value(r) && kp == p.value(r));
            if !same {
                self.flush_pathway();
                self.key = Some((t.value(r).to_string(), p.value(r).to_string()));
                self.extract_day = extracts.value(r);
            }
            self.events.push(OwnedEvent {
                id: s(&id, r),
                date: dates.value(r),
                status: s(&status, r),
                activity: s(&activity, r),
                tfc: s(&tfc, r),
                commissioner: s(&comm, r),
                nhs_number: nhs.is_valid(r).then(|| nhs.value(r).to_string()),
            });
        }
        self.emit(false)
    }

    /// Walks the pathway gathered so far and appends its rows.
    pub(super) fn flush_pathway(&mut self) {
        let Some((trust, pathway)) = self.key.take() else {
            return;
        };
        let events: Vec<Event<'_>> = self
            .events
            .iter()
            .map(|e| Event {
                event_id: &e.id,
                date: e.date,
                status: &e.status,
                activity: &e.activity,
                treatment_function: &e.tfc,
                commissioner: &e.commissioner,
                nhs_number: e.nhs_number.as_deref(),
            })
            .collect();
        let w = walk(&events);
        let o = &mut self.out;
        match self.mode {
            Mode::History => {
                for (k, st) in w.states.iter().enumerate() {
                    let valid_to = w.states[k + 1..]
                        .iter()
                        .find(|n| n.period_number == st.period_number)
                        .map(|n| n.valid_from);
                    append_state(o, &trust, &pathway, st, valid_to, self.extract_day);
                }
            }
            Mode::Findings => {
                for f in &w.findings {
                    o.s[0].append_value(&trust);
                    o.s[1].append_value(&pathway);
                    o.s[2].append_value(&f.event_id);
                    o.d[0].append_value(f.date);
                    o.s[3].append_value(f.code.code());
                    o.i[0].append_option(f.period_number.map(|p| p as i32));
                    o.d[1].append_value(self.extract_day);
                    o.rows += 1;
                }
            }
        }
        self.events.clear();
    }

    pub(super) fn emit(&mut self, all: bool) -> Result<()> {
        if self.out.rows == 0 || (!all && self.out.rows < OUT_ROWS) {
            return Ok(());
        }
        let o = std::mem::replace(&mut self.out, Out::new());
        let mut o = o;
        let cols: Vec<ArrayRef> = match self.mode {
            Mode::History => vec![
                Arc::new(o.s[0].finish()),
                Arc::new(o.s[1].finish()),
                Arc::new(o.i[0].finish()),
                Arc::new(o.d[0].finish()),
                Arc::new(o.d[1].finish()),
                Arc::new(o.d[2].finish()),
                Arc::new(o.b[0].finish()),
                Arc::new(o.s[2].finish()),
                Arc::new(o.s[3].finish()),
                Arc::new(o.d[3].finish()),
                Arc::new(o.s[4].finish()),
                Arc::new(o.b[1].finish()),
                Arc::new(o.b[2].finish()),
                Arc::new(o.d[4].finish()),
                Arc::new(o.s[5].finish()),
                Arc::new(o.s[6].finish()),
                Arc::new(o.d[5].finish()),
                Arc::new(o.i[1].finish()),
                Arc::new(o.d[6].finish()),
                Arc::new(o.s[7].finish()),
            ],
            Mode::Findings => vec![
                Arc::new(o.s[0].finish()),
                Arc::new(o.s[1].finish()),
                Arc::new(o.s[2].finish()),
                Arc::new(o.d[0].finish()),
                Arc::new(o.s[3].finish()),
                Arc::new(o.i[0].finish()),
                Arc::new(o.d[1].finish()),
            ],
        };
        self.ready
            .push_back(RecordBatch::try_new(self.schema.clone(), cols)?);
        Ok(())
    }
}

pub(super) fn append_state(
    o: &mut Out,
    trust: &str,
    pathway: &str,
    st: &PeriodState,
    valid_to: Option<i32>,
    extract_day: i32,
) {
    o.s[0].append_value(trust);
    o.s[1].append_value(pathway);
    o.i[0].append_value(st.period_number as i32);
    o.d[0].append_value(st.valid_from);
    o.d[1].append_option(valid_to);
    o.d[2].append_option(st.clock_start);
    o.b[0].append_value(st.clock_start.is_some());
    o.s[2].append_value(&st.start_event_id);
    o.s[3].append_value(st.status.code());
    o.d[3].append_option(st.clock_stop);
    o.s[4].append_option(st.stop_status.as_deref());
    o.b[1].append_value(st.admitted);
    o.b[2].append_value(st.has_decision_to_admit);
    o.d[4].append_option(st.transfer_date);
    o.s[5].append_value(&st.treatment_function);
    o.s[6].append_value(&st.commissioner);
    o.d[5].append_value(st.last_event_date);
    o.i[1].append_value(st.event_count as i32);
    o.d[6].append_value(extract_day);
    o.s[7].append_option(st.nhs_number.as_deref());
    o.rows += 1;
}
