//! `harness`: the reusable pieces of storage-e2e.
//!
//! The test tiers (see README.md) are thin compositions of these modules:
//! tier 0 exercises the pure parts (manifests, config, classifiers,
//! expectations, reports), tier 1 the container parts (NFS server,
//! Prometheus, Grafana in Docker), tier 2 the cluster parts. Each module is
//! named after what it manages.

pub mod cell;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod disrupt;
pub mod docker;
pub mod error;
pub mod exec;
pub mod expect;
pub mod forward;
pub mod grafana;
pub mod host;
pub mod images;
pub mod labels;
#[cfg(test)]
mod layout_tests;
pub mod manifest;
pub mod nfs;
pub mod progress;
pub mod prometheus;
pub mod report;
pub mod resources;
pub mod storage_class;
#[cfg(test)]
mod stub_api;
pub mod suite;
pub mod timeline;
pub mod versions;
pub mod vocab;
pub mod wait;
pub mod workload;

pub use error::{Error, Result};
