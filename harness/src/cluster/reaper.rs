//! The reaper: how a run's cluster is deleted even when the test process
//! dies before its cleanup runs, although libtest has no global teardown
//! (rust-lang/rust#117668) and a value in a static is never dropped
//! (rstest#209, testcontainers-rs PR #896).
//!
//! When a cluster is created the harness starts a small `sh` process in its
//! own process group (so Ctrl-C in the terminal does not reach it) whose
//! stdin is a pipe from the test process. The write end stays open for as
//! long as the test process lives, held by the [`crate::cluster::ClusterGuard`]
//! (the tier-2 suite keeps one for the whole run). The reaper blocks reading it:
//!
//! - the owner cleaned up (explicit `cleanup()` or `Drop`): it writes `done`
//!   and the reaper exits without doing anything;
//! - the test process ended in any other way (a panic with `panic = "abort"`, SIGKILL from
//!   a timeout, a crash): the kernel closes the pipe, `read` returns EOF, and
//!   the reaper applies the keep policy and runs the delete command.
//!
//! Keep-on-failure works across that boundary through marker files in
//! `<dir>/leases/`: `mark_failed()` adds `failed`. A non-empty `leases/` at
//! EOF means a test failed: with E2E_KEEP=on-failure the cluster is kept and
//! the reaper prints how to inspect and delete it.
//!
//! No polling, no sleeps, no `atexit` (the crate forbids `unsafe`). What the
//! reaper cannot survive (the machine rebooting, `kill -9` of the reaper
//! itself) is left to the label sweep (`make clean`).

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::process::ExitStatus;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::cmd::Cmd;
use crate::config::Keep;
use crate::error::{Error, Result};

/// Sub-directory of the cluster's temp dir holding one marker per running
/// or failed test.
pub(crate) const LEASES_DIR: &str = "leases";

/// The script: `$1` delete command line, `$2` keep policy, `$3` leases dir,
/// `$4` dir to remove after deleting, `$5` message printed when kept.
const SCRIPT: &str = r#"IFS= read -r verdict || verdict=""
[ "$verdict" = done ] && exit 0
failed=no
[ -n "$(ls -A "$3" 2>/dev/null)" ] && failed=yes
case "$2" in
  always) keep=yes ;;
  never) keep=no ;;
  *) keep=$failed ;;
esac
if [ "$keep" = yes ]; then
  printf '%s\n' "$5" >&2
  exit 0
fi
printf 'storage-e2e reaper: the test process ended; running: %s\n' "$1" >&2
sh -c "$1" 1>&2
status=$?
rm -rf "$4"
exit $status
"#;

/// What the reaper does if the test process ends without disarming it.
#[derive(Debug, Clone)]
pub(crate) struct ReaperPlan {
    /// The delete command (run through `sh -c`, so its shell rendering must be exact).
    pub(crate) delete: Cmd,
    /// E2E_KEEP.
    pub(crate) keep: Keep,
    /// Where tests leave their markers (`<dir>/leases`).
    pub(crate) leases: PathBuf,
    /// Removed after a successful delete (the cluster's temp dir).
    pub(crate) remove_dir: PathBuf,
    /// Printed when the cluster is kept (the inspect and delete commands).
    pub(crate) keep_message: String,
}

/// A running reaper; see the module docs.
#[derive(Debug)]
pub(crate) struct Reaper {
    child: Child,
    stdin: Option<ChildStdin>,
}

fn keep_word(keep: Keep) -> &'static str {
    match keep {
        Keep::Always => "always",
        Keep::Never => "never",
        Keep::OnFailure => "on-failure",
    }
}

impl Reaper {
    /// Start the reaper for `plan` (creates the leases dir).
    ///
    /// # Errors
    /// [`Error::Io`] when the leases dir cannot be made, [`Error::Spawn`]
    /// when `sh` cannot be started.
    pub(crate) fn spawn(plan: &ReaperPlan) -> Result<Self> {
        std::fs::create_dir_all(&plan.leases)
            .map_err(|e| Error::io("creating the reaper's leases dir", &plan.leases, e))?;
        let delete = plan.delete.to_string();
        eprintln!("+ reaper armed (runs if this process ends without cleanup): {delete}");
        let child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .arg("storage-e2e-reaper")
            .arg(&delete)
            .arg(keep_word(plan.keep))
            .arg(&plan.leases)
            .arg(&plan.remove_dir)
            .arg(&plan.keep_message)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group: a Ctrl-C for the test run must not kill
            // the process that cleans up after it.
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                command: format!("sh -c <reaper script> {delete}"),
                source,
            })?;
        let mut child = child;
        let stdin = child.stdin.take();
        Ok(Self { child, stdin })
    }

    /// The owner cleaned up (or decided to keep and said so): tell the
    /// reaper to exit without doing anything, and wait for it.
    pub(crate) fn disarm(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // If the reaper already died there is nobody left to tell.
            let _ = stdin.write_all(b"done\n");
        }
        let _ = self.child.wait();
    }

    /// Close the pipe as the end of the test process would, and wait for
    /// the reaper to finish (tests use this to exercise the exit path).
    ///
    /// # Errors
    /// [`Error::Spawn`] when waiting for the reaper fails.
    #[cfg(test)]
    pub(crate) fn close_and_wait(mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        self.child.wait().map_err(|source| Error::Spawn {
            command: "wait for the reaper".into(),
            source,
        })
    }
}

/// The marker a running test leaves in `leases` (removed by [`end_lease`] on success).
///
/// # Errors
/// [`Error::Io`] when it cannot be written.
#[cfg(test)]
pub(crate) fn begin_lease(leases: &Path, id: u64) -> Result<PathBuf> {
    let path = leases.join(format!("lease-{id}"));
    std::fs::write(&path, b"running\n")
        .map_err(|e| Error::io("writing a lease marker", &path, e))?;
    Ok(path)
}

/// End a lease: remove its marker when the test succeeded, else mark it failed.
#[cfg(test)]
pub(crate) fn end_lease(marker: &Path, failed: bool) {
    // A marker that cannot be updated errs on the side of keeping the
    // cluster (it stays "running", which the reaper counts as a failure).
    if failed {
        let _ = std::fs::write(marker, b"failed\n");
    } else {
        let _ = std::fs::remove_file(marker);
    }
}

/// Record a failure that is not tied to a lease (`mark_failed()`).
pub(crate) fn mark_failed(leases: &Path) {
    let _ = std::fs::create_dir_all(leases);
    let _ = std::fs::write(leases.join("failed"), b"failed\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(dir: &Path, keep: Keep) -> ReaperPlan {
        let done = dir.join("deleted");
        ReaperPlan {
            delete: Cmd::new("touch").arg(done.to_string_lossy()),
            keep,
            leases: dir.join("cluster").join(LEASES_DIR),
            remove_dir: dir.join("cluster"),
            keep_message: "kept for inspection".into(),
        }
    }

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn process_end_without_failures_runs_the_delete_and_removes_the_dir() {
        let t = tmp();
        let p = plan(t.path(), Keep::OnFailure);
        let r = Reaper::spawn(&p).unwrap_or_else(|e| panic!("{e}"));
        let marker = begin_lease(&p.leases, 1).unwrap_or_else(|e| panic!("{e}"));
        end_lease(&marker, false);
        let status = r.close_and_wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "{status}");
        assert!(t.path().join("deleted").exists(), "delete command ran");
        assert!(!p.remove_dir.exists(), "temp dir removed");
    }

    #[test]
    fn a_failed_or_interrupted_test_keeps_the_cluster_on_failure() {
        for finish in [Some(true), None] {
            let t = tmp();
            let p = plan(t.path(), Keep::OnFailure);
            let r = Reaper::spawn(&p).unwrap_or_else(|e| panic!("{e}"));
            let marker = begin_lease(&p.leases, 7).unwrap_or_else(|e| panic!("{e}"));
            if let Some(failed) = finish {
                end_lease(&marker, failed);
            }
            let status = r.close_and_wait().unwrap_or_else(|e| panic!("{e}"));
            assert!(status.success());
            assert!(
                !t.path().join("deleted").exists(),
                "{finish:?}: kept, not deleted"
            );
            assert!(
                p.remove_dir.exists(),
                "{finish:?}: kubeconfig dir kept for inspection"
            );
        }
    }

    #[test]
    fn keep_always_and_never_override_the_markers() {
        let t = tmp();
        let p = plan(t.path(), Keep::Never);
        let r = Reaper::spawn(&p).unwrap_or_else(|e| panic!("{e}"));
        mark_failed(&p.leases);
        r.close_and_wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            t.path().join("deleted").exists(),
            "never: deleted despite a failure"
        );

        let t = tmp();
        let p = plan(t.path(), Keep::Always);
        let r = Reaper::spawn(&p).unwrap_or_else(|e| panic!("{e}"));
        r.close_and_wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.path().join("deleted").exists(), "always: kept");
    }

    #[test]
    fn a_disarmed_reaper_does_nothing() {
        let t = tmp();
        let p = plan(t.path(), Keep::Never);
        Reaper::spawn(&p).unwrap_or_else(|e| panic!("{e}")).disarm();
        assert!(!t.path().join("deleted").exists());
        assert!(p.remove_dir.exists());
    }
}
