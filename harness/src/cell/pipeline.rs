//! The state one cell shares between its stages: what it has made in the
//! cluster so far (namespace, node, NFS server, objects, the timeline's
//! watch), so that failure artifacts and cleanup find it however the cell
//! ended, the backstop timeout included. The stages live in their own
//! files (deploy, disruption, judge), the order in run.rs.

use std::time::Duration;

use kube::Client;

use crate::apps::{AppCx, Companion};
use crate::cluster::ClusterGuard;
use crate::expect::Observed;
use crate::manifest;
use crate::nfs::SharedNfs;
use crate::progress::Progress;
use crate::report::Timings;
use crate::resources::Resources;
use crate::timeline::TimelineHandle;
use crate::vocab::{App, Cell, VolumeFigures};
use crate::workload::Workload;

/// How long a freshly deployed workload gets to become Ready (image pulls
/// are preloaded; volume binding and provisioning take the rest).
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one cell's stages may take at most, as the outer backstop.
/// Every step inside has its own, shorter bound; this only catches what
/// slips through. Artifacts and cleanup run after it, outside the bound.
pub const CELL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// One cell as it runs: what it has made in the cluster so far, so that
/// failure artifacts and cleanup can find it.
pub(super) struct Pipeline<'a> {
    pub(super) res: &'a Resources,
    pub(super) cluster: &'a ClusterGuard,
    pub(super) cell: Cell,
    /// Empty until the namespace is created.
    pub(super) ns: String,
    pub(super) progress: &'a Progress,
    pub(super) nfs: Option<std::sync::Arc<SharedNfs>>,
    /// The node node-local data is pinned to.
    pub(super) node: Option<String>,
    /// The node pool the cell leased (a node-level cell on a cluster with
    /// pools): its pods run on that pool's two workers alone.
    pub(super) pool: Option<crate::cluster::Pool>,
    pub(super) applied: Vec<manifest::Manifest>,
    /// The namespace's watch, from just before the disruption until the
    /// judgement stops it (or the end of a cell that failed).
    pub(super) watcher: Option<TimelineHandle>,
    pub(super) timings: Timings,
    /// What a volume-life disruption measured, once it ran.
    pub(super) figures: VolumeFigures,
    /// The cell's Prometheus workload (its setup's).
    pub(super) prometheus: Workload,
    /// The apps run beside Prometheus (set when the cell deploys):
    /// Grafana, when the run and the setup have it.
    pub(super) companions: Vec<Box<dyn Companion>>,
}

impl<'a> Pipeline<'a> {
    pub(super) fn new(
        res: &'a Resources,
        cluster: &'a ClusterGuard,
        cell: Cell,
        pool: Option<&crate::cluster::Pool>,
        progress: &'a Progress,
    ) -> Self {
        Self {
            res,
            cluster,
            cell,
            ns: String::new(),
            progress,
            nfs: None,
            node: None,
            pool: pool.cloned(),
            applied: Vec::new(),
            watcher: None,
            timings: Timings::default(),
            figures: VolumeFigures::default(),
            prometheus: Workload::prometheus_of(cell.variant.setup()),
            companions: Vec::new(),
        }
    }
}

impl Pipeline<'_> {
    pub(super) fn client(&self) -> &Client {
        self.cluster.client()
    }

    /// How the cell's apps are reached.
    pub(super) fn cx(&self) -> AppCx<'_> {
        AppCx {
            client: self.client(),
            ns: &self.ns,
            progress: self.progress,
        }
    }

    /// The apps not among the companions, with why, for progress lines:
    /// `; grafana: not run (E2E_APPS=prometheus)`.
    pub(super) fn not_run_apps(&self) -> String {
        App::ALL
            .iter()
            .filter(|a| **a != App::Prometheus)
            .filter(|a| !self.companions.iter().any(|c| c.facts().app() == **a))
            .map(|a| format!("; {a}: not run ({})", self.why_not_run(*a)))
            .collect()
    }

    /// Whether this run deploys and judges Grafana (E2E_APPS).
    pub(super) fn runs_grafana(&self) -> bool {
        self.res.config.apps.contains(&App::Grafana) && self.setup_has(App::Grafana)
    }

    fn setup_has(&self, app: App) -> bool {
        self.cell.variant.setup().apps().contains(&app)
    }

    /// Why `app` is not run: `E2E_APPS=prometheus`, or not in the setup.
    fn why_not_run(&self, app: App) -> String {
        if self.setup_has(app) {
            self.res.config.apps_setting()
        } else {
            format!(
                "{} is not part of the {} setup",
                match app {
                    App::Prometheus => "Prometheus",
                    App::Grafana => "Grafana",
                },
                self.cell.variant.setup()
            )
        }
    }

    /// Why Grafana is not run, for the report: `E2E_APPS=prometheus`.
    pub(super) fn grafana_not_run(&self) -> Observed {
        Observed::not_run(self.why_not_run(App::Grafana))
    }
}
