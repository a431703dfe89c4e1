//! `harness`: the reusable pieces of storage-e2e.
//!
//! The test tiers (see README.md) are thin compositions of these modules:
//! tier 0 exercises the pure parts (manifests, config, classifiers,
//! expectations, reports), tier 1 the container parts (NFS server,
//! Prometheus, Grafana in Docker), tier 2 the cluster parts. Each module is
//! named after what it manages.
//!
//! The public surface is narrow: an item is `pub` only when something
//! outside this crate uses it (the tier-1 and tier-2 tests, the
//! `storage-e2e` binary) or a public signature needs it; the rest is
//! `pub(crate)` or sits in a module nothing outside uses, itself
//! `pub(crate)`.

pub(crate) mod app_images;
pub(crate) mod apps;
pub(crate) mod cell;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod disrupt;
pub mod docker;
pub mod error;
pub mod exec;
pub mod expect;
pub(crate) mod forward;
pub mod grafana;
pub mod host;
pub mod images;
pub mod labels;
#[cfg(test)]
mod layout_tests;
pub mod manifest;
pub mod nfs;
pub(crate) mod operator;
pub(crate) mod progress;
pub mod prometheus;
pub mod report;
pub mod resources;
pub(crate) mod storage_class;
#[cfg(test)]
mod stub_api;
pub mod suite;
pub(crate) mod thanos;
pub(crate) mod timeline;
pub(crate) mod versions;
pub mod vocab;
pub mod wait;
pub(crate) mod workload;

pub use error::Error;
pub(crate) use error::Result;
