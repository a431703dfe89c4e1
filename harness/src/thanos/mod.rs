//! The Thanos sidecar setup (docs/setups.md): what the harness checks
//! beside Prometheus's own TSDB, the bucket the sidecar ships blocks to.
//! The setup's objects are manifests (manifests/base-thanos); its
//! Prometheus is a plain StatefulSet, seeded and judged as the plain
//! setup's.

mod bucket;

pub(crate) use bucket::{SIDECAR, ShippedBlock, compare, list, wait_listed, wait_shipped};
