//! One line per step with the elapsed time, so a person watching `make e2e`
//! knows what each cell is waiting for:
//!
//! ```text
//! [   12.3s] nfs-static/pod-delete: waiting for prometheus ready
//! ```
//!
//! Lines go straight to the process's stderr (not through `eprintln!`,
//! which the test harness captures), so they show live while the tests
//! run in parallel; each line is written whole, so lines from parallel
//! cells do not interleave mid-line. The lines are also kept, for the
//! failure report.

use std::fmt::Display;
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Progress of one cell (or any long task), labelled e.g. `nfs-static/pod-delete`.
#[derive(Debug)]
pub struct Progress {
    label: String,
    started: Instant,
    lines: Mutex<Vec<String>>,
}

impl Progress {
    /// Start the clock for `label`.
    pub fn new(label: impl Display) -> Self {
        Self {
            label: label.to_string(),
            started: Instant::now(),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Print and remember one step, e.g. `progress.step("waiting for prometheus ready")`.
    pub fn step(&self, what: impl Display) {
        let line = format_line(self.started.elapsed(), &self.label, &what.to_string());
        {
            let mut err = std::io::stderr().lock();
            // Progress output is best effort: a closed stderr must not fail a cell.
            let _ = err.write_all(format!("{line}\n").as_bytes());
            let _ = err.flush();
        }
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    /// Time since [`Progress::new`].
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The label given to [`Progress::new`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Every line printed so far, for the failure report.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The exact line format: elapsed seconds right-aligned to a tenth, label, step.
pub fn format_line(elapsed: Duration, label: &str, what: &str) -> String {
    format!("[{:>7.1}s] {label}: {what}", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        assert_eq!(
            format_line(
                Duration::from_millis(12_345),
                "nfs-static/pod-delete",
                "waiting for prometheus ready"
            ),
            "[   12.3s] nfs-static/pod-delete: waiting for prometheus ready"
        );
        assert_eq!(
            format_line(Duration::from_secs(1234), "x", "y"),
            "[ 1234.0s] x: y"
        );
    }

    #[test]
    fn steps_are_kept_in_order() {
        let p = Progress::new("host-path/node-stop");
        p.step("stopping kind-worker2");
        p.step(format_args!("waiting {}s for eviction", 30));
        let lines = p.lines();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].ends_with("host-path/node-stop: stopping kind-worker2"),
            "{lines:?}"
        );
        assert!(lines[1].ends_with("waiting 30s for eviction"), "{lines:?}");
        assert_eq!(p.label(), "host-path/node-stop");
    }
}
