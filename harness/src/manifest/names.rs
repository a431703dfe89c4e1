//! The names and paths the manifests and the harness agree on: workloads,
//! volumes, secrets, labels, the node directory, and each variant's addons.

use crate::vocab::Variant;

/// Name of the Prometheus workload (Deployment or StatefulSet), its main
/// container and its Service.
pub(crate) const PROMETHEUS: &str = "prometheus";
/// Name of the Grafana Deployment, its main container and its Service.
pub(crate) const GRAFANA: &str = "grafana";
/// The volume holding each workload's data, in every variant.
pub(crate) const DATA_VOLUME: &str = "data";
/// The Secret holding Grafana's admin password.
#[cfg(test)]
pub(crate) const GRAFANA_ADMIN_SECRET: &str = "grafana-admin";
/// The key of the password in [`GRAFANA_ADMIN_SECRET`].
#[cfg(test)]
pub(crate) const GRAFANA_ADMIN_PASSWORD_KEY: &str = "admin-password";
/// Where host-path and local-pv keep data on a node: under /var, never
/// /tmp (kind's /tmp is a tmpfs that a node restart empties: `--tmpfs /tmp` in
/// kubernetes-sigs/kind pkg/cluster/internal/providers/docker/provision.go).
pub(crate) const HOST_DIR: &str = "/var/local/storage-e2e";

/// The addons (folders under `manifests/addons/`) a variant needs installed
/// in the cluster before its objects work.
pub(crate) fn addons_for(variant: Variant) -> &'static [&'static str] {
    match variant {
        Variant::NfsDynamic => &["csi-driver-nfs"],
        Variant::CsiRwo => &[ATTACHABLE_ADDON],
        Variant::OperatorDefault | Variant::OperatorClaim | Variant::OperatorClaimDelete => {
            &[OPERATOR_ADDON]
        }
        Variant::OperatorClaimCsi => &[ATTACHABLE_ADDON, OPERATOR_ADDON],
        _ => &[],
    }
}

/// prometheus-operator's addon (`manifests/addons/prometheus-operator/`):
/// its CRDs come from its module (crate::operator), the rest from there.
pub(crate) const OPERATOR_ADDON: &str = "prometheus-operator";
/// The addon of the project's attachable CSI driver (`manifests/addons/csi-loop/`).
pub(crate) const ATTACHABLE_ADDON: &str = "csi-loop";
/// Its CSI driver name (CSIDriver object, StorageClass provisioner, the
/// driver's own `DRIVER_NAME`).
pub(crate) const ATTACHABLE_DRIVER: &str = "loop.csi.storage-e2e.test";
/// The directory every node of a harness-made cluster sees at this path (a
/// kind extraMount of one host directory): the attachable driver's "SAN",
/// holding its volumes as image files.
pub(crate) const SAN_DIR: &str = "/var/lib/storage-e2e-san";

/// The label every app object carries with its app's name.
pub(crate) const APP_NAME_LABEL: &str = "app.kubernetes.io/name";
/// The label static PersistentVolumes carry with the claim they are for.
pub(crate) const VOLUME_LABEL: &str = "storage-e2e/volume";
