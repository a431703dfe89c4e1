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
    pub(crate) fn with_user(mut self, user: impl Into<String>) -> Self {
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

/// The Kubernetes exec API into one container of a pod (what `kubectl exec`
/// does), for tier 2. Exit codes come from the final `Status` the API server
/// sends: `Success`, or `Failure` with an `ExitCode` cause.
#[derive(Clone)]
pub(crate) struct PodExec {
    api: kube::Api<k8s_openapi::api::core::v1::Pod>,
    namespace: String,
    pod: String,
    container: String,
}

impl PodExec {
    /// Exec into `container` of `pod` in `namespace`.
    pub(crate) fn new(client: kube::Client, namespace: &str, pod: &str, container: &str) -> Self {
        Self {
            api: kube::Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
        }
    }
}

impl std::fmt::Debug for PodExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.target())
    }
}

/// How long one command in a pod may take: a stalled NFS mount or a node
/// that went away must not hang a cell until its outer backstop.
pub(crate) const POD_EXEC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

#[async_trait]
impl Exec for PodExec {
    async fn exec(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        let started = std::time::Instant::now();
        tokio::time::timeout(POD_EXEC_TIMEOUT, self.exec_unbounded(argv, stdin))
            .await
            .unwrap_or_else(|_| {
                Err(crate::Error::Timeout {
                    what: format!("{argv:?} in {} to finish", self.target()),
                    waited: started.elapsed(),
                    last_seen: "no exit status from the exec API".into(),
                })
            })
    }

    fn target(&self) -> String {
        format!(
            "pod {}/{} container {}",
            self.namespace, self.pod, self.container
        )
    }
}

impl PodExec {
    async fn exec_unbounded(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let action = || format!("exec {argv:?} in {}", self.target());
        let params = kube::api::AttachParams::default()
            .container(self.container.as_str())
            .stdin(stdin.is_some())
            .stdout(true)
            .stderr(true);
        let mut proc = self
            .api
            .exec(&self.pod, argv.iter().map(|a| a.to_string()), &params)
            .await
            .map_err(|e| crate::Error::kube(action(), e))?;
        let status = proc.take_status();
        let stdout = proc.stdout();
        let stderr = proc.stderr();
        let writer = proc.stdin();
        // Feed stdin while draining stdout and stderr: the exec streams have
        // small buffers, so doing these one after another can deadlock.
        let feed = async move {
            if let (Some(mut w), Some(bytes)) = (writer, stdin) {
                w.write_all(bytes).await?;
                w.shutdown().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let drain = |r: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                r.read_to_end(&mut buf).await?;
            }
            Ok::<_, std::io::Error>(buf)
        };
        let (fed, out, err) = tokio::join!(feed, drain(stdout), drain(stderr));
        let io = |e: std::io::Error| crate::Error::Spawn {
            command: action(),
            source: e,
        };
        fed.map_err(io)?;
        let (out, err) = (out.map_err(io)?, err.map_err(io)?);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        proc.join()
            .await
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        Ok(Output {
            code: exit_code(status.as_ref()),
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
        })
    }
}

/// The exit code in the exec API's final status: `Success` is 0; a
/// `NonZeroExitCode` failure carries the code as an `ExitCode` cause.
fn exit_code(
    status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> Option<i32> {
    let s = status?;
    if s.status.as_deref() == Some("Success") {
        return Some(0);
    }
    s.details
        .as_ref()?
        .causes
        .as_ref()?
        .iter()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok())
        .or(Some(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

    /// Status objects as the API server sends them at the end of an exec
    /// (shape from k8s.io/apimachinery remotecommand, as kubectl reads them).
    #[test]
    fn exit_codes_from_exec_status() {
        let ok: Status = serde_json::from_str(r#"{"metadata":{},"status":"Success"}"#).unwrap();
        assert_eq!(exit_code(Some(&ok)), Some(0));
        let failed: Status = serde_json::from_str(
            r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#,
        )
        .unwrap();
        assert_eq!(exit_code(Some(&failed)), Some(3));
        assert_eq!(exit_code(None), None);
    }

    #[tokio::test]
    async fn docker_exec_builds_the_command_it_reports() {
        let e = DockerExec::new("e2e-nonexistent-container-xyz").with_user("0");
        assert_eq!(e.target(), "docker e2e-nonexistent-container-xyz");
    }
}
