//! Seeding a `Prometheus` resource: the same init container as the plain
//! setup's (prometheus::prestart), placed in `spec.initContainers`, which
//! the operator appends after its own, and mounting the TSDB volume the
//! way the operator mounts it into Prometheus: its `prometheus-<name>-db`
//! volume at /prometheus, through the subPath `prometheus-db` whenever
//! `spec.storage` is given and whole when it is not (the default emptyDir):
//! prometheus-operator v0.85.0 pkg/prometheus/common.go, `SubPathForStorage`
//! (`disableMountSubPath`, deprecated, is not in this project's type). Found
//! when the first seed of the default emptyDir went into a subfolder
//! Prometheus never read (kind 1.36).

use k8s_openapi::api::core::v1::{Container, PodSpec, VolumeMount};

use crate::error::{Error, Result};
use crate::manifest::prometheus_resource::{DATA_SUB_PATH, PrometheusResource, data_volume};
use crate::prometheus::{DATA_DIR, prestart};

/// Add the seeding init container and its ConfigMap volume to `resource`.
///
/// # Errors
/// [`Error::Parse`] when the resource has no name or no image (the
/// renderer's manifests always give both).
pub(crate) fn add_init_container(resource: &mut PrometheusResource) -> Result<()> {
    let name = resource.metadata.name.clone().unwrap_or_default();
    let image = resource.spec.image.clone();
    let sub_path = resource.spec.storage.is_some();
    if name.is_empty() || image.is_none() {
        return Err(Error::Parse {
            what: "the Prometheus resource".into(),
            message: "needs metadata.name and spec.image to be seeded".into(),
        });
    }
    // The pod the operator will make, as far as the seed needs it.
    let mut pod = PodSpec {
        containers: vec![Container {
            name: crate::manifest::PROMETHEUS.into(),
            image,
            volume_mounts: Some(vec![VolumeMount {
                name: data_volume(&name),
                mount_path: DATA_DIR.into(),
                sub_path: sub_path.then(|| DATA_SUB_PATH.into()),
                ..VolumeMount::default()
            }]),
            ..Container::default()
        }],
        ..PodSpec::default()
    };
    prestart::add_init_container(&mut pod, crate::manifest::PROMETHEUS, DATA_DIR)?;
    let spec = &mut resource.spec;
    spec.init_containers
        .get_or_insert_with(Vec::new)
        .extend(pod.init_containers.unwrap_or_default());
    spec.volumes
        .get_or_insert_with(Vec::new)
        .extend(pod.volumes.unwrap_or_default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::manifest::prometheus_resource::{EmbeddedClaim, StorageSpec};

    fn resource(claim: bool) -> PrometheusResource {
        let mut r = PrometheusResource::default();
        r.metadata.name = Some("prometheus".into());
        r.spec.image = Some("local/prometheus-debian:2.53".into());
        if claim {
            r.spec.storage = Some(StorageSpec {
                volume_claim_template: Some(EmbeddedClaim::default()),
                ..StorageSpec::default()
            });
        }
        add_init_container(&mut r).unwrap_or_else(|e| panic!("{e}"));
        r
    }

    /// The seed container's mount at the data dir.
    fn data_mount(r: &PrometheusResource) -> VolumeMount {
        let init = r.spec.init_containers.as_deref().unwrap_or_default();
        assert_eq!(init.len(), 1);
        init[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == DATA_DIR)
            .cloned()
            .unwrap_or_else(|| panic!("no mount at {DATA_DIR}: {init:?}"))
    }

    #[test]
    fn on_the_default_emptydir_the_seed_writes_the_whole_volume() {
        let data = data_mount(&resource(false));
        assert_eq!(data.name, "prometheus-prometheus-db");
        assert_eq!(data.sub_path, None);
    }

    #[test]
    fn the_seed_writes_where_the_operator_mounts_the_tsdb() {
        let r = resource(true);
        let data = data_mount(&r);
        let init = r.spec.init_containers.as_deref().unwrap_or_default();
        assert_eq!(
            init[0].image.as_deref(),
            Some("local/prometheus-debian:2.53")
        );
        assert_eq!(data.name, "prometheus-prometheus-db");
        assert_eq!(data.sub_path.as_deref(), Some("prometheus-db"));
        // Its ConfigMap is a volume of the resource, which the operator
        // adds to the pod.
        let volumes = r.spec.volumes.as_deref().unwrap_or_default();
        assert!(
            init[0]
                .volume_mounts
                .iter()
                .flatten()
                .all(|m| m.name == data.name || volumes.iter().any(|v| v.name == m.name)),
            "{volumes:?}"
        );
    }

    #[test]
    fn a_resource_without_an_image_is_refused() {
        let mut r = PrometheusResource::default();
        r.metadata.name = Some("prometheus".into());
        assert!(add_init_container(&mut r).is_err());
    }
}
