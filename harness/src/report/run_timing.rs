//! Where a run's time went beyond each cell's own phases: the cluster
//! coming up, the images loaded into its nodes, and the cells' wall time
//! (cells run side by side, so it is not their sum). The run writes them
//! as timing notes (resources.rs); the report across minors reads them
//! back and sets the minors side by side.

use std::fmt::Write as _;
use std::time::Duration;

const CLUSTER_UP: &str = "timing: cluster up with every node Ready in ";
const CELLS_RAN: &str = "timing: the cells ran for ";

const CPU_BUSY: &str = "the machine's CPUs were busy ";
const IO_WAIT: &str = " and waiting for I/O ";

/// The note a run ends with: how long its cells ran once the cluster was
/// up with its images loaded, and how busy they kept the machine's CPUs
/// and waiting for I/O (what decides whether more cells at once would
/// help), in percent.
pub(crate) fn cells_ran_note(d: Duration, cpu: Option<(f64, f64)>) -> String {
    let mut n = format!(
        "{CELLS_RAN}{:.1}s after the cluster was up with its images loaded",
        d.as_secs_f64()
    );
    if let Some((busy, io)) = cpu {
        let _ = write!(n, "; {CPU_BUSY}{busy:.0}%{IO_WAIT}{io:.0}% of that time");
    }
    n
}

/// One run's timing, from its notes (`None` where a note is missing: a
/// run on an existing cluster loads no images, a run that stopped early
/// has no cells figure).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunTiming {
    /// Seconds until every node was Ready.
    pub cluster_up: Option<f64>,
    /// Images loaded into the nodes, and the seconds it took.
    pub images: Option<(u32, f64)>,
    /// The cells' wall time, seconds.
    pub cells: Option<f64>,
    /// How busy the machine's CPUs were meanwhile, percent.
    pub cpu_busy: Option<f64>,
    /// How much of their time they waited for I/O meanwhile, percent.
    pub io_wait: Option<f64>,
}

/// Read a run's timing from its notes (also when each note carries a
/// prefix, as the report across minors keeps them).
pub fn run_timing(notes: &[String]) -> RunTiming {
    let secs = |s: &str| {
        s.split('s')
            .next()
            .and_then(|n| n.trim().parse::<f64>().ok())
    };
    let mut t = RunTiming::default();
    for n in notes {
        if let Some((_, rest)) = n.split_once(CLUSTER_UP) {
            t.cluster_up = secs(rest);
            // "...in 36.3s; 4 images loaded into its nodes in 35.4s"
            if let Some((_, loaded)) = rest.split_once("; ") {
                let count = loaded
                    .split_whitespace()
                    .next()
                    .and_then(|c| c.parse().ok());
                let took = loaded.rsplit_once(" in ").and_then(|(_, s)| secs(s));
                t.images = count.zip(took);
            }
        } else if let Some((_, rest)) = n.split_once(CELLS_RAN) {
            t.cells = secs(rest);
            let pct = |key: &str| {
                rest.split_once(key)
                    .and_then(|(_, b)| b.split('%').next()?.trim().parse().ok())
            };
            t.cpu_busy = pct(CPU_BUSY);
            t.io_wait = pct(IO_WAIT);
        }
    }
    t
}

/// The per-minor table: cluster up, images loaded, the cells' wall time,
/// and the three together.
pub fn render_run_timings(runs: &[(String, RunTiming)]) -> String {
    let mut w = String::new();
    if runs.is_empty() {
        return w;
    }
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.0}"));
    let _ = writeln!(w, "\n## Where the time went, per minor (seconds)\n");
    let _ = writeln!(
        w,
        "| minor | cluster up | images loaded into the nodes | cells (wall) | together | while the cells ran: CPUs busy, waiting for I/O |"
    );
    let _ = writeln!(w, "|---|:-:|:-:|:-:|:-:|:-:|");
    for (minor, t) in runs {
        let images = t
            .images
            .map_or_else(|| "-".to_owned(), |(n, s)| format!("{s:.0} ({n} images)"));
        let together = match (t.cluster_up, t.images, t.cells) {
            (Some(u), Some((_, l)), Some(c)) => Some(u + l + c),
            _ => None,
        };
        let busy = match (t.cpu_busy, t.io_wait) {
            (Some(b), Some(io)) => format!("{b:.0} %, {io:.0} %"),
            (Some(b), None) => format!("{b:.0} %, -"),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            w,
            "| {minor} | {} | {images} | {} | {} | {busy} |",
            fmt(t.cluster_up),
            fmt(t.cells),
            fmt(together)
        );
    }
    let _ = writeln!(
        w,
        "\nNot counted: building a node image or an app image the first time \
         (cached after), and compiling the harness."
    );
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_timing_notes_read_back_with_or_without_a_prefix() {
        let notes = vec![
            "kind node image local/storage-e2e-kind-node:v1.35.8: built offline".to_owned(),
            "r/1.35/report.json: timing: cluster up with every node Ready in 36.3s; 4 images \
             loaded into its nodes in 35.4s"
                .to_owned(),
            cells_ran_note(Duration::from_millis(911_670), Some((83.4, 9.6))),
        ];
        let t = run_timing(&notes);
        assert_eq!(
            t,
            RunTiming {
                cluster_up: Some(36.3),
                images: Some((4, 35.4)),
                cells: Some(911.7),
                cpu_busy: Some(83.0),
                io_wait: Some(10.0),
            }
        );
        assert_eq!(run_timing(&[]), RunTiming::default());
        let table =
            render_run_timings(&[("1.35".into(), t), ("1.34".into(), RunTiming::default())]);
        assert!(
            table.contains("| 1.35 | 36 | 35 (4 images) | 912 | 983 | 83 %, 10 % |"),
            "{table}"
        );
        assert!(table.contains("| 1.34 | - | - | - | - | - |"), "{table}");
        let older = run_timing(&[cells_ran_note(Duration::from_secs(10), None)]);
        assert_eq!((older.cells, older.cpu_busy), (Some(10.0), None));
        let busy_only = run_timing(&[
            "timing: the cells ran for 5.0s after; the machine's CPUs were busy 54% of that time"
                .into(),
        ]);
        assert_eq!((busy_only.cpu_busy, busy_only.io_wait), (Some(54.0), None));
    }
}
