//! Running a command inside a running container, the same way in every tier:
//! `docker exec` in tier 1, the Kubernetes exec API in tier 2. Seeding and
//! probing go through [`Exec`], so the code tier 1 proves is the code tier 2
//! runs.

use async_trait::async_trait;

use crate::cmd::{Cmd, Output};
use crate::error::Result;

/// Something that can run a command inside the workload's container.
#[async_trait]
pub trait Exec: Send + Sync {
    /// Run `argv` inside the container, feeding `stdin` when given, and
    /// return its output whatever the exit status.
    ///
    /// # Errors
    /// When the command cannot be started at all.
    async fn exec(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output>;

    /// A short description for logs and errors, e.g. `docker e2e-prom-x` or `pod ns/name`.
    fn target(&self) -> String;

    /// Run `argv` and require exit status 0.
    ///
    /// # Errors
    /// [`crate::Error::Command`] naming the target, the command and its stderr.
    async fn exec_ok(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let out = self.exec(argv, stdin).await?;
        if out.success() {
            Ok(out)
        } else {
            let shown = Cmd::new(format!("[{}]", self.target())).args(argv.iter().copied());
            Err(shown.failure(&out))
        }
    }
}

/// `docker exec` into a container by name or id.
#[derive(Debug, Clone)]
pub struct DockerExec {
    container: String,
    user: Option<String>,
}

impl DockerExec {
    /// Exec into `container` as its default user.
    pub fn new(container: impl Into<String>) -> Self {
        Self {
            container: container.into(),
            user: None,
        }
    }

    /// Exec as `user` (e.g. `0` for root, to read a dir the app user cannot).
    #[must_use]
    pub fn as_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

#[async_trait]
impl Exec for DockerExec {
    async fn exec(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let mut cmd = Cmd::new("docker").arg("exec");
        if stdin.is_some() {
            cmd = cmd.arg("-i");
        }
        if let Some(u) = &self.user {
            cmd = cmd.args(["--user", u.as_str()]);
        }
        cmd = cmd.arg(self.container.as_str()).args(argv.iter().copied());
        if let Some(bytes) = stdin {
            cmd = cmd.stdin(bytes.to_vec());
        }
        cmd.run_unchecked_async().await
    }

    fn target(&self) -> String {
        format!("docker {}", self.container)
    }
}
