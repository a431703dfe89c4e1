//! What a disruption acts on, what it did, and the operations outside the
//! Kubernetes API it may need (node containers, the NFS server).

use std::time::Instant;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams};
use kube::{Client, ResourceExt as _};

use crate::cmd::Output;
use crate::error::{Error, Result};
use crate::prometheus::{PrometheusProbe, WalMark};
use crate::vocab::{Disruption, VolumeFigures};
use crate::workload::{self, Kind, Workload};

/// Operations on cluster nodes a disruption needs; the cluster guard
/// implements them (`docker exec`/`docker stop` on node containers).
#[async_trait]
pub trait NodeOps: Send + Sync {
    /// Run `argv` on the node (in the node container).
    async fn node_exec(&self, node: &str, argv: &[&str]) -> Result<Output>;
    /// Stop the node (its container), as a power loss would.
    async fn stop_node(&self, node: &str) -> Result<()>;
    /// Start a stopped node again.
    async fn start_node(&self, node: &str) -> Result<()>;
}

/// The cluster's node operations (`docker exec`/`stop`/`start` on the node containers).
#[async_trait]
impl NodeOps for crate::cluster::ClusterInfo {
    async fn node_exec(&self, node: &str, argv: &[&str]) -> Result<Output> {
        crate::cluster::ClusterInfo::node_exec(self, node, argv).await
    }

    async fn stop_node(&self, node: &str) -> Result<()> {
        crate::cluster::ClusterInfo::stop_node(self, node).await
    }

    async fn start_node(&self, node: &str) -> Result<()> {
        crate::cluster::ClusterInfo::start_node(self, node).await
    }
}

/// Something that can be restarted in place (the NFS server).
#[async_trait]
pub trait Restartable: Send + Sync {
    /// Restart and wait until it serves again.
    async fn restart(&self) -> Result<()>;
}

/// What a disruption is applied to.
pub struct Target<'a> {
    /// API client.
    pub client: Client,
    /// The cell's namespace.
    pub namespace: &'a str,
    /// The workload disrupted.
    pub workload: Workload,
    /// How it is run.
    pub kind: Kind,
    /// Which setup deployed it (the operator's is changed through its resource).
    pub setup: crate::vocab::Setup,
    /// Node operations (None on providers whose nodes the harness does not own).
    pub nodes: Option<&'a dyn NodeOps>,
    /// The NFS server, for nfs-restart.
    pub nfs: Option<&'a dyn Restartable>,
    /// The image to upgrade to, for image-upgrade.
    pub upgrade_image: Option<&'a str>,
    /// Where Prometheus's WAL ended right before the head's top-up, for
    /// wal-tail-torn (which tears the first record after it).
    pub wal_mark: Option<&'a WalMark>,
    /// The running Prometheus's API, for volume-full, which writes to it
    /// while the volume is full and counts what it refused.
    pub prometheus: Option<&'a PrometheusProbe<'a>>,
    /// Where a disruption that takes minutes says what it waits for.
    pub progress: Option<&'a crate::progress::Progress>,
}

impl<'a> Target<'a> {
    /// The same cell's `workload`, run as `kind`: a disruption that acts on
    /// a second workload of the cell (Thanos's object store) uses the same
    /// helpers as on the first.
    pub(super) fn other(&self, workload: Workload, kind: Kind) -> Target<'a> {
        Target {
            client: self.client.clone(),
            namespace: self.namespace,
            workload,
            kind,
            setup: self.setup,
            nodes: self.nodes,
            nfs: self.nfs,
            upgrade_image: self.upgrade_image,
            wal_mark: self.wal_mark,
            prometheus: self.prometheus,
            progress: self.progress,
        }
    }
}

impl Target<'_> {
    /// Say what the disruption waits for now (progress on long steps).
    pub(super) fn say(&self, line: impl std::fmt::Display) {
        if let Some(p) = self.progress {
            p.step(format!("{}: {line}", self.workload.name));
        }
    }
}

/// What was done, for the wait that follows and for the report.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The disruption.
    pub disruption: Disruption,
    /// When it was applied: recovery time counts from here.
    pub at: Instant,
    /// The pod that was running before (and may be gone now).
    pub old_pod: String,
    /// Its uid: a StatefulSet's replacement pod has the same name.
    pub old_uid: String,
    /// The uids of all the workload's pods before (a rollout replaces them all).
    pub old_uids: Vec<String>,
    /// Whether the disruption acted on this workload; `false` for a
    /// bystander (e.g. Grafana on another node during node-stop).
    pub affected: bool,
    /// The node it ran on.
    pub node: Option<String>,
    /// The main container's restart count before.
    pub restarts_before: i32,
    /// What the harness did, step by step, for the report.
    pub steps: Vec<String>,
    /// The steps of a disruption that takes a while (the volume full, the
    /// space freed, the snapshot ready...), for the timeline's picture.
    pub marks: Vec<(Instant, String)>,
    /// What a volume-life disruption measured (empty for the others).
    pub figures: VolumeFigures,
    /// The filler volume-full wrote and has not freed yet (a path in
    /// `old_pod`).
    pub(super) filler: Option<String>,
    /// The second Prometheus snapshot-restore started on the restored
    /// claim, to be judged as the disruption's outcome.
    pub restored_pod: Option<String>,
    /// Who refused the disruption before it touched the volume (the API
    /// server refusing to resize a claim), as the reason the cell reports.
    pub refused: Option<crate::vocab::Reason>,
    /// Nodes cordoned, stopped or tainted, to put back by [`super::restore`].
    pub(super) cordoned: Option<String>,
    pub(super) stopped: Option<String>,
    pub(super) tainted: Option<String>,
    /// The replicas of a workload it scaled to 0 and has not scaled back.
    pub(super) scaled_from: Option<i32>,
    /// store-restart stopped the Thanos setup's S3 store and has not
    /// started it again.
    pub(super) store_stopped: bool,
}

impl Applied {
    /// What is known before acting on `pod`, one of the workload's `pods`.
    pub(super) fn before(
        d: Disruption,
        t: &Target<'_>,
        pod: &k8s_openapi::api::core::v1::Pod,
        pods: &[k8s_openapi::api::core::v1::Pod],
    ) -> Self {
        Self {
            disruption: d,
            at: Instant::now(),
            old_pod: pod.name_any(),
            old_uid: pod.metadata.uid.clone().unwrap_or_default(),
            old_uids: pods.iter().filter_map(|p| p.metadata.uid.clone()).collect(),
            affected: true,
            node: workload::node_of(pod),
            restarts_before: workload::restarts(pod, t.workload.container),
            steps: Vec::new(),
            marks: Vec::new(),
            figures: VolumeFigures::default(),
            filler: None,
            restored_pod: None,
            refused: None,
            cordoned: None,
            scaled_from: None,
            store_stopped: false,
            stopped: None,
            tainted: None,
        }
    }

    /// Whether the disruption replaces the pod (as opposed to restarting a
    /// container in it, or leaving it alone).
    pub fn replaces_pod(&self) -> bool {
        !(self.disruption == Disruption::ContainerKill || self.disruption.keeps_pod())
    }
}

/// Record the state of a workload a node-level disruption may hit in
/// passing (`affected` says whether its pod is on `node`), without acting.
///
/// # Errors
/// As [`super::apply`] when the workload has no pod.
pub async fn bystander(
    d: Disruption,
    t: &Target<'_>,
    node: Option<&str>,
    at: Instant,
) -> Result<Applied> {
    let pods = workload::pods(&t.client, t.namespace, &t.workload).await?;
    let pod = pods.first().ok_or_else(|| Error::Cannot {
        action: format!("apply {d} near {}", t.workload.name),
        why: format!("no {} pod in {}", t.workload.name, t.namespace),
    })?;
    let mut a = Applied::before(d, t, pod, &pods);
    a.at = at;
    let on = a.node.as_deref();
    a.affected = d == Disruption::NfsRestart || (d.stops_node() && on.is_some() && on == node);
    Ok(a)
}

/// Building [`Applied`] values for other modules' tests.
/// The node operations `d` needs, or why there are none here.
pub(super) fn need_nodes<'a>(d: Disruption, t: &Target<'a>) -> Result<&'a dyn NodeOps> {
    t.nodes.ok_or_else(|| Error::NotSupported {
        what: d.to_string(),
        why: "node operations need a cluster the harness owns (kind or k3d)".into(),
    })
}

/// The claim behind the pod's data volume: its name and the claim as the
/// API has it now.
///
/// # Errors
/// [`Error::Cannot`] naming what `d` needed when the data volume is no
/// claim; the API's error.
pub(super) async fn data_claim(
    t: &Target<'_>,
    d: Disruption,
    pod: &Pod,
) -> Result<(String, PersistentVolumeClaim)> {
    let name = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|vs| vs.iter().find(|v| v.name == crate::manifest::DATA_VOLUME))
        .and_then(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone())
        .ok_or_else(|| Error::Cannot {
            action: format!("apply {d} to pod {}", pod.name_any()),
            why: format!("its {} volume is not a claim", crate::manifest::DATA_VOLUME),
        })?;
    let claim = Api::<PersistentVolumeClaim>::namespaced(t.client.clone(), t.namespace)
        .get(&name)
        .await
        .map_err(|e| Error::kube(format!("get claim {}/{name}", t.namespace), e))?;
    Ok((name, claim))
}

pub(super) fn unscheduled(d: Disruption, pod: &str) -> Error {
    Error::Cannot {
        action: format!("apply {d}"),
        why: format!("pod {pod} is not scheduled on a node"),
    }
}

pub(super) async fn delete_pod(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    dp: &DeleteParams,
) -> Result<()> {
    Api::<Pod>::namespaced(client.clone(), namespace)
        .delete(name, dp)
        .await
        .map(|_| ())
        .map_err(|e| Error::kube(format!("delete pod {name}"), e))
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    /// What [`super::super::apply`] would record for `d` on `pod`, before acting.
    pub(crate) fn applied(d: Disruption, pod: &Pod) -> Applied {
        Applied {
            disruption: d,
            at: Instant::now(),
            old_pod: pod.name_any(),
            old_uid: pod.metadata.uid.clone().unwrap_or_default(),
            old_uids: pod.metadata.uid.iter().cloned().collect(),
            affected: true,
            node: workload::node_of(pod),
            restarts_before: workload::restarts(pod, "prometheus"),
            steps: Vec::new(),
            marks: Vec::new(),
            figures: VolumeFigures::default(),
            filler: None,
            restored_pod: None,
            refused: None,
            cordoned: None,
            stopped: None,
            tainted: None,
            scaled_from: None,
            store_stopped: false,
        }
    }
}
