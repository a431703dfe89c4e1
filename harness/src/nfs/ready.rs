//! Readiness: poll until the server really serves NFSv4 (an NFSv4 client
//! inside its container lists the export) and, when it does not, quote the
//! server's log in the error.

use std::time::Duration;

use crate::cmd::{Cmd, Output};
use crate::error::{Error, Result, tail};
use crate::nfs::export::EXPORT_PATH;
use crate::nfs::logs::{container_logs, log_excerpt};
use crate::wait::{Check, poll};

/// How long a fresh (or restarted) server gets to answer an NFS client.
/// Ganesha serves in 1-3 s here; image builds happen before this clock starts.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two readiness probes.
pub(crate) const READY_INTERVAL: Duration = Duration::from_millis(250);
/// Server log lines quoted in a readiness error.
pub(crate) const LOG_LINES_IN_ERRORS: usize = 25;

/// Poll an NFSv4 LIST of the export from inside container `name` (the
/// server) until it answers, for at most `timeout`; on failure, quote the
/// server's last log lines.
pub(super) async fn wait_serving(name: &str, timeout: Duration) -> Result<()> {
    let what = format!("nfs server {name} to serve {EXPORT_PATH} over NFSv4");
    let url = format!("nfs://127.0.0.1{EXPORT_PATH}?version=4");
    let outcome = poll(&what, timeout, READY_INTERVAL, || {
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
            Err(with_log(e, name, &logs))
        }
    }
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

/// Attach the server's log tail to a wait error: the error stays the
/// cause, the log rides along (and [`crate::error::chain`] prints it).
fn with_log(e: Error, name: &str, logs: &str) -> Error {
    Error::ServerLog {
        server: format!("NFS server container {name}"),
        log: logs.to_owned(),
        source: Box::new(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_errors_carry_the_server_log() {
        let e = with_log(
            Error::Timeout {
                what: "x".into(),
                waited: Duration::from_secs(1),
                last_seen: "NFS4ERR_NOENT".into(),
            },
            "e2e-nfs-x",
            "WARNING overlay",
        );
        let msg = crate::error::chain(&e);
        assert_eq!(
            msg,
            "NFS server container e2e-nfs-x failed: timed out after 1s waiting for x; last seen: \
             NFS4ERR_NOENT\n--- the end of NFS server container e2e-nfs-x's log ---\nWARNING overlay"
        );
    }
}
