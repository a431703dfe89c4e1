//! Applying the disruptions of [`crate::vocab::Disruption`] to running pods
//! and nodes, and undoing what must be undone afterwards.
//!
//! - `target`: what a disruption acts on ([`Target`]) and what it did
//!   ([`Applied`]), the node and NFS operations it may need.
//! - `pods`: the pod- and node-level disruptions, one function each, and
//!   [`restore`].
//! - `data`: what is done to an app's data on the node (wal-tail-torn).
//! - `volume`: what is done to the volume itself while its pod runs
//!   (volume-full).
//! - `expand`: growing the live claim, online or with a stop (volume-expand).
//! - `snapshot`: a VolumeSnapshot of the live claim restored under a second
//!   Prometheus (snapshot-restore).
//! - `operator`: the prometheus-operator setup's own (through its
//!   resource, and the operator's pod).
//! - `thanos`: the Thanos sidecar setup's own (its object store restarted).
//! - `rollout`: the rollouts (restart, Recreate, away from the node, an
//!   image upgrade) and the seed article's unblock of a stuck one.

mod data;
mod expand;
mod operator;
mod pods;
mod rollout;
mod snapshot;
mod target;
#[cfg(test)]
mod tests;
mod thanos;
mod volume;

pub(crate) use data::scale;
pub use pods::{NODE_NOT_READY_TIMEOUT, apply, restore};
pub use rollout::{STUCK_CREATING, STUCK_ROLLOUT_OBSERVE};
pub(crate) use snapshot::RESTORED_PROMETHEUS;
pub use target::{Applied, NodeOps, Restartable, Target, bystander};

#[cfg(test)]
pub(crate) use target::tests_support;
