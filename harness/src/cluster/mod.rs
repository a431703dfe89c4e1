//! Clusters the matrix runs on: kind (default), k3d, or an existing cluster
//! reached through a kubeconfig.
//!
//! Configure, then start: [`Cluster::kind`] / [`Cluster::k3d`] /
//! [`Cluster::existing`] / [`Cluster::from_config`], `.with_nodes(3)`,
//! `.with_version(Minor(35))`, `.with_keep(Keep::OnFailure)`, then
//! [`Cluster::start`] returns a [`ClusterGuard`] holding a `kube::Client`
//! built from a kubeconfig in a private temp dir (never `~/.kube/config`).
//! The guard has an explicit async [`ClusterGuard::cleanup`] and a
//! synchronous `Drop` fallback that shells out; both honour E2E_KEEP.
//!
//! One cluster per test run: the tier-2 harness (`crate::suite::Suite`)
//! starts it when the first cell needs it and cleans it up after the last;
//! if the process dies first, the guard's reaper deletes it ([`reaper`]
//! explains why: libtest has no global teardown). Anything a
//! killed run leaves behind carries an ownership label or the `e2e-` name
//! prefix and is removed by [`sweep`] (`make clean`).
//!
//! kind runs on the project's CI machine (tier 2 in `.ci/run`, from a node
//! image built offline); k3d cannot (its k3s is not served), so its code is
//! exercised by tier-0 tests (the exact command lines, configs, version
//! table, kubeconfig isolation, preflight, reaper) and tier 1 (the sweep, on
//! real Docker objects), and by GitHub Actions where k3d runs.

mod guard;
mod info;
pub mod k3d;
pub mod kind;
pub mod kubeconfig;
pub mod node;
pub mod node_image;
pub mod preflight;
mod ready;
pub mod reaper;
mod start;
pub mod sweep;

pub use crate::versions::{VersionRow, VersionTable};
pub use guard::{ClusterGuard, delete_namespaces_cmd, namespace_object};
pub use info::ClusterInfo;
pub use node::{Node, NodeRole};
pub use preflight::preflight;
pub use ready::{
    NODES_READY_INTERVAL, NODES_READY_TIMEOUT, node_is_ready, schedulable_nodes, wait_nodes_ready,
};
use start::delete_cmd;
#[cfg(test)]
use start::placeholder_client;
#[cfg(test)]
pub(crate) use start::tests_support::{self, unreachable_kubeconfig};
pub use start::{Cluster, Plan, parse_server_minor};
