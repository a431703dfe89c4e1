//! The StorageClass a user names with `E2E_STORAGE_CLASS` for the
//! `custom-class` variant: checked once per run, before any cell uses it.
//!
//! Why: a class that does not exist leaves every custom-class claim Pending
//! until the deploy timeout, cell after cell; one line before the cells is
//! kinder. And the expectation table judges custom-class on a cluster the
//! harness creates (kind, k3d) as that cluster's own node-local local-path
//! class, the only class such a cluster has (images/kind-node/default-storage.yaml;
//! k3s ships local-path as its default). A class from another provisioner
//! there would be judged against the wrong prediction, so it is refused
//! with the way to run it where the table judges it as the user's claim:
//! `E2E_PROVIDER=existing`.

use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::{Api, ListParams};

use crate::error::{Error, Result};
use crate::vocab::Provider;

/// Provisioners whose volumes are bound to one node (the PV carries node
/// affinity), as the table's local-path prediction assumes.
pub const NODE_LOCAL_PROVISIONERS: &[&str] =
    &["rancher.io/local-path", "kubernetes.io/no-provisioner"];

/// Check `class` against the classes the cluster has (`all`, with their
/// provisioners), for a run on `provider`.
///
/// # Errors
/// [`Error::Preflight`] naming the class and the fix when it is missing, or
/// when it is not node-local on a cluster the harness creates.
pub fn check(class: &str, all: &[(String, String)], provider: Provider) -> Result<()> {
    let Some((_, provisioner)) = all.iter().find(|(name, _)| name == class) else {
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::Preflight {
            what: format!(
                "E2E_STORAGE_CLASS={class}: the cluster has no such StorageClass (it has: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
            fix: "name one of those, or create the class first".into(),
        });
    };
    let creates = matches!(provider, Provider::Kind | Provider::K3d);
    if creates && provisioner == crate::manifest::ATTACHABLE_DRIVER {
        return Err(Error::Preflight {
            what: format!(
                "E2E_STORAGE_CLASS={class} is the harness's own attachable class, but custom-class on \
                 a {provider} cluster is judged as the cluster's node-local local-path class"
            ),
            fix: "select the csi-rwo variant (E2E_VARIANTS=csi-rwo), which is this class on a \
                  cluster the harness creates and is judged as attachable storage"
                .into(),
        });
    }
    if creates && !NODE_LOCAL_PROVISIONERS.contains(&provisioner.as_str()) {
        return Err(Error::Preflight {
            what: format!(
                "E2E_STORAGE_CLASS={class} is provisioned by {provisioner}, but custom-class on a \
                 {provider} cluster is judged as the cluster's node-local local-path class"
            ),
            fix: "check your own class on your cluster with E2E_PROVIDER=existing \
                  (docs/regression-mode.md)"
                .into(),
        });
    }
    Ok(())
}

/// [`check`] against the cluster behind `client`.
///
/// # Errors
/// [`Error::Kube`] when the classes cannot be listed; [`check`]'s errors.
pub async fn verify(client: &Client, class: &str, provider: Provider) -> Result<()> {
    let classes = Api::<StorageClass>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Kube {
            action: "list StorageClasses (for E2E_STORAGE_CLASS)".into(),
            source,
        })?;
    let all: Vec<(String, String)> = classes
        .items
        .into_iter()
        .map(|c| (c.metadata.name.unwrap_or_default(), c.provisioner))
        .collect();
    check(class, &all, provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> Vec<(String, String)> {
        vec![
            ("standard".into(), "rancher.io/local-path".into()),
            ("nfs-csi".into(), "nfs.csi.k8s.io".into()),
        ]
    }

    #[test]
    fn a_missing_class_is_named_with_the_ones_there_are() {
        let err = check("fast-ssd", &classes(), Provider::Existing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "E2E_STORAGE_CLASS=fast-ssd: the cluster has no such StorageClass (it has: standard, \
             nfs-csi); fix: name one of those, or create the class first"
        );
        let err = check("x", &[], Provider::Kind).unwrap_err().to_string();
        assert!(err.contains("(it has: none)"), "{err}");
    }

    #[test]
    fn the_harness_attachable_class_on_a_created_cluster_points_at_csi_rwo() {
        let all = vec![(
            "storage-e2e-attachable".to_owned(),
            "loop.csi.storage-e2e.test".to_owned(),
        )];
        let err = check("storage-e2e-attachable", &all, Provider::Kind).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "fix: select the csi-rwo variant (E2E_VARIANTS=csi-rwo), which is this class on a \
                 cluster the harness creates and is judged as attachable storage"
            ),
            "{err}"
        );
        assert!(check("storage-e2e-attachable", &all, Provider::Existing).is_ok());
    }

    #[test]
    fn a_created_cluster_takes_only_node_local_classes_an_existing_one_any() {
        assert!(check("standard", &classes(), Provider::Kind).is_ok());
        assert!(check("nfs-csi", &classes(), Provider::Existing).is_ok());
        let err = check("nfs-csi", &classes(), Provider::Kind).unwrap_err();
        assert_eq!(
            err.to_string(),
            "E2E_STORAGE_CLASS=nfs-csi is provisioned by nfs.csi.k8s.io, but custom-class on a kind \
             cluster is judged as the cluster's node-local local-path class; fix: check your own \
             class on your cluster with E2E_PROVIDER=existing (docs/regression-mode.md)"
        );
    }
}
