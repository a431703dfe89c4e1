//! What the report says about one cell: the expectation, the observation, the
//! probes' judgements, the findings and where the time went.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::expect::{Expectation, Observation};
use crate::progress::Progress;
use crate::timeline::Finding;
use crate::vocab::{Cell, Judgement, Reason, Verdict, VolumeFigures};

/// The probe's judgement of one app, as the report stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Survived, lost or changed, with the parts.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The evidence (block coverage, ULID identity, clean_start, owners...).
    pub details: Vec<String>,
    /// Disruption to ready again, in seconds.
    pub recovery_seconds: Option<f64>,
}

impl From<&Judgement> for CheckRecord {
    fn from(j: &Judgement) -> Self {
        Self {
            verdict: j.verdict.clone(),
            details: j.details.clone(),
            recovery_seconds: j.recovery.map(|d| d.as_secs_f64()),
        }
    }
}

/// The Prometheus and Grafana checks of a cell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// Prometheus's judgement, when its data could be read back.
    pub prometheus: Option<CheckRecord>,
    /// Grafana's judgement, when its data could be read back.
    pub grafana: Option<CheckRecord>,
}

/// How long a cell's phases took, in seconds (`None`: not reached): where
/// a run's time goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Namespace created to the apps Ready: apply, scheduling, volume
    /// binding and provisioning, container start.
    pub deploy: Option<f64>,
    /// Writing the seed data until it reads back (the before snapshot).
    pub seed: Option<f64>,
    /// The disruption applied until the workloads settled (recovered, stuck
    /// or given up).
    pub settle: Option<f64>,
    /// Reading the data back and comparing.
    pub judge: Option<f64>,
    /// The whole cell, cleanup included (not the wait for the run's cluster).
    pub total: Option<f64>,
    /// Prometheus's replacement pod Ready (the API's time, truncated to the
    /// second, so this overstates by up to 1 s) to the harness seeing it.
    pub detection: Option<f64>,
    /// The waits the harness cannot shorten: the apps becoming Ready after
    /// the apply (scheduling, volume binding, container and Prometheus
    /// start), Prometheus's first self-scrape before the before-snapshot,
    /// and the disruption until settled (which holds the provoked
    /// deadlines). `total - waits` is the harness's own overhead.
    #[serde(default)]
    pub waits: Option<f64>,
}

impl Timings {
    /// The harness's own share of the cell: everything but [`Self::waits`].
    pub fn overhead(&self) -> Option<f64> {
        Some((self.total? - self.waits?).max(0.0))
    }

    /// [`Self::overhead`] as a percentage of the total.
    pub fn overhead_percent(&self) -> Option<f64> {
        let total = self.total.filter(|t| *t > 0.0)?;
        Some(self.overhead()? / total * 100.0)
    }
}

/// How a cell ended: the one place pass, failure and not-run are decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// Observed what the table expects, and nothing failed.
    Passed,
    /// Observed something else, or could not observe.
    Failed {
        /// The mismatch message or the error.
        failure: String,
    },
    /// Not run because the run failed before it (its cluster did not
    /// start): neither passed nor judged.
    NotRun {
        /// How the run failed first.
        why: String,
    },
}

impl Status {
    /// Whether the cell passed.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Passed)
    }

    /// Why it failed, when it did.
    pub fn failure(&self) -> Option<&str> {
        match self {
            Self::Failed { failure } => Some(failure),
            _ => None,
        }
    }

    /// Why it was not run, when it was not.
    pub fn not_run(&self) -> Option<&str> {
        match self {
            Self::NotRun { why } => Some(why),
            _ => None,
        }
    }
}

/// Everything the report says about one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The cell (its three ids are top-level keys in the JSON).
    #[serde(flatten)]
    pub cell: Cell,
    /// The cluster's Kubernetes version (as the API server reports it).
    /// None when the cell never reached its cluster (the run's cluster did
    /// not start, or the cell failed before it asked).
    #[serde(default)]
    pub k8s_version: Option<String>,
    /// What the table expects.
    pub expected: Expectation,
    /// What was seen (None when the cell failed before it could observe).
    pub observed: Option<Observation>,
    /// Disruption to ready again, the slower of the two apps, in seconds.
    pub recovery_seconds: Option<f64>,
    /// The probes' judgements.
    pub checks: Checks,
    /// Every reason the classifiers found, both apps.
    pub reasons: Vec<Reason>,
    /// The findings behind the reasons, one line each.
    pub findings: Vec<String>,
    /// Passed, failed (why) or not run (why).
    #[serde(flatten)]
    pub status: Status,
    /// Failure artifacts folder, relative to the report dir.
    pub artifacts: Option<String>,
    /// The picture of the cell's timeline (`timeline.svg`, see
    /// E2E_TIMELINES), relative to the report dir.
    #[serde(default)]
    pub timeline_svg: Option<String>,
    /// The progress lines of the cell.
    pub steps: Vec<String>,
    /// Where the cell's time went.
    #[serde(default)]
    pub timings: Timings,
    /// What a volume-life cell measured (volume-full...): figures, not
    /// judged.
    #[serde(default, skip_serializing_if = "VolumeFigures::is_empty")]
    pub volume: VolumeFigures,
}

impl CellResult {
    /// A result for `cell` on a cluster of `k8s_version` (None: not
    /// reached), expected to do `expected`, ended as `status`: the cell
    /// decides all three; the report only stores them (and what the cell
    /// saw, through the setters).
    pub fn new(
        cell: Cell,
        k8s_version: Option<&str>,
        expected: Expectation,
        status: Status,
    ) -> Self {
        Self {
            cell,
            k8s_version: k8s_version.map(str::to_owned),
            expected,
            observed: None,
            recovery_seconds: None,
            checks: Checks::default(),
            reasons: Vec::new(),
            findings: Vec::new(),
            status,
            artifacts: None,
            timeline_svg: None,
            steps: Vec::new(),
            timings: Timings::default(),
            volume: VolumeFigures::default(),
        }
    }

    /// The cell.
    pub fn cell(&self) -> Cell {
        self.cell
    }

    /// Keep what the cell saw: the observation, the checks it rests on,
    /// the reasons of both apps and the slower app's recovery.
    pub fn with_observation(mut self, observation: Observation, checks: Checks) -> Self {
        self.recovery_seconds = [&checks.prometheus, &checks.grafana]
            .into_iter()
            .flatten()
            .filter_map(|c| c.recovery_seconds)
            .reduce(f64::max);
        let mut reasons: Vec<Reason> = observation
            .prometheus
            .reasons
            .iter()
            .chain(&observation.grafana.reasons)
            .copied()
            .collect();
        reasons.sort();
        reasons.dedup();
        self.reasons = reasons;
        self.checks = checks;
        self.observed = Some(observation);
        self
    }

    /// Keep the findings behind the reasons.
    pub fn with_findings(mut self, findings: &[Finding]) -> Self {
        self.findings = findings
            .iter()
            .map(|f| format!("{} {}: {}", f.reason, f.object, f.evidence))
            .collect();
        self
    }

    /// Keep the cell's phase durations.
    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// Keep what a volume-life disruption measured.
    #[must_use]
    pub fn with_volume(mut self, figures: VolumeFigures) -> Self {
        self.volume = figures;
        self
    }

    /// Keep the cell's progress lines.
    pub fn with_steps(mut self, progress: &Progress) -> Self {
        self.steps = progress.lines();
        self
    }

    /// Point at the failure artifacts folder (relative to the report dir when inside it).
    pub fn with_artifacts(mut self, report_dir: &Path, dir: &Path) -> Self {
        let rel = dir.strip_prefix(report_dir).unwrap_or(dir);
        self.artifacts = Some(rel.display().to_string());
        self
    }

    /// Point at the cell's `timeline.svg` (relative to the report dir when inside it).
    pub fn with_timeline_svg(mut self, report_dir: &Path, file: &Path) -> Self {
        let rel = file.strip_prefix(report_dir).unwrap_or(file);
        self.timeline_svg = Some(rel.display().to_string());
        self
    }
}

/// A cell's Kubernetes version as the report shows it.
pub(super) fn show_version(v: Option<&str>) -> &str {
    v.unwrap_or("(cluster not reached)")
}
