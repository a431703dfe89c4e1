//! The storage variants: one per way people keep Prometheus and Grafana data
//! on Kubernetes (docs/architecture.md "Storage variants"). Each id is also the folder
//! `manifests/storage/<id>/`.

use super::Setup;
use super::id::{NamedId, named_id_traits};

/// A storage setup the harness deploys Prometheus and Grafana on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// emptyDir: the negative control; a pod replacement must lose the data.
    EmptyDir,
    /// A hostPath directory on the node (never under /tmp).
    HostPath,
    /// A local PV: no-provisioner class, WaitForFirstConsumer, nodeAffinity, Retain.
    LocalPv,
    /// A static NFS PV bound through a label selector and `storageClassName: ""`.
    NfsStatic,
    /// A StorageClass provisioned by csi-driver-nfs from the harness's NFS server.
    NfsDynamic,
    /// A PVC without storageClassName: the cluster's default class.
    DefaultClass,
    /// A StatefulSet with volumeClaimTemplates, 2 replicas, anti-affinity.
    Statefulset,
    /// A ReadWriteOncePod claim.
    Rwop,
    /// The user's own StorageClass (E2E_STORAGE_CLASS).
    CustomClass,
    /// An attachable ReadWriteOnce claim on the project's own CSI driver
    /// (ext4 on a loop device, attached to one node at a time): network
    /// block storage as a cloud disk or SAN LUN behaves.
    CsiRwo,
    /// prometheus-operator's default storage (no `spec.storage`): an
    /// emptyDir, lost with the pod (seed 001).
    OperatorDefault,
    /// prometheus-operator with `spec.storage.volumeClaimTemplate` on the
    /// default class: a claim per replica that outlives the pod.
    OperatorClaim,
    /// operator-claim with `persistentVolumeClaimRetentionPolicy:
    /// {whenDeleted: Delete}`: the claims go with the StatefulSet.
    OperatorClaimDelete,
    /// operator-claim on the project's attachable CSI class: the claim per
    /// replica is network block storage that follows the pod to another
    /// node.
    OperatorClaimCsi,
    /// The Thanos sidecar setup with Prometheus's TSDB on an emptyDir: the
    /// case seed 003 warns about (about 2 hours lost, the shipped blocks kept).
    ThanosEmptyDir,
    /// The Thanos sidecar setup as seed 003 runs it: volumeClaimTemplates.
    ThanosClaim,
    /// thanos-empty-dir with Prometheus's compaction on and the object
    /// store started only after it compacted: which blocks the sidecar
    /// ships then (only uncompacted ones, its docs say).
    ThanosCompacting,
}

impl NamedId for Variant {
    const WHAT: &'static str = "storage variant";
    const ALL: &'static [Self] = &[
        Self::EmptyDir,
        Self::HostPath,
        Self::LocalPv,
        Self::NfsStatic,
        Self::NfsDynamic,
        Self::DefaultClass,
        Self::Statefulset,
        Self::Rwop,
        Self::CustomClass,
        Self::CsiRwo,
        Self::OperatorDefault,
        Self::OperatorClaim,
        Self::OperatorClaimDelete,
        Self::OperatorClaimCsi,
        Self::ThanosEmptyDir,
        Self::ThanosClaim,
        Self::ThanosCompacting,
    ];

    fn id(self) -> &'static str {
        match self {
            Self::EmptyDir => "empty-dir",
            Self::HostPath => "host-path",
            Self::LocalPv => "local-pv",
            Self::NfsStatic => "nfs-static",
            Self::NfsDynamic => "nfs-dynamic",
            Self::DefaultClass => "default-class",
            Self::Statefulset => "statefulset",
            Self::Rwop => "rwop",
            Self::CustomClass => "custom-class",
            Self::CsiRwo => "csi-rwo",
            Self::OperatorDefault => "operator-default",
            Self::OperatorClaim => "operator-claim",
            Self::OperatorClaimDelete => "operator-claim-delete",
            Self::OperatorClaimCsi => "operator-claim-csi",
            Self::ThanosEmptyDir => "thanos-empty-dir",
            Self::ThanosClaim => "thanos-claim",
            Self::ThanosCompacting => "thanos-compacting",
        }
    }
}

named_id_traits!(Variant);

impl Variant {
    /// How Prometheus is deployed in this variant.
    pub fn setup(self) -> Setup {
        match self {
            Self::OperatorDefault
            | Self::OperatorClaim
            | Self::OperatorClaimDelete
            | Self::OperatorClaimCsi => Setup::Operator,
            Self::ThanosEmptyDir | Self::ThanosClaim | Self::ThanosCompacting => Setup::Thanos,
            _ => Setup::Plain,
        }
    }

    /// Whether the variant's cells use `part`, which another cell may
    /// restart ([`super::Disruption::restarts`]).
    pub fn uses(self, part: super::disruption::Shared) -> bool {
        match part {
            super::disruption::Shared::NfsServer => self.uses_nfs(),
            super::disruption::Shared::Operator => self.setup() == Setup::Operator,
        }
    }

    /// Whether the variant's volumes are served by the harness's NFS server.
    pub(crate) fn uses_nfs(self) -> bool {
        matches!(self, Self::NfsStatic | Self::NfsDynamic)
    }

    /// Whether the variant's volumes are the project's attachable CSI
    /// driver's (they need its addon and the cluster's shared image dir).
    pub(crate) fn uses_attachable_csi(self) -> bool {
        matches!(self, Self::CsiRwo | Self::OperatorClaimCsi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for v in Variant::ALL {
            assert_eq!(
                v.id().parse::<Variant>().unwrap_or_else(|e| panic!("{e}")),
                *v
            );
        }
    }

    #[test]
    fn unknown_variant_lists_the_valid_ones() {
        let err = "nfs"
            .parse::<Variant>()
            .expect_err("nfs is not a variant")
            .to_string();
        assert_eq!(
            err,
            "unknown storage variant \"nfs\": valid ones are empty-dir, host-path, local-pv, \
             nfs-static, nfs-dynamic, default-class, statefulset, rwop, custom-class, csi-rwo, \
             operator-default, operator-claim, operator-claim-delete, operator-claim-csi, \
             thanos-empty-dir, thanos-claim, thanos-compacting"
        );
    }

    #[test]
    fn lists_accept_all_and_dedupe() {
        assert_eq!(
            Variant::parse_list("all").map(|v| v.len()).ok(),
            Some(Variant::ALL.len())
        );
        assert_eq!(
            Variant::parse_list("rwop, rwop,empty-dir").ok(),
            Some(vec![Variant::Rwop, Variant::EmptyDir])
        );
        assert!(Variant::parse_list("rwop,bogus").is_err());
    }
}
