//! Tests of the suite: skip reasons and turns.

use super::*;
use crate::config::Config;
use crate::error::chain;
use crate::expect::expected;
use crate::host::Host;
use crate::report::Status;
use crate::vocab::{Cell, Disruption, Provider, Variant};

/// A host with an NFS client, so only the configuration decides.
fn host() -> Host {
    Host::for_tests(false, true)
}

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_pairs(vars).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_pools_of_a_run_follow_provider_and_selection() {
    assert_eq!(config(&[]).node_pools(), crate::config::DEFAULT_NODE_POOLS);
    assert_eq!(
        config(&[("E2E_DISRUPTIONS", "pod-delete,rollout-restart")]).node_pools(),
        0,
        "no disruption takes a node away: no idle workers"
    );
    assert_eq!(config(&[("E2E_PROVIDER", "k3d")]).node_pools(), 0);
    let e = Config::from_pairs(&[("E2E_PROVIDER", "k3d"), ("E2E_NODE_POOLS", "2")])
        .expect_err("pools are kind's")
        .to_string();
    assert_eq!(
        e,
        "E2E_NODE_POOLS=\"2\" is not valid: expected 0 with E2E_PROVIDER=k3d: node pools are \
         made on kind clusters only (node-level cells run one at a time elsewhere)"
    );
}

#[test]
fn test_names_are_variant_then_disruption() {
    let c = Cell::new(
        Variant::NfsStatic,
        Disruption::PodForceDelete,
        Provider::Kind,
    );
    assert_eq!(test_name(c), "nfs_static::pod_force_delete");
}

#[test]
fn skipped_cells_say_why() {
    let c = config(&[
        ("E2E_VARIANTS", "empty-dir"),
        ("E2E_DISRUPTIONS", "pod-delete"),
    ]);
    let cell = |v, d| Cell::new(v, d, Provider::Kind);
    assert_eq!(
        skip_reason(&c, &host(), cell(Variant::EmptyDir, Disruption::PodDelete)),
        None
    );
    assert_eq!(
        skip_reason(&c, &host(), cell(Variant::HostPath, Disruption::PodDelete)).as_deref(),
        Some("not selected by E2E_VARIANTS (empty-dir)")
    );
    assert_eq!(
        skip_reason(&c, &host(), cell(Variant::EmptyDir, Disruption::NodeStop)).as_deref(),
        Some("not selected by E2E_DISRUPTIONS (pod-delete)")
    );
    assert_eq!(
        skip_reason(
            &c,
            &host(),
            Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::K3d)
        )
        .as_deref(),
        Some("provider k3d (this run uses E2E_PROVIDER=kind)")
    );
    let all = config(&[]);
    assert_eq!(
        skip_reason(
            &all,
            &host(),
            cell(Variant::CustomClass, Disruption::PodDelete)
        )
        .as_deref(),
        Some("custom-class needs E2E_STORAGE_CLASS=<your class>")
    );
    let na = skip_reason(
        &all,
        &host(),
        cell(Variant::EmptyDir, Disruption::NfsRestart),
    )
    .unwrap_or_default();
    assert!(na.starts_with("not applicable: "), "{na}");
}

#[test]
fn nfs_cells_are_not_runnable_where_the_kernel_has_no_nfs_client() {
    let c = config(&[]);
    let no_nfs = Host {
        no_nfs_client: Some("the host kernel (6.18) has no NFS client".into()),
        ..host()
    };
    let why = skip_reason(
        &c,
        &no_nfs,
        Cell::new(Variant::NfsStatic, Disruption::PodDelete, Provider::Kind),
    );
    assert_eq!(
        why.as_deref(),
        Some(
            "not runnable on this host: the host kernel (6.18) has no NFS client (NFS cells run \
             where the kernel has an NFS client, e.g. GitHub's ubuntu runners)"
        )
    );
    for v in [Variant::EmptyDir, Variant::DefaultClass] {
        let cell = Cell::new(v, Disruption::PodDelete, Provider::Kind);
        assert_eq!(skip_reason(&c, &no_nfs, cell), None, "{cell}");
    }
    // An existing cluster's nodes are not this host (its NFS cells are
    // not applicable for another reason: no harness NFS server there).
    let kc = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    let existing = config(&[
        ("E2E_PROVIDER", "existing"),
        ("E2E_KUBECONFIG", &kc.path().to_string_lossy()),
    ]);
    let cell = Cell::new(
        Variant::NfsStatic,
        Disruption::PodDelete,
        Provider::Existing,
    );
    let why = skip_reason(&existing, &no_nfs, cell).unwrap_or_default();
    assert!(!why.contains("this host"), "{why}");
}

/// Every applicable cell of the default run is selected: nothing the
/// table expects something of is silently left out.
#[test]
fn the_default_run_selects_every_applicable_cell_but_custom_class() {
    let c = config(&[]);
    for cell in Cell::all().filter(|c| c.provider == Provider::Kind) {
        let e = expected(cell.variant, cell.disruption, cell.provider);
        let skipped = skip_reason(&c, &host(), cell);
        match (e.is_applicable(), cell.variant) {
            (_, Variant::CustomClass) => assert!(skipped.is_some()),
            (true, _) => assert_eq!(skipped, None, "{cell}"),
            (false, _) => assert!(
                skipped.is_some_and(|s| s.starts_with("not applicable")),
                "{cell}"
            ),
        }
    }
}

/// A run whose cluster cannot start (an existing cluster that does not
/// answer) reports that once: every cell is marked not run, in the
/// test runner and in the report, and the run has a failure to exit
/// non-zero with. The cluster is not asked again per cell.
#[tokio::test]
async fn a_run_level_failure_marks_every_cell_not_run_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, crate::cluster::unreachable_kubeconfig()).unwrap_or_else(|e| panic!("{e}"));
    let report = dir.path().join("report");
    let suite = Suite::new(
        config(&[
            ("E2E_PROVIDER", "existing"),
            ("E2E_KUBECONFIG", &kc.to_string_lossy()),
            ("E2E_REPORT_DIR", &report.to_string_lossy()),
            ("E2E_VARIANTS", "empty-dir"),
            ("E2E_DISRUPTIONS", "pod-delete,rollout-restart"),
        ]),
        host(),
    );
    let cell = |d| Cell::new(Variant::EmptyDir, d, Provider::Existing);
    let why = "the run's cluster did not start (its error is printed once, at the end of \
               the run)";
    for d in [Disruption::PodDelete, Disruption::RolloutRestart] {
        assert_eq!(
            suite.run_cell(cell(d)).await,
            CellRun::Ran(Status::NotRun { why: why.into() })
        );
    }
    let failure = suite
        .resources
        .start_failure()
        .map(|e| chain(&*e))
        .unwrap_or_default();
    assert!(
        failure.starts_with("kubernetes API: ask the API server at https://127.0.0.1:1/"),
        "{failure}"
    );
    let cells = suite
        .resources
        .report
        .load()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cells.len(), 2);
    assert!(
        cells
            .iter()
            .all(|c| c.status == Status::NotRun { why: why.into() })
    );
    suite.finish(true).await.unwrap_or_else(|e| panic!("{e}"));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap_or_default();
    assert!(md.contains("0 cells run: 0 passed, 0 failed."), "{md}");
    assert!(
        md.contains(&format!("**Not run (2 cells)**: {why}")),
        "{md}"
    );
    assert!(
        md.contains("the run's cluster did not start: kubernetes API"),
        "{md}"
    );
}
