//! The local NFS server: an nfs-ganesha container the harness builds from
//! `images/nfs-server` and runs with testcontainers. It backs the
//! nfs-static and nfs-dynamic variants and is what the nfs-restart
//! disruption restarts.
//!
//! Why ganesha: the images most tutorials use (itsthenetwork/nfs-server-alpine,
//! erichough/nfs-server, the k8s e2e `volume/nfs`) run the host kernel's nfsd
//! and break on hosts without its modules (Docker Desktop, locked-down CI).
//! Ganesha serves NFSv4 from userspace with a handful of capabilities (the
//! Dockerfile says which and why).
//!
//! ```no_run
//! # async fn demo() -> Result<(), harness::Error> {
//! use harness::nfs::{Identity, NfsServer, Squash};
//! let server = NfsServer::new()
//!     .with_network("kind")
//!     .with_squash(Squash::All { uid: 1000, gid: 1000 })
//!     .start()
//!     .await?;
//! let dir = server.create_dir("grafana", 472, 0, 0o775).await?;
//! // A PV would mount `server.address()`:`dir` with vers=4.1.
//! let client = server.client().await?;
//! client.write("grafana/probe", Identity::GRAFANA, b"hello").await?;
//! client.cleanup().await?;
//! server.cleanup().await?;
//! # Ok(()) }
//! ```
//!
//! Layout (each part only uses the ones listed before it):
//! `ownership` (ids, squash modes, directory entries), `export` (the export
//! path and the paths and URLs inside it), `image` (the server image and
//! image references), `parse` (docker and libnfs output), `logs` (the
//! server's log), `ready` (waiting until it serves), `cleanup` (removing
//! what was created), `server` ([`NfsServer`], [`RunningNfs`]) and
//! `client` ([`NfsClient`]).

mod cleanup;
mod client;
mod export;
mod image;
mod logs;
mod ownership;
mod parse;
mod ready;
mod server;
mod shared;

pub use client::NfsClient;
pub use ownership::{Entry, Identity, Squash};
pub use server::{NfsServer, RunningNfs};
pub use shared::SharedNfs;
