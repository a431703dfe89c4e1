//! The server container: configure an [`NfsServer`], start it, and work
//! with the [`RunningNfs`] (directories and listings on the export,
//! restart, logs, cleanup).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{IntoContainerPort as _, Mount, WaitFor};
use testcontainers::{GenericImage, ImageExt as _};

use crate::cmd::Cmd;
use crate::config::{Config, Keep, default_images};
use crate::docker::split_image;
use crate::error::{Error, Result};
use crate::exec::{DockerExec, Exec as _};
use crate::labels::{MANAGED_BY, OWNER, RUN_ID, unique_name};
use crate::nfs::cleanup::{Resources, start_container};
use crate::nfs::export::{EXPORT_PATH, export_subpath};
use crate::nfs::image::ensure_image;
use crate::nfs::ownership::{Entry, Squash};
use crate::nfs::parse::{parse_find_listing, parse_network_ip};
use crate::nfs::ready::{READY_TIMEOUT, wait_serving};

/// The NFS port, inside the container (published on the host at a random port).
pub(crate) const NFS_PORT: u16 = 2049;
/// Seconds `docker restart` gives ganesha to stop cleanly before SIGKILL.
pub(crate) const RESTART_STOP_SECONDS: u32 = 10;

/// Capabilities the server runs with, after dropping all of Docker's
/// defaults. images/nfs-server/Dockerfile says why each is needed; each was
/// verified by removing it.
pub(crate) const CAPABILITIES: &[&str] = &[
    "DAC_READ_SEARCH",
    "SYS_ADMIN",
    "SETUID",
    "SETGID",
    "FOWNER",
    "CHOWN",
    "DAC_OVERRIDE",
];

/// Configure an NFS server container, then [`NfsServer::start`] it.
#[derive(Debug, Clone, Default)]
pub struct NfsServer {
    image: Option<String>,
    network: Option<String>,
    squash: Squash,
    name: Option<String>,
    run_id: Option<String>,
    keep: Option<Keep>,
    ready_timeout: Option<Duration>,
    env: BTreeMap<String, String>,
}

impl NfsServer {
    /// A server with the defaults: image from HARNESS_NFS_IMAGE or
    /// `default_images::NFS`, default bridge, [`Squash::None`], a unique
    /// `e2e-nfs-xxxxxx` name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this image instead of HARNESS_NFS_IMAGE / the default. It is
    /// built from images/nfs-server under this tag when missing.
    #[must_use]
    pub(crate) fn with_image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }

    /// Attach to this existing Docker network (e.g. `kind`, or a network
    /// the test created), so that kubelets and client containers reach the
    /// server at [`RunningNfs::address`]. Without it the server sits on the
    /// default bridge, where only its published port is meant to be used.
    #[must_use]
    pub fn with_network(mut self, network: impl Into<String>) -> Self {
        self.network = Some(network.into());
        self
    }

    /// How the export squashes client ids (default [`Squash::None`]).
    #[must_use]
    pub fn with_squash(mut self, squash: Squash) -> Self {
        self.squash = squash;
        self
    }

    /// The run id put in the [`RUN_ID`] label of the container and volume
    /// (default [`crate::labels::run_id`], the process's), so a test can
    /// check that nothing of its own is left.
    #[must_use]
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Whether to keep the container and volume (default: E2E_KEEP, which
    /// defaults to keeping them only when the dropping thread panics).
    #[must_use]
    pub fn with_keep(mut self, keep: Keep) -> Self {
        self.keep = Some(keep);
        self
    }

    /// How long [`NfsServer::start`] and [`RunningNfs::restart`] wait for
    /// the server to answer (default `READY_TIMEOUT`).
    #[must_use]
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = Some(timeout);
        self
    }

    /// Set an entrypoint variable directly (see images/nfs-server/
    /// entrypoint.sh), overriding what the builder derives. Meant for
    /// tests that misconfigure the server on purpose, e.g.
    /// `EXPORT_PATH=/srv/on-overlay`.
    #[must_use]
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Build the image if missing, create the labelled export volume, run
    /// the container and wait until it really serves NFS: an NFSv4 client
    /// (`nfs-ls`, inside the container, against 127.0.0.1) must list the
    /// export. Prints `nfs server <name> serving after <t>`.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad HARNESS_NFS_IMAGE or E2E_KEEP,
    /// [`Error::Command`] when the image build or a docker command fails,
    /// [`Error::Docker`] when the container cannot start,
    /// [`Error::ServerLog`] with the server's last log lines and, as its
    /// cause, the [`Error::Timeout`] / [`Error::WaitFailed`] of the wait
    /// when it does not serve in time or exits. Whatever was
    /// created is removed before the error is returned.
    // Over 80 lines: one start sequence whose every failure must remove what
    // the steps before it created (network, container, image); kept in one
    // function so the undo order is visible next to the steps.
    pub async fn start(self) -> Result<RunningNfs> {
        let image = match self.image {
            Some(i) => i,
            None => Config::image_from_env("HARNESS_NFS_IMAGE", default_images::NFS)?,
        };
        let keep = match self.keep {
            Some(k) => k,
            None => keep_from_env()?,
        };
        ensure_image(&image).await?;

        let name = self.name.unwrap_or_else(|| unique_name("nfs"));
        let run_id = self
            .run_id
            .unwrap_or_else(|| crate::labels::run_id().to_owned());
        let volume = format!("{name}-export");
        create_volume(&volume, &run_id).await?;
        let mut resources = Resources::new(name.clone(), Some(volume.clone()), keep, "nfs server");

        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("EXPORT_PATH".into(), EXPORT_PATH.into());
        env.insert("PSEUDO_PATH".into(), EXPORT_PATH.into());
        for (k, v) in self.squash.env() {
            env.insert(k.into(), v);
        }
        env.extend(self.env);

        let (repo, tag) = split_image(&image);
        let mut request = GenericImage::new(repo, tag)
            .with_exposed_port(NFS_PORT.tcp())
            .with_wait_for(WaitFor::Nothing)
            .with_container_name(name.as_str())
            .with_label(MANAGED_BY, OWNER)
            .with_label(RUN_ID, run_id.as_str())
            .with_mount(Mount::volume_mount(volume.as_str(), EXPORT_PATH))
            .with_cap_drop("ALL");
        for cap in CAPABILITIES {
            request = request.with_cap_add(*cap);
        }
        for (k, v) in &env {
            request = request.with_env_var(k.as_str(), v.as_str());
        }
        if let Some(net) = &self.network {
            request = request.with_network(net.as_str());
        }
        if publish_on_loopback()? {
            // The export has no authentication: do not offer it on every
            // interface of the machine when the tests reach it on loopback.
            request = request.with_host_config_modifier(|hc: &mut HostConfig| {
                hc.publish_all_ports = Some(false);
                hc.port_bindings = Some(
                    [(
                        format!("{NFS_PORT}/tcp"),
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(String::new()),
                        }]),
                    )]
                    .into_iter()
                    .collect(),
                );
            });
        }

        eprintln!(
            "+ [testcontainers] run {name} from {image} (squash={}, network={}, volume={volume})",
            self.squash.id(),
            self.network.as_deref().unwrap_or("bridge"),
        );
        let started = Instant::now();
        // On failure, dropping `resources` removes the volume.
        let container = start_container(request, &name, || {
            format!("start nfs server {name} from {image}")
        })
        .await?;
        resources.container = Some(container);

        let mut server = RunningNfs {
            name,
            image,
            network: self.network,
            run_id,
            address: String::new(),
            serving_after: Duration::ZERO,
            ready_timeout: self.ready_timeout.unwrap_or(READY_TIMEOUT),
            resources,
        };
        wait_serving(&server.name, server.ready_timeout).await?;
        server.address = server.lookup_address().await?;
        server.serving_after = started.elapsed();
        eprintln!(
            "nfs server {} serving after {:.1}s at {}:{EXPORT_PATH}",
            server.name,
            server.serving_after.as_secs_f64(),
            server.address
        );
        Ok(server)
    }
}

/// A running NFS server. Dropping it removes the container and its volume
/// (by shelling out to docker) unless E2E_KEEP says to keep them; prefer
/// [`RunningNfs::cleanup`].
#[derive(Debug)]
pub struct RunningNfs {
    name: String,
    image: String,
    network: Option<String>,
    run_id: String,
    address: String,
    serving_after: Duration,
    ready_timeout: Duration,
    resources: Resources,
}

impl RunningNfs {
    /// The container name, e.g. `e2e-nfs-x1y2z3`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The image it runs.
    pub(crate) fn image(&self) -> &str {
        &self.image
    }

    /// The Docker network given to [`NfsServer::with_network`], if any.
    pub(crate) fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// The run id in its labels.
    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The named Docker volume holding the export.
    pub fn volume(&self) -> &str {
        self.resources.volume.as_deref().unwrap_or_default()
    }

    /// The server's IP on its network (the one given to
    /// [`NfsServer::with_network`], else the default bridge): what a PV's
    /// `nfs.server` must say, since kubelets mount from the node's network
    /// namespace and cannot resolve container names. From the host, use
    /// [`RunningNfs::host_address`] instead.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The path clients mount ([`EXPORT_PATH`]).
    pub(crate) fn export_path(&self) -> &str {
        EXPORT_PATH
    }

    /// How long the last start (or restart) took until the server answered NFS.
    pub fn serving_after(&self) -> Duration {
        self.serving_after
    }

    /// The host port Docker publishes 2049 on (looked up each time: Docker
    /// may pick a new one when the container restarts).
    ///
    /// # Errors
    /// [`Error::Docker`] when the port is not published.
    pub async fn host_port(&self) -> Result<u16> {
        self.resources
            .container()?
            .get_host_port_ipv4(NFS_PORT)
            .await
            .map_err(|source| Error::Docker {
                action: format!("find the published port of nfs server {}", self.name),
                source,
            })
    }

    /// `host:port` reaching the published NFS port from the machine running
    /// the tests, decided by [`crate::docker::published`] (HARNESS_CONTAINER_HOST).
    /// A libnfs client there uses `nfs://host/exports?version=4&nfsport=port`.
    ///
    /// # Errors
    /// As [`crate::docker::published`].
    pub async fn host_address(&self) -> Result<String> {
        crate::docker::published(self.resources.container()?, NFS_PORT).await
    }

    /// Create `sub` under the export (with parents), owned by `uid:gid`
    /// with permission bits `mode`; returns the path clients mount, e.g.
    /// `/exports/prometheus`. `sub = ""` re-owns the export root itself.
    ///
    /// # Errors
    /// [`Error::Parse`] for a `sub` that is absolute, has `..` or odd
    /// characters; [`Error::Command`] when the docker exec fails.
    pub async fn create_dir(&self, sub: &str, uid: u32, gid: u32, mode: u32) -> Result<String> {
        let path = export_subpath(sub)?;
        let script = r#"mkdir -p -- "$1" && chown "$2" "$1" && chmod "$3" "$1""#;
        let owner = format!("{uid}:{gid}");
        let mode = format!("{mode:o}");
        self.exec()
            .exec_ok(&["sh", "-c", script, "sh", &path, &owner, &mode], None)
            .await?;
        Ok(path)
    }

    /// The entries of `sub` (`""` for the export root) with numeric owners,
    /// read on the server's filesystem (what is really stored, whatever a
    /// client was told), sorted by name.
    ///
    /// # Errors
    /// [`Error::Parse`] for a bad `sub` or unreadable output,
    /// [`Error::Command`] when the directory does not exist.
    pub async fn list(&self, sub: &str) -> Result<Vec<Entry>> {
        let path = export_subpath(sub)?;
        let out = self
            .exec()
            .exec_ok(
                &[
                    "find",
                    &path,
                    "-mindepth",
                    "1",
                    "-maxdepth",
                    "1",
                    "-printf",
                    r"%f\t%U\t%G\t%m\t%s\t%y\n",
                ],
                None,
            )
            .await?;
        parse_find_listing(&out.stdout)
    }

    /// `docker restart` the server (the nfs-restart disruption) and wait
    /// until it serves again; returns the time from the restart command to
    /// serving. The export volume, and so the data, stays.
    ///
    /// # Errors
    /// [`Error::Command`] when docker fails, [`Error::ServerLog`] (the
    /// last log lines, the wait's error as cause) when it does not serve
    /// again, [`Error::WaitFailed`] when Docker gave it another IP
    /// (mounts of the old one would be stale).
    pub async fn restart(&mut self) -> Result<Duration> {
        let started = Instant::now();
        Cmd::new("docker")
            .args([
                "restart",
                "-t",
                &RESTART_STOP_SECONDS.to_string(),
                &self.name,
            ])
            .run_async()
            .await?;
        wait_serving(&self.name, self.ready_timeout).await?;
        let address = self.lookup_address().await?;
        if address != self.address {
            return Err(Error::WaitFailed {
                what: format!("nfs server {} to come back at {}", self.name, self.address),
                reason: format!(
                    "Docker gave it {address} after the restart; mounts of the old address are stale"
                ),
            });
        }
        self.serving_after = started.elapsed();
        eprintln!(
            "nfs server {} serving again after {:.1}s",
            self.name,
            self.serving_after.as_secs_f64()
        );
        Ok(self.serving_after)
    }

    /// Remove the container and its volume now (unless E2E_KEEP=always).
    ///
    /// # Errors
    /// [`Error::Docker`] / [`Error::Command`] when Docker refuses.
    pub async fn cleanup(mut self) -> Result<()> {
        self.resources.cleanup().await
    }

    /// Whether to keep the container and volume (its clients inherit it).
    pub(super) fn keep(&self) -> Keep {
        self.resources.keep
    }

    fn exec(&self) -> DockerExec {
        self.resources.exec()
    }

    async fn lookup_address(&self) -> Result<String> {
        let out = Cmd::new("docker")
            .args([
                "inspect",
                "-f",
                "{{json .NetworkSettings.Networks}}",
                &self.name,
            ])
            .quiet()
            .run_async()
            .await?;
        let network = self.network.as_deref().unwrap_or("bridge");
        parse_network_ip(&out.stdout, network)
    }
}

fn keep_from_env() -> Result<Keep> {
    Ok(Config::from_env_vars(&["E2E_KEEP"])?.keep)
}

/// Publish on 127.0.0.1 only when that is where tests reach published ports.
fn publish_on_loopback() -> Result<bool> {
    Ok(matches!(
        crate::docker::container_host()?.as_str(),
        "127.0.0.1" | "localhost"
    ))
}

async fn create_volume(volume: &str, run_id: &str) -> Result<()> {
    Cmd::new("docker")
        .args([
            "volume",
            "create",
            "--label",
            &format!("{MANAGED_BY}={OWNER}"),
            "--label",
            &format!("{RUN_ID}={run_id}"),
            volume,
        ])
        .run_async()
        .await?;
    Ok(())
}
