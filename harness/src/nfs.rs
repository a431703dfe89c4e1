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
//! # async fn demo() -> harness::Result<()> {
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

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::{IntoContainerPort as _, Mount, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

use crate::cmd::{Cmd, Output};
use crate::config::{Config, Keep, default_images};
use crate::docker::LocalImage;
use crate::error::{Error, Result, tail};
use crate::exec::{DockerExec, Exec as _};
use crate::labels::{MANAGED_BY, OWNER, RUN_ID, unique_name};
use crate::wait::{Check, poll};

/// The NFS port, inside the container (published on the host at a random port).
pub const NFS_PORT: u16 = 2049;
/// Where the export is mounted in the server container, and the path clients
/// mount (the NFSv4 pseudo path is the same).
pub const EXPORT_PATH: &str = "/exports";
/// How long a fresh (or restarted) server gets to answer an NFS client.
/// Ganesha serves in 1-3 s here; image builds happen before this clock starts.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two readiness probes.
pub const READY_INTERVAL: Duration = Duration::from_millis(250);
/// Seconds `docker restart` gives ganesha to stop cleanly before SIGKILL.
pub const RESTART_STOP_SECONDS: u32 = 10;
/// Server log lines quoted in a readiness error.
pub const LOG_LINES_IN_ERRORS: usize = 25;
/// Label on the image the harness builds: a hash of the Dockerfile and
/// entrypoint it was built from, so an edited Dockerfile triggers a rebuild.
pub const IMAGE_SOURCE_LABEL: &str = "storage-e2e/nfs-image-source";
/// Anonymous uid/gid squashed callers become under [`Squash::Root`]
/// (ganesha's default, `nobody`).
pub const ANON_ID: u32 = 65534;

/// The server image's build context, embedded so that `start()` can build it
/// from any working directory (and from crates that depend on the harness).
const DOCKERFILE: &str = include_str!("../../images/nfs-server/Dockerfile");
const ENTRYPOINT: &str = include_str!("../../images/nfs-server/entrypoint.sh");

/// Capabilities the server runs with, after dropping all of Docker's
/// defaults. images/nfs-server/Dockerfile says why each is needed; each was
/// verified by removing it.
pub const CAPABILITIES: &[&str] = &[
    "DAC_READ_SEARCH",
    "SYS_ADMIN",
    "SETUID",
    "SETGID",
    "FOWNER",
    "CHOWN",
    "DAC_OVERRIDE",
];

/// A uid/gid pair: who a client acts as, or who owns a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric (primary) group id.
    pub gid: u32,
}

impl Identity {
    /// root.
    pub const ROOT: Self = Self::new(0, 0);
    /// `nobody`, the user prom/prometheus runs as (65534:65534).
    pub const PROMETHEUS: Self = Self::new(65534, 65534);
    /// The user grafana/grafana runs as since 7.3 (472, group 0).
    pub const GRAFANA: Self = Self::new(472, 0);

    /// `uid:gid`.
    pub const fn new(uid: u32, gid: u32) -> Self {
        Self { uid, gid }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// How the export maps the ids clients send: the squash options that
/// produce the ownership mix of the seed article (uid 472 vs 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Squash {
    /// Every caller keeps its ids, root included (`no_root_squash`, the
    /// usual setting for Kubernetes NFS exports).
    #[default]
    None,
    /// Root becomes [`ANON_ID`]:[`ANON_ID`], and gid 0 of other callers
    /// becomes [`ANON_ID`] (like kernel `root_squash`, which maps uid and
    /// gid 0): Grafana's 472:0 writes files owned by 472:65534.
    Root,
    /// Every caller becomes `uid:gid` (`all_squash,anonuid=..,anongid=..`).
    All {
        /// The anonymous uid.
        uid: u32,
        /// The anonymous gid.
        gid: u32,
    },
}

impl Squash {
    /// Short id for names and logs: `none`, `root`, `all`.
    pub fn id(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Root => "root",
            Self::All { .. } => "all",
        }
    }

    /// Who owns a file that `writer` creates over NFS in a plain
    /// (non-setgid) directory: the documented meaning of each mode, which
    /// tier-1 tests compare with what the server really does.
    pub fn owner_of_new_file(self, writer: Identity) -> Identity {
        match self {
            Self::None => writer,
            Self::Root if writer.uid == 0 => Identity::new(ANON_ID, ANON_ID),
            Self::Root => Identity::new(
                writer.uid,
                if writer.gid == 0 { ANON_ID } else { writer.gid },
            ),
            Self::All { uid, gid } => Identity::new(uid, gid),
        }
    }

    /// The entrypoint environment for this mode.
    fn env(self) -> [(&'static str, String); 3] {
        let (uid, gid) = match self {
            Self::All { uid, gid } => (uid, gid),
            Self::None | Self::Root => (ANON_ID, ANON_ID),
        };
        [
            ("SQUASH", self.id().to_owned()),
            ("ANON_UID", uid.to_string()),
            ("ANON_GID", gid.to_string()),
        ]
    }
}

/// One directory entry with numeric owners, as the server's filesystem (or
/// an NFS client) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name (no directory part).
    pub name: String,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits, e.g. `0o660` (with setuid/setgid/sticky when set).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

impl Entry {
    /// The owner as an [`Identity`].
    pub fn owner(&self) -> Identity {
        Identity::new(self.uid, self.gid)
    }
}

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
    /// [`default_images::NFS`], default bridge, [`Squash::None`], a unique
    /// `e2e-nfs-xxxxxx` name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this image instead of HARNESS_NFS_IMAGE / the default. It is
    /// built from images/nfs-server under this tag when missing.
    #[must_use]
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
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

    /// The container name (default `e2e-nfs-xxxxxx`). The export volume is
    /// named `<name>-export`.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
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
    /// the server to answer (default [`READY_TIMEOUT`]).
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
    /// [`Error::Timeout`] / [`Error::WaitFailed`] when it does not serve in
    /// time or exits; both quote the server's last log lines. Whatever was
    /// created is removed before the error is returned.
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
        let mut resources = Resources {
            name: name.clone(),
            volume: Some(volume.clone()),
            container: None,
            keep,
            what: "nfs server",
            done: false,
        };

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
        let container = match request.start().await {
            Ok(c) => c,
            Err(source) => {
                // testcontainers may have created the container before failing.
                let _ = Cmd::new("docker")
                    .args(["rm", "-f", name.as_str()])
                    .quiet()
                    .run_async()
                    .await;
                drop(resources);
                return Err(Error::Docker {
                    action: format!("start nfs server {name} from {image}"),
                    source,
                });
            }
        };
        resources.container = Some(container);

        let mut server = RunningNfs {
            name,
            image,
            network: self.network,
            squash: self.squash,
            run_id,
            address: String::new(),
            serving_after: Duration::ZERO,
            ready_timeout: self.ready_timeout.unwrap_or(READY_TIMEOUT),
            resources,
        };
        server.wait_serving().await?;
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
    squash: Squash,
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
    pub fn image(&self) -> &str {
        &self.image
    }

    /// The Docker network given to [`NfsServer::with_network`], if any.
    pub fn network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// The squash mode of the export.
    pub fn squash(&self) -> Squash {
        self.squash
    }

    /// The run id in its labels.
    pub fn run_id(&self) -> &str {
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
    pub fn export_path(&self) -> &str {
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
    /// [`Error::Command`] when docker fails, [`Error::Timeout`] /
    /// [`Error::WaitFailed`] (with the last log lines) when it does not
    /// serve again, [`Error::WaitFailed`] when Docker gave it another IP
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
        self.wait_serving().await?;
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

    /// The server's log (ganesha's log and the entrypoint's messages, both
    /// streams in time order).
    ///
    /// # Errors
    /// [`Error::Command`] when `docker logs` fails.
    pub async fn logs(&self) -> Result<String> {
        container_logs(&self.name).await
    }

    /// A userspace NFS client container on the server's network, targeting
    /// this server.
    ///
    /// # Errors
    /// As [`NfsClient::start`].
    pub async fn client(&self) -> Result<NfsClient> {
        NfsClient::start(self).await
    }

    /// Remove the container and its volume now (unless E2E_KEEP=always).
    ///
    /// # Errors
    /// [`Error::Docker`] / [`Error::Command`] when Docker refuses.
    pub async fn cleanup(mut self) -> Result<()> {
        self.resources.cleanup().await
    }

    fn exec(&self) -> DockerExec {
        DockerExec::new(self.name.as_str())
    }

    /// Poll an NFSv4 LIST of the export from inside the container until it
    /// answers; on failure, quote the server's last log lines.
    async fn wait_serving(&self) -> Result<()> {
        let what = format!("nfs server {} to serve {EXPORT_PATH} over NFSv4", self.name);
        let url = format!("nfs://127.0.0.1{EXPORT_PATH}?version=4");
        let name = self.name.as_str();
        let outcome = poll(&what, self.ready_timeout, READY_INTERVAL, || {
            let url = url.clone();
            async move { probe_serving(name, &url).await }
        })
        .await;
        match outcome {
            Ok(()) => Ok(()),
            Err(e) => {
                let logs = match container_logs(name).await {
                    Ok(l) => log_excerpt(&l, LOG_LINES_IN_ERRORS),
                    Err(le) => format!("(could not read its log: {le})"),
                };
                Err(with_log(e, &logs))
            }
        }
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

/// A userspace NFS client (libnfs: nfs-cp, nfs-ls) in a container from the
/// server's image, on the server's Docker network. It reads and writes as
/// any uid/gid (AUTH_SYS, the ids go in the libnfs URL), which the kernel
/// client of this machine (there is none) could not do without root tricks.
/// It speaks NFSv4.0; kubelets mount 4.1 from the same export.
#[derive(Debug)]
pub struct NfsClient {
    server: String,
    resources: Resources,
}

impl NfsClient {
    /// Start a client container for `server` (same image, same network,
    /// same run label, no capabilities).
    ///
    /// # Errors
    /// [`Error::WaitFailed`] when the server has no network of its own
    /// (container-to-container traffic stays on a network the test
    /// created), [`Error::Docker`] when the container cannot start.
    pub async fn start(server: &RunningNfs) -> Result<Self> {
        let Some(network) = server.network.as_deref() else {
            return Err(Error::WaitFailed {
                what: format!("an NFS client for {}", server.name),
                reason:
                    "the server is on no network of its own: start it with NfsServer::with_network"
                        .into(),
            });
        };
        let name = unique_name("nfsc");
        let (repo, tag) = split_image(&server.image);
        let request = GenericImage::new(repo, tag)
            .with_entrypoint("sleep")
            .with_wait_for(WaitFor::Nothing)
            .with_cmd(["infinity"])
            .with_container_name(name.as_str())
            .with_label(MANAGED_BY, OWNER)
            .with_label(RUN_ID, server.run_id.as_str())
            .with_network(network)
            .with_cap_drop("ALL");
        eprintln!(
            "+ [testcontainers] run NFS client {name} on {network} for {}",
            server.name
        );
        let container = match request.start().await {
            Ok(c) => c,
            Err(source) => {
                let _ = Cmd::new("docker")
                    .args(["rm", "-f", name.as_str()])
                    .quiet()
                    .run_async()
                    .await;
                return Err(Error::Docker {
                    action: format!("start NFS client {name}"),
                    source,
                });
            }
        };
        Ok(Self {
            server: server.address.clone(),
            resources: Resources {
                name,
                volume: None,
                container: Some(container),
                keep: server.resources.keep,
                what: "nfs client",
                done: false,
            },
        })
    }

    /// The client container's name.
    pub fn name(&self) -> &str {
        &self.resources.name
    }

    /// The libnfs URL of `path` (relative to the export) as `who`.
    ///
    /// # Errors
    /// [`Error::Parse`] for a bad path.
    pub fn url(&self, path: &str, who: Identity) -> Result<String> {
        Ok(nfs_url(&self.server, &export_subpath(path)?, who))
    }

    /// Create `path` (relative to the export) over NFS as `who`, with
    /// `bytes` as its content. libnfs's nfs-cp creates exclusively: the
    /// file must not exist yet.
    ///
    /// # Errors
    /// [`Error::Command`] with libnfs's message, e.g. NFS4ERR_ACCESS when
    /// `who` may not write there, NFS4ERR_EXIST when the file exists.
    pub async fn write(&self, path: &str, who: Identity, bytes: &[u8]) -> Result<()> {
        let url = self.url(path, who)?;
        let script =
            r#"f=/tmp/w.$$; cat >"$f" && nfs-cp "$f" "$1" >&2; rc=$?; rm -f "$f"; exit $rc"#;
        self.exec()
            .exec_ok(&["sh", "-c", script, "sh", &url], Some(bytes))
            .await?;
        Ok(())
    }

    /// Read `path` (relative to the export) over NFS as `who`, byte for byte.
    ///
    /// # Errors
    /// [`Error::Command`] with libnfs's message; [`Error::Parse`] when the
    /// dump cannot be decoded.
    pub async fn read(&self, path: &str, who: Identity) -> Result<Vec<u8>> {
        let url = self.url(path, who)?;
        // od keeps the bytes intact through the text-only exec pipe.
        let script = r#"f=/tmp/r.$$; nfs-cp "$1" "$f" >&2 && od -An -v -tx1 "$f"; rc=$?; rm -f "$f"; exit $rc"#;
        let out = self
            .exec()
            .exec_ok(&["sh", "-c", script, "sh", &url], None)
            .await?;
        decode_od_hex(&out.stdout)
    }

    /// List `dir` (relative to the export, `""` for its root) over NFS as
    /// `who`: owners as the server reports them over the wire.
    ///
    /// # Errors
    /// [`Error::Command`] with libnfs's message; [`Error::Parse`] for
    /// output it cannot read.
    pub async fn list(&self, dir: &str, who: Identity) -> Result<Vec<Entry>> {
        let url = self.url(dir, who)?;
        let out = self.exec().exec_ok(&["nfs-ls", &url], None).await?;
        parse_nfs_ls(&out.stdout)
    }

    /// Remove the client container now (unless E2E_KEEP=always).
    ///
    /// # Errors
    /// [`Error::Docker`] when Docker refuses.
    pub async fn cleanup(mut self) -> Result<()> {
        self.resources.cleanup().await
    }

    fn exec(&self) -> DockerExec {
        DockerExec::new(self.resources.name.as_str())
    }
}

/// The NFS server image, built by the harness from images/nfs-server.
pub const IMAGE: LocalImage = LocalImage {
    what: "the NFS server image",
    default_tag: default_images::NFS,
    files: &[("Dockerfile", DOCKERFILE), ("entrypoint.sh", ENTRYPOINT)],
    source_label: IMAGE_SOURCE_LABEL,
};

/// Build `image` from images/nfs-server unless it exists locally. For the
/// default tag, an image built from an older Dockerfile/entrypoint (see
/// [`IMAGE_SOURCE_LABEL`]) is rebuilt; an override (HARNESS_NFS_IMAGE) that
/// exists is used as it is.
///
/// # Errors
/// As [`LocalImage::ensure`].
pub async fn ensure_image(image: &str) -> Result<()> {
    IMAGE.ensure(image).await
}

// ---- plumbing ------------------------------------------------------------

/// A container (and maybe a volume) this module created, removed on
/// cleanup or drop unless kept.
struct Resources {
    name: String,
    volume: Option<String>,
    container: Option<ContainerAsync<GenericImage>>,
    keep: Keep,
    what: &'static str,
    done: bool,
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resources")
            .field("name", &self.name)
            .field("volume", &self.volume)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}

impl Resources {
    fn container(&self) -> Result<&ContainerAsync<GenericImage>> {
        self.container.as_ref().ok_or_else(|| Error::WaitFailed {
            what: format!("{} {}", self.what, self.name),
            reason: "its container was already removed".into(),
        })
    }

    fn announce_keep(&self) {
        eprintln!(
            "keeping {} {} (volume {}) for debugging (E2E_KEEP); remove with `make clean`",
            self.what,
            self.name,
            self.volume.as_deref().unwrap_or("none")
        );
    }

    async fn cleanup(&mut self) -> Result<()> {
        self.done = true;
        if self.keep.keep(false) {
            self.announce_keep();
            // Dropping a ContainerAsync removes the container: forget it instead.
            std::mem::forget(self.container.take());
            return Ok(());
        }
        if let Some(c) = self.container.take() {
            eprintln!("+ [testcontainers] rm {}", self.name);
            c.rm().await.map_err(|source| Error::Docker {
                action: format!("remove {} {}", self.what, self.name),
                source,
            })?;
        }
        if let Some(v) = self.volume.take() {
            Cmd::new("docker")
                .args(["volume", "rm", v.as_str()])
                .run_async()
                .await?;
        }
        Ok(())
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Never let testcontainers' own drop run: it needs a Tokio runtime
        // and ignores E2E_KEEP. Shell out instead, as `make clean` would.
        std::mem::forget(self.container.take());
        if self.keep.keep(std::thread::panicking()) {
            self.announce_keep();
            return;
        }
        let mut cmds = vec![Cmd::new("docker").args(["rm", "-f", "-v", self.name.as_str()])];
        if let Some(v) = &self.volume {
            cmds.push(Cmd::new("docker").args(["volume", "rm", v.as_str()]));
        }
        for cmd in cmds {
            let failure = match cmd.run_unchecked() {
                // Already gone (e.g. a start that failed half-way) is fine.
                Ok(out)
                    if out.success()
                        || out.stderr.contains("No such")
                        || out.stderr.contains("no such") =>
                {
                    None
                }
                Ok(out) => Some(cmd.failure(&out)),
                Err(e) => Some(e),
            };
            if let Some(e) = failure {
                eprintln!(
                    "cleanup of {} {} failed (make clean sweeps it): {e}",
                    self.what, self.name
                );
            }
        }
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

async fn container_logs(name: &str) -> Result<String> {
    let out = Cmd::new("docker")
        .args(["logs", "--timestamps", name])
        .quiet()
        .run_async()
        .await?;
    Ok(merge_timestamped(&out.stdout, &out.stderr))
}

/// One readiness probe: the container must be running and an NFSv4 client
/// inside it must list the export.
async fn probe_serving(name: &str, url: &str) -> Check<()> {
    let state = Cmd::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            name,
        ])
        .quiet()
        .run_unchecked_async()
        .await;
    match state {
        Ok(out) if out.success() => {
            let text = out.stdout.trim().to_owned();
            if !text.starts_with("running") {
                let code = text.split_whitespace().nth(1).unwrap_or("?");
                return Check::Failed(format!(
                    "container {name} is not running (exit code {code})"
                ));
            }
        }
        Ok(out) => return Check::NotYet(format!("docker inspect: {}", describe(&out))),
        Err(e) => return Check::NotYet(e.to_string()),
    }
    match Cmd::new("docker")
        .args(["exec", name, "nfs-ls", url])
        .quiet()
        .run_unchecked_async()
        .await
    {
        Ok(out) if out.success() => Check::Ready(()),
        Ok(out) => Check::NotYet(format!("nfs-ls {url}: {}", describe(&out))),
        Err(e) => Check::NotYet(e.to_string()),
    }
}

fn describe(out: &Output) -> String {
    let text = if out.stderr.trim().is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    let code = out
        .code
        .map_or_else(|| "signal".to_owned(), |c| format!("exit {c}"));
    format!("{code}: {}", tail(text, 400))
}

/// Append the server's log tail to a wait error.
fn with_log(e: Error, logs: &str) -> Error {
    let note = format!("\n--- last server log lines ---\n{logs}");
    match e {
        Error::Timeout {
            what,
            waited,
            last_seen,
        } => Error::Timeout {
            what,
            waited,
            last_seen: last_seen + &note,
        },
        Error::WaitFailed { what, reason } => Error::WaitFailed {
            what,
            reason: reason + &note,
        },
        other => other,
    }
}

/// The entrypoint's own `nfs-server:` lines (what it exported, or why it
/// refused), then the last `n` other lines: ganesha's log can be long.
fn log_excerpt(text: &str, n: usize) -> String {
    let (ours, theirs): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.starts_with("nfs-server:"));
    let tail = &theirs[theirs.len().saturating_sub(n)..];
    ours.iter()
        .chain(tail)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Merge `docker logs --timestamps` stdout and stderr into one stream in
/// time order, without the timestamps. Docker's timestamps have a fixed
/// width, so they sort as strings.
fn merge_timestamped(stdout: &str, stderr: &str) -> String {
    let mut lines: Vec<(&str, &str)> = stdout
        .lines()
        .chain(stderr.lines())
        .map(|l| l.split_once(' ').unwrap_or((l, "")))
        .collect();
    lines.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (_, text) in lines {
        out.push_str(text);
        out.push('\n');
    }
    out
}

/// `repo:tag` (or `repo@sha256:digest`) split so that GenericImage puts it
/// back together as given.
fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_owned(),
            image[slash + i + 1..].to_owned(),
        ),
        None => (image.to_owned(), "latest".to_owned()),
    }
}

/// `/exports/<sub>` for a relative, plain path.
fn export_subpath(sub: &str) -> Result<String> {
    let trimmed = sub.trim_matches('/');
    let bad = |why: &str| Error::parse(format!("export path {sub:?}"), why.to_owned());
    if sub.starts_with('/') {
        return Err(bad("must be relative to the export"));
    }
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return Err(bad("may only use letters, digits, '.', '_', '-' and '/'"));
    }
    if !trimmed.is_empty()
        && trimmed
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(bad("must not contain empty, '.' or '..' components"));
    }
    Ok(if trimmed.is_empty() {
        EXPORT_PATH.to_owned()
    } else {
        format!("{EXPORT_PATH}/{trimmed}")
    })
}

fn nfs_url(server: &str, path: &str, who: Identity) -> String {
    format!(
        "nfs://{server}{path}?version=4&uid={}&gid={}",
        who.uid, who.gid
    )
}

fn parse_network_ip(json: &str, network: &str) -> Result<String> {
    let what = || format!("the networks of a container (looking for {network})");
    let v: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| Error::parse(what(), format!("{e}: {}", tail(json, 200))))?;
    v.get(network)
        .and_then(|n| n.get("IPAddress"))
        .and_then(|ip| ip.as_str())
        .filter(|ip| !ip.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::parse(
                what(),
                format!("no IP address on {network}: {}", tail(json, 300)),
            )
        })
}

/// Parse `find -printf '%f\t%U\t%G\t%m\t%s\t%y\n'`.
fn parse_find_listing(text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let bad = || {
            Error::parse(
                "a directory listing from the NFS server",
                format!("line {line:?}"),
            )
        };
        let f: Vec<&str> = line.split('\t').collect();
        let [name, uid, gid, mode, size, kind] = f.as_slice() else {
            return Err(bad());
        };
        entries.push(Entry {
            name: (*name).to_owned(),
            uid: uid.parse().map_err(|_| bad())?,
            gid: gid.parse().map_err(|_| bad())?,
            mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
            size: size.parse().map_err(|_| bad())?,
            is_dir: *kind == "d",
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// Parse libnfs `nfs-ls` lines: `-rw-rw----  1   472     0   5 name`.
fn parse_nfs_ls(text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || Error::parse("nfs-ls output", format!("line {line:?}"));
        let mut rest = line.trim_start();
        let mut fields = Vec::with_capacity(5);
        for _ in 0..5 {
            let end = rest.find(char::is_whitespace).ok_or_else(bad)?;
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        let name = rest.trim_end();
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        entries.push(Entry {
            name: name.to_owned(),
            mode: mode_bits(fields[0]).ok_or_else(bad)?,
            uid: fields[2].parse().map_err(|_| bad())?,
            gid: fields[3].parse().map_err(|_| bad())?,
            size: fields[4].parse().map_err(|_| bad())?,
            is_dir: fields[0].starts_with('d'),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// `-rwxr-s---` -> 0o2750.
fn mode_bits(s: &str) -> Option<u32> {
    let c: Vec<char> = s.chars().collect();
    if c.len() != 10 {
        return None;
    }
    let mut mode = 0;
    for (i, special) in [(1usize, 0o4000u32), (4, 0o2000), (7, 0o1000)] {
        let shift = 3 * (2 - (i - 1) / 3) as u32;
        if c[i] == 'r' {
            mode |= 4 << shift;
        }
        if c[i + 1] == 'w' {
            mode |= 2 << shift;
        }
        match c[i + 2] {
            'x' => mode |= 1 << shift,
            's' | 't' => mode |= (1 << shift) | special,
            'S' | 'T' => mode |= special,
            '-' => {}
            _ => return None,
        }
    }
    Some(mode)
}

fn decode_od_hex(text: &str) -> Result<Vec<u8>> {
    text.split_whitespace()
        .map(|h| {
            u8::from_str_radix(h, 16)
                .map_err(|_| Error::parse("od -tx1 output", format!("not a hex byte: {h:?}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_modes_document_who_owns_new_files() {
        let all = Squash::All {
            uid: 1000,
            gid: 1000,
        };
        let cases = [
            (Squash::None, Identity::GRAFANA, Identity::GRAFANA),
            (Squash::None, Identity::ROOT, Identity::ROOT),
            (Squash::Root, Identity::ROOT, Identity::new(65534, 65534)),
            (Squash::Root, Identity::GRAFANA, Identity::new(472, 65534)),
            (Squash::Root, Identity::PROMETHEUS, Identity::PROMETHEUS),
            (all, Identity::GRAFANA, Identity::new(1000, 1000)),
            (all, Identity::ROOT, Identity::new(1000, 1000)),
        ];
        for (squash, writer, owner) in cases {
            assert_eq!(
                squash.owner_of_new_file(writer),
                owner,
                "{squash:?} {writer}"
            );
        }
        let env = all.env();
        assert_eq!(env[0], ("SQUASH", "all".to_owned()));
        assert_eq!(env[1], ("ANON_UID", "1000".to_owned()));
    }

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
    fn export_paths_stay_inside_the_export() {
        assert_eq!(export_subpath("").ok().as_deref(), Some("/exports"));
        assert_eq!(
            export_subpath("a/b-1.x/").ok().as_deref(),
            Some("/exports/a/b-1.x")
        );
        for bad in ["/etc", "a/../b", "a//b", "./a", "a b", "a;rm"] {
            assert!(export_subpath(bad).is_err(), "{bad}");
        }
        assert_eq!(
            nfs_url("10.0.0.2", "/exports/d/f", Identity::GRAFANA),
            "nfs://10.0.0.2/exports/d/f?version=4&uid=472&gid=0"
        );
    }

    #[test]
    fn listings_parse_with_numeric_owners() {
        let find = "b.bin\t472\t0\t660\t13\tf\na\t0\t0\t2775\t4096\td\n";
        let e = parse_find_listing(find).unwrap();
        assert_eq!(e[0].name, "a");
        assert!(e[0].is_dir);
        assert_eq!(e[0].mode, 0o2775);
        assert_eq!(e[1].owner(), Identity::GRAFANA);
        assert_eq!(e[1].size, 13);
        assert!(parse_find_listing("x\t1\n").is_err());

        let ls = "-rw-rw----  1 65534 65534           13 my file\ndrwxr-sr-x  2     0     0         4096 d\n";
        let e = parse_nfs_ls(ls).unwrap();
        assert_eq!(e[0].name, "d");
        assert_eq!(e[0].mode, 0o2755);
        assert!(e[0].is_dir);
        assert_eq!(e[1].name, "my file");
        assert_eq!(e[1].owner(), Identity::PROMETHEUS);
        assert_eq!(e[1].mode, 0o660);
        assert!(parse_nfs_ls("garbage\n").is_err());
        assert_eq!(mode_bits("-rwsr-xr-T"), Some(0o5754));
    }

    #[test]
    fn logs_merge_in_time_order_and_keep_the_end() {
        let out =
            "2026-11-22T01:50:48.000000002Z ganesha up\n2026-11-22T01:50:49.000000000Z later\n";
        let err = "2026-11-22T01:50:48.000000001Z nfs-server: configuration error\n";
        let merged = merge_timestamped(out, err);
        assert_eq!(
            merged,
            "nfs-server: configuration error\nganesha up\nlater\n"
        );
        assert_eq!(
            log_excerpt(&merged, 1),
            "nfs-server: configuration error\nlater"
        );
    }

    #[test]
    fn wait_errors_carry_the_server_log() {
        let e = with_log(
            Error::Timeout {
                what: "x".into(),
                waited: Duration::from_secs(1),
                last_seen: "NFS4ERR_NOENT".into(),
            },
            "WARNING overlay",
        );
        let msg = e.to_string();
        assert!(
            msg.contains("NFS4ERR_NOENT") && msg.ends_with("WARNING overlay"),
            "{msg}"
        );
    }

    #[test]
    fn od_dumps_decode_byte_for_byte() {
        assert_eq!(
            decode_od_hex(" 61 00 ff\n fe\n").unwrap(),
            vec![0x61, 0, 0xff, 0xfe]
        );
        assert!(decode_od_hex("zz").is_err());
    }

    #[test]
    fn network_ip_is_read_from_docker_inspect() {
        let json = r#"{"e2e-net-a":{"IPAddress":"172.30.0.2"},"bridge":{"IPAddress":""}}"#;
        assert_eq!(
            parse_network_ip(json, "e2e-net-a").ok().as_deref(),
            Some("172.30.0.2")
        );
        assert!(parse_network_ip(json, "bridge").is_err());
        assert!(parse_network_ip(json, "kind").is_err());
    }

    #[test]
    fn the_image_source_hash_is_stable_and_hex() {
        let h = IMAGE.source_hash();
        assert_eq!(h.len(), 16);
        assert_eq!(h, IMAGE.source_hash());
        assert!(DOCKERFILE.contains("nfs-ganesha-vfs") && ENTRYPOINT.contains("ganesha.nfsd"));
    }
}
