//! The prometheus-operator setup's disruptions, done through what its
//! users touch: the `Prometheus` resource (a version change, the resource
//! deleted and created again) and the operator's own pod. What the
//! operator then does to its StatefulSet is the observation.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::rollout::upgrade_image;
use super::target::{Applied, Target};
use crate::error::{Error, Result};
use crate::manifest::prometheus_resource::PrometheusResource;
use crate::wait::watch_object;
use crate::workload::{self, Workload};

/// How long the operator's replacement pod, and the deletion of what it
/// made from a deleted resource, get: an image already on the nodes and a
/// garbage collector that acts within seconds; the rest is margin.
const OPERATOR_TIMEOUT: Duration = Duration::from_secs(120);

/// The operator's Deployment as the addon runs it (manifests/addons/prometheus-operator).
const OPERATOR: Workload = Workload {
    name: "prometheus-operator",
    pod_label: "prometheus-operator",
    container: "operator",
    port: 8080,
    data_dir: "/",
    ..workload::PROMETHEUS
};
/// Where the addon runs it.
const OPERATOR_NAMESPACE: &str = "kube-system";

fn resources(t: &Target<'_>) -> Api<PrometheusResource> {
    Api::namespaced(t.client.clone(), t.namespace)
}

/// image-upgrade through the resource: set `spec.image` and `spec.version`
/// to the run's Prometheus; the operator rolls its StatefulSet.
pub(super) async fn image_upgrade(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    let image = upgrade_image(t, a, pod)?;
    let version = crate::manifest::prometheus_version(image).ok_or_else(|| Error::Preflight {
        what: format!("the upgrade image {image} has no version tag the operator could read"),
        fix: "set HARNESS_PROMETHEUS_IMAGE to an image tagged with its version (vX.Y.Z or X.Y)"
            .into(),
    })?;
    let patch = json!({"spec": {"image": image, "version": version}});
    a.at = Instant::now();
    resources(t)
        .patch(
            crate::manifest::PROMETHEUS,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(|e| {
            Error::kube(
                format!("patch Prometheus {}/prometheus with {patch}", t.namespace),
                e,
            )
        })?;
    a.steps.push(format!(
        "set the Prometheus resource's image {image} and version {version}: the operator rolls its StatefulSet"
    ));
    Ok(())
}

/// operator-restart: delete the operator's pod and wait until its
/// replacement is Ready. Prometheus must not be touched: the cell's
/// judgement checks its pod is the same one (`keeps_pod`).
pub(super) async fn operator_restart(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let pods = workload::pods(&t.client, OPERATOR_NAMESPACE, &OPERATOR).await?;
    let old = pods
        .iter()
        .find(|p| workload::is_ready(p))
        .ok_or_else(|| Error::Cannot {
            action: format!("apply {}", a.disruption),
            why: format!(
                "no Ready prometheus-operator pod in {OPERATOR_NAMESPACE}: {}",
                workload::describe(&pods.iter().collect::<Vec<_>>())
            ),
        })?
        .name_any();
    a.at = Instant::now();
    super::target::delete_pod(
        &t.client,
        OPERATOR_NAMESPACE,
        &old,
        &DeleteParams::default(),
    )
    .await?;
    a.steps.push(format!(
        "deleted the operator's pod {OPERATOR_NAMESPACE}/{old}"
    ));
    t.say("waiting for the operator's replacement pod to be Ready");
    let new = workload::wait_ready(
        &t.client,
        OPERATOR_NAMESPACE,
        &OPERATOR,
        1,
        std::slice::from_ref(&old),
        OPERATOR_TIMEOUT,
    )
    .await?;
    let new = new.first().map(ResourceExt::name_any).unwrap_or_default();
    a.steps.push(format!(
        "operator pod {new} Ready {:.1}s after the delete",
        a.at.elapsed().as_secs_f64()
    ));
    t.say("waiting for the restarted operator to reconcile this cell's StatefulSet");
    let verdict = reconciled(t, &new).await?;
    a.steps.push(format!(
        "the restarted operator reconciled {} {:.1}s after the delete: \"{verdict}\"",
        t.workload.name,
        a.at.elapsed().as_secs_f64()
    ));
    a.marks.push((Instant::now(), "operator reconciled".into()));
    Ok(())
}

/// What the operator said it did with the StatefulSet.
const KEPT: &str = "new statefulset generation inputs match current, skipping any actions";
const UPDATED: &str = "updating current statefulset because of hash divergence";
const RECREATED: &str = "recreating StatefulSet";

/// Wait until the operator pod `pod` has logged its verdict on this cell's
/// StatefulSet (it runs with --log-level=debug for this): kept as it is,
/// or updated (then the cell sees its pod replaced). Without this wait a
/// cell would judge before the restarted operator had looked at anything.
async fn reconciled(t: &Target<'_>, pod: &str) -> Result<&'static str> {
    let api: Api<Pod> = Api::namespaced(t.client.clone(), OPERATOR_NAMESPACE);
    let key = format!("key={}/{}", t.namespace, crate::manifest::PROMETHEUS);
    let sts = format!("statefulset={}", t.workload.name);
    crate::wait::poll(
        &format!(
            "prometheus-operator pod {pod} to reconcile {}/{}",
            t.namespace, t.workload.name
        ),
        OPERATOR_TIMEOUT,
        Duration::from_secs(1),
        || async {
            let logs = match api.logs(pod, &kube::api::LogParams::default()).await {
                Ok(l) => l,
                Err(e) => return crate::wait::Check::NotYet(format!("logs not readable: {e}")),
            };
            match operator_verdict(&logs, &key, &sts) {
                Some(v) => crate::wait::Check::Ready(v),
                None => crate::wait::Check::NotYet(format!(
                    "no verdict on {sts} yet; the operator's last line: {}",
                    logs.lines().last().unwrap_or("(none)")
                )),
            }
        },
    )
    .await
}

/// The operator's verdict on the StatefulSet in its log, if it gave one.
fn operator_verdict(logs: &str, key: &str, sts: &str) -> Option<&'static str> {
    logs.lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            words.clone().any(|w| w == key) && words.any(|w| w == sts)
        })
        .find_map(|l| {
            [KEPT, UPDATED, RECREATED]
                .into_iter()
                .find(|m| l.contains(m))
        })
}

/// resource-recreate: delete the `Prometheus` resource, wait until the
/// StatefulSet and pods the operator made of it are gone (and the claims
/// the StatefulSet owned, under a `whenDeleted: Delete` policy), then
/// create the same resource again.
pub(super) async fn resource_recreate(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let api = resources(t);
    let name = crate::manifest::PROMETHEUS;
    let live = api
        .get(name)
        .await
        .map_err(|e| Error::kube(format!("get Prometheus {}/{name}", t.namespace), e))?;
    let owned = claims_owned_by_statefulset(t).await?;
    a.at = Instant::now();
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| Error::kube(format!("delete Prometheus {}/{name}", t.namespace), e))?;
    a.steps
        .push(format!("deleted Prometheus {}/{name}", t.namespace));
    t.say("waiting until the operator's StatefulSet and pods are gone");
    gone::<StatefulSet>(t, t.workload.name, "StatefulSet").await?;
    workload::watch_pods(
        &t.client,
        t.namespace,
        &t.workload,
        &format!("the {} pods to be gone", t.workload.name),
        OPERATOR_TIMEOUT,
        |pods| pods.is_empty().then_some(()),
    )
    .await?;
    for claim in &owned {
        gone::<PersistentVolumeClaim>(t, claim, "PersistentVolumeClaim").await?;
    }
    // A claim the garbage collector is deleting, whoever owned it, must be
    // gone too: a resource created meanwhile would get a pod waiting on a
    // terminating claim. (Seen on kind 1.36: operator-claim-delete listed
    // its claim as left, its owner reference to the StatefulSet not read
    // in time.)
    for claim in claims(t).await? {
        if claim.metadata.deletion_timestamp.is_some() {
            gone::<PersistentVolumeClaim>(t, &claim.name_any(), "PersistentVolumeClaim").await?;
        }
    }
    let left: Vec<String> = claims(t).await?.iter().map(ResourceExt::name_any).collect();
    a.steps.push(format!(
        "StatefulSet and pods gone after {:.1}s; claims left: {}",
        a.at.elapsed().as_secs_f64(),
        if left.is_empty() {
            "none".to_owned()
        } else {
            left.join(", ")
        }
    ));
    a.marks.push((Instant::now(), "resource gone".into()));
    let again = PrometheusResource {
        metadata: kube::api::ObjectMeta {
            name: live.metadata.name.clone(),
            namespace: live.metadata.namespace.clone(),
            labels: live.metadata.labels.clone(),
            ..kube::api::ObjectMeta::default()
        },
        status: None,
        ..live
    };
    api.create(&PostParams::default(), &again)
        .await
        .map_err(|e| Error::kube(format!("create Prometheus {}/{name} again", t.namespace), e))?;
    a.steps.push(format!(
        "created Prometheus {}/{name} again (the same spec)",
        t.namespace
    ));
    Ok(())
}

/// The claims whose owner is the operator's StatefulSet: a
/// `whenDeleted: Delete` policy makes the StatefulSet controller set that
/// owner, and the garbage collector deletes them after it.
async fn claims_owned_by_statefulset(t: &Target<'_>) -> Result<Vec<String>> {
    Ok(claims(t)
        .await?
        .iter()
        .filter(|c| {
            c.owner_references()
                .iter()
                .any(|o| o.kind == "StatefulSet" && o.name == t.workload.name)
        })
        .map(ResourceExt::name_any)
        .collect())
}

/// The claims in the cell's namespace.
async fn claims(t: &Target<'_>) -> Result<Vec<PersistentVolumeClaim>> {
    Api::<PersistentVolumeClaim>::namespaced(t.client.clone(), t.namespace)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|e| Error::kube(format!("list claims in {}", t.namespace), e))
}

/// Wait until the `kind` object `name` in the cell's namespace is gone.
async fn gone<K>(t: &Target<'_>, name: &str, kind: &str) -> Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    watch_object(
        Api::<K>::namespaced(t.client.clone(), t.namespace),
        name,
        &format!("{kind} {}/{name} to be gone", t.namespace),
        OPERATOR_TIMEOUT,
        |o| o.is_none().then_some(()),
        |o| match o {
            None => "gone".into(),
            Some(o) => format!(
                "still there{}",
                if o.meta().deletion_timestamp.is_some() {
                    ", being deleted"
                } else {
                    ""
                }
            ),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as prometheus-operator v0.85.0 logs them (logfmt, debug), the
    /// verdict found for the right resource only.
    #[test]
    fn the_verdict_is_read_for_this_cells_statefulset() {
        let logs = "time=2026-12-06T14:00:00Z level=info msg=\"sync prometheus\" component=prometheus-controller key=e2e-a/prometheus\n\
time=2026-12-06T14:00:00Z level=debug msg=\"new statefulset generation inputs match current, skipping any actions\" component=prometheus-controller key=e2e-b/prometheus statefulset=prometheus-prometheus shard=0\n\
time=2026-12-06T14:00:01Z level=debug msg=\"updating current statefulset because of hash divergence\" component=prometheus-controller key=e2e-a/prometheus statefulset=prometheus-prometheus shard=0 new_hash=1 existing_hash=2";
        let sts = "statefulset=prometheus-prometheus";
        assert_eq!(
            operator_verdict(logs, "key=e2e-a/prometheus", sts),
            Some(UPDATED)
        );
        assert_eq!(
            operator_verdict(logs, "key=e2e-b/prometheus", sts),
            Some(KEPT)
        );
        assert_eq!(operator_verdict(logs, "key=e2e-c/prometheus", sts), None);
        // A longer name that starts with the cell's is another StatefulSet.
        assert_eq!(
            operator_verdict(logs, "key=e2e-a/prometheus", "statefulset=prometheus"),
            None
        );
    }
}
