//! Tier-0 tests of outcomes and of matching observations against the table.

use std::time::Duration;

use super::matching::{Observation, Observed, matches};
use super::outcome::{Expectation, Outcome};
use super::sources::Source;
use super::table::expected;
use crate::vocab::{
    Cell, Disruption, Judgement, NamedId, Part, PartKind, Provider, Reason, Variant, Verdict,
};

fn judged(verdict: Verdict) -> Judgement {
    Judgement {
        verdict,
        details: vec![],
        recovery: Some(Duration::from_secs(3)),
    }
}

fn seen(outcome_of: Option<Verdict>, reasons: &[Reason]) -> Observed {
    Observed::new(outcome_of.map(judged).as_ref(), reasons.to_vec(), true)
}

#[test]
fn observed_lost_wins_over_everything_else() {
    let j = judged(Verdict::Lost {
        parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
    });
    let o = Outcome::observed(Some(&j), &[Reason::ProgressDeadlineExceeded]);
    assert_eq!(
        o,
        Outcome::Lost {
            what: "blocks, head/wal".into(),
            parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
        }
    );
}

#[test]
fn a_refusal_is_its_own_outcome_and_only_a_refusal_passes_for_it() {
    let refused = Outcome::Refused {
        reason: Reason::ExpansionForbidden,
    };
    let r = [Reason::ExpansionForbidden];
    // Data intact and the API server's refusal seen: refused, not survives.
    let o = seen(Some(Verdict::Survived), &r);
    assert_eq!(o.outcome, refused);
    assert!(refused.accepts(&o.outcome, &r));
    // An expansion that went through where the table predicts a refusal
    // (the class suddenly allows it) fails, and so does the reverse.
    let grown = seen(Some(Verdict::Survived), &[]);
    assert!(!refused.accepts(&grown.outcome, &[]));
    assert!(!Outcome::Survives.accepts(&o.outcome, &r));
    // A loss is a loss, refusal or not.
    let lost = seen(
        Some(Verdict::Lost {
            parts: vec![Part::new(PartKind::Blocks)],
        }),
        &r,
    );
    assert!(!refused.accepts(&lost.outcome, &r));
}

#[test]
fn observed_stuck_rollout_names_the_specific_cause() {
    let j = judged(Verdict::Survived);
    let o = Outcome::observed(
        Some(&j),
        &[
            Reason::CrashLoop,
            Reason::ProgressDeadlineExceeded,
            Reason::PrometheusLockHeld,
        ],
    );
    assert_eq!(
        o,
        Outcome::RolloutStuck {
            reason: Reason::PrometheusLockHeld
        }
    );
}

#[test]
fn observed_never_ready_is_pending_or_not_ready() {
    assert_eq!(
        Outcome::observed(None, &[Reason::Unschedulable, Reason::NodeAffinityConflict]),
        Outcome::Pending {
            reason: Reason::NodeAffinityConflict
        }
    );
    assert!(matches!(
        Outcome::observed(None, &[]),
        Outcome::NotReady { .. }
    ));
}

#[test]
fn expected_reason_must_be_among_the_reasons_seen() {
    let want = Outcome::RolloutStuck {
        reason: Reason::PrometheusLockHeld,
    };
    let stuck = Outcome::RolloutStuck {
        reason: Reason::MultiAttach,
    };
    assert!(!want.accepts(
        &stuck,
        &[Reason::MultiAttach, Reason::ProgressDeadlineExceeded]
    ));
    assert!(want.accepts(&stuck, &[Reason::MultiAttach, Reason::PrometheusLockHeld]));
    assert!(!want.accepts(&Outcome::Survives, &[Reason::PrometheusLockHeld]));
}

#[test]
fn one_of_accepts_any_alternative_and_nothing_else() {
    let want = Outcome::OneOf {
        outcomes: vec![
            Outcome::Survives,
            Outcome::RolloutStuck {
                reason: Reason::MultiAttach,
            },
        ],
    };
    assert!(want.accepts(&Outcome::Survives, &[]));
    assert!(want.accepts(
        &Outcome::RolloutStuck {
            reason: Reason::MultiAttach
        },
        &[Reason::MultiAttach, Reason::ProgressDeadlineExceeded]
    ));
    assert!(!want.accepts(
        &Outcome::Lost {
            what: "blocks".into(),
            parts: vec![Part::new(PartKind::Blocks)],
        },
        &[]
    ));
}

/// The negative control must see the whole loss: a half-detected loss,
/// or a seed that was missing before the disruption, does not pass.
#[test]
fn an_expected_loss_needs_every_part_detected() {
    let want = Outcome::Lost {
        what: "blocks and WAL".into(),
        parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
    };
    let seen = |parts: Vec<Part>| {
        let j = judged(Verdict::Lost { parts });
        Outcome::observed(Some(&j), &[])
    };
    let blocks = || Part::new(PartKind::Blocks);
    let head = || Part::new(PartKind::HeadWal);
    assert!(want.accepts(&seen(vec![blocks(), head()]), &[]));
    assert!(!want.accepts(&seen(vec![head()]), &[]));
    assert!(!want.accepts(&seen(vec![blocks(), head().missing_before()]), &[]));
    // Only the head's tail expected: losing the blocks too is not it.
    let tail = Outcome::Lost {
        what: "the head's newest samples".into(),
        parts: vec![head()],
    };
    assert!(tail.accepts(
        &seen(vec![head().with_evidence("320 before, 301 after")]),
        &[]
    ));
    assert!(!tail.accepts(&seen(vec![blocks(), head()]), &[]));
    assert!(!tail.accepts(&seen(vec![blocks()]), &[]));
    let grafana = Outcome::Lost {
        what: "grafana.db".into(),
        parts: [PartKind::Dashboard, PartKind::Datasource, PartKind::Folder]
            .into_iter()
            .map(Part::new)
            .collect(),
    };
    let dashboard = || Part::object(PartKind::Dashboard, "e2e-gdash-1");
    let others = || {
        vec![
            Part::object(PartKind::Datasource, "e2e-gds-1"),
            Part::object(PartKind::Folder, "e2e-gfolder-1"),
        ]
    };
    assert!(grafana.accepts(&seen([vec![dashboard()], others()].concat()), &[]));
    assert!(!grafana.accepts(
        &seen([vec![dashboard().missing_before()], others()].concat()),
        &[]
    ));
    assert!(!grafana.accepts(&seen(vec![dashboard()]), &[]));
}

#[test]
fn matching_cell_passes() {
    let cell = Cell::new(Variant::LocalPv, Disruption::RolloutRestart, Provider::Kind);
    let exp = expected(cell.variant, cell.disruption, cell.provider);
    let obs = Observation {
        prometheus: seen(
            Some(Verdict::Survived),
            &[Reason::PrometheusLockHeld, Reason::ProgressDeadlineExceeded],
        ),
        grafana: seen(Some(Verdict::Survived), &[]),
    };
    assert_eq!(matches(&exp, &obs), Ok(()));
}

#[test]
fn mismatch_names_cell_expectation_source_and_what_was_seen() {
    let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
    let exp = expected(cell.variant, cell.disruption, cell.provider);
    let obs = Observation {
        prometheus: seen(Some(Verdict::Survived), &[]),
        grafana: seen(
            Some(Verdict::Lost {
                parts: vec![
                    Part::object(PartKind::Dashboard, "e2e-dash"),
                    Part::object(PartKind::Datasource, "e2e-ds"),
                    Part::object(PartKind::Folder, "e2e-folder"),
                ],
            }),
            &[],
        ),
    };
    let msg = matches(&exp, &obs)
        .expect_err("empty-dir must lose data")
        .to_string();
    assert!(
        msg.starts_with("cell empty-dir/pod-delete on kind: observed != expected"),
        "{msg}"
    );
    assert!(msg.contains("prometheus: expected lost ("), "{msg}");
    assert!(
        msg.contains("observed survives (reasons seen: none)"),
        "{msg}"
    );
    assert!(!msg.contains("grafana: expected"), "grafana matched: {msg}");
    assert!(
        msg.contains("kubernetes.io/docs/concepts/storage/volumes/#emptydir"),
        "{msg}"
    );
}

/// E2E_APPS=prometheus: the cell is judged on Prometheus alone, and
/// Grafana shows as not run, with the reason, in pass and failure alike.
#[test]
fn an_app_not_run_is_shown_never_judged() {
    let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
    let exp = expected(cell.variant, cell.disruption, cell.provider);
    let lost = Verdict::Lost {
        parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
    };
    let obs = Observation {
        prometheus: seen(Some(lost), &[]),
        grafana: Observed::not_run("E2E_APPS=prometheus"),
    };
    assert_eq!(matches(&exp, &obs), Ok(()));
    assert_eq!(obs.grafana.outcome.label(), "not run (E2E_APPS=prometheus)");
    assert_ne!(obs.grafana.outcome, Outcome::Survives);

    let obs = Observation {
        prometheus: seen(Some(Verdict::Survived), &[]),
        grafana: Observed::not_run("E2E_APPS=prometheus"),
    };
    let msg = matches(&exp, &obs)
        .expect_err("the negative control survived")
        .to_string();
    assert!(msg.contains("prometheus: expected lost ("), "{msg}");
    assert!(
        msg.contains("\n  grafana: not run (E2E_APPS=prometheus)"),
        "{msg}"
    );
}

#[test]
fn untouched_app_must_survive() {
    let cell = Cell::new(Variant::LocalPv, Disruption::NodeStop, Provider::Kind);
    let exp = expected(cell.variant, cell.disruption, cell.provider);
    let mut untouched = seen(None, &[Reason::NodeAffinityConflict]);
    untouched.disrupted = false;
    let obs = Observation {
        prometheus: seen(None, &[Reason::NodeAffinityConflict, Reason::NodeNotReady]),
        grafana: untouched,
    };
    let msg = matches(&exp, &obs)
        .expect_err("grafana was not on the node")
        .to_string();
    assert!(
        msg.contains("grafana: expected survives because the disruption did not touch it"),
        "{msg}"
    );
}

#[test]
fn running_a_not_applicable_cell_is_a_mismatch() {
    let cell = Cell::new(Variant::EmptyDir, Disruption::NfsRestart, Provider::Kind);
    let exp = expected(cell.variant, cell.disruption, cell.provider);
    let obs = Observation {
        prometheus: seen(Some(Verdict::Survived), &[]),
        grafana: seen(Some(Verdict::Survived), &[]),
    };
    let msg = matches(&exp, &obs).expect_err("n/a").to_string();
    assert!(msg.contains("not applicable"), "{msg}");
}

#[test]
fn cells_and_outcomes_round_trip_through_json() {
    for cell in Cell::all() {
        let exp = expected(cell.variant, cell.disruption, cell.provider);
        let json = serde_json::to_string(&exp).unwrap();
        let back: Expectation = serde_json::from_str(&json).unwrap();
        assert_eq!(back, exp, "{json}");
    }
}

#[test]
fn cell_ids() {
    let cell = Cell::new(Variant::NfsStatic, Disruption::PodDelete, Provider::K3d);
    assert_eq!(cell.short(), "nfs-static/pod-delete");
    assert_eq!(cell.file_stem(), "nfs-static__pod-delete__k3d");
    assert_eq!(cell.to_string(), "nfs-static/pod-delete on k3d");
    assert_eq!(
        Cell::all().count(),
        Variant::ALL.len() * Disruption::ALL.len() * Provider::ALL.len()
    );
}

#[test]
fn reason_ids_match_serde() {
    for r in Reason::ALL {
        assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{}\"", r.id()));
    }
}

/// Every citation a clone can check by itself resolves: project paths
/// exist, and seed articles are the ones README.md describes.
#[test]
fn citations_inside_the_repository_resolve() {
    let root = crate::config::default_dir()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    for cell in Cell::all() {
        for s in expected(cell.variant, cell.disruption, cell.provider).sources {
            match &s {
                Source::Project { path, .. } => {
                    assert!(root.join(path.as_ref()).is_file(), "{cell}: {s}");
                }
                Source::Seed { file, .. } => assert!(readme.contains(file.as_ref()), "{cell}: {s}"),
                _ => {}
            }
        }
    }
}
