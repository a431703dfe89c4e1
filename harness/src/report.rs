//! The run's report: `report.json` (every cell) and `report.md` (the matrix
//! at a glance, then failures with their messages) under E2E_REPORT_DIR
//! (default `target/e2e-report/`), plus a folder of failure artifacts per
//! failed cell (see [`collect_artifacts`]).
//!
//! libtest has no global teardown, so there is no "end of run" to write
//! the report at: each cell writes `cells/<cell>.json` and re-renders the
//! aggregate from all cell files ([`Report::record`]). Writes are atomic
//! (temp file + rename) and the aggregate is re-rendered until the set of
//! cell files it was built from is still the current one, so cells
//! finishing in parallel cannot drop each other from the report.
//!
//! JUnit: nextest writes it; a failed cell's test fails with the
//! [`Mismatch`](crate::expect::Mismatch) message, which names the cell, the
//! expectation, its sources and what was seen.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::cluster::Provider;
use crate::disrupt::Disruption;
use crate::error::{Error, Result};
use crate::expect::{self, App, Cell, Expectation, Observation, Outcome, Reason, named_id};
use crate::ids::NamedId;
use crate::probe::{Judgement, Verdict};
use crate::progress::Progress;
use crate::timeline::Finding;
use crate::variant::Variant;

mod artifacts;
mod timeline_svg;

pub use artifacts::{Artifact, ArtifactSummary, TextArtifact, collect_artifacts};
pub use timeline_svg::{TIMELINE_SVG, render_timeline_svg, write_timeline_svg};

/// The probe's judgement of one app, as the report stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// `survived`, `lost` or `changed`.
    pub verdict: String,
    /// What was lost or changed.
    pub parts: Vec<String>,
    /// The evidence (block coverage, ULID identity, clean_start, owners...).
    pub details: Vec<String>,
    /// Disruption to ready again, in seconds.
    pub recovery_seconds: Option<f64>,
}

impl From<&Judgement> for CheckRecord {
    fn from(j: &Judgement) -> Self {
        let (verdict, parts) = match &j.verdict {
            Verdict::Survived => ("survived", Vec::new()),
            Verdict::Lost { parts } => ("lost", parts.clone()),
            Verdict::Changed { parts } => ("changed", parts.clone()),
        };
        Self {
            verdict: verdict.to_owned(),
            parts,
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

/// Everything the report says about one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The storage variant.
    #[serde(with = "named_id")]
    pub variant: Variant,
    /// The disruption.
    #[serde(with = "named_id")]
    pub disruption: Disruption,
    /// The provider.
    #[serde(with = "named_id")]
    pub provider: Provider,
    /// The cluster's Kubernetes version (as the API server reports it).
    pub k8s_version: String,
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
    /// Whether observed == expected and nothing failed.
    pub passed: bool,
    /// Why it failed: the mismatch message or the error.
    pub failure: Option<String>,
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
}

impl CellResult {
    /// A result for `cell` on a cluster of `k8s_version`, not judged yet
    /// (it counts as failed until [`judge`](Self::judge) says otherwise).
    pub fn new(cell: Cell, k8s_version: impl Into<String>) -> Self {
        Self {
            variant: cell.variant,
            disruption: cell.disruption,
            provider: cell.provider,
            k8s_version: k8s_version.into(),
            expected: expect::expected(cell.variant, cell.disruption, cell.provider),
            observed: None,
            recovery_seconds: None,
            checks: Checks::default(),
            reasons: Vec::new(),
            findings: Vec::new(),
            passed: false,
            failure: Some("the cell did not finish".into()),
            artifacts: None,
            timeline_svg: None,
            steps: Vec::new(),
            timings: Timings::default(),
        }
    }

    /// The cell.
    pub fn cell(&self) -> Cell {
        Cell::new(self.variant, self.disruption, self.provider)
    }

    /// Record what was seen and compare it with the table.
    pub fn judge(
        mut self,
        observation: Observation,
        prometheus: Option<&Judgement>,
        grafana: Option<&Judgement>,
    ) -> Self {
        self.checks = Checks {
            prometheus: prometheus.map(CheckRecord::from),
            grafana: grafana.map(CheckRecord::from),
        };
        self.recovery_seconds = [prometheus, grafana]
            .into_iter()
            .flatten()
            .filter_map(|j| j.recovery)
            .map(|d| d.as_secs_f64())
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
        match expect::matches(&self.expected, &observation) {
            Ok(()) => {
                self.passed = true;
                self.failure = None;
            }
            Err(m) => {
                self.passed = false;
                self.failure = Some(m.to_string());
            }
        }
        self.observed = Some(observation);
        self
    }

    /// The cell could not be run to the end (setup, disruption or wait failed).
    pub fn error(mut self, err: impl std::fmt::Display) -> Self {
        self.passed = false;
        self.failure = Some(format!(
            "cell {} failed before it could be judged: {err:#}",
            self.cell()
        ));
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

    /// Keep the cell's progress lines.
    pub fn with_steps(mut self, progress: &Progress) -> Self {
        self.steps = progress.lines();
        self
    }

    /// Point at the failure artifacts folder (relative to the report dir when inside it).
    pub fn with_artifacts(mut self, report: &Report, dir: &Path) -> Self {
        let rel = dir.strip_prefix(report.dir()).unwrap_or(dir);
        self.artifacts = Some(rel.display().to_string());
        self
    }

    /// Point at the cell's `timeline.svg` (relative to the report dir when inside it).
    pub fn with_timeline_svg(mut self, report: &Report, file: &Path) -> Self {
        let rel = file.strip_prefix(report.dir()).unwrap_or(file);
        self.timeline_svg = Some(rel.display().to_string());
        self
    }
}

/// The report directory of a run.
#[derive(Debug, Clone)]
pub struct Report {
    dir: PathBuf,
}

/// How often [`Report::write`] re-renders when cells keep arriving.
const MAX_RENDER_PASSES: usize = 50;
/// Where [`Report::record_notes`] keeps the run's notes.
const NOTES_FILE: &str = "run-notes.json";

impl Report {
    /// The report in `dir` (E2E_REPORT_DIR; created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Remove what an earlier run wrote here (cell files, failure and
    /// timeline folders, the rendered report, run notes), and nothing else:
    /// the report is rendered from every cell file in the directory, so a
    /// narrower run would otherwise show the earlier run's cells as its own.
    ///
    /// # Errors
    /// [`Error::Io`] naming what could not be removed.
    pub fn reset(&self) -> Result<()> {
        for dir in ["cells", "failures", "passed"] {
            let path = self.dir.join(dir);
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("clearing the previous report", path, e));
                }
                _ => {}
            }
        }
        for file in ["report.md", "report.json", NOTES_FILE] {
            let path = self.dir.join(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("clearing the previous report", path, e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The report directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn cells_dir(&self) -> PathBuf {
        self.dir.join("cells")
    }

    /// Where a failed cell's artifacts go: `failures/<cell>/`.
    pub fn artifacts_dir(&self, cell: Cell) -> PathBuf {
        self.dir.join("failures").join(cell.file_stem())
    }

    /// Where a cell's `timeline.svg` goes: a failed cell's artifacts
    /// folder, or `passed/<cell>/` (E2E_TIMELINES=all).
    pub fn timeline_dir(&self, cell: Cell, passed: bool) -> PathBuf {
        if passed {
            self.dir.join("passed").join(cell.file_stem())
        } else {
            self.artifacts_dir(cell)
        }
    }

    /// Save one cell's result and re-render `report.json` and `report.md`.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be written, [`Error::Parse`] when a
    /// cell file of the directory cannot be read back.
    pub fn record(&self, result: &CellResult) -> Result<()> {
        let json = serde_json::to_string_pretty(result)
            .map_err(|e| Error::parse(format!("cell result {}", result.cell()), e.to_string()))?;
        let path = self
            .cells_dir()
            .join(format!("{}.json", result.cell().file_stem()));
        write_atomic(&path, &json)?;
        self.write()
    }

    /// Every cell result saved so far, in matrix order.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read, [`Error::Parse`]
    /// naming the file that is not a cell result.
    pub fn load(&self) -> Result<Vec<CellResult>> {
        let mut out = Vec::new();
        for (path, ..) in self.listing()? {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::io("reading cell result", &path, e))?;
            let cell: CellResult = serde_json::from_str(&text).map_err(|e| {
                Error::parse(format!("cell result {}", path.display()), e.to_string())
            })?;
            out.push(cell);
        }
        out.sort_by_key(|c| (c.cell(), c.k8s_version.clone()));
        Ok(out)
    }

    /// (path, size, mtime) of every cell file: what an aggregate was built from.
    fn listing(&self) -> Result<Vec<(PathBuf, u64, Option<SystemTime>)>> {
        let dir = self.cells_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing cell results", dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing cell results", &dir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json") {
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::io("reading cell result", &path, e))?;
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Keep the run's notes (the node image and app images it chose and
    /// why, host settings): the report shows them above the matrices.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn record_notes(&self, notes: &[String]) -> Result<()> {
        let json = serde_json::to_string_pretty(notes)
            .map_err(|e| Error::parse("run notes", e.to_string()))?;
        write_atomic(&self.dir.join(NOTES_FILE), &json)
    }

    /// The run's notes, if [`record_notes`](Self::record_notes) wrote any.
    fn notes(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join(NOTES_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Render `report.json` and `report.md` from every cell file.
    ///
    /// # Errors
    /// As [`record`](Self::record).
    pub fn write(&self) -> Result<()> {
        let notes = self.notes();
        for _ in 0..MAX_RENDER_PASSES {
            let before = self.listing()?;
            let cells = self.load()?;
            write_atomic(&self.dir.join("report.json"), &render_json(&cells, &notes)?)?;
            write_atomic(
                &self.dir.join("report.md"),
                &render_markdown(&cells, &notes),
            )?;
            if self.listing()? == before {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Write via a temp file and a rename, so readers never see half a file.
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    static N: AtomicU64 = AtomicU64::new(0);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("creating report directory", parent, e))?;
    }
    let tmp = path.with_extension(format!(
        "tmp-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, text).map_err(|e| Error::io("writing report file", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("renaming report file into place", path, e))
}

/// `report.json`: every cell plus a summary.
///
/// # Errors
/// [`Error::Parse`] if a result cannot be serialized (it always can).
pub fn render_json(cells: &[CellResult], notes: &[String]) -> Result<String> {
    #[derive(Serialize)]
    struct Summary {
        cells: usize,
        passed: usize,
        failed: usize,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        summary: Summary,
        notes: &'a [String],
        cells: &'a [CellResult],
    }
    let passed = cells.iter().filter(|c| c.passed).count();
    let doc = Doc {
        summary: Summary {
            cells: cells.len(),
            passed,
            failed: cells.len() - passed,
        },
        notes,
        cells,
    };
    serde_json::to_string_pretty(&doc).map_err(|e| Error::parse("report.json", e.to_string()))
}

/// The legend under every matrix.
pub const LEGEND: &str = "✅ observed = expected · ❌ observed ≠ expected, or the cell could not \
     finish · ➖ not applicable (never run; see docs/expectations.md) · · not run in this report \
     (filtered out by E2E_VARIANTS / E2E_DISRUPTIONS or a test filter)";

/// `report.md`: per (provider, Kubernetes version) the matrix at a glance
/// (rows variants, columns disruptions), then every failure with its
/// message and artifacts, then a table of all cells. Pure.
pub fn render_markdown(cells: &[CellResult], notes: &[String]) -> String {
    let mut out = String::new();
    let w = &mut out;
    let passed = cells.iter().filter(|c| c.passed).count();
    let failed = cells.len() - passed;
    let _ = writeln!(w, "# storage-e2e report\n");
    let _ = writeln!(
        w,
        "{} cells run: {passed} passed, {failed} failed.\n",
        cells.len()
    );
    for &app in App::ALL {
        let not_run: Vec<&str> = cells
            .iter()
            .filter_map(|c| match &c.observed.as_ref()?.app(app).outcome {
                Outcome::NotRun { why } => Some(why.as_ref()),
                _ => None,
            })
            .collect();
        if let Some(why) = not_run.first() {
            let _ = writeln!(
                w,
                "**{app} not run** in {} of these cells ({why}): they were judged on the other app \
                 alone; {app} shows as *not run*, never as survived.\n",
                not_run.len()
            );
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(w, "This run:\n");
        for n in notes {
            let _ = writeln!(w, "- {}", md_cell(n));
        }
        let _ = writeln!(w);
    }

    let mut groups: Vec<(Provider, String)> = cells
        .iter()
        .map(|c| (c.provider, c.k8s_version.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    for (provider, version) in &groups {
        let in_group = |c: &&CellResult| c.provider == *provider && &c.k8s_version == version;
        let _ = writeln!(w, "## {provider}, Kubernetes {version}\n");
        let _ = write!(w, "| variant |");
        for d in Disruption::ALL {
            let _ = write!(w, " {d} |");
        }
        let _ = write!(w, "\n|---|");
        for _ in Disruption::ALL {
            let _ = write!(w, ":-:|");
        }
        let _ = writeln!(w);
        for &v in Variant::ALL {
            let _ = write!(w, "| {v} |");
            for &d in Disruption::ALL {
                let found = cells
                    .iter()
                    .filter(in_group)
                    .find(|c| c.variant == v && c.disruption == d);
                let mark = match found {
                    Some(c) if c.passed => "✅",
                    Some(_) => "❌",
                    None if !expect::expected(v, d, *provider).is_applicable() => "➖",
                    None => "·",
                };
                let _ = write!(w, " {mark} |");
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(w, "\n{LEGEND}\n");
    }

    let failures: Vec<&CellResult> = cells.iter().filter(|c| !c.passed).collect();
    if !failures.is_empty() {
        let _ = writeln!(w, "## Failures\n");
        for c in failures {
            let _ = writeln!(w, "### {} (Kubernetes {})\n", c.cell(), c.k8s_version);
            let _ = writeln!(
                w,
                "```text\n{}\n```\n",
                c.failure.as_deref().unwrap_or("(no message)")
            );
            if !c.findings.is_empty() {
                let _ = writeln!(w, "Findings:\n");
                for f in &c.findings {
                    let _ = writeln!(w, "- {}", md_cell(f));
                }
                let _ = writeln!(w);
            }
            if let Some(a) = &c.artifacts {
                let _ = writeln!(w, "Artifacts: `{a}/`\n");
            }
            if let Some(t) = &c.timeline_svg {
                let _ = writeln!(w, "Timeline: [{t}]({t})\n");
            }
        }
    }

    if !cells.is_empty() {
        let _ = writeln!(w, "## All cells\n");
        let _ = writeln!(
            w,
            "| cell | k8s | expected (Prometheus / Grafana) | observed (Prometheus / Grafana) | recovery | reasons | result |"
        );
        let _ = writeln!(w, "|---|---|---|---|---|---|---|");
        for c in cells {
            let expected = format!(
                "{} / {}",
                c.expected.prometheus.label(),
                c.expected.grafana.label()
            );
            let observed = match &c.observed {
                Some(o) => format!(
                    "{} / {}",
                    o.prometheus.outcome.label(),
                    o.grafana.outcome.label()
                ),
                None => "-".to_owned(),
            };
            let recovery = c
                .recovery_seconds
                .map_or_else(|| "-".to_owned(), |s| format!("{s:.1}s"));
            let reasons = if c.reasons.is_empty() {
                "-".to_owned()
            } else {
                c.reasons
                    .iter()
                    .map(|r| r.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let result = if c.passed { "✅" } else { "❌" };
            let result = match &c.timeline_svg {
                Some(t) => format!("{result} [timeline]({t})"),
                None => result.to_owned(),
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {recovery} | {reasons} | {result} |",
                c.cell(),
                c.k8s_version,
                md_cell(&expected),
                md_cell(&observed),
            );
        }
    }
    render_timings(w, cells);
    out
}

/// The timing report: per cell, where its time went; then the median and
/// the range of each phase over the cells that reached it.
fn render_timings(w: &mut String, cells: &[CellResult]) {
    type Phase = fn(&Timings) -> Option<f64>;
    let phases: [(&str, Phase); 9] = [
        ("deploy", |t| t.deploy),
        ("seed", |t| t.seed),
        ("disruption to settled", |t| t.settle),
        ("judge", |t| t.judge),
        ("total", |t| t.total),
        ("waits", |t| t.waits),
        ("overhead", Timings::overhead),
        ("overhead %", Timings::overhead_percent),
        ("detection", |t| t.detection),
    ];
    if cells.iter().all(|c| c.timings == Timings::default()) {
        return;
    }
    let _ = writeln!(w, "\n## Where the time went (seconds)\n");
    let _ = write!(w, "| cell |");
    for (name, _) in &phases {
        let _ = write!(w, " {name} |");
    }
    let _ = writeln!(w, "\n|---|{}", ":-:|".repeat(phases.len()));
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}"));
    for c in cells {
        let _ = write!(w, "| {} |", c.cell());
        for (_, get) in &phases {
            let _ = write!(w, " {} |", fmt(get(&c.timings)));
        }
        let _ = writeln!(w);
    }
    let _ = write!(w, "| **median (min to max)** |");
    for (_, get) in &phases {
        let mut v: Vec<f64> = cells.iter().filter_map(|c| get(&c.timings)).collect();
        v.sort_by(f64::total_cmp);
        let cell = match (v.first(), v.get(v.len() / 2), v.last()) {
            (Some(lo), Some(mid), Some(hi)) => format!("{mid:.1} ({lo:.1} to {hi:.1})"),
            _ => "-".to_owned(),
        };
        let _ = write!(w, " {cell} |");
    }
    let _ = writeln!(
        w,
        "\n\nwaits: what the harness cannot shorten (the apps becoming Ready after the apply, \
         Prometheus's first self-scrape, the disruption until settled, provoked deadlines \
         included); overhead: the rest of the total (namespace, apply, seed check, snapshots, \
         watch sync, judging, logs, cleanup). detection: a recovered Prometheus pod's Ready time (the API's, \
         truncated to the second, so it overstates by up to 1 s) to the moment the harness's \
         watch showed it.\n"
    );
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::expect::Observed;

    fn judged(verdict: Verdict, secs: u64) -> Judgement {
        Judgement {
            verdict,
            details: vec!["2 blocks, ULIDs unchanged".into()],
            recovery: Some(Duration::from_secs(secs)),
        }
    }

    fn passing() -> CellResult {
        let cell = Cell::new(Variant::NfsStatic, Disruption::PodDelete, Provider::Kind);
        let p = judged(Verdict::Survived, 12);
        let g = judged(Verdict::Survived, 7);
        let obs = Observation {
            prometheus: Observed::new(Some(&p), vec![Reason::PrometheusLockHeld], true),
            grafana: Observed::new(Some(&g), vec![], true),
        };
        CellResult::new(cell, "v1.34.0").judge(obs, Some(&p), Some(&g))
    }

    fn failing() -> CellResult {
        let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
        let p = judged(Verdict::Survived, 5);
        let g = judged(
            Verdict::Lost {
                parts: vec!["dashboard e2e-dash".into()],
            },
            6,
        );
        let obs = Observation {
            prometheus: Observed::new(Some(&p), vec![], true),
            grafana: Observed::new(Some(&g), vec![], true),
        };
        CellResult::new(cell, "v1.34.0")
            .judge(obs, Some(&p), Some(&g))
            .with_findings(&[Finding {
                reason: Reason::CrashLoop,
                object: "Pod/x".into(),
                evidence: "container prometheus CrashLoopBackOff".into(),
                at_ms: 1,
            }])
    }

    #[test]
    fn judge_records_checks_recovery_and_verdict() {
        let c = passing();
        assert!(c.passed, "{:?}", c.failure);
        assert_eq!(c.failure, None);
        assert_eq!(c.recovery_seconds, Some(12.0));
        assert_eq!(c.reasons, vec![Reason::PrometheusLockHeld]);
        assert_eq!(
            c.checks.grafana.as_ref().map(|g| g.verdict.as_str()),
            Some("survived")
        );

        let f = failing();
        assert!(!f.passed);
        let msg = f.failure.as_deref().unwrap_or_default();
        assert!(msg.contains("cell empty-dir/pod-delete on kind"), "{msg}");
        assert!(msg.contains("prometheus: expected lost"), "{msg}");
    }

    #[test]
    fn an_unjudged_or_errored_cell_fails() {
        let cell = Cell::new(Variant::HostPath, Disruption::NodeStop, Provider::K3d);
        assert!(!CellResult::new(cell, "v1.33.1").passed);
        let e = CellResult::new(cell, "v1.33.1").error("timed out waiting for prometheus ready");
        assert_eq!(
            e.failure.as_deref(),
            Some(
                "cell host-path/node-stop on k3d failed before it could be judged: timed out waiting for \
                 prometheus ready"
            )
        );
    }

    #[test]
    fn markdown_matrix_marks_pass_fail_not_applicable_and_not_run() {
        let md = render_markdown(&[passing(), failing()], &[]);
        assert!(
            md.starts_with("# storage-e2e report\n\n2 cells run: 1 passed, 1 failed.\n"),
            "{md}"
        );
        assert!(md.contains("## kind, Kubernetes v1.34.0\n"), "{md}");
        let header = md
            .lines()
            .find(|l| l.starts_with("| variant |"))
            .expect("matrix header");
        assert!(
            header.starts_with("| variant | container-kill | pod-delete |"),
            "{header}"
        );
        let row = |v: &str| {
            md.lines()
                .find(|l| l.starts_with(&format!("| {v} |")))
                .unwrap_or_else(|| panic!("no row for {v}: {md}"))
                .to_owned()
        };
        // empty-dir: container-kill not run, pod-delete failed, ..., unblock n/a.
        assert!(
            row("empty-dir").starts_with("| empty-dir | · | ❌ |"),
            "{}",
            row("empty-dir")
        );
        assert!(
            row("nfs-static").starts_with("| nfs-static | · | ✅ |"),
            "{}",
            row("nfs-static")
        );
        assert!(
            row("empty-dir").contains("➖"),
            "nfs-restart is n/a for empty-dir"
        );
        assert!(md.contains(LEGEND));
        assert!(
            md.contains("## Failures\n\n### empty-dir/pod-delete on kind (Kubernetes v1.34.0)"),
            "{md}"
        );
        assert!(
            md.contains("- crash-loop Pod/x: container prometheus CrashLoopBackOff"),
            "{md}"
        );
        assert!(
            !md.contains("### nfs-static/pod-delete"),
            "passing cells are not failures"
        );
        assert!(md.contains("| nfs-static/pod-delete on kind | v1.34.0 | survives / survives | survives / survives | 12.0s | prometheus-lock-held | ✅ |"), "{md}");
    }

    #[test]
    fn grafana_not_run_and_the_run_notes_are_shown_never_as_survived() {
        let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
        let p = judged(
            Verdict::Lost {
                parts: vec!["blocks".into(), "head/wal".into()],
            },
            9,
        );
        let obs = Observation {
            prometheus: Observed::new(Some(&p), vec![], true),
            grafana: Observed::not_run("E2E_APPS=prometheus"),
        };
        let c = CellResult::new(cell, "1.35").judge(obs, Some(&p), None);
        assert!(c.passed, "{:?}", c.failure);
        let notes =
            vec!["kind node image local/storage-e2e-kind-node:v1.35.8: built offline".to_owned()];
        let md = render_markdown(std::slice::from_ref(&c), &notes);
        assert!(
            md.contains("**grafana not run** in 1 of these cells (E2E_APPS=prometheus)"),
            "{md}"
        );
        assert!(
            md.contains("lost (blocks, head/wal) / not run (E2E_APPS=prometheus)"),
            "{md}"
        );
        assert!(
            md.contains("- kind node image local/storage-e2e-kind-node:v1.35.8"),
            "{md}"
        );
        assert!(!md.contains("/ survives"), "{md}");
        let json = render_json(&[c], &notes).unwrap_or_else(|e| panic!("{e}"));
        assert!(json.contains("\"outcome\": \"not-run\""), "{json}");
        assert!(json.contains("built offline"), "{json}");
    }

    #[test]
    fn the_timing_report_shows_each_phase_and_its_median() {
        let mut a = passing();
        a.timings = Timings {
            deploy: Some(4.0),
            seed: Some(60.5),
            settle: Some(2.0),
            judge: Some(1.0),
            total: Some(70.0),
            detection: Some(0.4),
            waits: Some(63.0),
        };
        let mut b = failing();
        b.timings = Timings {
            deploy: Some(6.0),
            total: Some(9.0),
            ..Timings::default()
        };
        let md = render_markdown(&[a, b], &[]);
        assert!(md.contains("## Where the time went (seconds)"), "{md}");
        assert!(
            md.contains(
                "| nfs-static/pod-delete on kind | 4.0 | 60.5 | 2.0 | 1.0 | 70.0 | 63.0 | 7.0 | 10.0 | 0.4 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| 6.0 | - | - | - | 9.0 | - | - | - | - |"),
            "{md}"
        );
        assert!(
            md.contains("| **median (min to max)** | 6.0 (4.0 to 6.0) | 60.5 (60.5 to 60.5) |"),
            "{md}"
        );
        assert!(!render_markdown(&[passing()], &[]).contains("Where the time went"));
    }

    #[test]
    fn json_has_a_summary_and_round_trips() {
        let cells = vec![passing(), failing()];
        let json = render_json(&cells, &[]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["summary"]["passed"], 1);
        assert_eq!(v["summary"]["failed"], 1);
        assert_eq!(v["cells"][0]["variant"], "nfs-static");
        assert_eq!(
            v["cells"][0]["expected"]["prometheus"]["outcome"],
            "survives"
        );
        let back: Vec<CellResult> = serde_json::from_value(v["cells"].clone()).unwrap();
        assert_eq!(back, cells);
    }

    #[test]
    fn cells_recorded_from_parallel_threads_all_reach_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let report = Report::new(dir.path());
        let cells: Vec<CellResult> = Variant::ALL
            .iter()
            .map(|&v| {
                let mut c = passing();
                c.variant = v;
                c
            })
            .collect();
        std::thread::scope(|s| {
            for c in &cells {
                let report = report.clone();
                s.spawn(move || report.record(c).unwrap());
            }
        });
        let loaded = report.load().unwrap();
        assert_eq!(loaded.len(), Variant::ALL.len());
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        assert!(
            md.contains(&format!("{} cells run", Variant::ALL.len())),
            "{md}"
        );
        let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["summary"]["cells"], Variant::ALL.len());
        // No temp files are left behind.
        for e in std::fs::read_dir(dir.path().join("cells")).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(name.ends_with(".json"), "{name}");
        }
    }

    #[test]
    fn a_new_run_does_not_report_the_previous_runs_cells() {
        let dir = tempfile::tempdir().unwrap();
        let r = Report::new(dir.path());
        r.record(&failing()).unwrap();
        std::fs::create_dir_all(dir.path().join("failures/old")).unwrap();
        std::fs::write(dir.path().join("mine.txt"), "a user's file").unwrap();
        r.reset().unwrap();
        r.record(&passing()).unwrap();
        let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["summary"]["cells"], 1, "{json}");
        assert_eq!(v["summary"]["failed"], 0, "{json}");
        assert!(!dir.path().join("failures").exists());
        assert!(
            dir.path().join("mine.txt").exists(),
            "only the report's own files go"
        );
        Report::new(dir.path().join("never-written"))
            .reset()
            .unwrap();
    }

    #[test]
    fn a_broken_cell_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cells")).unwrap();
        std::fs::write(dir.path().join("cells/bogus.json"), "{}").unwrap();
        let err = Report::new(dir.path())
            .write()
            .expect_err("bogus cell")
            .to_string();
        assert!(err.starts_with("could not parse cell result"), "{err}");
        assert!(err.contains("bogus.json"), "{err}");
    }

    #[test]
    fn a_cells_timeline_picture_is_linked_from_the_report() {
        let r = Report::new("/tmp/r");
        let failed = failing();
        let dir = r.timeline_dir(failed.cell(), false);
        assert_eq!(dir, r.artifacts_dir(failed.cell()));
        let failed = failed
            .with_artifacts(&r, &dir)
            .with_timeline_svg(&r, &dir.join(TIMELINE_SVG));
        let passed = passing();
        let file = r.timeline_dir(passed.cell(), true).join(TIMELINE_SVG);
        let passed = passed.with_timeline_svg(&r, &file);
        assert_eq!(
            passed.timeline_svg.as_deref(),
            Some("passed/nfs-static__pod-delete__kind/timeline.svg")
        );
        let md = render_markdown(&[passed.clone(), failed], &[]);
        let svg = "failures/empty-dir__pod-delete__kind/timeline.svg";
        assert!(
            md.contains(&format!(
                "Artifacts: `failures/empty-dir__pod-delete__kind/`\n\nTimeline: [{svg}]({svg})\n"
            )),
            "{md}"
        );
        assert!(md.contains(&format!("| ❌ [timeline]({svg}) |")), "{md}");
        assert!(
            md.contains("| ✅ [timeline](passed/nfs-static__pod-delete__kind/timeline.svg) |"),
            "{md}"
        );
        // A cell file written before the field existed still loads.
        let mut v = serde_json::to_value(&passed).unwrap();
        v.as_object_mut().unwrap().remove("timeline_svg");
        let old: CellResult = serde_json::from_value(v).unwrap();
        assert_eq!(old.timeline_svg, None);
    }

    #[test]
    fn artifacts_dir_is_per_cell() {
        let r = Report::new("/tmp/r");
        let cell = Cell::new(Variant::Rwop, Disruption::RolloutRestart, Provider::Kind);
        assert_eq!(
            r.artifacts_dir(cell),
            PathBuf::from("/tmp/r/failures/rwop__rollout-restart__kind")
        );
        let c = CellResult::new(cell, "v1.34.0").with_artifacts(&r, &r.artifacts_dir(cell));
        assert_eq!(
            c.artifacts.as_deref(),
            Some("failures/rwop__rollout-restart__kind")
        );
    }
}
