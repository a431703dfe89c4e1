//! The prometheus-operator setup (docs/setups.md): the operator installed
//! once per run as an addon (its CustomResourceDefinitions from the
//! operator's own module, then the project's RBAC and Deployment in
//! manifests/addons/prometheus-operator), and per cell a `Prometheus`
//! resource the harness seeds through the resource's init containers.
//! Everything else a cell does (waits, probes, disruptions, judgement)
//! reads the StatefulSet the operator makes, as for the plain setup.

mod crds;
mod rejection;
mod seed;

pub(crate) use crds::{crds_dir, load_crds};
pub(crate) use rejection::{rejected, rejection_error};
pub(crate) use seed::add_init_container;
