//! [`snapshot_restore`]: a VolumeSnapshot of a live Prometheus's claim,
//! restored into a new claim that a second Prometheus starts on, as users
//! take snapshots: without pausing anything, so the copy is only as
//! consistent as a crash would leave the volume (kubernetes.io blog
//! 2019-12-09, "the Kubernetes Snapshot API does not provide any
//! consistency guarantees").
//!
//! The restored Prometheus is a copy of the running Deployment with its
//! own name and labels (so the original's pods and the copy's never mix in
//! a selector), on the restored claim, without the seeding init container
//! (it must start on what the snapshot holds, nothing else).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, Pod,
    TypedLocalObjectReference, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};

use super::target::{Applied, Target, data_claim};
use crate::error::{Error, Result};
use crate::labels::{MANAGED_BY, OWNER};
use crate::manifest::{APP_NAME_LABEL, DATA_VOLUME, VolumeSnapshot, VolumeSnapshotClass};
use crate::workload::{self, Kind, Workload};

/// The VolumeSnapshot's name.
pub const SNAPSHOT: &str = "prometheus-data-snapshot";
/// The restored claim's, the second Prometheus's Deployment's and its
/// `app.kubernetes.io/name` label's name.
pub const RESTORED: &str = "prometheus-restored";
/// How long the snapshot gets to be ready: the driver copies the whole
/// image (a 2 GiB volume, sparse) while the controller waits.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the restored Prometheus gets to be Ready: provisioning from
/// the snapshot (another copy), attach, stage, WAL replay.
pub const RESTORE_TIMEOUT: Duration = Duration::from_secs(300);

/// The second Prometheus, as a [`Workload`] the probes and waits take.
pub(crate) const RESTORED_PROMETHEUS: Workload = Workload {
    name: RESTORED,
    pod_label: RESTORED,
    ..workload::PROMETHEUS
};

/// Snapshot the target's data claim, restore it into [`RESTORED`] and
/// start a second Prometheus on it; the original is left running.
pub(super) async fn snapshot_restore(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    if t.kind != Kind::Deployment {
        return Err(Error::NotSupported {
            what: a.disruption.to_string(),
            why: "the restored copy is made from a Deployment; this Prometheus is a StatefulSet"
                .into(),
        });
    }
    let (claim_name, claim) = data_claim(t, a.disruption, pod).await?;
    let claims = Api::<PersistentVolumeClaim>::namespaced(t.client.clone(), t.namespace);
    let class = snapshot_class_for(&t.client, &claim).await?;
    let snapshots = Api::<VolumeSnapshot>::namespaced(t.client.clone(), t.namespace);
    let snapshot = VolumeSnapshot::of_claim(t.namespace, SNAPSHOT, &claim_name, &class, owned());
    t.say(format!(
        "taking VolumeSnapshot {SNAPSHOT} of claim {claim_name} (class {class})"
    ));
    a.at = Instant::now();
    snapshots
        .create(&PostParams::default(), &snapshot)
        .await
        .map_err(|e| {
            Error::kube(
                format!("create VolumeSnapshot {}/{SNAPSHOT}", t.namespace),
                e,
            )
        })?;
    crate::wait::watch_object(
        snapshots,
        SNAPSHOT,
        &format!("VolumeSnapshot {SNAPSHOT} of claim {claim_name} to be ready to use"),
        SNAPSHOT_TIMEOUT,
        |s| s.filter(|s| s.ready()).map(|_| ()),
        |s| s.map_or_else(|| "not created yet".into(), VolumeSnapshot::describe),
    )
    .await?;
    let snapped = a.at.elapsed();
    a.marks.push((Instant::now(), "snapshot ready".into()));
    a.figures.snapshot_seconds = Some(snapped.as_secs_f64());
    a.steps.push(format!(
        "VolumeSnapshot {SNAPSHOT} (class {class}) of claim {claim_name}, taken while {} ran, \
         ready after {:.1}s",
        a.old_pod,
        snapped.as_secs_f64()
    ));
    let restoring = Instant::now();
    t.say(format!(
        "snapshot ready after {:.1}s; restoring it into claim {RESTORED} under a second Prometheus",
        snapped.as_secs_f64()
    ));
    claims
        .create(
            &PostParams::default(),
            &restored_claim(t.namespace, &claim)?,
        )
        .await
        .map_err(|e| Error::kube(format!("create claim {}/{RESTORED}", t.namespace), e))?;
    let deployments = Api::<Deployment>::namespaced(t.client.clone(), t.namespace);
    let original = deployments.get(t.workload.name).await.map_err(|e| {
        Error::kube(
            format!("get deployment {}/{}", t.namespace, t.workload.name),
            e,
        )
    })?;
    deployments
        .create(&PostParams::default(), &restored_deployment(&original)?)
        .await
        .map_err(|e| Error::kube(format!("create deployment {}/{RESTORED}", t.namespace), e))?;
    let restored_pod = workload::watch_pods(
        &t.client,
        t.namespace,
        &RESTORED_PROMETHEUS,
        &format!("a Prometheus on the claim restored from {SNAPSHOT} to be Ready"),
        RESTORE_TIMEOUT,
        |pods| {
            pods.values()
                .find(|p| workload::is_ready(p))
                .and_then(|p| p.metadata.name.clone())
        },
    )
    .await?;
    a.figures.restore_seconds = Some(restoring.elapsed().as_secs_f64());
    a.marks
        .push((Instant::now(), "restored Prometheus Ready".into()));
    a.steps.push(format!(
        "claim {RESTORED} restored from {SNAPSHOT}; Prometheus pod {restored_pod} on it Ready after \
         {:.1}s",
        restoring.elapsed().as_secs_f64()
    ));
    a.restored_pod = Some(restored_pod);
    Ok(())
}

/// The ownership label on what this disruption creates.
fn owned() -> BTreeMap<String, String> {
    BTreeMap::from([(MANAGED_BY.to_owned(), OWNER.to_owned())])
}

/// The VolumeSnapshotClass of the CSI driver behind `claim`.
///
/// # Errors
/// [`Error::Cannot`] when the claim is unbound or not CSI, or no class
/// names its driver (the fix: install one).
async fn snapshot_class_for(
    client: &kube::Client,
    claim: &PersistentVolumeClaim,
) -> Result<String> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let cannot = |why: String| Error::Cannot {
        action: format!("snapshot claim {name}"),
        why,
    };
    let pv_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .ok_or_else(|| cannot("it is not bound".into()))?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&pv_name)
        .await
        .map_err(|e| Error::kube(format!("get persistent volume {pv_name}"), e))?;
    let driver = pv
        .spec
        .and_then(|s| s.csi)
        .map(|c| c.driver)
        .ok_or_else(|| cannot(format!("its volume {pv_name} is not a CSI volume")))?;
    let classes = Api::<VolumeSnapshotClass>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::kube("list VolumeSnapshotClasses", e))?;
    classes
        .items
        .iter()
        .find(|c| c.driver == driver)
        .and_then(|c| c.metadata.name.clone())
        .ok_or_else(|| {
            cannot(format!(
                "no VolumeSnapshotClass names its driver {driver} (install one for it)"
            ))
        })
}

/// A claim like `source` (class, access modes, size), filled from the
/// VolumeSnapshot [`SNAPSHOT`].
fn restored_claim(
    namespace: &str,
    source: &PersistentVolumeClaim,
) -> Result<PersistentVolumeClaim> {
    let spec = source.spec.clone().ok_or_else(|| Error::Cannot {
        action: format!("restore {SNAPSHOT}"),
        why: "the source claim has no spec".into(),
    })?;
    Ok(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(RESTORED.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            storage_class_name: spec.storage_class_name,
            access_modes: spec.access_modes,
            resources: Some(VolumeResourceRequirements {
                requests: spec.resources.and_then(|r| r.requests),
                limits: None,
            }),
            data_source: Some(TypedLocalObjectReference {
                api_group: Some("snapshot.storage.k8s.io".into()),
                kind: "VolumeSnapshot".into(),
                name: SNAPSHOT.into(),
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

/// The running Deployment, renamed [`RESTORED`]: its own selector and pod
/// label, the restored claim as its data volume, no init containers.
fn restored_deployment(original: &Deployment) -> Result<Deployment> {
    let cannot = |why: &str| Error::Cannot {
        action: format!(
            "copy deployment {} as {RESTORED}",
            original.metadata.name.as_deref().unwrap_or("?")
        ),
        why: why.into(),
    };
    let mut spec = original
        .spec
        .clone()
        .ok_or_else(|| cannot("it has no spec"))?;
    let relabel = |labels: &mut Option<BTreeMap<String, String>>| {
        labels
            .get_or_insert_with(BTreeMap::new)
            .insert(APP_NAME_LABEL.to_owned(), RESTORED.to_owned());
    };
    relabel(&mut spec.selector.match_labels);
    let template_meta = spec
        .template
        .metadata
        .get_or_insert_with(ObjectMeta::default);
    relabel(&mut template_meta.labels);
    let pod = spec
        .template
        .spec
        .as_mut()
        .ok_or_else(|| cannot("its pod template has no spec"))?;
    pod.init_containers = None;
    let data = pod
        .volumes
        .iter_mut()
        .flatten()
        .find(|v| v.name == DATA_VOLUME)
        .and_then(|v| v.persistent_volume_claim.as_mut())
        .ok_or_else(|| cannot("its data volume is not a claim"))?;
    data.claim_name = RESTORED.to_owned();
    spec.replicas = Some(1);
    let mut labels = original.metadata.labels.clone();
    relabel(&mut labels);
    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(RESTORED.to_owned()),
            namespace: original.metadata.namespace.clone(),
            labels,
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_copy_runs_apart_from_the_original_on_the_restored_claim() {
        let original: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "prometheus", "namespace": "ns",
                         "labels": {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "storage-e2e"}},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "prometheus"}},
                    "spec": {
                        "initContainers": [{"name": "seed"}],
                        "containers": [{"name": "prometheus"}],
                        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "prometheus-data"}}]
                    }
                }
            }
        }))
        .unwrap();
        let copy = restored_deployment(&original).unwrap();
        let v = serde_json::to_value(&copy).unwrap();
        assert_eq!(v["metadata"]["name"], "prometheus-restored");
        assert_eq!(
            v["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "storage-e2e"
        );
        assert_eq!(
            v["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
            "prometheus-restored"
        );
        assert_eq!(
            v["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
            "prometheus-restored"
        );
        assert!(v["spec"]["template"]["spec"]["initContainers"].is_null());
        assert_eq!(
            v["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "prometheus-restored"
        );
    }

    #[test]
    fn the_restored_claim_is_filled_from_the_snapshot() {
        let source: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "prometheus-data"},
            "spec": {"storageClassName": "storage-e2e-attachable", "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "2Gi"}}, "volumeName": "pvc-1"}
        }))
        .unwrap();
        let v = serde_json::to_value(restored_claim("ns", &source).unwrap()).unwrap();
        assert_eq!(
            v["spec"]["dataSource"],
            json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": SNAPSHOT})
        );
        assert_eq!(v["spec"]["resources"]["requests"]["storage"], "2Gi");
        assert!(v["spec"]["volumeName"].is_null());
    }
}
