//! Helpers for the tier-1 Grafana tests: a real grafana/grafana container
//! with a per-test generated admin password, on a bind-mounted data dir or
//! on its own filesystem, reached only through its published port
//! (`harness::docker::published`, so `HARNESS_CONTAINER_HOST=127.0.0.1`
//! keeps the traffic on loopback).
//!
//! Nothing here pulls: the image must already be present locally, and its
//! absence is a preflight error naming the image and the fix, raised before
//! any container is created (so a machine without it fails at once, never
//! hangs on a registry).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use harness::cmd::Cmd;
use harness::config::{Config, default_images};
use harness::docker::split_tagged_image;
use harness::exec::DockerExec;
use harness::grafana::{self, GrafanaClient};
use harness::labels::{MANAGED_BY, OWNER, RUN_ID, run_id, unique_name};
use harness::wait::{Check, poll};
use testcontainers::core::{IntoContainerPort as _, Mount};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

/// How long a container may take to exit after SIGKILL or a failed start.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Backstop for a whole test: the waits inside have their own, shorter timeouts.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(600);
/// How often container state is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How much of the container log an error shows.
const LOG_TAIL_CHARS: usize = 3000;

/// The Grafana image under test (`HARNESS_GRAFANA_IMAGE`, default
/// [`default_images::GRAFANA`]), checked to be present locally.
///
/// # Errors
/// A [`harness::Error::Preflight`] naming the image when it is not present:
/// these tests never pull (the build machines have no registry access).
pub async fn image() -> Result<String> {
    let image = Config::image_from_env("HARNESS_GRAFANA_IMAGE", default_images::GRAFANA)?;
    let inspect =
        Cmd::new("docker").args(["image", "inspect", "--format", "{{.Id}}", image.as_str()]);
    let out = inspect.run_unchecked_async().await?;
    if out.success() {
        return Ok(image);
    }
    if out.stderr.to_ascii_lowercase().contains("no such image") {
        return Err(harness::Error::Preflight {
            what: format!(
                "image {image} is not present locally and cannot be pulled here \
                 (the tier-1 Grafana tests never pull)"
            ),
            fix: "set HARNESS_GRAFANA_IMAGE to a pinned grafana/grafana image that is present \
                  locally, or `docker pull` it on a machine with registry access"
                .into(),
        }
        .into());
    }
    Err(inspect.failure(&out).into())
}

/// Run `body`, failing (and dropping everything it created) after [`TEST_TIMEOUT`].
pub async fn within_test_timeout<F: std::future::Future<Output = Result<()>>>(
    body: F,
) -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .with_context(|| format!("the test did not finish within {TEST_TIMEOUT:?}"))?
}

/// A temporary host directory bind-mounted as Grafana's data dir. Removed
/// on drop, also after a failure; files Grafana (uid 472) created that the
/// test user cannot delete are removed through a root container of the same
/// image.
pub struct DataDir {
    path: PathBuf,
    image: String,
}

impl DataDir {
    /// A dir Grafana's uid 472 can write: owned by 472:0 when the tests run
    /// as root, else world-writable.
    ///
    /// # Errors
    /// When the dir cannot be created or its owner/mode set.
    pub fn writable_by_grafana(image: &str) -> Result<Self> {
        let dir = Self::create(image)?;
        match std::os::unix::fs::chown(&dir.path, Some(grafana::UID), Some(grafana::GID)) {
            Ok(()) => set_mode(&dir.path, 0o750)?,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                set_mode(&dir.path, 0o777)?
            }
            Err(e) => return Err(e).with_context(|| format!("chown 472:0 {}", dir.path.display())),
        }
        Ok(dir)
    }

    /// A dir uid 472 cannot write: owned by the test user (never 472), mode 0755.
    ///
    /// # Errors
    /// When the dir cannot be created, or the test user is 472 itself.
    pub fn not_writable_by_grafana(image: &str) -> Result<Self> {
        let dir = Self::create(image)?;
        set_mode(&dir.path, 0o755)?;
        let owner = std::fs::metadata(&dir.path)
            .with_context(|| format!("stat {}", dir.path.display()))?
            .uid();
        if owner == grafana::UID {
            bail!(
                "the tests run as uid {owner}, Grafana's own uid: cannot make a dir it cannot write"
            );
        }
        Ok(dir)
    }

    fn create(image: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", unique_name("grafana-data")))
            .tempdir()
            .context("creating a temporary Grafana data dir")?;
        Ok(Self {
            // Removal is ours (Drop), so it can fall back to a root container.
            path: dir.keep(),
            image: image.to_owned(),
        })
    }

    /// The host path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.path).is_ok() || !self.path.exists() {
            return;
        }
        // Files owned by 472 in a dir we do not own: delete them as root in
        // a throw-away container of the image under test, then the dir.
        let mount = format!("{}:/data", self.path.display());
        let name = unique_name("grafana-cleanup");
        let label = format!("{MANAGED_BY}={OWNER}");
        let cleanup = Cmd::new("docker").args([
            "run",
            "--rm",
            "--name",
            &name,
            "--label",
            &label,
            "--user",
            "0",
            "--entrypoint",
            "sh",
            "-v",
            &mount,
            &self.image,
            "-c",
            "rm -rf /data/* /data/.[!.]* || true",
        ]);
        if let Err(e) = cleanup.run() {
            eprintln!("could not empty {}: {e}", self.path.display());
        }
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            eprintln!("could not remove {}: {e}", self.path.display());
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

/// One grafana/grafana container. Dropping it removes the container
/// (testcontainers' Drop), so a failing test leaves nothing behind; call
/// [`Grafana::remove`] to remove it explicitly and see errors.
pub struct Grafana {
    container: ContainerAsync<GenericImage>,
    name: String,
}

impl Grafana {
    /// Start `image` with `GF_SECURITY_ADMIN_PASSWORD=password`, on `data`
    /// bind-mounted at /var/lib/grafana when given, else on the container's
    /// own filesystem. Does not wait for health (see [`Grafana::wait_healthy`]).
    ///
    /// # Errors
    /// When Docker cannot create or start the container.
    pub async fn start(image: &str, password: &str, data: Option<&DataDir>) -> Result<Self> {
        let (name, tag) = split_tagged_image(image)?;
        let container_name = unique_name("grafana");
        let mut request = GenericImage::new(name, tag)
            .with_exposed_port(grafana::PORT.tcp())
            .with_container_name(&container_name)
            .with_label(MANAGED_BY, OWNER)
            .with_label(RUN_ID, run_id())
            .with_env_var(grafana::ADMIN_PASSWORD_ENV, password)
            // No phoning home: tests only talk to loopback.
            .with_env_var("GF_ANALYTICS_REPORTING_ENABLED", "false")
            .with_env_var("GF_ANALYTICS_CHECK_FOR_UPDATES", "false")
            .with_env_var("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false")
            .with_env_var("GF_NEWS_NEWS_FEED_ENABLED", "false");
        if let Some(d) = data {
            request = request.with_mount(Mount::bind_mount(
                d.path().to_string_lossy().into_owned(),
                grafana::DATA_DIR,
            ));
        }
        eprintln!(
            "+ start {image} as {container_name} (data: {})",
            data.map_or_else(
                || "the container's own filesystem".to_owned(),
                |d| format!("bind mount {}", d.path().display()),
            )
        );
        let container = request
            .start()
            .await
            .map_err(|source| harness::Error::Docker {
                action: format!("start {image} as {container_name}"),
                source,
            })?;
        Ok(Self {
            container,
            name: container_name,
        })
    }

    /// The container name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker exec` into it (for `stat` of grafana.db).
    pub fn exec(&self) -> DockerExec {
        DockerExec::new(&self.name)
    }

    /// A client for its published port 3000 (which changes on every start).
    ///
    /// # Errors
    /// When the port is not published (e.g. the container is not running).
    pub async fn client(&self, password: &str) -> Result<GrafanaClient> {
        let addr = harness::docker::published(&self.container, grafana::PORT).await?;
        Ok(GrafanaClient::new(format!("http://{addr}"), password)?)
    }

    /// Wait until it answers `/api/health` with `database: ok`, and return a
    /// client for it. Stops at once, with the end of the log, if the
    /// container exits.
    ///
    /// # Errors
    /// [`harness::Error::WaitFailed`] when the container exited,
    /// [`harness::Error::Timeout`] with the last health answer.
    pub async fn wait_healthy(&self, password: &str) -> Result<GrafanaClient> {
        let what = format!("{} to answer /api/health with database ok", self.name);
        let client = poll(&what, grafana::HEALTH_TIMEOUT, POLL_INTERVAL, || async {
            match self.container.is_running().await {
                Ok(true) => {}
                Ok(false) => {
                    let code = self.container.exit_code().await.ok().flatten();
                    return Check::Failed(format!(
                        "the container exited (code {code:?}); log: {}",
                        harness::error::tail(
                            &self.logs().await.unwrap_or_default(),
                            LOG_TAIL_CHARS
                        )
                    ));
                }
                Err(e) => return Check::NotYet(format!("docker inspect: {e}")),
            }
            let client = match self.client(password).await {
                Ok(c) => c,
                Err(e) => return Check::NotYet(format!("{e:#}")),
            };
            match client.health().await {
                Ok(h) if h.database == "ok" => Check::Ready(client),
                Ok(h) => Check::NotYet(format!("database {:?}", h.database)),
                Err(e) => Check::NotYet(e.to_string()),
            }
        })
        .await?;
        Ok(client)
    }

    /// Wait until the container has exited; returns its exit code.
    ///
    /// # Errors
    /// [`harness::Error::Timeout`] saying it was still running.
    pub async fn wait_exited(&self, timeout: Duration) -> Result<i64> {
        let what = format!("{} to exit", self.name);
        Ok(poll(&what, timeout, POLL_INTERVAL, || async {
            match self.container.exit_code().await {
                Ok(Some(code)) => Check::Ready(code),
                Ok(None) => Check::NotYet("still running".into()),
                Err(e) => Check::NotYet(format!("docker inspect: {e}")),
            }
        })
        .await?)
    }

    /// SIGKILL the main process (no graceful shutdown), wait until the
    /// container has stopped, and return when the kill was sent.
    ///
    /// # Errors
    /// When `docker kill` fails, the container does not stop, or its exit
    /// code is not 137 (so the kill was not the ungraceful one intended).
    pub async fn kill(&self) -> Result<Instant> {
        let at = Instant::now();
        Cmd::new("docker")
            .args(["kill", "--signal", "KILL", self.name.as_str()])
            .run_async()
            .await?;
        let code = self.wait_exited(EXIT_TIMEOUT).await?;
        if code != 137 {
            bail!(
                "{} exited with {code} after SIGKILL, expected 137",
                self.name
            );
        }
        Ok(at)
    }

    /// Start the same (stopped) container again: same filesystem, same mounts.
    ///
    /// # Errors
    /// When Docker cannot start it.
    pub async fn start_again(&self) -> Result<()> {
        self.container
            .start()
            .await
            .map_err(|source| harness::Error::Docker {
                action: format!("start {} again", self.name),
                source,
            })?;
        Ok(())
    }

    /// The container's log (stdout and stderr).
    ///
    /// # Errors
    /// When `docker logs` fails.
    pub async fn logs(&self) -> Result<String> {
        let out = Cmd::new("docker")
            .args(["logs", self.name.as_str()])
            .quiet()
            .run_async()
            .await?;
        Ok(format!("{}{}", out.stdout, out.stderr))
    }

    /// Remove the container (and its own filesystem with it).
    ///
    /// # Errors
    /// When Docker cannot remove it.
    pub async fn remove(self) -> Result<()> {
        eprintln!("+ remove {}", self.name);
        let name = self.name;
        self.container
            .rm()
            .await
            .map_err(|source| harness::Error::Docker {
                action: format!("remove {name}"),
                source,
            })?;
        Ok(())
    }
}
