//! storage-e2e's CSI driver: network-attached block storage for kind
//! clusters on one machine.
//!
//! A volume is a sparse image file on a directory every node sees (the
//! "SAN"); ControllerPublishVolume attaches it to one node at a time, the
//! node stages it as ext4 on a loop device and publishes it by bind mount.
//! Kubernetes' side (attach/detach controller, VolumeAttachments,
//! Multi-Attach, force detach) is entirely real; the driver stands in for
//! the storage array only. README.md beside Cargo.toml says how it is
//! built, run and tested.
//!
//! Modules, from the leaves up:
//! - vocabulary: [`ids`], [`capacity`], [`access`], [`paging`], [`error`]
//! - the machine: [`cmd`] (external commands), [`san`] (state files),
//!   [`loopdev`], [`mount`], [`ext4`]
//! - gRPC: [`rpc`] (per-call plumbing), [`identity`], [`controller`],
//!   [`node`], [`registration`], [`authority`] (the kubelet's registration
//!   call made acceptable to h2), [`server`]
//! - the program: [`cli`], [`selftest`]

#![forbid(unsafe_code)]

pub mod access;
pub mod authority;
pub mod capacity;
pub mod cli;
pub mod cmd;
pub mod controller;
pub mod error;
pub mod ext4;
pub mod identity;
pub mod ids;
pub mod loopdev;
pub mod mount;
pub mod node;
pub mod paging;
pub mod proto;
pub mod registration;
pub mod rpc;
pub mod san;
pub mod selftest;
pub mod server;

/// The CSI driver name: StorageClasses' `provisioner`, the CSIDriver
/// object, the kubelet plugin directory.
pub const DRIVER_NAME: &str = "loop.csi.storage-e2e.test";
/// `GetPluginInfo.vendor_version`.
pub const VENDOR_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The CSI spec release the gRPC code was generated from (build.rs).
pub const CSI_SPEC_VERSION: &str = env!("STORAGE_E2E_CSI_SPEC_VERSION");
/// The k8s.io/kubelet release the registration API came from (build.rs).
pub const KUBELET_API_VERSION: &str = env!("STORAGE_E2E_KUBELET_API_VERSION");
