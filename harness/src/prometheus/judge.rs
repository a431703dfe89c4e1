//! [`compare`]: a before/after pair of [`Snapshot`]s judged into a
//! [`Judgement`] that names the part that was lost (`blocks`, `head/wal`,
//! or both), tolerating compaction: coverage and values must hold, block
//! ULIDs are only reported.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::prometheus::blocks::BlockInfo;
use crate::prometheus::head::{Head, HeadCount};
use crate::prometheus::snapshot::{MarkerValue, Read, ReadError, Snapshot};
use crate::vocab::{Judgement, Part, PartKind, Verdict};

/// Judge `after` against `before` and the seeded history.
///
/// - `blocks` is lost when the blocks no longer cover the seeded range, or
///   fewer marker samples are queryable than were seeded, or a checkpoint
///   has no value, or Prometheus answered a marker read with a storage
///   error (a block that is there but cannot be read; the error is the
///   evidence); changed when a checkpoint answers another value.
///   Compaction merging blocks is fine: ULID identity goes into the details
///   only (kept, merged into newer blocks by compaction, or gone).
/// - `head/wal` is lost when the exact head sample recorded before is gone,
///   or its series has fewer samples over the before snapshot's window than
///   it had (both counts are the evidence), or a head read answered a
///   storage error; changed when the sample answers another value or the
///   window holds more samples than before (the head never gains past
///   samples). Either is lost "already missing before the disruption" when
///   the before snapshot has no sample or no count to compare with.
///
/// `recovery` (from [`PrometheusProbe::wait_ready`]) is carried into the
/// judgement. The details also show clean_start, the data dir owner and the
/// head range before and after.
///
/// [`PrometheusProbe::wait_ready`]: crate::prometheus::PrometheusProbe::wait_ready
pub fn compare(before: &Snapshot, after: &Snapshot, recovery: Option<Duration>) -> Judgement {
    let mut f = Findings::default();
    judge_blocks(before, after, &mut f);
    f.details.push(ulid_identity(before, after));
    judge_head(before, after, &mut f);
    f.details.push(format!(
        "head range: before {}, after {}",
        show_head(&before.head),
        show_head(&after.head)
    ));
    f.details.push(format!(
        "prometheus_tsdb_clean_start: before {}, after {} (-1 no lock file, 0 previous lock file replaced = unclean stop, 1 clean)",
        show_opt(before.clean_start),
        show_opt(after.clean_start)
    ));
    let owner = if before.data_dir_owner == after.data_dir_owner {
        format!("data dir owner: {}", after.data_dir_owner)
    } else {
        format!(
            "data dir owner changed: {} -> {}",
            before.data_dir_owner, after.data_dir_owner
        )
    };
    f.details.push(owner);
    for e in &before.read_errors {
        f.details.push(format!(
            "{}: unreadable before the disruption: {e}",
            e.read.part()
        ));
    }
    f.into_judgement(recovery)
}

/// What the part checks of [`compare`] found.
#[derive(Debug, Default)]
struct Findings {
    lost: Vec<Part>,
    changed: Vec<Part>,
    details: Vec<String>,
}

impl Findings {
    /// Report `part` lost: once per kind, the later checks' evidence added
    /// to the first's (a part already missing before stays marked so).
    fn lose(&mut self, part: Part) {
        match self.lost.iter_mut().find(|p| p.kind == part.kind) {
            Some(had) => {
                had.missing_before |= part.missing_before;
                if let Some(e) = part.evidence {
                    had.add_evidence(e);
                }
            }
            None => self.lost.push(part),
        }
    }

    /// The head part as the before snapshot left it unchecked: lost, marked
    /// missing before (a seed that never took must not pass as survived).
    fn missing_before(&mut self, why: &str) {
        self.lose(
            Part::new(PartKind::HeadWal)
                .missing_before()
                .with_evidence(why),
        );
        self.details.push(format!("{}: {why}", PartKind::HeadWal));
    }

    fn into_judgement(self, recovery: Option<Duration>) -> Judgement {
        Judgement {
            verdict: Verdict::of(self.lost, self.changed),
            details: self.details,
            recovery,
        }
    }
}

/// The blocks, judged against the history itself, so a before snapshot
/// that already missed data cannot hide a loss.
// Over 80 lines: the blocks judged in one pass over the history (coverage,
// values, ULID identity), each finding written against the same counts;
// split, the pieces would pass the same five counters around.
fn judge_blocks(before: &Snapshot, after: &Snapshot, f: &mut Findings) {
    let h = &before.history;
    let want = h.samples();
    // Blocks end 1 ms after their last sample, so neighbouring blocks leave
    // gaps shorter than a step: only gaps holding a sample time count.
    let gaps: Vec<(i64, i64)> = coverage_gaps(&after.blocks, h.start_ms(), h.last_ms() + 1)
        .into_iter()
        .filter(|(lo, hi)| {
            let first = h.start_ms()
                + (lo - h.start_ms() + h.step_ms() - 1).div_euclid(h.step_ms()) * h.step_ms();
            first < *hi
        })
        .collect();
    let unreadable: Vec<&ReadError> = after
        .read_errors
        .iter()
        .filter(|e| e.read.part() == PartKind::Blocks)
        .collect();
    let count_unreadable = unreadable.iter().any(|e| e.read == Read::MarkerCount);
    let unread: BTreeSet<i64> = unreadable
        .iter()
        .filter_map(|e| match e.read {
            Read::MarkerValue { at_ms } => Some(at_ms),
            _ => None,
        })
        .collect();
    let missing: Vec<i64> = after
        .marker_values
        .iter()
        .filter(|m| m.found.is_none() && !unread.contains(&m.at_ms))
        .map(|m| m.at_ms)
        .collect();
    let wrong: Vec<&MarkerValue> = after
        .marker_values
        .iter()
        .filter(|m| m.found.is_some_and(|f| f != m.expected))
        .collect();
    let count = after.marker_count.unwrap_or(0);
    let counted = if count_unreadable {
        format!(
            "the count of seeded samples of {} is unreadable",
            h.selector()
        )
    } else {
        format!(
            "{count} of {want} seeded samples of {} queryable",
            h.selector()
        )
    };
    let checkpoints = after.marker_values.len();
    let mut answered = format!(
        "{} of {checkpoints} checkpoints answer the seeded value",
        checkpoints - missing.len() - wrong.len() - unread.len(),
    );
    if !unread.is_empty() {
        answered.push_str(&format!(" ({} unreadable)", unread.len()));
    }
    let metadata = if gaps.is_empty() {
        format!(
            "block metadata ({:?}) covers the seeded range",
            after.block_source
        )
    } else {
        format!(
            "block metadata ({:?}) misses {}",
            after.block_source,
            show_ranges(&gaps)
        )
    };
    f.details
        .push(format!("blocks: {counted}; {answered}; {metadata}"));
    if before.marker_count != Some(want) {
        f.details.push(format!(
            "blocks: before the disruption only {} of {want} samples were queryable (seed incomplete)",
            before.marker_count.unwrap_or(0)
        ));
    }
    for e in &unreadable {
        f.details
            .push(format!("{}: unreadable: {e}", PartKind::Blocks));
    }
    if !gaps.is_empty() || !unreadable.is_empty() || count != want || !missing.is_empty() {
        f.lose(Part::new(PartKind::Blocks).with_evidence(format!("{counted}; {answered}")));
    } else if !wrong.is_empty() {
        f.changed.push(
            Part::new(PartKind::Blocks).with_evidence(
                wrong
                    .iter()
                    .map(|m| {
                        format!(
                            "at {} {} -> {}",
                            m.at_ms,
                            m.expected,
                            m.found.unwrap_or(f64::NAN)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
    }
}

/// The head: its exact sample, then its sample count over the window.
fn judge_head(before: &Snapshot, after: &Snapshot, f: &mut Findings) {
    let Some(b) = &before.head.sample else {
        f.missing_before("no head sample was recorded before the disruption");
        return;
    };
    let sample_unreadable = after.read_errors.iter().any(|e| e.read == Read::HeadSample);
    match &after.head.sample {
        Some(a) if a.value == b.value => f.details.push(format!(
            "head/wal: sample {} @{} = {} still there",
            show_labels(&b.labels),
            b.at_ms,
            b.value
        )),
        Some(a) => f
            .changed
            .push(Part::new(PartKind::HeadWal).with_evidence(format!(
                "sample {} @{} {} -> {}",
                show_labels(&b.labels),
                b.at_ms,
                b.value,
                a.value
            ))),
        None => {
            let what = if sample_unreadable {
                format!("sample {} @{} unreadable", show_labels(&b.labels), b.at_ms)
            } else {
                format!(
                    "sample {} @{} = {} is gone",
                    show_labels(&b.labels),
                    b.at_ms,
                    b.value
                )
            };
            if !sample_unreadable {
                f.details.push(format!("{}: {what}", PartKind::HeadWal));
            }
            f.lose(Part::new(PartKind::HeadWal).with_evidence(what));
        }
    }
    judge_head_count(before, after, f);
    for e in after
        .read_errors
        .iter()
        .filter(|e| e.read.part() == PartKind::HeadWal)
    {
        f.details
            .push(format!("{}: unreadable: {e}", PartKind::HeadWal));
    }
}

/// The head series' samples over the before window: fewer after is a loss
/// of part of the head the exact sample cannot see (a WAL segment replayed
/// around, a torn segment), more is a change.
fn judge_head_count(before: &Snapshot, after: &Snapshot, f: &mut Findings) {
    let Some((b, had)) = before
        .head
        .count
        .as_ref()
        .and_then(|c| c.samples.map(|n| (c, n)))
    else {
        f.missing_before("no sample count was recorded before the disruption");
        return;
    };
    let series = show_labels(&b.labels);
    let window = b.window();
    let had_samples = show_samples(had);
    let has = after
        .head
        .count
        .as_ref()
        .filter(|a| (a.from_ms, a.to_ms) == (b.from_ms, b.to_ms))
        .and_then(|a| a.samples);
    match has {
        Some(n) if n == had => f.details.push(format!(
            "head/wal: {series}: {had_samples} before and after over {window}"
        )),
        Some(n) if n > had => f
            .changed
            .push(Part::new(PartKind::HeadWal).with_evidence(format!(
                "{series}: {had_samples} before, {n} after over {window}"
            ))),
        Some(n) => {
            let counts = format!("{series}: {had_samples} before, {n} after over {window}");
            f.details.push(format!("{}: {counts}", PartKind::HeadWal));
            f.lose(
                Part::new(PartKind::HeadWal).with_evidence(format!("{counts} ({} lost)", had - n)),
            );
        }
        None => {
            let counts =
                format!("{series}: {had_samples} before, none countable after over {window}");
            f.details.push(format!("{}: {counts}", PartKind::HeadWal));
            f.lose(Part::new(PartKind::HeadWal).with_evidence(counts));
        }
    }
}

/// The parts of `[start, end)` no block covers.
pub(super) fn coverage_gaps(blocks: &[BlockInfo], start: i64, end: i64) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = blocks
        .iter()
        .filter(|b| b.max_time > start && b.min_time < end)
        .map(|b| (b.min_time, b.max_time))
        .collect();
    spans.sort_unstable();
    let mut gaps = Vec::new();
    let mut covered_to = start;
    for (lo, hi) in spans {
        if lo > covered_to {
            gaps.push((covered_to, lo.min(end)));
        }
        covered_to = covered_to.max(hi);
        if covered_to >= end {
            break;
        }
    }
    if covered_to < end {
        gaps.push((covered_to, end));
    }
    gaps
}

/// Which of the seeded-range blocks seen before are still there, merged
/// into newer blocks by compaction (all their sources inside one block
/// after), or gone.
fn ulid_identity(before: &Snapshot, after: &Snapshot) -> String {
    let h = &before.history;
    let seeded = |b: &&BlockInfo| b.max_time > h.start_ms() && b.min_time < h.end_ms();
    let after_ids: BTreeSet<&str> = after.blocks.iter().map(|b| b.ulid.as_str()).collect();
    let (mut kept, mut merged, mut gone) = (0, 0, Vec::new());
    let before_blocks: Vec<&BlockInfo> = before.blocks.iter().filter(seeded).collect();
    for b in &before_blocks {
        if after_ids.contains(b.ulid.as_str()) {
            kept += 1;
        } else if !b.sources.is_empty()
            && after
                .blocks
                .iter()
                .any(|a| b.sources.iter().all(|s| a.sources.contains(s)))
        {
            merged += 1;
        } else {
            gone.push(b.ulid.as_str());
        }
    }
    let after_count = after.blocks.iter().filter(seeded).count();
    let mut line = format!(
        "block ULIDs in the seeded range: {} before, {after_count} after; {kept} kept, {merged} merged by compaction, {} gone",
        before_blocks.len(),
        gone.len()
    );
    if !gone.is_empty() {
        line.push_str(&format!(" ({})", gone.join(", ")));
    }
    line
}

// How a judgement (and a cell's progress) shows a head count's window;
// here, next to the other `show_*` helpers.
impl HeadCount {
    /// The window in words: `[from, to] ms (span)`.
    pub(crate) fn window(&self) -> String {
        format!(
            "[{}, {}] ms ({})",
            self.from_ms,
            self.to_ms,
            show_span(self.to_ms - self.from_ms)
        )
    }
}

fn show_ranges(ranges: &[(i64, i64)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| format!("[{a}, {b}) ms ({:.1}h)", (b - a) as f64 / 3_600_000.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_labels(labels: &BTreeMap<String, String>) -> String {
    let name = labels.get("__name__").map_or("", String::as_str);
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

fn show_head(head: &Head) -> String {
    match (head.min_time, head.max_time) {
        (Some(a), Some(b)) => format!("[{a}, {b}] ms, {} series", head.num_series),
        _ => "empty".into(),
    }
}

/// `1 sample`, `41 samples`.
pub(super) fn show_samples(n: u64) -> String {
    if n == 1 {
        "1 sample".into()
    } else {
        format!("{n} samples")
    }
}

/// A duration in ms as `90 s`, `12.5 min` or `3.2 h`.
pub(super) fn show_span(ms: i64) -> String {
    let s = ms as f64 / 1000.0;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

fn show_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "absent".into(), |v| v.to_string())
}
