//! The manifests in `manifests/`: load the base and one storage variant,
//! fill in the run's parameters, check every document against the
//! Kubernetes types, and hand out typed objects (for the harness) or the
//! final YAML (for `make render` and for people).
//!
//! Layout (see manifests/README.md):
//! - `base/*.yaml`: objects every variant has (namespace, Prometheus,
//!   Grafana); their `data` volumes use the claims `prometheus-data` and
//!   `grafana-data`, which the variant provides or patches away;
//! - `storage/<id>/*.yaml`: objects the variant adds (claims, PVs, classes,
//!   a StatefulSet);
//! - `storage/<id>/*.patch.yaml`: strategic-merge patches on base objects,
//!   read as `kubectl patch --type strategic` reads them (the subset the
//!   variants use: maps merge, containers/volumes/env merge by name,
//!   `key: null` removes, `$patch: delete` removes an item or the object);
//! - `addons/<name>/*.yaml`: cluster-wide prerequisites a variant needs
//!   (csi-driver-nfs for nfs-dynamic), installed once per cluster.
//!
//! Every document must deserialize into its k8s-openapi type *exactly*: a
//! field the type does not know (a typo such as `volumeMount`) or a missing
//! required field is an error naming the file, the document, the object and
//! the field.
//!
//! ```no_run
//! use harness::config::Images;
//! use harness::manifest::{self, Params};
//! use harness::vocab::Variant;
//!
//! let params = Params::new("e2e-abc123", Images::default()).with_node("kind-worker");
//! let rendered = manifest::render(&harness::config::default_dir(), Variant::LocalPv, &params)?;
//! let spec = rendered.prometheus_pod_spec();
//! assert_eq!(spec.containers[0].name, manifest::PROMETHEUS);
//! print!("{}", rendered.to_yaml()?);
//! # Ok::<(), harness::Error>(())
//! ```

pub mod apply;
mod check;
mod load;
mod names;
mod object;
mod params;
mod patch;
mod render;
mod rendered;
mod snapshot_class;
#[cfg(test)]
mod tests;

pub use names::{
    APP_NAME_LABEL, ATTACHABLE_ADDON, ATTACHABLE_CLASS, ATTACHABLE_DRIVER, DATA_VOLUME, GRAFANA,
    GRAFANA_ADMIN_PASSWORD_KEY, GRAFANA_ADMIN_SECRET, HOST_DIR, PROMETHEUS, SAN_DIR, VOLUME_LABEL,
    addons_for,
};
pub use object::Object;
pub use params::{PLACEHOLDERS, Params};
pub use render::render;
pub use rendered::{Manifest, Rendered, Source, Workload};
pub use snapshot_class::VolumeSnapshotClass;
