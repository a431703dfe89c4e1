//! The state one cell shares between its stages: what it has made in the
//! cluster so far (namespace, node, NFS server, objects, the timeline's
//! watch), so that failure artifacts and cleanup find it however the cell
//! ended, the backstop timeout included. The stages live in their own
//! files (deploy, disruption, judge), the order in run.rs.

use std::time::Duration;

use kube::Client;

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
/// How long Grafana gets to answer healthy again after recovering.
pub const GRAFANA_AFTER_TIMEOUT: Duration = Duration::from_secs(60);
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
    pub(super) applied: Vec<manifest::Manifest>,
    /// The namespace's watch, from just before the disruption until the
    /// judgement stops it (or the end of a cell that failed).
    pub(super) watcher: Option<TimelineHandle>,
    pub(super) timings: Timings,
    /// What a volume-life disruption measured, once it ran.
    pub(super) figures: VolumeFigures,
    /// The cell's Prometheus workload (its setup's).
    pub(super) prometheus: Workload,
}

impl<'a> Pipeline<'a> {
    pub(super) fn new(
        res: &'a Resources,
        cluster: &'a ClusterGuard,
        cell: Cell,
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
            applied: Vec::new(),
            watcher: None,
            timings: Timings::default(),
            figures: VolumeFigures::default(),
            prometheus: Workload::prometheus_of(cell.variant.setup()),
        }
    }
}

impl Pipeline<'_> {
    pub(super) fn client(&self) -> &Client {
        self.cluster.client()
    }

    /// Whether this run deploys and judges Grafana (E2E_APPS).
    pub(super) fn runs_grafana(&self) -> bool {
        self.res.config.apps.contains(&App::Grafana) && self.setup_has_grafana()
    }

    fn setup_has_grafana(&self) -> bool {
        self.cell.variant.setup().apps().contains(&App::Grafana)
    }

    /// Why Grafana is not run, for the report: `E2E_APPS=prometheus`.
    pub(super) fn grafana_not_run(&self) -> Observed {
        if self.setup_has_grafana() {
            Observed::not_run(self.res.config.apps_setting())
        } else {
            Observed::not_run(format!(
                "Grafana is not part of the {} setup",
                self.cell.variant.setup()
            ))
        }
    }
}
