//! Rollouts: `kubectl rollout restart` (RollingUpdate or Recreate), a
//! rollout whose new pod must land on another node, an image upgrade, and
//! the seed article's unblock of a rollout stuck on its volume.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt as _;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;

use super::target::{Applied, Target, delete_pod};
use crate::error::{Error, Result};
use crate::workload::{self, Kind};

/// How long a stuck rollout is given to show itself (new pod not Ready
/// while the old one holds the volume) before the unblock step acts anyway.
pub const STUCK_ROLLOUT_OBSERVE: Duration = Duration::from_secs(90);

/// A new pod still creating its container after this long is taken as
/// blocked on its volume (Multi-Attach, a mount that does not come).
pub const STUCK_CREATING: Duration = Duration::from_secs(45);

/// The label every node carries with its own name (well-known label,
/// kubernetes.io/docs/reference/labels-annotations-taints/#kubernetesiohostname).
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// `kubectl rollout restart`, optionally switching a Deployment to
/// strategy Recreate in the same patch.
pub(super) async fn restart(t: &Target<'_>, a: &mut Applied, recreate: bool) -> Result<()> {
    a.at = Instant::now();
    let strategy = recreate.then(|| json!({"type": "Recreate", "rollingUpdate": null}));
    restart_rollout(t, strategy).await?;
    a.steps.push(if recreate {
        "set strategy Recreate and patched restartedAt".into()
    } else {
        "patched kubectl.kubernetes.io/restartedAt (RollingUpdate)".into()
    });
    Ok(())
}

/// The pod template gains a required node affinity away from the old pod's
/// node: that change is the rollout (RollingUpdate, as deployed), and its
/// new pod can only start on another node. On attachable storage the
/// volume must then move between nodes while the old pod still uses it.
pub(super) async fn away_from_node(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let node = a.node.clone().ok_or_else(|| Error::Cannot {
        action: format!("apply {}", a.disruption),
        why: format!("pod {} is not scheduled on a node", a.old_pod),
    })?;
    let patch = away_patch(&node);
    a.at = Instant::now();
    patch_workload(t, &patch, Patch::Strategic(patch.clone())).await?;
    a.steps.push(format!(
        "pod template gained node affinity {HOSTNAME_LABEL} NotIn [{node}] (RollingUpdate): \
         the new pod must land on another node"
    ));
    Ok(())
}

/// The strategic-merge patch of [`away_from_node`].
pub(super) fn away_patch(node: &str) -> serde_json::Value {
    json!({"spec": {"template": {"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "NotIn", "values": [node]}
            ]}
        ]}
    }}}}}})
}

/// The seed article's workaround for a rollout stuck on its volume: watch
/// for the stuck state (a new pod that cannot become Ready while the old one
/// holds the volume), then delete the old pod. A workload whose rollout
/// finishes instead (Grafana has no lock) has nothing to unblock.
pub(super) async fn unblock(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let old = a.old_pod.clone();
    let seen = workload::watch_pods(
        &t.client,
        t.namespace,
        &t.workload,
        "a stuck rollout (a new pod not Ready while the old one runs) or a finished one",
        STUCK_ROLLOUT_OBSERVE,
        |pods| stuck_or_done(pods, &old, t.workload.container),
    )
    .await;
    match seen {
        Ok(RolloutState::Finished) => {
            a.steps.push(format!(
                "{}: rollout finished by itself; nothing to unblock",
                t.workload.name
            ));
            return Ok(());
        }
        Ok(RolloutState::Stuck(state)) => {
            a.steps
                .push(format!("rollout stuck as documented: {state}"));
        }
        Err(e) => a
            .steps
            .push(format!("rollout neither stuck nor finished: {e}")),
    }
    delete_pod(&t.client, t.namespace, &old, &DeleteParams::default()).await?;
    a.steps.push(format!(
        "deleted old pod {old} (the seed article's workaround)"
    ));
    Ok(())
}

/// An upgrade to the image the pod already runs changes nothing: no pod is
/// replaced, and the cell would judge an undisturbed pod (an emptyDir would
/// read as surviving). Refuse it, naming the image and the fix.
///
/// # Errors
/// [`Error::Preflight`] when `to` is what `pod` runs.
/// The image image-upgrade sets: the target's, checked against what `pod`
/// runs now ([`check_upgrade`]).
///
/// # Errors
/// [`Error::Cannot`] without an upgrade image, else as [`check_upgrade`].
pub(super) fn upgrade_image<'t>(t: &Target<'t>, a: &Applied, pod: &Pod) -> Result<&'t str> {
    let image = t.upgrade_image.ok_or_else(|| Error::Cannot {
        action: format!("apply {}", a.disruption),
        why: "no upgrade image given".into(),
    })?;
    let running = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == t.workload.container))
        .and_then(|c| c.image.as_deref());
    check_upgrade(&a.old_pod, running, image)?;
    Ok(image)
}

pub(super) fn check_upgrade(pod: &str, running: Option<&str>, to: &str) -> Result<()> {
    if running == Some(to) {
        return Err(Error::Preflight {
            what: format!(
                "image-upgrade would set {to}, which pod {pod} already runs, so nothing would be replaced"
            ),
            fix: "give the upgrade two different images (HARNESS_PROMETHEUS_PREVIOUS_IMAGE -> \
                  HARNESS_PROMETHEUS_IMAGE, and the Grafana pair)"
                .into(),
        });
    }
    Ok(())
}

/// Set the current image on the same volume, as the docs advise for a
/// single-writer volume: a Deployment switches to Recreate in the same
/// patch, so the old Prometheus releases its lock first (a StatefulSet
/// replaces pods one at a time anyway).
pub(super) async fn image_upgrade(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    let image = upgrade_image(t, a, pod)?;
    a.at = Instant::now();
    let mut patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": t.workload.container, "image": image}
    ]}}}});
    if t.kind == Kind::Deployment {
        patch["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": null});
    }
    patch_workload(t, &patch, Patch::Strategic(patch.clone())).await?;
    a.steps.push(format!(
        "set image {image}{}",
        if t.kind == Kind::Deployment {
            " with strategy Recreate"
        } else {
            ""
        }
    ));
    Ok(())
}

/// `kubectl rollout restart`: stamp the pod template with
/// `kubectl.kubernetes.io/restartedAt` (as kubernetes/kubectl
/// pkg/polymorphichelpers/objectrestarter.go does), optionally changing the
/// Deployment strategy in the same patch.
async fn restart_rollout(t: &Target<'_>, strategy: Option<serde_json::Value>) -> Result<()> {
    let now = k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map_err(|e| Error::parse("the current time", e.to_string()))?;
    let mut patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now.to_string()
    }}}}});
    if let Some(s) = strategy {
        patch["spec"]["strategy"] = s;
    }
    patch_workload(t, &patch, Patch::Merge(patch.clone())).await
}

pub(super) async fn patch_workload(
    t: &Target<'_>,
    shown: &serde_json::Value,
    patch: Patch<serde_json::Value>,
) -> Result<()> {
    let pp = PatchParams::default();
    let action = || {
        format!(
            "patch {} {}/{} with {shown}",
            match t.kind {
                Kind::Deployment => "deployment",
                Kind::StatefulSet => "statefulset",
            },
            t.namespace,
            t.workload.name
        )
    };
    match t.kind {
        Kind::Deployment => Api::<Deployment>::namespaced(t.client.clone(), t.namespace)
            .patch(t.workload.name, &pp, &patch)
            .await
            .map(|_| ()),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(t.client.clone(), t.namespace)
            .patch(t.workload.name, &pp, &patch)
            .await
            .map(|_| ()),
    }
    .map_err(|e| Error::kube(action(), e))
}

/// What a rollout looks like while the unblock step watches it.
pub(super) enum RolloutState {
    /// A new pod is failing or pending while `old` still runs.
    Stuck(String),
    /// `old` is gone and every pod is Ready.
    Finished,
}

pub(super) fn stuck_or_done(
    pods: &BTreeMap<String, Pod>,
    old: &str,
    container: &str,
) -> Option<RolloutState> {
    let old_present = pods.contains_key(old);
    let others: Vec<&Pod> = pods.values().filter(|p| p.name_any() != old).collect();
    if !old_present && !others.is_empty() && others.iter().all(|p| workload::is_ready(p)) {
        return Some(RolloutState::Finished);
    }
    let stuck = old_present
        && others.iter().any(|p| {
            let crash_looping = !workload::is_ready(p) && workload::restarts(p, container) > 0;
            crash_looping
                || workload::unschedulable(p)
                || workload::creating_longer_than(p, STUCK_CREATING)
        });
    stuck.then(|| RolloutState::Stuck(workload::describe(&pods.values().collect::<Vec<_>>())))
}
