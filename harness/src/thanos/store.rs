//! The S3 store of the setup (manifests/base-thanos/s3-store.yaml), as a
//! workload the harness scales: store-restart stops and starts it, and
//! thanos-compacting starts it once Prometheus has compacted.

use crate::workload::{self, Workload};

/// The store's Deployment. Its fields beyond the name, label, container,
/// port and data dir are Prometheus's (no probe reads the store).
pub(crate) const STORE: Workload = Workload {
    name: "s3",
    pod_label: "s3-store",
    container: "s3",
    port: 7070,
    data_dir: "/data",
    ..workload::PROMETHEUS
};
