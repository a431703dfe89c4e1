//! `VolumeSnapshotClass` (snapshot.storage.k8s.io/v1), typed here because
//! k8s-openapi only carries the built-in API groups and the snapshot API is
//! a CustomResourceDefinition (kubernetes-csi/external-snapshotter's
//! client/apis/volumesnapshot/v1/types.go defines its fields). Only what a
//! class has: the driver, the deletion policy and the driver's parameters.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A VolumeSnapshotClass: which CSI driver takes a VolumeSnapshot's
/// snapshot, and what happens to it when the VolumeSnapshot is deleted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeSnapshotClass {
    /// Always `snapshot.storage.k8s.io/v1` (written back out as read).
    pub(crate) api_version: String,
    /// Always `VolumeSnapshotClass`.
    pub(crate) kind: String,
    /// Standard object metadata.
    pub(crate) metadata: ObjectMeta,
    /// The CSI driver that takes the snapshots.
    pub(crate) driver: String,
    /// `Delete` or `Retain`: what happens to the snapshot in the storage
    /// when its VolumeSnapshotContent is released.
    pub(crate) deletion_policy: String,
    /// Opaque parameters for the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) parameters: Option<BTreeMap<String, String>>,
}

/// `k8s_openapi::Resource` and `Metadata` for a type of the snapshot API
/// (snapshot.storage.k8s.io/v1), so kube's `Api` takes it like a built-in.
macro_rules! snapshot_api {
    ($t:ty, $kind:literal, $plural:literal, $scope:ty) => {
        impl k8s_openapi::Resource for $t {
            const API_VERSION: &'static str = "snapshot.storage.k8s.io/v1";
            const GROUP: &'static str = "snapshot.storage.k8s.io";
            const KIND: &'static str = $kind;
            const VERSION: &'static str = "v1";
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }

        impl k8s_openapi::Metadata for $t {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}
pub(super) use snapshot_api;

snapshot_api!(
    VolumeSnapshotClass,
    "VolumeSnapshotClass",
    "volumesnapshotclasses",
    k8s_openapi::ClusterResourceScope
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_class_reads_and_writes_back_the_same_json() {
        let v = json!({
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotClass",
            "metadata": {"name": "c"},
            "driver": "loop.csi.storage-e2e.test",
            "deletionPolicy": "Delete"
        });
        let c: VolumeSnapshotClass = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(c.driver, "loop.csi.storage-e2e.test");
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
        let ar = kube::core::ApiResource::erase::<VolumeSnapshotClass>(&());
        assert_eq!(ar.plural, "volumesnapshotclasses");
        assert_eq!(ar.api_version, "snapshot.storage.k8s.io/v1");
    }
}
