//! The disruptions, one function each: what is done to the pod, its node
//! or the NFS server, and [`restore`], which puts shared state back.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams};

use super::target::{Applied, Target, delete_pod, need_nodes, unscheduled};
use super::{data, expand, operator, rollout, snapshot, thanos, volume};
use crate::cluster::node;
use crate::error::{Error, Result};
use crate::vocab::{Disruption, Setup};
use crate::workload;

/// How long a stopped node gets to be reported NotReady before
/// node-stop-out-of-service taints it anyway. The node lifecycle controller
/// marks a node whose kubelet stopped posting status NotReady after
/// `--node-monitor-grace-period` (40 s in 1.35 and 1.36,
/// kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/);
/// the out-of-service taint is meant for a node that is really down, which
/// is only known once it is NotReady.
pub const NODE_NOT_READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Apply `d` to the target's (first Ready, else oldest) pod.
///
/// # Errors
/// [`Error::Cannot`] when there is no pod to apply it to,
/// [`Error::NotSupported`] when node operations or an NFS server are not
/// available here, else the Kubernetes or command error.
pub async fn apply(d: Disruption, t: &Target<'_>) -> Result<Applied> {
    let pods = workload::pods(&t.client, t.namespace, &t.workload).await?;
    let pod = pods
        .iter()
        .find(|p| workload::is_ready(p))
        .or(pods.first())
        .ok_or_else(|| Error::Cannot {
            action: format!("apply {d} to {}", t.workload.name),
            why: format!("no {} pod in {}", t.workload.name, t.namespace),
        })?;
    let mut a = Applied::before(d, t, pod, &pods);
    match d {
        Disruption::ContainerKill => container_kill(t, &mut a, pod).await?,
        Disruption::PodDelete | Disruption::PodForceDelete => delete(t, &mut a).await?,
        Disruption::RolloutRestart => rollout::restart(t, &mut a, false).await?,
        Disruption::RolloutRecreate => rollout::restart(t, &mut a, true).await?,
        Disruption::StuckRolloutUnblock => {
            rollout::restart(t, &mut a, false).await?;
            rollout::unblock(t, &mut a).await?;
        }
        Disruption::RolloutOtherNode => rollout::away_from_node(t, &mut a).await?,
        Disruption::RolloutOtherNodeUnblock => {
            rollout::away_from_node(t, &mut a).await?;
            rollout::unblock(t, &mut a).await?;
        }
        Disruption::RescheduleOtherNode => reschedule(t, &mut a).await?,
        Disruption::NodeStop => node_stop(t, &mut a).await?,
        Disruption::NodeStopOutOfService => {
            node_stop(t, &mut a).await?;
            out_of_service(t, &mut a).await?;
        }
        Disruption::NfsRestart => nfs_restart(t, &mut a).await?,
        Disruption::ImageUpgrade if t.setup == Setup::Operator => {
            operator::image_upgrade(t, &mut a, pod).await?;
        }
        Disruption::ImageUpgrade => rollout::image_upgrade(t, &mut a, pod).await?,
        Disruption::OperatorRestart => operator::operator_restart(t, &mut a).await?,
        Disruption::ResourceRecreate => operator::resource_recreate(t, &mut a).await?,
        Disruption::StoreRestart => thanos::store_restart(t, &mut a).await?,
        Disruption::WalTailTorn => data::wal_tail_torn(t, &mut a, pod).await?,
        Disruption::VolumeFull => volume::volume_full(t, &mut a, pod).await?,
        Disruption::SnapshotRestore => snapshot::snapshot_restore(t, &mut a, pod).await?,
        Disruption::VolumeExpand => expand::volume_expand(t, &mut a, pod).await?,
    }
    Ok(a)
}

/// SIGKILL the container's main process from the node: the pod stays, the
/// kubelet restarts the container, and Prometheus sees its own lock file
/// left behind (clean_start 0).
async fn container_kill(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    let nodes = need_nodes(a.disruption, t)?;
    let node = a.node.clone().unwrap_or_default();
    let id = workload::container_id(pod, t.workload.container).ok_or_else(|| Error::Cannot {
        action: format!("apply {} to pod {}", a.disruption, a.old_pod),
        why: "the container has no id yet".into(),
    })?;
    let script = format!(
        "kill -KILL \"$(crictl inspect --output go-template --template '{{{{.info.pid}}}}' {id})\""
    );
    a.at = Instant::now();
    let out = nodes.node_exec(&node, &["sh", "-c", &script]).await?;
    if !out.success() {
        return Err(Error::Command {
            command: format!("[node {node}] sh -c {script:?}"),
            status: format!("exit {:?}", out.code),
            stderr: out.stderr,
        });
    }
    a.steps
        .push(format!("SIGKILL main process of container {id} on {node}"));
    Ok(())
}

/// Delete the pod, gracefully or with grace period 0.
async fn delete(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let force = a.disruption == Disruption::PodForceDelete;
    let dp = if force {
        DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::background()
        }
    } else {
        DeleteParams::default()
    };
    a.at = Instant::now();
    delete_pod(&t.client, t.namespace, &a.old_pod, &dp).await?;
    a.steps.push(format!(
        "deleted pod {} ({})",
        a.old_pod,
        if force { "grace 0" } else { "graceful" }
    ));
    Ok(())
}

/// Cordon the pod's node and delete the pod, so its replacement must land
/// on another node.
async fn reschedule(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let node = a
        .node
        .clone()
        .ok_or_else(|| unscheduled(a.disruption, &a.old_pod))?;
    node::set_unschedulable(&t.client, &node, true).await?;
    a.cordoned = Some(node.clone());
    a.at = Instant::now();
    if let Err(e) = delete_pod(&t.client, t.namespace, &a.old_pod, &DeleteParams::default()).await {
        // Never leave the node cordoned behind a failed step; if uncordoning
        // fails too, say so with the delete's error (the suite's heal_nodes
        // after the cell tries again).
        return match node::set_unschedulable(&t.client, &node, false).await {
            Ok(()) => Err(e),
            Err(undo) => Err(Error::Cannot {
                action: format!("delete pod {} on cordoned node {node}", a.old_pod),
                why: format!(
                    "{}; uncordoning {node} afterwards failed too: {}",
                    crate::error::chain(&e),
                    crate::error::chain(&undo)
                ),
            }),
        };
    }
    a.steps
        .push(format!("cordoned {node} and deleted pod {}", a.old_pod));
    Ok(())
}

/// Stop the container of the pod's node, as a power loss would.
async fn node_stop(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let nodes = need_nodes(a.disruption, t)?;
    let node = a
        .node
        .clone()
        .ok_or_else(|| unscheduled(a.disruption, &a.old_pod))?;
    a.at = Instant::now();
    nodes.stop_node(&node).await?;
    a.stopped = Some(node.clone());
    a.steps.push(format!("stopped node {node}"));
    Ok(())
}

/// Non-graceful node shutdown (kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown):
/// once the stopped node is NotReady, taint it
/// `node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`, which is
/// what an operator does after making sure the node is really down.
async fn out_of_service(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let node_name = a.stopped.clone().ok_or_else(|| Error::Cannot {
        action: format!("apply {}", a.disruption),
        why: "the node was not stopped".into(),
    })?;
    let api: Api<Node> = Api::all(t.client.clone());
    crate::wait::watch_object(
        api,
        &node_name,
        &format!("stopped node {node_name} to be reported NotReady"),
        NODE_NOT_READY_TIMEOUT,
        |n| n.filter(|n| !crate::cluster::node_is_ready(n)).map(|_| ()),
        |n| {
            n.map_or_else(
                || "the node object is gone".to_owned(),
                |n| {
                    format!(
                        "Ready={}",
                        if crate::cluster::node_is_ready(n) {
                            "True"
                        } else {
                            "not True"
                        }
                    )
                },
            )
        },
    )
    .await?;
    let not_ready_after = a.at.elapsed();
    node::set_out_of_service(&t.client, &node_name, true).await?;
    a.tainted = Some(node_name.clone());
    a.steps.push(format!(
        "{node_name} NotReady after {:.0}s; tainted it {}={}:{} (non-graceful node shutdown)",
        not_ready_after.as_secs_f64(),
        node::OUT_OF_SERVICE_TAINT,
        node::OUT_OF_SERVICE_VALUE,
        node::OUT_OF_SERVICE_EFFECT,
    ));
    Ok(())
}

async fn nfs_restart(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let nfs = t.nfs.ok_or_else(|| Error::NotSupported {
        what: a.disruption.to_string(),
        why: "this variant has no NFS server".into(),
    })?;
    a.at = Instant::now();
    nfs.restart().await?;
    a.steps.push("restarted the NFS server container".into());
    Ok(())
}

/// Undo what a disruption left changed (scale a workload it stopped back
/// up; on shared state: uncordon, start a stopped node and then remove its
/// out-of-service taint). Always call it, also when the cell failed.
///
/// The taint comes off only after the node runs again: the docs ask to
/// remove it once the pods have moved and the node is recovered, so the
/// kubelet of the restarted node cleans up before new pods may land there.
///
/// # Errors
/// The Kubernetes or node error; the caller reports it.
pub async fn restore(a: &Applied, t: &Target<'_>) -> Result<()> {
    if let Some(replicas) = a.scaled_from {
        data::scale(t, replicas).await?;
    }
    if a.store_stopped {
        thanos::scale_store(t, 1).await?;
    }
    if let Some(node) = &a.cordoned {
        node::set_unschedulable(&t.client, node, false).await?;
    }
    if let (Some(node), Some(nodes)) = (&a.stopped, t.nodes) {
        nodes.start_node(node).await?;
    }
    if let Some(node) = &a.tainted {
        node::set_out_of_service(&t.client, node, false).await?;
    }
    Ok(())
}
