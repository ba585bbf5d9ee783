//! Load progress: a bar on a terminal, log lines otherwise.

use icsw_ingest::{LoadSummary, Progress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct LoadProgress {
    bar: Option<ProgressBar>,
    current: Mutex<String>,
}

impl LoadProgress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>16} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}) {msg}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b
        });
        LoadProgress {
            bar,
            current: Mutex::new(String::new()),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for LoadProgress {
    fn extract_started(&self, trust: &str, extract_date: &str, rows: u64) {
        let name = format!("{trust} {extract_date}");
        match &self.bar {
            // Each file is read twice: once to check, once to write.
            Some(b) => {
                b.set_prefix(name.clone());
                b.set_length(rows * 2);
                b.set_position(0);
            }
            None => tracing::info!("loading {name} ({rows} rows)"),
        }
        *self.current.lock().expect("lock") = name;
    }

    fn rows(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn extract_finished(&self, s: &LoadSummary) {
        let line = match &s.refusal {
            Some(r) => format!("REFUSED {r}"),
            None => format!(
                "{} load {}: {} read, {} stored, {} quarantined ({} rejected), {} with warnings{}",
                self.current.lock().expect("lock"),
                s.load_id,
                s.rows_read(),
                s.rows_stored(),
                s.rows_quarantined(),
                s.rows_rejected(),
                s.rows_warned(),
                if s.late { ", LATE" } else { "" }
            ),
        };
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }
}
