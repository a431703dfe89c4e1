//! Rendering the report: report.json and report.md. Pure.

use std::fmt::Write as _;

use serde::Serialize;

use super::result::{CellResult, Status, Timings, show_version};
use crate::error::{Error, Result};
use crate::expect::{self, Outcome};
use crate::vocab::{App, Disruption, NamedId, Provider, Variant};

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
        not_run: usize,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        summary: Summary,
        notes: &'a [String],
        cells: &'a [CellResult],
    }
    let count = |f: fn(&Status) -> bool| cells.iter().filter(|c| f(&c.status)).count();
    let doc = Doc {
        summary: Summary {
            cells: cells.len(),
            passed: count(Status::passed),
            failed: count(|s| s.failure().is_some()),
            not_run: count(|s| s.not_run().is_some()),
        },
        notes,
        cells,
    };
    serde_json::to_string_pretty(&doc).map_err(|e| Error::parse("report.json", e.to_string()))
}

/// The cells and notes of a `report.json` ([`render_json`]'s inverse), for
/// a report over several runs (`make matrix`: one run per minor).
///
/// # Errors
/// [`Error::Parse`] when `text` is not a report.json.
pub fn read_json(text: &str) -> Result<(Vec<CellResult>, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        notes: Vec<String>,
        cells: Vec<CellResult>,
    }
    let doc: Doc =
        serde_json::from_str(text).map_err(|e| Error::parse("report.json", e.to_string()))?;
    Ok((doc.cells, doc.notes))
}

/// The legend under every matrix.
pub const LEGEND: &str = "✅ observed = expected · ❌ observed ≠ expected, or the cell could not \
     finish · ➖ not applicable (never run; see docs/expectations.md) · · not run in this report \
     (filtered out by E2E_VARIANTS / E2E_DISRUPTIONS or a test filter) · ⛔ not run because the run \
     failed before it (see the line under the title)";

/// `report.md`: per (provider, Kubernetes version) the matrix at a glance
/// (rows variants, columns disruptions), then every failure with its
/// message and artifacts, then a table of all cells. Pure.
pub fn render_markdown(cells: &[CellResult], notes: &[String]) -> String {
    let mut out = String::new();
    let w = &mut out;
    render_summary(w, cells, notes);
    render_across_minors(w, cells);
    render_matrices(w, cells);
    render_failures(w, cells);
    render_all_cells(w, cells);
    render_timings(w, cells);
    render_volume_figures(w, cells);
    out
}

/// What the volume-life cells measured (volume-full...), one list per
/// cell: figures beside the verdict, never part of it.
fn render_volume_figures(w: &mut String, cells: &[CellResult]) {
    let measured: Vec<&CellResult> = cells.iter().filter(|c| !c.volume.is_empty()).collect();
    if measured.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n## The volume's own life: figures\n");
    for c in measured {
        let _ = writeln!(w, "- **{}**", c.cell());
        for (name, value) in c.volume.pairs() {
            let _ = writeln!(w, "  - {name}: {}", md_cell(&value));
        }
    }
}

/// The title, the counts, what was not run and why, and the run's notes.
fn render_summary(w: &mut String, cells: &[CellResult], notes: &[String]) {
    let not_run: Vec<&CellResult> = cells
        .iter()
        .filter(|c| c.status.not_run().is_some())
        .collect();
    let passed = cells.iter().filter(|c| c.status.passed()).count();
    let failed = cells.len() - passed - not_run.len();
    let _ = writeln!(w, "# storage-e2e report\n");
    let _ = writeln!(
        w,
        "{} cells run: {passed} passed, {failed} failed.\n",
        cells.len() - not_run.len()
    );
    if let Some(why) = not_run.first().and_then(|c| c.status.not_run()) {
        let _ = writeln!(
            w,
            "**Not run ({} cells)**: {}\n",
            not_run.len(),
            md_cell(why)
        );
    }
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
}

/// When the cells come from more than one Kubernetes minor (`make matrix`):
/// one row per cell and one column per minor, Prometheus's observed outcome
/// in each; a row whose outcome class (the symbol) or pass/fail differs
/// between minors is marked, and listed under the table with every minor's
/// observation and findings, so a change between minors is read, not
/// hunted for. One minor: nothing (the per-minor matrix says it all).
fn render_across_minors(w: &mut String, cells: &[CellResult]) {
    let mut minors: Vec<Option<&str>> = cells.iter().map(|c| c.k8s_version.as_deref()).collect();
    minors.sort_unstable();
    minors.dedup();
    if minors.len() < 2 {
        return;
    }
    let mut ids: Vec<crate::vocab::Cell> = cells.iter().map(CellResult::cell).collect();
    ids.sort_unstable_by_key(ToString::to_string);
    ids.dedup();
    let at = |id: crate::vocab::Cell, m: Option<&str>| {
        cells
            .iter()
            .find(|c| c.cell() == id && c.k8s_version.as_deref() == m)
    };
    // What a minor's cell shows at a glance, and what must agree across minors.
    let glance = |c: &CellResult| {
        let seen = c
            .observed
            .as_ref()
            .map_or("no observation", |o| o.prometheus.outcome.symbol());
        let result = if c.status.passed() {
            "✅"
        } else if c.status.not_run().is_some() {
            "⛔"
        } else {
            "❌"
        };
        format!("{result} {seen}")
    };
    let _ = writeln!(
        w,
        "## Across Kubernetes minors
"
    );
    let _ = write!(w, "| cell |");
    for m in &minors {
        let _ = write!(w, " {} |", show_version(*m));
    }
    let _ = write!(w, " |\n|---|");
    for _ in &minors {
        let _ = write!(w, ":-:|");
    }
    let _ = writeln!(w, "---|");
    let mut differing = Vec::new();
    for &id in &ids {
        let shown: Vec<Option<String>> = minors.iter().map(|m| at(id, *m).map(glance)).collect();
        let mut ran: Vec<&String> = shown.iter().flatten().collect();
        ran.dedup();
        let differs = ran.len() > 1;
        let _ = write!(w, "| {id} |");
        for s in &shown {
            let _ = write!(w, " {} |", s.as_deref().unwrap_or("·"));
        }
        let _ = writeln!(w, " {} |", if differs { "**differs**" } else { "" });
        if differs {
            differing.push(id);
        }
    }
    let _ = writeln!(
        w,
        "\nPrometheus's observed outcome per minor: ✔ survives · ✘ lost · ⏸ rollout stuck · ⌛ \
         pending or not ready · ⊘ refused; ✅ / ❌ whether it was what the table expects; · not \
         run on that minor.\n"
    );
    for id in differing {
        let _ = writeln!(w, "### {id}: differs between minors\n");
        for m in &minors {
            let Some(c) = at(id, *m) else { continue };
            let seen = c.observed.as_ref().map_or_else(
                || "no observation".to_owned(),
                |o| o.prometheus.outcome.label(),
            );
            let _ = writeln!(
                w,
                "- Kubernetes {}: {} ({}; expected {})",
                show_version(*m),
                md_cell(&seen),
                c.status.failure().map_or("passed", |_| "failed"),
                md_cell(&c.expected.prometheus.label())
            );
            for f in &c.findings {
                let _ = writeln!(w, "  - {}", md_cell(f));
            }
        }
        let _ = writeln!(w);
    }
}

/// Per (provider, Kubernetes version): the matrix at a glance.
fn render_matrices(w: &mut String, cells: &[CellResult]) {
    let mut groups: Vec<(Provider, Option<String>)> = cells
        .iter()
        .map(|c| (c.cell.provider, c.k8s_version.clone()))
        .collect();
    groups.sort();
    groups.dedup();
    for (provider, version) in &groups {
        let in_group = |c: &&CellResult| c.cell.provider == *provider && &c.k8s_version == version;
        let _ = writeln!(
            w,
            "## {provider}, Kubernetes {}\n",
            show_version(version.as_deref())
        );
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
                    .find(|c| c.cell.variant == v && c.cell.disruption == d);
                let mark = match found {
                    Some(c) if c.status.passed() => "✅",
                    Some(c) if c.status.not_run().is_some() => "⛔",
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
}

/// Every failure with its message, findings, artifacts and timeline.
fn render_failures(w: &mut String, cells: &[CellResult]) {
    let failures: Vec<&CellResult> = cells
        .iter()
        .filter(|c| c.status.failure().is_some())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(w, "## Failures\n");
        for c in failures {
            let _ = writeln!(
                w,
                "### {} (Kubernetes {})\n",
                c.cell(),
                show_version(c.k8s_version.as_deref())
            );
            let _ = writeln!(
                w,
                "```text\n{}\n```\n",
                c.status.failure().unwrap_or("(no message)")
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
}

/// A table of all cells.
fn render_all_cells(w: &mut String, cells: &[CellResult]) {
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
            let result = if c.status.passed() { "✅" } else { "❌" };
            let result = match &c.timeline_svg {
                Some(t) => format!("{result} [timeline]({t})"),
                None => result.to_owned(),
            };
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {recovery} | {reasons} | {result} |",
                c.cell(),
                show_version(c.k8s_version.as_deref()),
                md_cell(&expected),
                md_cell(&observed),
            );
        }
    }
}

/// The timing report: per cell, where its time went; then the median and
/// the range of each phase over the cells that reached it.
pub(super) fn render_timings(w: &mut String, cells: &[CellResult]) {
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

pub(super) fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
