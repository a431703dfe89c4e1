//! Seeding a running Prometheus: a day (or more) of known history
//! ([`History`]), written as TSDB blocks in seconds instead of waiting hours
//! for the head to cut them.
//!
//! Blocks are made by `promtool tsdb create-blocks-from openmetrics` inside
//! the Prometheus container and moved into the data dir, where the next
//! block reload (every minute, tsdb/db.go) or a restart makes them
//! queryable (prometheus/prometheus docs/storage.md "Backfilling"). Everything runs
//! through [`Exec`], so tier 1 (`docker exec`) proves what tier 2 (the kube
//! exec API) runs, and uses only `sh`, `cat`, `mkdir`, `mv`, `rm`, `ls` and
//! `promtool`, which both the busybox-based prom/prometheus image and the
//! Debian stand-in have.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Result;
use crate::exec::Exec;
use crate::prometheus::api::PrometheusProbe;
use crate::prometheus::history::{History, is_ulid};
use crate::wait::{self, Check};

/// How long [`seed_blocks`] waits for the blocks to become queryable: the
/// TSDB reloads blocks every minute (tsdb/db.go), plus slack for a slow node.
pub const BLOCK_RELOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the reload wait asks.
const BLOCK_RELOAD_POLL: Duration = Duration::from_secs(1);

/// What [`write_blocks`] put into the data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// ULIDs of the blocks promtool made (compaction may merge them later).
    pub blocks: Vec<String>,
    /// Size of the OpenMetrics input.
    pub(crate) input_bytes: usize,
    /// How long generating, copying, promtool and the move took.
    pub took: Duration,
}

/// A seeded history that the server has been seen to answer for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seeded {
    /// What was seeded.
    pub history: History,
    /// ULIDs promtool wrote.
    pub blocks: Vec<String>,
    /// Time to write the blocks into the data dir.
    pub written_in: Duration,
    /// Time from the start of seeding until every sample was queryable.
    pub queryable_in: Duration,
}

impl fmt::Display for Seeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {}h of history ({} samples, {} blocks) in {:.1}s; queryable after {:.1}s",
            self.history.hours(),
            self.history.samples(),
            self.blocks.len(),
            self.written_in.as_secs_f64(),
            self.queryable_in.as_secs_f64(),
        )
    }
}

/// Write `history` as TSDB blocks into `data_dir` inside the container:
/// copy the OpenMetrics text in through stdin, run promtool next to the data
/// (same filesystem, so the final `mv` is an atomic rename and a reload never
/// sees half a block), move the blocks in, remove the scratch dir. The
/// blocks are not queryable yet: see [`seed_blocks`] and [`await_queryable`].
///
/// # Errors
/// [`crate::Error::Command`] naming the step (and its stderr) that failed
/// inside the container, e.g. a data dir the exec user cannot write.
pub async fn write_blocks(exec: &dyn Exec, history: &History, data_dir: &str) -> Result<Written> {
    let started = Instant::now();
    let data_dir = data_dir.trim_end_matches('/');
    let work = format!("{data_dir}/e2e-seed-{}", history.file_token());
    let input = format!("{work}/history.om");
    let out = format!("{work}/blocks");
    let text = history.openmetrics();
    exec.exec_ok(
        &[
            "sh",
            "-c",
            r#"rm -rf "$1" && mkdir -p "$1" && cat > "$2""#,
            "sh",
            &work,
            &input,
        ],
        Some(text.as_bytes()),
    )
    .await?;
    exec.exec_ok(
        &[
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            &input,
            &out,
        ],
        None,
    )
    .await?;
    let blocks = list_blocks(exec, &out).await?;
    exec.exec_ok(
        &[
            "sh",
            "-c",
            r#"mv "$1"/* "$2"/ && rm -rf "$3""#,
            "sh",
            &out,
            data_dir,
            &work,
        ],
        None,
    )
    .await?;
    Ok(Written {
        blocks,
        input_bytes: text.len(),
        took: started.elapsed(),
    })
}

/// Wait until every sample of `history` is queryable (the count query
/// answers [`History::samples`]), polling once a second for up to `timeout`.
/// Returns how long it waited.
///
/// # Errors
/// [`crate::Error::Timeout`] with the last count seen (or the last query
/// error).
pub async fn await_queryable(
    probe: &PrometheusProbe<'_>,
    history: &History,
    timeout: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let want = history.samples();
    wait::poll(
        &format!(
            "{} seeded samples of {} to be queryable (next TSDB block reload)",
            want,
            history.selector()
        ),
        timeout,
        BLOCK_RELOAD_POLL,
        || async {
            match probe.marker_count(history).await {
                Ok(Some(n)) if n == want => Check::Ready(()),
                Ok(Some(n)) => Check::NotYet(format!("{n} of {want} samples queryable")),
                Ok(None) => Check::NotYet(format!("no marker samples queryable yet (want {want})")),
                Err(e) => Check::NotYet(format!("query failed: {e}")),
            }
        },
    )
    .await?;
    Ok(started.elapsed())
}

/// Seed `history` into the server behind `probe` without restarting it:
/// [`write_blocks`] through the probe's exec into its data dir, then wait
/// for the next block reload to make the samples queryable (at most
/// `BLOCK_RELOAD_TIMEOUT`). Prints and returns the timings.
///
/// A caller that may restart Prometheus (tier 1) can instead call
/// [`write_blocks`], restart, and [`await_queryable`]: the TSDB opens every
/// block in the data dir at start, which is quicker than the reload.
///
/// # Errors
/// As [`write_blocks`] and [`await_queryable`].
pub async fn seed_blocks(probe: &PrometheusProbe<'_>, history: &History) -> Result<Seeded> {
    let started = Instant::now();
    let written = write_blocks(probe.exec(), history, probe.data_dir()).await?;
    await_queryable(probe, history, BLOCK_RELOAD_TIMEOUT).await?;
    let seeded = Seeded {
        history: history.clone(),
        blocks: written.blocks,
        written_in: written.took,
        queryable_in: started.elapsed(),
    };
    eprintln!("{seeded} (next TSDB block reload)");
    Ok(seeded)
}

/// The block ULIDs in `dir` inside the container.
///
/// # Errors
/// [`crate::Error::Command`] when `ls` fails there.
pub async fn list_blocks(exec: &dyn Exec, dir: &str) -> Result<Vec<String>> {
    let listing = exec.exec_ok(&["ls", "-1", dir], None).await?;
    Ok(listing
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| is_ulid(l))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn seeded_prints_the_figures() {
        let h = History::ending_before("x", at(1_795_312_200), 24);
        let s = Seeded {
            history: h,
            blocks: vec!["a".into(); 12],
            written_in: Duration::from_millis(1234),
            queryable_in: Duration::from_millis(48_000),
        };
        assert_eq!(
            s.to_string(),
            "seeded 24h of history (5760 samples, 12 blocks) in 1.2s; queryable after 48.0s"
        );
    }
}
