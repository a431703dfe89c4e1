//! Clusters the matrix runs on: kind (default), k3d, or an existing cluster
//! reached through a kubeconfig.
//!
//! Configure, then start (all crate-internal: the suite reaches a cluster
//! through its resources): `Cluster::from_config` (tier-0 tests also use
//! `Cluster::kind` / `Cluster::k3d` / `Cluster::existing` and
//! `.with_version(Minor(35))`), `.with_nodes(3)`, `.with_keep(Keep::OnFailure)`,
//! then `Cluster::start` returns a `ClusterGuard` holding a `kube::Client`
//! built from a kubeconfig in a private temp dir (never `~/.kube/config`).
//! The guard has an explicit async `ClusterGuard::cleanup` and a
//! synchronous `Drop` fallback that shells out; both honour E2E_KEEP.
//!
//! One cluster per test run: the tier-2 harness (`crate::suite::Suite`)
//! starts it when the first cell needs it and cleans it up after the last;
//! if the process dies first, the guard's reaper deletes it (`reaper`
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
pub(crate) mod k3d;
pub(crate) mod kind;
pub(crate) mod kubeconfig;
pub(crate) mod node;
pub(crate) mod node_image;
pub(crate) mod pool;
pub(crate) mod preflight;
mod ready;
pub(crate) mod reaper;
mod start;
pub mod sweep;

pub(crate) use guard::ClusterGuard;
pub(crate) use info::ClusterInfo;
pub(crate) use node::{Node, NodeRole};
pub(crate) use pool::Pool;
pub(crate) use preflight::preflight;
pub(crate) use ready::{NODES_READY_TIMEOUT, node_is_ready, schedulable_nodes, wait_nodes_ready};
pub(crate) use start::Cluster;
use start::delete_cmd;
#[cfg(test)]
use start::placeholder_client;
#[cfg(test)]
pub(crate) use start::tests_support::{self, unreachable_kubeconfig};
