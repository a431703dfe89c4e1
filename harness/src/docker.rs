//! Docker plumbing shared by tier-1 containers and the NFS server: the one
//! place that decides which address reaches a published port.

use std::time::Duration;

use testcontainers::ContainerAsync;
use testcontainers::Image;

use crate::cmd::Cmd;
use crate::error::{Error, Result, tail};

/// Where published ports are reached unless HARNESS_CONTAINER_HOST says
/// otherwise: loopback, so test traffic never leaves the machine.
pub(crate) const DEFAULT_CONTAINER_HOST: &str = "127.0.0.1";

/// The address to reach ports Docker publishes: `HARNESS_CONTAINER_HOST`
/// when set, else [`DEFAULT_CONTAINER_HOST`]. Not testcontainers'
/// `get_host()`: it answers with the bridge gateway whenever `/.dockerenv`
/// exists (testcontainers-rs 0.28.0, testcontainers/src/core/client.rs,
/// `is_in_container`), which would send test traffic off loopback. Where the
/// tests run in a container next to the Docker daemon, set the override to
/// the address that reaches the daemon's published ports.
///
/// # Errors
/// [`Error::Config`] for a malformed override.
pub(crate) fn container_host() -> Result<String> {
    let config = crate::config::Config::from_env_vars(&["HARNESS_CONTAINER_HOST"])?;
    Ok(config
        .container_host
        .unwrap_or_else(|| DEFAULT_CONTAINER_HOST.to_owned()))
}

/// `host:port` for a container's published `port`.
///
/// # Errors
/// As `container_host`, and when the port is not published.
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

/// An image the harness builds itself from files compiled into it (so it
/// builds from any working directory), labelled with a hash of those files
/// so that an edited Dockerfile triggers a rebuild.
#[derive(Debug, Clone, Copy)]
pub struct LocalImage {
    /// What it is, for messages (`the NFS server image`).
    pub(crate) what: &'static str,
    /// The tag the harness uses unless an override names another.
    pub default_tag: &'static str,
    /// The build context: (file name, contents); the first is the Dockerfile.
    pub(crate) files: &'static [(&'static str, &'static str)],
    /// The label holding the hash of `files`.
    pub(crate) source_label: &'static str,
}

impl LocalImage {
    /// FNV-1a of the build context: stable across Rust versions, unlike `DefaultHasher`.
    pub(crate) fn source_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (i, (_, text)) in self.files.iter().enumerate() {
            let sep = (i > 0).then_some(0u8);
            for b in sep.into_iter().chain(text.bytes()) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    /// Build `image` unless it exists locally. Under the default tag, an
    /// image built from other files is rebuilt; an override tag that exists
    /// is used as it is. Builds are echoed and serialised in-process.
    ///
    /// # Errors
    /// [`Error::Io`] when the build context cannot be written,
    /// [`Error::Command`] when `docker build` fails (with its output).
    pub async fn ensure(&self, image: &str) -> Result<()> {
        static BUILD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _guard = BUILD.lock().await;
        let want = self.source_hash();
        let inspect = Cmd::new("docker")
            .args([
                "image",
                "inspect",
                "-f",
                &format!("{{{{index .Config.Labels \"{}\"}}}}", self.source_label),
                image,
            ])
            .quiet()
            .run_unchecked_async()
            .await?;
        if inspect.success() && (image != self.default_tag || inspect.stdout.trim() == want) {
            return Ok(());
        }
        let dir = tempfile::Builder::new()
            .prefix("e2e-image-")
            .tempdir()
            .map_err(|e| Error::io("creating an image build context", std::env::temp_dir(), e))?;
        for (file, text) in self.files {
            let path = dir.path().join(file);
            std::fs::write(&path, text)
                .map_err(|e| Error::io("writing an image build context", &path, e))?;
            set_executable(&path)?;
        }
        eprintln!("storage-e2e: building {} {image}", self.what);
        let context = dir.path().to_string_lossy().into_owned();
        Cmd::new("docker")
            .args([
                "build",
                "--label",
                &format!("{}={want}", self.source_label),
                "-t",
                image,
                &context,
            ])
            .run_async()
            .await?;
        Ok(())
    }
}

#[cfg(unix)]
fn set_executable(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("making a build-context file executable", path, e))
}

#[cfg(not(unix))]
fn set_executable(_path: &std::path::Path) -> Result<()> {
    Ok(())
}

/// How long a `docker pull` may take before the run gives up on it (an
/// offline machine fails at once; a slow mirror does not).
pub(crate) const PULL_TIMEOUT: Duration = Duration::from_secs(600);

/// What Docker has: the questions the image choices ask
/// ([`crate::cluster::node_image::choose`], [`crate::images::choose`]),
/// so their rules are testable without Docker.
pub(crate) trait ImageStore {
    /// Whether `image` is in the local Docker.
    fn present(&self, image: &str) -> bool;
    /// Try to pull `image`; the error is the puller's last line.
    ///
    /// # Errors
    /// Why the pull failed, in one line.
    fn pull(&self, image: &str) -> std::result::Result<(), String>;
}

/// [`ImageStore`] answered by the local Docker (blocking: call it from
/// `spawn_blocking` in async code).
pub(crate) struct LocalDocker;

impl ImageStore for LocalDocker {
    fn present(&self, image: &str) -> bool {
        Cmd::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .quiet()
            .run_unchecked()
            .is_ok_and(|o| o.success())
    }

    fn pull(&self, image: &str) -> std::result::Result<(), String> {
        eprintln!("storage-e2e: pulling {image}");
        // coreutils `timeout` bounds the pull (exit 124 when it fires).
        let out = Cmd::new("timeout")
            .arg(PULL_TIMEOUT.as_secs().to_string())
            .args(["docker", "pull", image])
            .quiet()
            .run_unchecked()
            .map_err(|e| e.to_string())?;
        if out.success() {
            Ok(())
        } else if out.code == Some(124) {
            Err(format!("no answer within {}s", PULL_TIMEOUT.as_secs()))
        } else {
            let text = if out.stderr.trim().is_empty() {
                &out.stdout
            } else {
                &out.stderr
            };
            Err(tail(text.trim().lines().last().unwrap_or("no output"), 300))
        }
    }
}

/// The halves of [`split_image`], with `None` for the tag of a reference
/// that has neither a tag nor a digest.
fn split_reference(image: &str) -> (String, Option<String>) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_owned(),
            Some(image[slash + i + 1..].to_owned()),
        ),
        None => (image.to_owned(), None),
    }
}

/// An image reference split into what testcontainers' `GenericImage::new`
/// takes and puts back together as given: `repo:tag` into repo and tag,
/// `repo@sha256:digest` into `repo@sha256` and the digest. A `:` before the
/// last `/` is a registry's port, not a tag. A reference without a tag gets
/// Docker's own default, `latest`.
pub(crate) fn split_image(image: &str) -> (String, String) {
    let (repo, tag) = split_reference(image);
    (repo, tag.unwrap_or_else(|| "latest".to_owned()))
}

/// `split_image` for a reference that must name its tag or digest (a
/// pinned image), so an untagged one never silently runs `latest`.
///
/// # Errors
/// [`Error::Parse`] when `image` has no tag or digest.
pub fn split_tagged_image(image: &str) -> Result<(String, String)> {
    match split_reference(image) {
        (repo, Some(tag)) => Ok((repo, tag)),
        (_, None) => Err(Error::parse(
            format!("image {image:?}"),
            "it has no tag or digest",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_back_to_themselves() {
        for image in [
            "local/storage-e2e-nfs:0.1.0",
            "registry.example:5000/mirror/nfs:1.2",
            "nfs@sha256:abcd",
        ] {
            let (repo, tag) = split_image(image);
            assert_eq!(format!("{repo}:{tag}"), image);
        }
        assert_eq!(split_image("registry:5000/nfs").1, "latest");
    }

    #[test]
    fn image_references_split_the_way_generic_image_rejoins_them() {
        let cases = [
            ("grafana/grafana:12.2.1", ("grafana/grafana", "12.2.1")),
            (
                "mirror:5000/grafana/grafana:12.2.1",
                ("mirror:5000/grafana/grafana", "12.2.1"),
            ),
            (
                "grafana/grafana@sha256:abc",
                ("grafana/grafana@sha256", "abc"),
            ),
        ];
        for (image, (name, tag)) in cases {
            let (n, t) = split_tagged_image(image).expect(image);
            assert_eq!((n.as_str(), t.as_str()), (name, tag));
            assert_eq!(format!("{n}:{t}"), image);
        }
        assert!(split_tagged_image("mirror:5000/grafana").is_err());
    }
}
