//! Tier-0 tests of the report: results, rendering, and the report directory.

use std::path::PathBuf;
use std::time::Duration;

use super::TIMELINE_SVG;
use super::render::{LEGEND, read_json, render_json, render_markdown};
use super::result::{CellResult, Status, Timings};
use super::store::Report;
use crate::expect::{Observation, Observed};
use crate::timeline::Finding;
use crate::vocab::{
    Cell, Disruption, Judgement, NamedId, Part, PartKind, Provider, Reason, Variant, Verdict,
};

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
    crate::cell::judged(
        cell,
        false,
        Some("v1.34.0"),
        obs,
        Some(&p),
        Some(&g),
        Ok(()),
    )
}

fn failing() -> CellResult {
    let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
    let p = judged(Verdict::Survived, 5);
    let g = judged(
        Verdict::Lost {
            parts: vec![Part::object(PartKind::Dashboard, "e2e-dash")],
        },
        6,
    );
    let obs = Observation {
        prometheus: Observed::new(Some(&p), vec![], true),
        grafana: Observed::new(Some(&g), vec![], true),
    };
    crate::cell::judged(
        cell,
        false,
        Some("v1.34.0"),
        obs,
        Some(&p),
        Some(&g),
        Ok(()),
    )
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
    assert_eq!(c.status, Status::Passed);
    assert_eq!(c.recovery_seconds, Some(12.0));
    assert_eq!(c.reasons, vec![Reason::PrometheusLockHeld]);
    assert_eq!(
        c.checks.grafana.as_ref().map(|g| &g.verdict),
        Some(&Verdict::Survived)
    );

    let f = failing();
    assert!(!f.status.passed());
    let msg = f.status.failure().unwrap_or_default();
    assert!(msg.contains("cell empty-dir/pod-delete on kind"), "{msg}");
    assert!(msg.contains("prometheus: expected lost"), "{msg}");
}

#[test]
fn an_unjudged_or_errored_cell_fails() {
    let cell = Cell::new(Variant::HostPath, Disruption::NodeStop, Provider::K3d);
    let e = crate::cell::failed(
        cell,
        Some("v1.33.1"),
        "timed out waiting for prometheus ready",
    );
    assert_eq!(
        e.status.failure(),
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
            parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
        },
        9,
    );
    let obs = Observation {
        prometheus: Observed::new(Some(&p), vec![], true),
        grafana: Observed::not_run("E2E_APPS=prometheus"),
    };
    let c = crate::cell::judged(cell, false, Some("1.35"), obs, Some(&p), None, Ok(()));
    assert_eq!(c.status, Status::Passed);
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
fn volume_figures_are_listed_per_cell_and_kept_in_the_json() {
    let figures = crate::vocab::VolumeFigures {
        filler: Some("/prometheus/storage-e2e-filler".into()),
        fill_seconds: Some(4.45),
        refused_while_full: Some(60),
        lost_while_full: Some(60),
        recovered_after_free_seconds: Some(6.46),
        ..Default::default()
    };
    let c = passing().with_volume(figures.clone());
    let md = render_markdown(std::slice::from_ref(&c), &[]);
    assert!(md.contains("## The volume's own life: figures"), "{md}");
    assert!(md.contains("  - time to fill: 4.5 s"), "{md}");
    assert!(md.contains("  - lost while full: 60"), "{md}");
    let back: CellResult = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back.volume, figures);
    // A cell that measured nothing has no section and no key.
    let plain = passing();
    assert!(!render_markdown(std::slice::from_ref(&plain), &[]).contains("own life"));
    assert!(
        !serde_json::to_string(&plain)
            .unwrap()
            .contains("\"volume\"")
    );
}

#[test]
fn json_has_a_summary_and_round_trips() {
    let cells = vec![passing(), failing()];
    let json = render_json(&cells, &[]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["passed"], 1);
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["not_run"], 0);
    assert_eq!(v["cells"][0]["status"], "passed");
    assert_eq!(v["cells"][1]["status"], "failed");
    assert!(
        v["cells"][1]["failure"]
            .as_str()
            .is_some_and(|f| f.contains("expected lost"))
    );
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
            c.cell.variant = v;
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
        .with_artifacts(r.dir(), &dir)
        .with_timeline_svg(r.dir(), &dir.join(TIMELINE_SVG));
    let passed = passing();
    let file = r.timeline_dir(passed.cell(), true).join(TIMELINE_SVG);
    let passed = passed.with_timeline_svg(r.dir(), &file);
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
    let c = crate::cell::failed(cell, Some("v1.34.0"), "x")
        .with_artifacts(r.dir(), &r.artifacts_dir(cell));
    assert_eq!(
        c.artifacts.as_deref(),
        Some("failures/rwop__rollout-restart__kind")
    );
}

#[test]
fn across_minors_marks_a_cell_whose_outcome_differs_and_shows_each_minors_findings() {
    let on = |mut c: CellResult, minor: &str| {
        c.k8s_version = Some(minor.to_owned());
        c
    };
    // One minor: no cross-minor section.
    let one = render_markdown(&[passing(), failing()], &[]);
    assert!(!one.contains("## Across Kubernetes minors"), "{one}");

    // empty-dir/pod-delete: Prometheus survived on 1.35 and was lost on
    // 1.36 (both cells failed, for Grafana's part too): the outcome class
    // differs; nfs-static/pod-delete agrees on both minors.
    let mut lost = failing();
    lost.observed = Some(Observation {
        prometheus: Observed::new(
            Some(&judged(
                Verdict::Lost {
                    parts: vec![Part::new(PartKind::Blocks)],
                },
                3,
            )),
            vec![],
            true,
        ),
        grafana: Observed::new(Some(&judged(Verdict::Survived, 3)), vec![], true),
    });
    lost.findings = vec!["Pod/prometheus-y: Killing".into()];
    let cells = [
        on(passing(), "1.35"),
        on(passing(), "1.36"),
        on(failing(), "1.35"),
        on(lost, "1.36"),
    ];
    let md = render_markdown(&cells, &[]);
    assert!(md.contains("## Across Kubernetes minors"), "{md}");
    assert!(md.contains("| cell | 1.35 | 1.36 | |"), "{md}");
    assert!(
        md.contains("| nfs-static/pod-delete on kind | ✅ ✔ | ✅ ✔ |  |"),
        "{md}"
    );
    assert!(
        md.contains("| empty-dir/pod-delete on kind | ❌ ✔ | ❌ ✘ | **differs** |"),
        "{md}"
    );
    let detail = md
        .split("### empty-dir/pod-delete on kind: differs between minors")
        .nth(1)
        .unwrap_or_default();
    assert!(
        detail.contains("- Kubernetes 1.35: survives (failed;"),
        "{detail}"
    );
    assert!(detail.contains("- Kubernetes 1.36: lost"), "{detail}");
    assert!(detail.contains("  - Pod/prometheus-y: Killing"), "{detail}");
    assert!(
        detail.contains("  - crash-loop Pod/x: container prometheus CrashLoopBackOff"),
        "{detail}"
    );
    assert!(
        !md.contains("nfs-static/pod-delete on kind: differs"),
        "{md}"
    );
    // Each minor keeps its own matrix too.
    assert!(md.contains("## kind, Kubernetes 1.35"), "{md}");
    assert!(md.contains("## kind, Kubernetes 1.36"), "{md}");
}

#[test]
fn a_report_json_reads_back_into_its_cells_and_notes() {
    let cells = [passing(), failing()];
    let notes = ["a note".to_owned()];
    let text = render_json(&cells, &notes).unwrap_or_else(|e| panic!("{e}"));
    let (back, back_notes) = read_json(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, cells);
    assert_eq!(back_notes, notes);
    let e = read_json("{\"cells\": 3}")
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("report.json"), "{e}");
}
