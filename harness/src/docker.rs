//! Docker plumbing shared by tier-1 containers and the NFS server: the one
//! place that decides which address reaches a published port.

use testcontainers::ContainerAsync;
use testcontainers::Image;

use crate::error::{Error, Result};

/// The address to reach ports Docker publishes: `HARNESS_CONTAINER_HOST`
/// when set, else what testcontainers reports. testcontainers answers with
/// the bridge gateway whenever `/.dockerenv` exists (FACTS.md), which is why
/// CI sets the override to 127.0.0.1 and keeps test traffic on loopback.
///
/// # Errors
/// [`Error::Config`] for a malformed override, [`Error::Docker`] when
/// testcontainers cannot tell.
pub async fn host_of<I: Image>(container: &ContainerAsync<I>) -> Result<String> {
    match crate::config::Config::from_lookup(|k| {
        (k == "HARNESS_CONTAINER_HOST")
            .then(|| std::env::var(k).ok())
            .flatten()
    })?
    .container_host
    {
        Some(h) => Ok(h),
        None => container
            .get_host()
            .await
            .map(|h| h.to_string())
            .map_err(|source| Error::Docker {
                action: "find the host address of a container".into(),
                source,
            }),
    }
}

/// `host:port` for a container's published `port`.
///
/// # Errors
/// As [`host_of`], and when the port is not published.
pub async fn published<I: Image>(container: &ContainerAsync<I>, port: u16) -> Result<String> {
    let host = host_of(container).await?;
    let p = container
        .get_host_port_ipv4(port)
        .await
        .map_err(|source| Error::Docker {
            action: format!("find the published port for {port}"),
            source,
        })?;
    Ok(format!("{host}:{p}"))
}
