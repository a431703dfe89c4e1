//! The marker history: a deterministic stretch of one series,
//! `storage_e2e_marker{run="<id>"}`, whose value is a pure function of the
//! run id and the timestamp, so a probe can check exact values anywhere in
//! it without keeping a copy.
//!
//! The shared leaf of `prometheus/`: seeding writes it, snapshots read it
//! back, the judge checks against it. It imports no sibling, so every
//! sibling may import it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Name of the marker metric every seeded history uses.
pub const MARKER_METRIC: &str = "storage_e2e_marker";
/// Default span of a seeded history: a full day, the issue's minimum.
pub const DEFAULT_HOURS: u32 = 24;
/// Spacing of marker samples: Prometheus's default scrape interval, so the
/// seeded blocks look like a day of real scraping.
pub const STEP_SECONDS: i64 = 15;
/// The history ends at least this long before now. Backfilling the last 3 h
/// is not allowed (docs/storage.md "Backfilling"): it would overlap the head.
/// One more hour keeps the rule true while a slow test runs.
pub const MIN_AGE_HOURS: i64 = 4;
/// promtool's default block range (2 h): aligning the history to it gives
/// whole blocks only.
const BLOCK_RANGE_MS: i64 = 2 * 3600 * 1000;
/// Prime modulus of the marker values: keeps them exact integers in an f64.
const VALUE_MODULUS: u64 = 1_000_003;

/// A deterministic stretch of marker history: which run it belongs to, and
/// the half-open time range `[start, end)` sampled every `STEP_SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    run: String,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
}

impl History {
    /// `DEFAULT_HOURS` of history for `run`, ending at least
    /// `MIN_AGE_HOURS` before now. `run` is usually the test's unique name,
    /// so two tests never see each other's markers.
    pub fn new(run: impl Into<String>) -> Self {
        Self::ending_before(run, SystemTime::now(), DEFAULT_HOURS)
    }

    /// `hours` of history (at least 1) for `run`, ending on a 2 h block
    /// boundary at least [`MIN_AGE_HOURS`] before `now`.
    pub(crate) fn ending_before(run: impl Into<String>, now: SystemTime, hours: u32) -> Self {
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let end_ms =
            now_ms.div_euclid(BLOCK_RANGE_MS) * BLOCK_RANGE_MS - MIN_AGE_HOURS * 3600 * 1000;
        let start_ms = end_ms - i64::from(hours.max(1)) * 3600 * 1000;
        Self {
            run: run.into(),
            start_ms,
            end_ms,
            step_ms: STEP_SECONDS * 1000,
        }
    }

    /// The `run` label value.
    pub(crate) fn run(&self) -> &str {
        &self.run
    }

    /// Timestamp of the first sample (ms since the epoch, a whole hour).
    pub(crate) fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// End of the range, exclusive (ms, a whole hour).
    pub(crate) fn end_ms(&self) -> i64 {
        self.end_ms
    }

    /// Timestamp of the last sample (ms).
    pub(crate) fn last_ms(&self) -> i64 {
        self.end_ms - self.step_ms
    }

    /// Spacing of the samples (ms).
    pub(crate) fn step_ms(&self) -> i64 {
        self.step_ms
    }

    /// Whole hours spanned.
    pub(crate) fn hours(&self) -> i64 {
        (self.end_ms - self.start_ms) / 3_600_000
    }

    /// How many samples the history has.
    pub fn samples(&self) -> u64 {
        u64::try_from((self.end_ms - self.start_ms) / self.step_ms).unwrap_or(0)
    }

    /// The PromQL selector of the marker series.
    pub(crate) fn selector(&self) -> String {
        format!(
            "{MARKER_METRIC}{{run=\"{}\"}}",
            escape_label_value(&self.run)
        )
    }

    /// A PromQL expression counting the marker samples queryable in the
    /// whole history, evaluated at [`History::last_ms`]. The range reaches
    /// half a step before the first sample, so it counts the same under
    /// Prometheus 2 (closed ranges) and 3 (left-open ranges).
    pub(crate) fn count_query(&self) -> String {
        let range_ms = self.last_ms() - self.start_ms + self.step_ms / 2;
        format!("count_over_time({}[{range_ms}ms])", self.selector())
    }

    /// The value the marker has at `at_ms`, or `None` when no sample was
    /// seeded there.
    pub(crate) fn value_at(&self, at_ms: i64) -> Option<f64> {
        let inside = (self.start_ms..self.end_ms).contains(&at_ms);
        (inside && (at_ms - self.start_ms) % self.step_ms == 0).then(|| self.value(at_ms))
    }

    /// A value depending only on the run and the timestamp: an exact integer
    /// below [`VALUE_MODULUS`], different for neighbouring samples.
    fn value(&self, at_ms: i64) -> f64 {
        let seed = fnv1a(self.run.as_bytes()) % VALUE_MODULUS;
        let index = u64::try_from(at_ms / self.step_ms).unwrap_or(0);
        let v = (index % VALUE_MODULUS * 7919 + seed) % VALUE_MODULUS;
        // Below 2^20: exact in an f64.
        f64::from(u32::try_from(v).unwrap_or(0))
    }

    /// The timestamps a probe checks: the first and last sample and the
    /// middle of every 2 h block range, so every seeded block is read.
    pub(crate) fn checkpoints(&self) -> Vec<i64> {
        let mut points = vec![self.start_ms, self.last_ms()];
        let mut block = self.start_ms.div_euclid(BLOCK_RANGE_MS) * BLOCK_RANGE_MS;
        while block < self.end_ms {
            let mid = block + BLOCK_RANGE_MS / 2;
            let aligned =
                self.start_ms + (mid - self.start_ms).div_euclid(self.step_ms) * self.step_ms;
            if (self.start_ms..self.end_ms).contains(&aligned) {
                points.push(aligned);
            }
            block += BLOCK_RANGE_MS;
        }
        points.sort_unstable();
        points.dedup();
        points
    }

    /// The history in the OpenMetrics text format promtool reads, ending
    /// with the `# EOF` it requires.
    pub fn openmetrics(&self) -> String {
        let labels = format!("{{run=\"{}\"}}", escape_label_value(&self.run));
        let mut out =
            String::with_capacity(usize::try_from(self.samples()).unwrap_or(0) * 48 + 200);
        out.push_str(&format!(
            "# HELP {MARKER_METRIC} Known values written by storage-e2e to check TSDB blocks survive.\n"
        ));
        out.push_str(&format!("# TYPE {MARKER_METRIC} gauge\n"));
        let mut t = self.start_ms;
        while t < self.end_ms {
            out.push_str(&format!(
                "{MARKER_METRIC}{labels} {} {}\n",
                self.value(t),
                t / 1000
            ));
            t += self.step_ms;
        }
        out.push_str("# EOF\n");
        out
    }

    /// A token safe in a file name, derived from the run id.
    pub(super) fn file_token(&self) -> String {
        let token: String = self
            .run
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(60)
            .collect();
        if token.is_empty() {
            "run".into()
        } else {
            token
        }
    }
}

/// Whether `s` looks like a block ULID (26 Crockford base32 characters), so
/// scratch and `*.tmp-for-*` dirs are never taken for blocks.
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

/// Escape a label value for both OpenMetrics and PromQL double-quoted strings.
pub(super) fn escape_label_value(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// FNV-1a: a stable hash (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn history_spans_whole_hours_and_ends_more_than_three_hours_ago() {
        // 2026-11-22T01:50:00Z
        let now = 1_795_312_200;
        let h = History::ending_before("e2e-x", at(now), 24);
        assert_eq!(h.end_ms() % BLOCK_RANGE_MS, 0);
        assert_eq!(h.start_ms() % 3_600_000, 0);
        assert_eq!(h.hours(), 24);
        assert!(h.end_ms() <= (i64::try_from(now).unwrap() - 3 * 3600) * 1000 - 3_600_000);
        assert_eq!(h.samples(), 24 * 3600 / 15);
        assert_eq!(h.last_ms(), h.end_ms() - 15_000);
        assert_eq!(History::ending_before("x", at(now), 0).hours(), 1);
    }

    #[test]
    fn openmetrics_has_every_sample_in_order_and_ends_with_eof() {
        let h = History::ending_before("e2e-x", at(1_795_312_200), 24);
        let text = h.openmetrics();
        assert!(text.ends_with("# EOF\n"), "promtool requires # EOF last");
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len() as u64, h.samples());
        let first = samples[0];
        assert_eq!(
            first,
            format!(
                "storage_e2e_marker{{run=\"e2e-x\"}} {} {}",
                h.value_at(h.start_ms()).unwrap(),
                h.start_ms() / 1000
            )
        );
        assert!(
            samples
                .last()
                .unwrap()
                .ends_with(&format!(" {}", h.last_ms() / 1000))
        );
    }

    #[test]
    fn values_are_deterministic_per_run_and_only_at_sample_times() {
        let now = at(1_795_312_200);
        let a = History::ending_before("run-a", now, 24);
        let b = History::ending_before("run-b", now, 24);
        let t = a.start_ms() + 15_000 * 7;
        assert_eq!(
            a.value_at(t),
            History::ending_before("run-a", now, 24).value_at(t)
        );
        assert_ne!(a.value_at(t), b.value_at(t));
        assert_ne!(a.value_at(t), a.value_at(t + 15_000));
        assert_eq!(a.value_at(t + 1), None);
        assert_eq!(a.value_at(a.end_ms()), None);
        assert_eq!(a.value_at(a.start_ms() - 15_000), None);
        let v = a.value_at(t).unwrap();
        assert_eq!(v, v.trunc());
    }

    #[test]
    fn checkpoints_hit_every_block_range_and_both_ends() {
        let h = History::ending_before("x", at(1_795_312_200), 24);
        let points = h.checkpoints();
        assert_eq!(points.len(), 12 + 2);
        assert_eq!(points.first(), Some(&h.start_ms()));
        assert_eq!(points.last(), Some(&h.last_ms()));
        assert!(points.iter().all(|p| h.value_at(*p).is_some()));
    }

    #[test]
    fn selector_and_count_query_escape_the_run() {
        let h = History::ending_before("a\"b", at(1_795_312_200), 24);
        assert_eq!(h.selector(), r#"storage_e2e_marker{run="a\"b"}"#);
        let h = History::ending_before("e2e-x", at(1_795_312_200), 24);
        assert_eq!(
            h.count_query(),
            format!(
                "count_over_time(storage_e2e_marker{{run=\"e2e-x\"}}[{}ms])",
                24 * 3_600_000 - 15_000 + 7_500
            )
        );
        assert_eq!(
            History::ending_before("../x y", at(0), 1).file_token(),
            "___x_y"
        );
    }

    #[test]
    fn ulids_are_recognised_and_scratch_dirs_are_not() {
        assert!(is_ulid("01M80F5HEN2FVY524N0NW96HH4"));
        assert!(!is_ulid("01M80F5HEN2FVY524N0NW96HH4.tmp-for-creation"));
        assert!(!is_ulid("chunks_head"));
        assert!(!is_ulid("e2e-seed-e2e-prom-abcdef"));
        assert!(!is_ulid("01m80f5hen2fvy524n0nw96hh4"));
    }
}
