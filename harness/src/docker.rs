//! Docker plumbing shared by tier-1 containers and the NFS server: the one
//! place that decides which address reaches a published port.

use testcontainers::ContainerAsync;
use testcontainers::Image;

use crate::error::{Error, Result};

/// Where published ports are reached unless HARNESS_CONTAINER_HOST says
/// otherwise: loopback, so test traffic never leaves the machine.
pub const DEFAULT_CONTAINER_HOST: &str = "127.0.0.1";

/// The address to reach ports Docker publishes: `HARNESS_CONTAINER_HOST`
/// when set, else [`DEFAULT_CONTAINER_HOST`]. Not testcontainers'
/// `get_host()`: it answers with the bridge gateway whenever `/.dockerenv`
/// exists (FACTS.md), which would send test traffic off loopback. Where the
/// tests run in a container next to the Docker daemon, set the override to
/// the address that reaches the daemon's published ports.
///
/// # Errors
/// [`Error::Config`] for a malformed override.
pub fn container_host() -> Result<String> {
    let config = crate::config::Config::from_env_vars(&["HARNESS_CONTAINER_HOST"])?;
    Ok(config
        .container_host
        .unwrap_or_else(|| DEFAULT_CONTAINER_HOST.to_owned()))
}

/// `host:port` for a container's published `port`.
///
/// # Errors
/// As [`container_host`], and when the port is not published.
pub async fn published<I: Image>(container: &ContainerAsync<I>, port: u16) -> Result<String> {
    let host = container_host()?;
    let p = container
        .get_host_port_ipv4(port)
        .await
        .map_err(|source| Error::Docker {
            action: format!("find the published port for {port}"),
            source,
        })?;
    Ok(format!("{host}:{p}"))
}
