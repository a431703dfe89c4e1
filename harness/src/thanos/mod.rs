//! The Thanos sidecar setup (docs/setups.md): what the harness checks
//! beside Prometheus's own TSDB, the bucket the sidecar ships blocks to.
//! The setup's objects are manifests (manifests/base-thanos); its
//! Prometheus is a plain StatefulSet, seeded and judged as the plain
//! setup's.

mod bucket;
mod compaction;
mod store;

pub(crate) use bucket::{SIDECAR, ShippedBlock, compare, list, wait_listed, wait_shipped};
pub(crate) use compaction::{levels, no_compacted_shipped, only_local, wait_compacted};
pub(crate) use store::STORE;
