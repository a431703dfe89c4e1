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
//! From outside the crate only the rendering itself is reachable (what
//! `make render` prints); the typed accessors are crate-internal.
//!
//! ```no_run
//! use harness::config::Config;
//! use harness::manifest::{self, Params};
//! use harness::vocab::Variant;
//!
//! let config = Config::from_env()?;
//! let rendered = manifest::render(&config.manifests_dir, Variant::LocalPv, &Params::placeholder())?;
//! print!("{}", rendered.to_yaml()?);
//! # Ok::<(), harness::Error>(())
//! ```

pub(crate) mod apply;
mod check;
mod confine;
mod load;
mod names;
mod object;
mod params;
mod patch;
pub(crate) mod prometheus_resource;
mod render;
mod rendered;
mod snapshot_class;
#[cfg(test)]
mod tests;
mod volume_snapshot;

pub(crate) use confine::confine;
pub(crate) use names::{
    APP_NAME_LABEL, ATTACHABLE_ADDON, ATTACHABLE_DRIVER, DATA_VOLUME, GRAFANA, HOST_DIR,
    OPERATOR_ADDON, PROMETHEUS, SAN_DIR,
};
#[cfg(test)]
pub(crate) use names::{GRAFANA_ADMIN_PASSWORD_KEY, GRAFANA_ADMIN_SECRET};
pub(crate) use object::Object;
pub use params::Params;
pub(crate) use params::prometheus_version;
pub use render::render;
pub(crate) use render::{read_upstream, upstream_yaml_files};
pub use rendered::Kind;
pub(crate) use rendered::Manifest;
pub use rendered::Rendered;
#[cfg(test)]
pub(crate) use rendered::RenderedWorkload;
pub(crate) use snapshot_class::VolumeSnapshotClass;
pub(crate) use volume_snapshot::VolumeSnapshot;
