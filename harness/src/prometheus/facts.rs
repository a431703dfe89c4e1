//! What the Prometheus app is, as every other part of the harness meets it:
//! its port, its paths and the user it runs as. The manifests' checks, the
//! workload lookups, the probe, the seeding and the tier-1 containers all
//! take these values from here, so none of them can drift from the others.
//!
//! The YAML templates (manifests/base/prometheus.yaml and the variants'
//! workload patches) still write them literally: placeholders fill in
//! strings only, and ports and ids are integers there. The manifest tests
//! check the rendered port and data dir against these constants.

/// Prometheus's HTTP port (container and Service).
pub const PORT: u16 = 9090;
/// Where Prometheus keeps its TSDB (`--storage.tsdb.path`): the data dir of
/// the prom/prometheus image and of the Debian stand-ins.
pub const DATA_DIR: &str = "/prometheus";
/// The uid both images run Prometheus as (`nobody`).
pub const UID: u32 = 65534;
/// The gid both images run Prometheus as (`nobody`'s group).
pub const GID: u32 = 65534;
/// The configuration file the images ship and start with by default
/// (tier 1 runs the image with it; the manifests mount their own).
pub const CONFIG_FILE: &str = "/etc/prometheus/prometheus.yml";
/// The readiness endpoint: 200 once the TSDB is open and the WAL replayed
/// (the probe's recovery wait, and the manifests' readiness probe).
pub const READY_PATH: &str = "/-/ready";
