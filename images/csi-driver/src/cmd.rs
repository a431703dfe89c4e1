//! External commands (losetup, mount, mkfs.ext4, resize2fs, cp, mknod):
//! the driver forbids `unsafe`, so everything that needs an ioctl or a
//! mount(2) goes through the tools that own those calls. A failure carries
//! the exact command line, exit status and stderr, so a log line is enough
//! to reproduce it by hand on the node.

use std::ffi::OsString;
use std::process::Stdio;

use crate::error::{Error, Result};

/// One command line, built up then run.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: &'static str,
    args: Vec<OsString>,
}

/// What a command printed, and whether it succeeded.
#[derive(Debug)]
pub struct Output {
    /// The exit status as text (`exit status: 1`).
    pub status: String,
    /// Whether it exited 0.
    pub success: bool,
    /// Its exit code, when it exited normally.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Cmd {
    /// A command without arguments yet.
    pub fn new(program: &'static str) -> Self {
        Self {
            program,
            args: Vec::new(),
        }
    }

    /// Append one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Append several arguments.
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command line as a person would type it (arguments with spaces
    /// quoted), for errors and logs.
    pub fn argv(&self) -> String {
        std::iter::once(self.program.to_owned())
            .chain(self.args.iter().map(|a| {
                let a = a.to_string_lossy();
                if a.is_empty() || a.contains(char::is_whitespace) {
                    format!("'{a}'")
                } else {
                    a.into_owned()
                }
            }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Run it and return what it printed, whatever its exit status.
    ///
    /// # Errors
    /// [`Error::Spawn`] when it cannot be started (not installed).
    pub async fn output(&self) -> Result<Output> {
        let out = tokio::process::Command::new(self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| Error::Spawn {
                argv: self.argv(),
                source,
            })?;
        Ok(Output {
            status: out.status.to_string(),
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Run it and return its stdout.
    ///
    /// # Errors
    /// [`Error::Spawn`], or [`Error::Command`] when it exits non-zero.
    pub async fn run(&self) -> Result<String> {
        let out = self.output().await?;
        if out.success {
            Ok(out.stdout)
        } else {
            Err(self.failed(&out))
        }
    }

    /// The error for a run that ended with `out`.
    pub fn failed(&self, out: &Output) -> Error {
        let text = if out.stderr.trim().is_empty() {
            out.stdout.trim()
        } else {
            out.stderr.trim()
        };
        Error::Command {
            argv: self.argv(),
            status: out.status.clone(),
            output: text.replace('\n', " / "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_quotes_what_a_shell_would_split() {
        let cmd = Cmd::new("mount").args(["-t", "ext4"]).arg("/a b").arg("");
        assert_eq!(cmd.argv(), "mount -t ext4 '/a b' ''");
    }

    #[tokio::test]
    async fn a_failed_command_names_its_argv_status_and_stderr() {
        let cmd = Cmd::new("sh").args(["-c", "echo no such thing >&2; exit 3"]);
        let Err(e) = cmd.run().await else {
            panic!("sh -c 'exit 3' succeeded");
        };
        assert_eq!(
            e.to_string(),
            "`sh -c 'echo no such thing >&2; exit 3'` failed (exit status: 3): no such thing"
        );
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let e = Cmd::new("storage-e2e-no-such-tool").run().await;
        assert!(matches!(e, Err(Error::Spawn { .. })), "{e:?}");
    }
}
