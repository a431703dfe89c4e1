//! Disruptions done to an app's data on the node rather than to its pods:
//! [`wal_tail_torn`], a backend that lost the tail of its last writes.
//!
//! The harness makes this fault itself (it stops Prometheus and cuts a
//! file on the node's copy of the volume); no storage did it. It is the
//! negative control of the head's density: a judgement that cannot see a
//! partial loss of the newest samples fails the cell.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, Patch};
use serde_json::json;

use super::rollout::patch_workload;
use super::target::{Applied, Target, need_nodes, unscheduled};
use crate::error::{Error, Result};
use crate::manifest::DATA_VOLUME;
use crate::prometheus::cut_after_mark_script;
use crate::workload::{self, Kind};

/// How long the stopped Prometheus gets to exit (its graceful shutdown
/// closes the WAL) before the cut.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Stop Prometheus by scaling its workload to 0, wait until its pods are
/// gone (a graceful stop: the WAL is closed and synced), tear the first WAL
/// record written after the target's mark (taken right before the head's
/// top-up) on the node, and scale back. On start, Prometheus replays the
/// WAL up to the torn record and discards the rest (tsdb/wlog/wlog.go
/// `Repair`: "It discards all data after the corruption"): the top-up's
/// samples and everything after them are gone, and only those.
pub(super) async fn wal_tail_torn(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    let nodes = need_nodes(a.disruption, t)?;
    let node = a
        .node
        .clone()
        .ok_or_else(|| unscheduled(a.disruption, &a.old_pod))?;
    let mark = t.wal_mark.ok_or_else(|| Error::Cannot {
        action: format!("apply {} to {}", a.disruption, t.workload.name),
        why: "no WAL mark was taken before the head's top-up (the cell takes one for this \
              disruption only)"
            .into(),
    })?;
    let dir = data_dir_on_node(&t.client, t.namespace, pod).await?;
    let replicas = replicas(t).await?;
    a.at = Instant::now();
    scale(t, 0).await?;
    a.scaled_from = Some(replicas);
    workload::watch_pods(
        &t.client,
        t.namespace,
        &t.workload,
        &format!("{} scaled to 0 to have no pod", t.workload.name),
        STOP_TIMEOUT,
        |pods| pods.is_empty().then_some(()),
    )
    .await?;
    let script = cut_after_mark_script(&dir, mark);
    let out = nodes.node_exec(&node, &["sh", "-c", &script]).await?;
    if !out.success() {
        return Err(Error::Command {
            command: format!("[node {node}] sh -c {script:?}"),
            status: format!("exit {:?}", out.code),
            stderr: format!("{}{}", out.stderr, out.stdout),
        });
    }
    let cut = out.stdout.trim().to_owned();
    scale(t, replicas).await?;
    a.scaled_from = None;
    a.steps.push(format!(
        "scaled {} to 0, cut on {node} in {dir}/wal: {cut}; scaled back to {replicas}",
        t.workload.name
    ));
    Ok(())
}

/// Where the pod's `data` volume lives on its node: a hostPath volume's
/// path, or the hostPath or local path of the PersistentVolume its claim
/// is bound to (local-path, local PVs).
///
/// # Errors
/// [`Error::Cannot`] for any other volume (an emptyDir goes with its pod;
/// NFS and attachable volumes are not a node directory).
pub(super) async fn data_dir_on_node(
    client: &kube::Client,
    namespace: &str,
    pod: &Pod,
) -> Result<String> {
    let cannot = |why: String| Error::Cannot {
        action: format!(
            "find the {DATA_VOLUME} volume of pod {} on its node",
            pod_name(pod)
        ),
        why,
    };
    let volume = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|vs| vs.iter().find(|v| v.name == DATA_VOLUME))
        .ok_or_else(|| cannot(format!("the pod has no volume named {DATA_VOLUME}")))?;
    if let Some(h) = &volume.host_path {
        return Ok(h.path.clone());
    }
    let claim = volume
        .persistent_volume_claim
        .as_ref()
        .ok_or_else(|| cannot("it is neither a hostPath volume nor a claim".into()))?;
    let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .get(&claim.claim_name)
        .await
        .map_err(|e| Error::kube(format!("get claim {namespace}/{}", claim.claim_name), e))?;
    let pv_name = pvc
        .spec
        .and_then(|s| s.volume_name)
        .ok_or_else(|| cannot(format!("claim {} is not bound", claim.claim_name)))?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&pv_name)
        .await
        .map_err(|e| Error::kube(format!("get persistent volume {pv_name}"), e))?;
    let spec = pv.spec.unwrap_or_default();
    spec.host_path
        .map(|h| h.path)
        .or(spec.local.map(|l| l.path))
        .ok_or_else(|| {
            cannot(format!(
                "persistent volume {pv_name} is neither hostPath nor local (not a node directory)"
            ))
        })
}

fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("?")
}

/// The workload's desired replicas.
pub(super) async fn replicas(t: &Target<'_>) -> Result<i32> {
    let name = t.workload.name;
    let action = || format!("get {}/{name}", t.namespace);
    let replicas = match t.kind {
        Kind::Deployment => Api::<Deployment>::namespaced(t.client.clone(), t.namespace)
            .get(name)
            .await
            .map_err(|e| Error::kube(action(), e))?
            .spec
            .and_then(|s| s.replicas),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(t.client.clone(), t.namespace)
            .get(name)
            .await
            .map_err(|e| Error::kube(action(), e))?
            .spec
            .and_then(|s| s.replicas),
    };
    Ok(replicas.unwrap_or(1))
}

/// Set the workload's replicas.
pub(crate) async fn scale(t: &Target<'_>, replicas: i32) -> Result<()> {
    let patch = json!({"spec": {"replicas": replicas}});
    patch_workload(t, &patch, Patch::Merge(patch.clone())).await
}
