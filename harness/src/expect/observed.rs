//! What cells were seen to do on real clusters, kept beside the predictions
//! so docs/expectations.md can say, cell by cell, whether an outcome was
//! observed or is still only predicted.
//!
//! The record (`docs/observed.json`) is made from the reports of real runs
//! by `cargo run -q -- observed <report.json>...` (`make observed`), never
//! by hand: each run adds its date, Kubernetes minor, provider and, per
//! cell, the Prometheus outcome and reasons it saw and the first finding of
//! the cell's timeline (the line that shows why). Whether an observation
//! agrees is decided when the table is rendered, against the table as it is
//! then, so a changed prediction is checked against every run on record.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{Outcome, expected};
use crate::error::{Error, Result};
use crate::vocab::{Cell, Reason};

/// The checked-in record, embedded so the rendered table is a pure function.
const RECORD: &str = include_str!("../../../docs/observed.json");
/// Its path from the repository root, for the command that updates it.
pub const RECORD_PATH: &str = "docs/observed.json";

/// Every run recorded, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The runs.
    pub(crate) runs: Vec<Run>,
}

/// One run's cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    /// When (UTC date).
    pub(crate) date: String,
    /// Where, in a few words (e.g. `2-core Linux, offline kind`).
    pub(crate) host: String,
    /// Cells by `variant/disruption on provider`.
    pub(crate) cells: BTreeMap<String, Seen>,
}

/// What one cell showed in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Seen {
    /// The cluster's Kubernetes minor.
    pub(crate) k8s: String,
    /// Prometheus's observed outcome.
    pub(crate) prometheus: Outcome,
    /// The reasons the timeline showed for Prometheus.
    #[serde(default)]
    pub(crate) reasons: Vec<Reason>,
    /// The first finding of the cell's timeline, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seen: Option<String>,
    /// Set when the harness was later found not to have done what the
    /// cell claims in this run (a fault that did not happen as described):
    /// why, and what fixed it. The observation stays on record and is
    /// shown, but no longer counts for or against the table. Set only by
    /// `storage-e2e discount` (make discount), never by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) harness_fault: Option<String>,
}

impl Record {
    /// The checked-in record.
    ///
    /// # Panics
    /// Never in a build whose tests pass: a tier-0 test parses it.
    pub(crate) fn checked_in() -> Self {
        serde_json::from_str(RECORD).unwrap_or_default()
    }

    /// Parse a record (the contents of [`RECORD_PATH`]).
    ///
    /// # Errors
    /// [`Error::Parse`] naming the file.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::Parse {
            what: RECORD_PATH.into(),
            message: e.to_string(),
        })
    }

    /// The record as the checked-in file holds it (pretty JSON, newline at the end).
    pub fn to_json(&self) -> String {
        let mut out = serde_json::to_string_pretty(self).unwrap_or_default();
        out.push('\n');
        out
    }

    /// Today's date (UTC), as runs are dated.
    pub fn today() -> String {
        k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y-%m-%d")
            .to_string()
    }

    /// Add the runs of a harness report (`target/e2e-report/report.json`,
    /// or make matrix's over several minors: one run per minor): its cells
    /// that ran (not the ignored, not those that errored before judging).
    /// Returns how many cells were recorded.
    ///
    /// # Errors
    /// [`Error::Parse`] when `report` is not a harness report.
    pub fn add_report(&mut self, report: &str, date: &str, host: &str) -> Result<usize> {
        let parse = |message: String| Error::Parse {
            what: "a harness report.json".into(),
            message,
        };
        let v: serde_json::Value =
            serde_json::from_str(report).map_err(|e| parse(e.to_string()))?;
        let cells = v["cells"]
            .as_array()
            .ok_or_else(|| parse("no `cells` array".into()))?;
        // One run per Kubernetes minor: a report over several minors (make
        // matrix) holds the same cell once per minor, and a run holds each
        // cell once.
        let mut runs: BTreeMap<String, Run> = BTreeMap::new();
        for c in cells {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
            let Some(outcome) = c["observed"]["prometheus"].get("outcome") else {
                continue;
            };
            let what = |e: serde_json::Error| {
                parse(format!("cell {}/{}: {e}", s("variant"), s("disruption")))
            };
            let outcome: Outcome = serde_json::from_value(outcome.clone()).map_err(what)?;
            let reasons: Vec<Reason> =
                serde_json::from_value(c["observed"]["prometheus"]["reasons"].clone())
                    .unwrap_or_default();
            let key = format!("{}/{} on {}", s("variant"), s("disruption"), s("provider"));
            let run = runs.entry(s("k8s_version")).or_insert_with(|| Run {
                date: date.into(),
                host: host.into(),
                cells: BTreeMap::new(),
            });
            run.cells.insert(
                key,
                Seen {
                    k8s: s("k8s_version"),
                    prometheus: outcome,
                    reasons,
                    seen: c["findings"][0].as_str().map(str::to_owned),
                    harness_fault: None,
                },
            );
        }
        let n = runs.values().map(|r| r.cells.len()).sum();
        self.runs.extend(runs.into_values());
        Ok(n)
    }

    /// Mark the observations of `cell` (`variant/disruption on provider`)
    /// made on `date` with outcome `outcome` (its label, e.g. `survives`)
    /// as made by a faulty harness, for `why`; returns how many.
    ///
    /// # Errors
    /// [`Error::Cannot`] when none matches (naming what the record holds
    /// for the cell), so a typo never passes silently.
    pub fn discount(&mut self, cell: &str, date: &str, outcome: &str, why: &str) -> Result<usize> {
        let mut held = Vec::new();
        let mut n = 0;
        for run in &mut self.runs {
            let Some(s) = run.cells.get_mut(cell) else {
                continue;
            };
            held.push(format!("{} {}", run.date, s.prometheus.label()));
            if run.date == date && s.prometheus.label() == outcome {
                s.harness_fault = Some(why.to_owned());
                n += 1;
            }
        }
        if n == 0 {
            return Err(Error::Cannot {
                action: format!("discount {cell} seen {outcome} on {date}"),
                why: format!("the record holds for that cell: [{}]", held.join(", ")),
            });
        }
        Ok(n)
    }

    /// One line for `cell`'s row in docs/expectations.md: the outcomes
    /// seen, on which minors, when, and how often, with any that the table
    /// does not accept marked CONTRADICTED; or "predicted only".
    pub(crate) fn summary(&self, cell: Cell) -> String {
        let key = cell.to_string();
        let want = expected(cell.variant, cell.disruption, cell.provider).prometheus;
        let all: Vec<(&Run, &Seen)> = self
            .runs
            .iter()
            .filter_map(|r| r.cells.get(&key).map(|s| (r, s)))
            .collect();
        let (discounted, seen): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|(_, s)| s.harness_fault.is_some());
        let faults: String = discounted
            .iter()
            .map(|(r, s)| {
                format!(
                    "; not counted: {} {} on {} ({}), harness fault: {}",
                    s.prometheus.symbol(),
                    s.prometheus.label(),
                    s.k8s,
                    r.date,
                    s.harness_fault.as_deref().unwrap_or_default()
                )
            })
            .collect();
        if seen.is_empty() {
            return format!("predicted only{faults}");
        }
        // Group by outcome and whether it matched, in first-seen order.
        let mut groups: Vec<(String, bool, Vec<&str>, Vec<&str>)> = Vec::new();
        for (run, s) in &seen {
            let label = format!("{} {}", s.prometheus.symbol(), s.prometheus.label());
            let matched = want.accepts(&s.prometheus, &s.reasons);
            match groups.iter_mut().find(|g| g.0 == label && g.1 == matched) {
                Some(g) => {
                    if !g.2.contains(&s.k8s.as_str()) {
                        g.2.push(&s.k8s);
                    }
                    if !g.3.contains(&run.date.as_str()) {
                        g.3.push(&run.date);
                    }
                }
                None => groups.push((label, matched, vec![&s.k8s], vec![&run.date])),
            }
        }
        let mut out = format!("{} run(s): ", seen.len());
        for (i, (label, matched, minors, dates)) in groups.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            let _ = write!(
                out,
                "{}{label} on {} ({})",
                if *matched { "" } else { "CONTRADICTED: " },
                minors.join(", "),
                dates.join(", ")
            );
        }
        out + &faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A discounted observation is shown with its reason and no longer
    /// marks the cell CONTRADICTED; a discount that matches nothing is
    /// refused, naming what the record holds.
    #[test]
    fn a_harness_fault_is_shown_but_not_counted() {
        let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
        let mut r = Record::default();
        r.add_report(REPORT, "2026-12-01", "h")
            .unwrap_or_else(|e| panic!("{e}"));
        r.add_report(
            &REPORT.replace(r#""outcome": "lost", "what": "blocks, head/wal", "parts": [{"kind": "blocks"}, {"kind": "head/wal"}]"#, r#""outcome": "survives""#),
            "2026-12-02",
            "h",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.summary(cell).contains("CONTRADICTED: ✔ survives"),
            "{}",
            r.summary(cell)
        );
        let key = cell.to_string();
        let e = r
            .discount(&key, "2026-12-03", "survives", "x")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_ref().is_some_and(|e| e.contains("2026-12-01 lost") && e.contains("2026-12-02 survives")),
            "{e:?}"
        );
        assert_eq!(
            r.discount(&key, "2026-12-02", "survives", "the fault missed")
                .ok(),
            Some(1)
        );
        let line = r.summary(cell);
        assert!(!line.contains("CONTRADICTED"), "{line}");
        assert!(
            line.starts_with("1 run(s): ✘ lost")
                && line.ends_with("; not counted: ✔ survives on 1.35 (2026-12-02), harness fault: the fault missed"),
            "{line}"
        );
    }
    use crate::vocab::Disruption;
    use crate::vocab::Provider;
    use crate::vocab::Variant;

    const REPORT: &str = r#"{"summary": {}, "cells": [
      {"variant": "empty-dir", "disruption": "pod-delete", "provider": "kind", "k8s_version": "1.35",
       "observed": {"prometheus": {"outcome": {"outcome": "lost", "what": "blocks, head/wal", "parts": [{"kind": "blocks"}, {"kind": "head/wal"}]}, "reasons": []}},
       "status": "passed", "findings": []},
      {"variant": "host-path", "disruption": "node-stop", "provider": "kind", "k8s_version": "1.35",
       "observed": {"prometheus": {"outcome": {"outcome": "pending", "reason": "node-not-ready"}, "reasons": ["node-not-ready"]}},
       "status": "failed", "failure": "expected pending", "findings": ["unschedulable Pod/prometheus-x: FailedScheduling: 0/3 nodes"]},
      {"variant": "rwop", "disruption": "pod-delete", "provider": "kind", "k8s_version": "1.35",
       "observed": null, "status": "failed", "failure": "timed out", "findings": []}
    ]}"#;

    #[test]
    fn the_checked_in_record_parses() {
        let parsed: std::result::Result<Record, _> = serde_json::from_str(RECORD);
        assert!(parsed.is_ok(), "{RECORD_PATH}: {parsed:?}");
    }

    #[test]
    fn a_report_adds_the_cells_that_were_judged() {
        let mut r = Record::default();
        let n = r.add_report(REPORT, "2026-12-01", "here").unwrap();
        assert_eq!(n, 2, "the cell that errored before judging is left out");
        let seen = &r.runs[0].cells["host-path/node-stop on kind"];
        assert_eq!(seen.prometheus.label(), "pending (node-not-ready)");
        assert_eq!(seen.reasons, [Reason::NodeNotReady]);
        assert_eq!(
            seen.seen.as_deref(),
            Some("unschedulable Pod/prometheus-x: FailedScheduling: 0/3 nodes")
        );
        let err = r.add_report("{}", "d", "h").unwrap_err().to_string();
        assert_eq!(
            err,
            "could not parse a harness report.json: no `cells` array"
        );
    }

    /// A report over several minors (make matrix) holds each cell once per
    /// minor: every one is recorded, as one run per minor.
    #[test]
    fn a_report_over_two_minors_records_every_cell_of_both() {
        let one: serde_json::Value = serde_json::from_str(REPORT).unwrap();
        let mut two = one.clone();
        let mut cells = one["cells"].as_array().cloned().unwrap_or_default();
        for c in one["cells"].as_array().cloned().unwrap_or_default() {
            let mut c = c;
            c["k8s_version"] = "1.36".into();
            cells.push(c);
        }
        two["cells"] = serde_json::Value::Array(cells);
        let mut r = Record::default();
        let n = r
            .add_report(&two.to_string(), "2026-12-06", "here")
            .unwrap();
        assert_eq!(n, 4, "two judged cells on each of two minors");
        assert_eq!(r.runs.len(), 2);
        assert_eq!(
            r.summary(Cell::new(
                Variant::EmptyDir,
                Disruption::PodDelete,
                Provider::Kind
            )),
            "2 run(s): ✘ lost (blocks, head/wal) on 1.35, 1.36 (2026-12-06)"
        );
    }

    #[test]
    fn summaries_group_outcomes_by_minor_and_flag_contradictions() {
        let mut r = Record::default();
        r.add_report(REPORT, "2026-12-01", "here").unwrap();
        r.add_report(&REPORT.replace("1.35", "1.36"), "2026-12-02", "here")
            .unwrap();
        let cell = |v, d| Cell::new(v, d, Provider::Kind);
        assert_eq!(
            r.summary(cell(Variant::EmptyDir, Disruption::PodDelete)),
            "2 run(s): ✘ lost (blocks, head/wal) on 1.35, 1.36 (2026-12-01, 2026-12-02)"
        );
        assert_eq!(
            r.summary(cell(Variant::HostPath, Disruption::NodeStop)),
            "2 run(s): CONTRADICTED: ⌛ pending (node-not-ready) on 1.35, 1.36 (2026-12-01, 2026-12-02)"
        );
        assert_eq!(
            r.summary(cell(Variant::NfsStatic, Disruption::PodDelete)),
            "predicted only"
        );
    }
}
