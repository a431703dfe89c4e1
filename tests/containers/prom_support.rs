//! Helpers for the Prometheus tier-1 tests: a Prometheus container on a
//! chosen storage (bind mount, named volume, or its own filesystem), and the
//! storage guards. Everything is labelled `app.kubernetes.io/managed-by=
//! storage-e2e` and with this run's id, named `e2e-...`, removed explicitly
//! at the end of a test and by `Drop` when a test fails or panics
//! (`TESTCONTAINERS_COMMAND=keep` keeps containers for debugging).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use harness::cmd::Cmd;
use harness::config::{Config, default_images};
use harness::exec::DockerExec;
use harness::labels::{MANAGED_BY, OWNER, RUN_ID, run_id, selector, unique_name};
use harness::prometheus::{CONFIG_FILE, DATA_DIR, HEAD_SAMPLE_TIMEOUT, PrometheusProbe};
use harness::wait::{self, Check};
use testcontainers::core::{IntoContainerPort as _, Mount};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

pub use harness::prometheus::{PORT, UID as PROMETHEUS_UID};
/// How long a Prometheus that cannot open its storage may take to exit.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Grace period for a SIGTERM stop (Kubernetes' default pod grace period is 30 s).
pub const STOP_GRACE_SECONDS: i32 = 30;
/// How often container state is polled.
const STATE_POLL: Duration = Duration::from_millis(200);
/// How often the wait for a scrape asks for the head's max time.
const SCRAPE_POLL: Duration = Duration::from_millis(500);

/// The weakened judges of the mutant checks: the same file the tier-0
/// tests include (test-only: no library build compiles it).
pub mod weakened {
    use harness::prometheus::{Read, Snapshot, compare};
    use harness::vocab::Judgement;

    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/harness/src/prometheus/weakened.rs"
    ));
}

/// The Prometheus image under test: HARNESS_PROMETHEUS_IMAGE, else the pinned default.
///
/// # Errors
/// When the override is not a pinned reference.
pub fn image() -> Result<String> {
    Ok(Config::image_from_env(
        "HARNESS_PROMETHEUS_IMAGE",
        default_images::PROMETHEUS,
    )?)
}

/// Where the container's `/prometheus` lives.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A host directory bind-mounted in (the hostPath analogue).
    Bind(PathBuf),
    /// A named Docker volume (the PVC analogue).
    Volume(String),
    /// Nothing mounted: the container's own `/prometheus`, which lives and
    /// dies with the container (both images declare it a `VOLUME`, so
    /// Docker gives each container a fresh anonymous volume, removed with
    /// it): the emptyDir analogue.
    ContainerFs,
}

/// A running (or stopped) Prometheus container.
pub struct Prom {
    container: ContainerAsync<GenericImage>,
    exec: DockerExec,
    name: String,
}

impl Prom {
    /// Start Prometheus on `storage` with the images' default arguments plus
    /// `extra_args`. Does not wait for readiness (a test may expect it to fail).
    pub async fn start(storage: &Storage, extra_args: &[&str]) -> Result<Self> {
        let image = image()?;
        let (name, tag) = image
            .rsplit_once(':')
            .context("image reference without a tag")?;
        let container_name = unique_name("prom");
        let mut args = vec![
            format!("--config.file={CONFIG_FILE}"),
            format!("--storage.tsdb.path={DATA_DIR}"),
        ];
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let mut request = GenericImage::new(name, tag)
            .with_exposed_port(PORT.tcp())
            .with_container_name(&container_name)
            .with_label(MANAGED_BY, OWNER)
            .with_label(RUN_ID, run_id())
            .with_cmd(args);
        request = match storage {
            Storage::Bind(dir) => request.with_mount(Mount::bind_mount(
                dir.to_string_lossy().into_owned(),
                DATA_DIR,
            )),
            Storage::Volume(volume) => request.with_mount(Mount::volume_mount(volume, DATA_DIR)),
            Storage::ContainerFs => request,
        };
        let container = request
            .start()
            .await
            .with_context(|| format!("start {image} as {container_name}"))?;
        Ok(Self {
            exec: DockerExec::new(container.id()),
            container,
            name: container_name,
        })
    }

    /// The container's name (`e2e-prom-xxxxxx`), also used as the seed's run id.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:<port>`: the published port, through the harness's
    /// one place that decides the address. Asked again after every restart,
    /// because Docker may publish on another port.
    pub async fn base_url(&self) -> Result<String> {
        Ok(format!(
            "http://{}",
            harness::docker::published(&self.container, PORT).await?
        ))
    }

    /// `docker exec` into the container.
    pub fn exec(&self) -> &DockerExec {
        &self.exec
    }

    /// A probe on this container's current address.
    pub async fn probe(&self) -> Result<PrometheusProbe<'_>> {
        Ok(PrometheusProbe::new(self.base_url().await?, &self.exec))
    }

    /// Everything the container logged so far (Prometheus logs to stderr).
    pub async fn logs(&self) -> Result<String> {
        let out = self.container.stdout_to_vec().await?;
        let err = self.container.stderr_to_vec().await?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        ))
    }

    /// SIGKILL the main process (`docker kill -s KILL`) and wait until Docker sees it stopped.
    pub async fn kill(&self) -> Result<()> {
        Cmd::new("docker")
            .args(["kill", "-s", "KILL", self.container.id()])
            .run_async()
            .await?;
        self.wait_exited(EXIT_TIMEOUT).await?;
        Ok(())
    }

    /// SIGTERM with a grace period (`docker stop`); returns the exit code.
    pub async fn stop(&self) -> Result<Option<i64>> {
        self.container
            .stop_with_timeout(Some(STOP_GRACE_SECONDS))
            .await?;
        Ok(self.container.exit_code().await?)
    }

    /// Start the same container again (same filesystem, same mounts).
    pub async fn start_again(&self) -> Result<()> {
        self.container.start().await?;
        Ok(())
    }

    /// Stop (SIGTERM), start again and wait until ready: a new run, which
    /// writes a WAL segment of its own.
    pub async fn restart(&self) -> Result<()> {
        self.stop().await?;
        self.start_again().await?;
        self.probe().await?.wait_ready(Instant::now()).await?;
        Ok(())
    }

    /// Wait until Prometheus has appended a scrape after now (the head's
    /// max time passes the current time), so the current run holds samples
    /// of its own: its first self-scrape comes up to one scrape interval
    /// after the start.
    pub async fn await_next_scrape(&self) -> Result<()> {
        let since: i64 = SystemTime::now()
            .duration_since(UNIX_EPOCH)?
            .as_millis()
            .try_into()?;
        let probe = self.probe().await?;
        let what = format!("a scrape of {} after {since} ms", self.name);
        wait::poll(&what, HEAD_SAMPLE_TIMEOUT, SCRAPE_POLL, || async {
            match probe.head().await {
                Ok(h) if h.max_time.is_some_and(|t| t > since) => Check::Ready(()),
                Ok(h) => Check::NotYet(format!("head max time {:?} ms", h.max_time)),
                Err(e) => Check::NotYet(e.to_string()),
            }
        })
        .await?;
        Ok(())
    }

    /// Wait until the container has stopped; returns its exit code.
    pub async fn wait_exited(&self, timeout: Duration) -> Result<Option<i64>> {
        let what = format!("container {} to exit", self.name);
        wait::poll(&what, timeout, STATE_POLL, || async {
            match self.container.is_running().await {
                Ok(false) => Check::Ready(()),
                Ok(true) => Check::NotYet("running".into()),
                Err(e) => Check::NotYet(format!("docker inspect failed: {e}")),
            }
        })
        .await?;
        Ok(self.container.exit_code().await?)
    }

    /// Remove the container (and its anonymous volume), killing it if it runs.
    pub async fn rm(self) -> Result<()> {
        self.container.rm().await?;
        Ok(())
    }
}

/// Start Prometheus on `storage` and wait until it is ready.
pub async fn start_ready(storage: &Storage, extra_args: &[&str]) -> Result<Prom> {
    let prom = Prom::start(storage, extra_args).await?;
    prom.probe().await?.wait_ready(Instant::now()).await?;
    Ok(prom)
}

/// A host directory for a bind mount, removed at the end even though
/// Prometheus filled it with files owned by uid 65534.
pub struct BindDir {
    dir: Option<tempfile::TempDir>,
}

impl BindDir {
    /// A directory uid 65534 can write: chowned to it when the test runs as
    /// root (the hostPath fix in prometheus/prometheus#4805), else opened up with 0777.
    pub fn writable() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("e2e-promdata-").tempdir()?;
        if std::os::unix::fs::chown(dir.path(), Some(PROMETHEUS_UID), Some(PROMETHEUS_UID)).is_err()
        {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        }
        Ok(Self { dir: Some(dir) })
    }

    /// A directory uid 65534 can read but not write: owned by the test's
    /// user, mode 0755, like a hostPath dir created by root on the node.
    pub fn unwritable() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("e2e-promdata-").tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        if std::fs::metadata(dir.path())?.uid() == PROMETHEUS_UID {
            bail!(
                "the test runs as uid {PROMETHEUS_UID}, so it cannot make a dir that uid cannot write"
            );
        }
        Ok(Self { dir: Some(dir) })
    }

    /// The host path.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// As a container storage.
    pub fn storage(&self) -> Storage {
        Storage::Bind(self.path().to_path_buf())
    }

    /// Run `script` as root in a throw-away container with this dir at
    /// `/prometheus` (to change what Prometheus left there, whoever owns it).
    pub async fn run_as_root(&self, script: &str) -> Result<()> {
        as_root_cmd(self.path(), script)?.run_async().await?;
        Ok(())
    }

    /// Remove the directory now.
    pub async fn cleanup(mut self) -> Result<()> {
        if let Some(dir) = self.dir.take() {
            tokio::task::spawn_blocking(move || remove_dir(dir)).await??;
        }
        Ok(())
    }
}

impl Drop for BindDir {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().display().to_string();
            if let Err(e) = remove_dir(dir) {
                eprintln!("warning: could not remove {path}: {e:#}");
            }
        }
    }
}

/// Remove a temp dir; when files uid 65534 created are in the way (a test
/// not run as root), empty it as root in a container first.
fn remove_dir(dir: tempfile::TempDir) -> Result<()> {
    let path = dir.path().to_path_buf();
    if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
        return Ok(());
    }
    as_root_cmd(&path, "rm -rf /prometheus/* /prometheus/.[!.]*")?.run()?;
    std::fs::remove_dir_all(&path).with_context(|| format!("remove {}", path.display()))?;
    drop(dir);
    Ok(())
}

fn as_root_cmd(dir: &Path, script: &str) -> Result<Cmd> {
    one_shot(
        "promfix",
        "0",
        &[format!("{}:{DATA_DIR}", dir.display())],
        script,
        &[],
    )
}

/// `docker run --rm` of the Prometheus image running `sh -c <script>
/// <args>...` as `user`, with the `-v` `mounts`, labelled and named like
/// every container the tests make (`e2e-<what>-xxxxxx`).
pub fn one_shot(
    what: &str,
    user: &str,
    mounts: &[String],
    script: &str,
    args: &[&str],
) -> Result<Cmd> {
    let mut argv = vec![
        "run".to_owned(),
        "--rm".into(),
        "--label".into(),
        selector(),
        "--label".into(),
        format!("{RUN_ID}={}", run_id()),
        "--name".into(),
        unique_name(what),
        "--user".into(),
        user.into(),
        "--entrypoint".into(),
        "sh".into(),
    ];
    for m in mounts {
        argv.extend(["-v".to_owned(), m.clone()]);
    }
    argv.extend([image()?, "-c".into(), script.into()]);
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    Ok(Cmd::new("docker").args(argv))
}

/// A named Docker volume, removed at the end.
pub struct NamedVolume {
    name: String,
    removed: bool,
}

impl NamedVolume {
    /// Create `e2e-promvol-xxxxxx`, labelled. Docker copies the image's
    /// `/prometheus` (owned by 65534) into it on first mount, as a PVC with
    /// fsGroup would be writable.
    pub async fn create() -> Result<Self> {
        let name = unique_name("promvol");
        Cmd::new("docker")
            .args(["volume", "create", "--label", &selector()])
            .args([
                "--label".to_owned(),
                format!("{RUN_ID}={}", run_id()),
                name.clone(),
            ])
            .run_async()
            .await?;
        Ok(Self {
            name,
            removed: false,
        })
    }

    /// As a container storage.
    pub fn storage(&self) -> Storage {
        Storage::Volume(self.name.clone())
    }

    /// Remove the volume now (its containers must be gone).
    pub async fn rm(mut self) -> Result<()> {
        self.removed = true;
        Cmd::new("docker")
            .args(["volume", "rm", self.name.as_str()])
            .run_async()
            .await?;
        Ok(())
    }
}

impl Drop for NamedVolume {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if let Err(e) = Cmd::new("docker")
            .args(["volume", "rm", "-f", self.name.as_str()])
            .run()
        {
            eprintln!("warning: could not remove volume {}: {e}", self.name);
        }
    }
}
