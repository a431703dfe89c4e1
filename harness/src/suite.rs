//! A tier-2 run: which cells run, in what order, one at a time or
//! together, and what the test runner is told about each. What the cells
//! share (cluster, NFS server, images, report) is in [`crate::resources`].
//!
//! libtest has no global setup or teardown (rust-lang/rust#117668), so the e2e binary is
//! a libtest-compatible harness (libtest-mimic) whose `main` owns a
//! [`Suite`]: it starts the cluster when the first selected cell runs and
//! cleans everything up after the last one, keeping it on failure per
//! E2E_KEEP. The cluster guard's reaper covers a killed process.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::RwLock;

use crate::config::Config;
use crate::error::{Result, chain};
use crate::expect::expected;
use crate::host::Host;
use crate::report::Status;
use crate::resources::Resources;
use crate::vocab::{Cell, Disruption, NamedId as _, Variant};

/// Why a cell is not run, when it is not. Reported as "ignored" with this
/// reason, never as a pass.
pub fn skip_reason(config: &Config, host: &Host, cell: Cell) -> Option<String> {
    if cell.provider != config.provider {
        return Some(format!(
            "provider {} (this run uses E2E_PROVIDER={})",
            cell.provider, config.provider
        ));
    }
    if !config.variants.contains(&cell.variant) {
        return Some(
            if cell.variant == Variant::CustomClass && config.storage_class.is_none() {
                "custom-class needs E2E_STORAGE_CLASS=<your class>".to_owned()
            } else {
                format!("not selected by E2E_VARIANTS ({})", ids(&config.variants))
            },
        );
    }
    if !config.disruptions.contains(&cell.disruption) {
        return Some(format!(
            "not selected by E2E_DISRUPTIONS ({})",
            ids(&config.disruptions)
        ));
    }
    let e = expected(cell.variant, cell.disruption, cell.provider);
    if let Some(why) = e.not_applicable_why() {
        return Some(format!("not applicable: {why}"));
    }
    host.cannot_run(cell.variant, cell.provider)
        .map(|why| format!("not runnable on this host: {why}"))
}

fn ids<T: crate::vocab::NamedId>(v: &[T]) -> String {
    v.iter().map(|x| x.id()).collect::<Vec<_>>().join(",")
}

/// The test name of a cell: `<variant>::<disruption>` with `_` for `-`,
/// e.g. `nfs_static::pod_delete`, so `cargo test --features e2e nfs_static`
/// selects a variant and `-- pod_delete` a disruption.
pub fn test_name(cell: Cell) -> String {
    format!(
        "{}::{}",
        cell.variant.id().replace('-', "_"),
        cell.disruption.id().replace('-', "_")
    )
}

/// Where a cell goes in the run's order (smaller first): cells that
/// disrupt one pod first, the long ones before the short ones, then the
/// node-level ones. Why: a node-level cell runs alone, and while it waits
/// for the lock no new cell starts, so scattered among the others each one
/// drains every parallel slot first; gathered at the end they drain them
/// once. The provoked stuck rollouts (the 120 s deadline) start first so
/// they do not form the tail (what it saved is in the README's Speed
/// section).
pub fn run_order(cell: Cell) -> (bool, u8) {
    let long_first = match cell.disruption {
        Disruption::RolloutRestart | Disruption::RolloutOtherNode => 0,
        Disruption::StuckRolloutUnblock | Disruption::RolloutOtherNodeUnblock => 1,
        Disruption::NodeStop | Disruption::NodeStopOutOfService => 2,
        _ => 3,
    };
    (cell.disruption.runs_alone(), long_first)
}

/// The run: its shared resources and the lock that serialises node-level cells.
pub struct Suite {
    /// What the cells share.
    pub resources: Resources,
    node_lock: RwLock<()>,
    ran: AtomicBool,
}

/// How a cell ended, for the test runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellRun {
    /// Not run: not selected or not applicable (reported as ignored, with
    /// why; the report has no row for it).
    Skipped(String),
    /// Reached the report with this status. A cell not run because the run
    /// itself failed first is reported ignored; the run's error is printed
    /// once and fails the run.
    Ran(Status),
}

impl Suite {
    /// A suite for `config` on `host`; nothing is started until a cell needs it.
    pub fn new(config: Config, host: Host) -> Self {
        Self {
            resources: Resources::new(config, host),
            node_lock: RwLock::new(()),
            ran: AtomicBool::new(false),
        }
    }

    /// Run one cell (unless it is skipped; the cell bounds itself by
    /// `CELL_TIMEOUT` (30 min) and records its own row), and give
    /// every node back after a node-level one.
    pub async fn run_cell(&self, cell: Cell) -> CellRun {
        let res = &self.resources;
        if let Some(why) = skip_reason(&res.config, &res.host, cell) {
            return CellRun::Skipped(why);
        }
        self.ran.store(true, Ordering::SeqCst);
        // The whole cell runs under the lock: a node-level disruption would
        // otherwise hit the pods other cells are deploying or judging. The
        // backstop starts once the lock is held, so queueing does not count.
        let lock = self.disruption_lock(cell.disruption).await;
        let Ok(cluster) = res.cluster().await else {
            // A run-level failure: its error goes into the report's notes
            // and is printed once at the end of the run; the cell is only
            // marked, in the one row it gets.
            let why = "the run's cluster did not start (its error is printed once, at the end \
                       of the run)";
            let r = crate::cell::not_run(cell, why);
            if let Err(e) = res.report.record(&r) {
                eprintln!("storage-e2e: could not record {cell}: {e}");
            }
            return CellRun::Ran(r.status);
        };
        let outcome = CellRun::Ran(crate::cell::run(res, &cluster, cell).await.status);
        if cell.disruption.is_node_level() {
            // Whatever the cell did or failed to undo (a cell cut off by the
            // backstop never reaches its own restore), the next cell gets
            // every node back: started, uncordoned and Ready.
            if let Err(e) = cluster.heal_nodes().await {
                eprintln!("storage-e2e: after {cell}: {}", chain(&e));
            }
        }
        drop(lock);
        outcome
    }

    /// Hold this while a cell disrupts: node-level disruptions (and the
    /// operator's restart, which every operator cell shares) run alone,
    /// pod-level ones together.
    pub async fn disruption_lock(&self, d: Disruption) -> DisruptionLock<'_> {
        if d.runs_alone() {
            DisruptionLock::Exclusive(self.node_lock.write().await)
        } else {
            DisruptionLock::Shared(self.node_lock.read().await)
        }
    }

    /// Tear down at the end of the run: the NFS server and the cluster
    /// (each kept per E2E_KEEP when `failed`), then write the report.
    ///
    /// # Errors
    /// The first cleanup error; the report is written regardless.
    pub async fn finish(self, failed: bool) -> Result<()> {
        let report = self.resources.report.clone();
        let cleanup = self.resources.finish(failed).await;
        if self.ran.load(Ordering::SeqCst) {
            report.write()?;
            eprintln!(
                "storage-e2e: report in {}",
                report.dir().join("report.md").display()
            );
        }
        cleanup
    }
}

/// A held [`Suite::disruption_lock`].
pub enum DisruptionLock<'a> {
    /// A node-level cell: nothing else disrupts meanwhile.
    Exclusive(tokio::sync::RwLockWriteGuard<'a, ()>),
    /// A pod-level cell.
    Shared(tokio::sync::RwLockReadGuard<'a, ()>),
}

#[cfg(test)]
mod order_tests {
    use super::*;
    use crate::vocab::Provider;

    #[test]
    fn pod_level_cells_run_first_stuck_rollouts_leading_node_level_last() {
        let mut cells: Vec<Cell> = Cell::all()
            .filter(|c| c.provider == Provider::Kind)
            .collect();
        cells.sort_by_key(|c| run_order(*c));
        let first_node_level = cells
            .iter()
            .position(|c| c.disruption.runs_alone())
            .unwrap_or(cells.len());
        assert!(
            cells[first_node_level..]
                .iter()
                .all(|c| c.disruption.runs_alone())
        );
        assert!(
            cells[..first_node_level]
                .iter()
                .all(|c| !c.disruption.runs_alone())
        );
        assert_eq!(cells[0].disruption, Disruption::RolloutRestart);
        assert_eq!(cells[first_node_level].disruption, Disruption::NodeStop);
        // A stable sort: within a group, the table's variant order stays.
        assert_eq!(cells[0].variant, Variant::EmptyDir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Provider;

    /// A host with an NFS client, so only the configuration decides.
    fn host() -> Host {
        Host::for_tests(false, true)
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_pairs(vars).unwrap_or_else(|e| panic!("{e}"))
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
        std::fs::write(&kc, crate::cluster::unreachable_kubeconfig())
            .unwrap_or_else(|e| panic!("{e}"));
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
}
