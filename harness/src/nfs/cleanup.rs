//! Removing what this module creates: [`Resources`] (a container and maybe
//! its export volume, removed on cleanup or drop unless E2E_KEEP keeps
//! them) and [`start_container`], which removes a half-created container
//! when a start fails.

use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage};

use crate::cmd::Cmd;
use crate::config::Keep;
use crate::error::{Error, Result};
use crate::exec::DockerExec;

/// A container (and maybe a volume) this module created, removed on
/// cleanup or drop unless kept.
pub(super) struct Resources {
    pub(super) name: String,
    pub(super) volume: Option<String>,
    pub(super) container: Option<ContainerAsync<GenericImage>>,
    pub(super) keep: Keep,
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
    /// `name` (and `volume`, when there is one), no container yet: set
    /// the `container` field once it runs.
    pub(super) fn new(
        name: String,
        volume: Option<String>,
        keep: Keep,
        what: &'static str,
    ) -> Self {
        Self {
            name,
            volume,
            container: None,
            keep,
            what,
            done: false,
        }
    }

    pub(super) fn container(&self) -> Result<&ContainerAsync<GenericImage>> {
        self.container.as_ref().ok_or_else(|| Error::Cannot {
            action: format!("use {} {}", self.what, self.name),
            why: "its container was already removed".into(),
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

    /// Commands run in the container.
    pub(super) fn exec(&self) -> DockerExec {
        DockerExec::new(self.name.as_str())
    }

    pub(super) async fn cleanup(&mut self) -> Result<()> {
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

/// Start `request` (a container named `name`). When that fails, remove
/// what testcontainers may have created before failing, and return
/// [`Error::Docker`] saying `action`.
pub(super) async fn start_container(
    request: ContainerRequest<GenericImage>,
    name: &str,
    action: impl FnOnce() -> String,
) -> Result<ContainerAsync<GenericImage>> {
    match request.start().await {
        Ok(c) => Ok(c),
        Err(source) => {
            // testcontainers may have created the container before failing.
            let _ = Cmd::new("docker")
                .args(["rm", "-f", name])
                .quiet()
                .run_async()
                .await;
            Err(Error::Docker {
                action: action(),
                source,
            })
        }
    }
}
