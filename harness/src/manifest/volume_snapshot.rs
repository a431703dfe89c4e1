//! `VolumeSnapshot` (snapshot.storage.k8s.io/v1), typed here for the same
//! reason as [`super::snapshot_class`]: the snapshot API is a
//! CustomResourceDefinition k8s-openapi does not carry
//! (kubernetes-csi/external-snapshotter's client/apis/volumesnapshot/v1/
//! types.go defines its fields). Only what snapshot-restore uses: a claim
//! as the source, the class, and whether it is ready (or why not).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A VolumeSnapshot of a claim.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeSnapshot {
    /// Always `snapshot.storage.k8s.io/v1`.
    pub(crate) api_version: String,
    /// Always `VolumeSnapshot`.
    pub(crate) kind: String,
    /// Standard object metadata.
    pub(crate) metadata: ObjectMeta,
    /// What to snapshot, with which class.
    pub(crate) spec: VolumeSnapshotSpec,
    /// Set by the snapshot controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<VolumeSnapshotStatus>,
}

/// `spec`: the source claim and the class.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeSnapshotSpec {
    /// The source.
    pub(crate) source: VolumeSnapshotSource,
    /// The VolumeSnapshotClass (its driver must be the claim's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) volume_snapshot_class_name: Option<String>,
}

/// `spec.source`: a claim in the snapshot's namespace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeSnapshotSource {
    /// The claim to snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) persistent_volume_claim_name: Option<String>,
}

/// `status`: ready or not, and the error that says why not.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeSnapshotStatus {
    /// Whether a volume can be restored from it.
    #[serde(default)]
    pub(crate) ready_to_use: Option<bool>,
    /// The smallest volume it restores into.
    #[serde(default)]
    pub(crate) restore_size: Option<String>,
    /// The last error taking it, if any.
    #[serde(default)]
    pub(crate) error: Option<VolumeSnapshotError>,
}

/// `status.error`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeSnapshotError {
    /// What went wrong.
    #[serde(default)]
    pub(crate) message: Option<String>,
}

impl VolumeSnapshot {
    /// `name` in `namespace`, of `claim`, with `class`, labelled `labels`.
    pub(crate) fn of_claim(
        namespace: &str,
        name: &str,
        claim: &str,
        class: &str,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Self {
        Self {
            api_version: <Self as k8s_openapi::Resource>::API_VERSION.to_owned(),
            kind: <Self as k8s_openapi::Resource>::KIND.to_owned(),
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: VolumeSnapshotSpec {
                source: VolumeSnapshotSource {
                    persistent_volume_claim_name: Some(claim.to_owned()),
                },
                volume_snapshot_class_name: Some(class.to_owned()),
            },
            status: None,
        }
    }

    /// Ready to restore from.
    pub(crate) fn ready(&self) -> bool {
        self.status
            .as_ref()
            .and_then(|s| s.ready_to_use)
            .unwrap_or(false)
    }

    /// What its status says, for a wait's "last seen".
    pub(crate) fn describe(&self) -> String {
        match &self.status {
            None => "no status yet".into(),
            Some(s) => format!(
                "readyToUse={:?}{}",
                s.ready_to_use,
                s.error
                    .as_ref()
                    .and_then(|e| e.message.as_deref())
                    .map(|m| format!(", error: {m}"))
                    .unwrap_or_default()
            ),
        }
    }
}

super::snapshot_class::snapshot_api!(
    VolumeSnapshot,
    "VolumeSnapshot",
    "volumesnapshots",
    k8s_openapi::NamespaceResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshot_of_a_claim_writes_the_api_s_json_and_reads_its_status() {
        let s = VolumeSnapshot::of_claim("ns", "snap", "data", "cls", Default::default());
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({
                "apiVersion": "snapshot.storage.k8s.io/v1",
                "kind": "VolumeSnapshot",
                "metadata": {"name": "snap", "namespace": "ns", "labels": {}},
                "spec": {"source": {"persistentVolumeClaimName": "data"},
                         "volumeSnapshotClassName": "cls"}
            })
        );
        let seen: VolumeSnapshot = serde_json::from_value(json!({
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "snap"},
            "spec": {"source": {"persistentVolumeClaimName": "data"}},
            "status": {"readyToUse": false, "error": {"message": "copy failed"}}
        }))
        .unwrap();
        assert!(!seen.ready());
        assert_eq!(
            seen.describe(),
            "readyToUse=Some(false), error: copy failed"
        );
        let ar = kube::core::ApiResource::erase::<VolumeSnapshot>(&());
        assert_eq!(ar.plural, "volumesnapshots");
    }
}
