//! External commands (docker, kind, k3d, kubectl, promtool...), run through
//! duct. Every command is echoed before it runs, and a failure carries the
//! command line, its exit status and the end of its output, so a failing
//! step explains itself without re-running it by hand.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result, tail};

/// How much of a failed command's output an error keeps.
const ERROR_OUTPUT_CHARS: usize = 2000;

/// A command line, built up and then run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    quiet: bool,
    streamed: bool,
}

/// What a finished command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Cmd {
    /// A command running `program`.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            stdin: None,
            quiet: false,
            streamed: false,
        }
    }

    /// Append one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Append several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set an environment variable for the command.
    #[must_use]
    pub(crate) fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Run in `dir`.
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Feed `bytes` on standard input.
    #[must_use]
    pub(crate) fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Do not echo the command (for frequent probes that would drown the log).
    #[must_use]
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Show what the command prints (stdout and stderr, merged, as `stderr`
    /// of the [`Output`]) line by line while it runs, for long steps whose
    /// progress a person should see (an image build of several minutes).
    #[must_use]
    pub(crate) fn streamed(mut self) -> Self {
        self.streamed = true;
        self
    }

    /// Run and return the output whatever the exit status.
    ///
    /// # Errors
    /// [`Error::Spawn`] when the program cannot be started (e.g. not installed).
    pub fn run_unchecked(&self) -> Result<Output> {
        if !self.quiet {
            eprintln!("+ {self}");
        }
        let mut expr = duct::cmd(
            &self.program,
            self.args.iter().map(OsString::from).collect::<Vec<_>>(),
        )
        .unchecked();
        for (k, v) in &self.env {
            expr = expr.env(k, v);
        }
        if let Some(dir) = &self.dir {
            expr = expr.dir(dir);
        }
        expr = match &self.stdin {
            Some(bytes) => expr.stdin_bytes(bytes.clone()),
            None => expr.stdin_null(),
        };
        if self.streamed {
            return self.run_streamed(expr);
        }
        // duct: the innermost redirection wins, so captures are applied
        // last, here, and never under run_streamed's.
        let out = expr
            .stdout_capture()
            .stderr_capture()
            .run()
            .map_err(|source| Error::Spawn {
                command: self.to_string(),
                source,
            })?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn run_streamed(&self, expr: duct::Expression) -> Result<Output> {
        use std::io::BufRead as _;
        let spawn = |source| Error::Spawn {
            command: self.to_string(),
            source,
        };
        let reader = expr.stderr_to_stdout().reader().map_err(spawn)?;
        let mut seen = String::new();
        let mut lines = std::io::BufReader::new(&reader);
        let mut line = String::new();
        while lines.read_line(&mut line).map_err(spawn)? > 0 {
            eprint!("{line}");
            seen.push_str(&line);
            line.clear();
        }
        let status = reader.try_wait().map_err(spawn)?.map(|o| o.status.code());
        Ok(Output {
            code: status.flatten(),
            stdout: String::new(),
            stderr: seen,
        })
    }

    /// Run and require exit status 0.
    ///
    /// # Errors
    /// [`Error::Spawn`] when it cannot start, [`Error::Command`] (with the
    /// end of stderr) when it exits non-zero.
    pub fn run(&self) -> Result<Output> {
        let out = self.run_unchecked()?;
        if out.success() {
            Ok(out)
        } else {
            Err(self.failure(&out))
        }
    }

    /// [`Cmd::run`] on a blocking thread, for async callers.
    ///
    /// # Errors
    /// As [`Cmd::run`].
    pub async fn run_async(&self) -> Result<Output> {
        let cmd = self.clone();
        tokio::task::spawn_blocking(move || cmd.run())
            .await
            .unwrap_or_else(|join| {
                Err(Error::Spawn {
                    command: self.to_string(),
                    source: std::io::Error::other(join.to_string()),
                })
            })
    }

    /// [`Cmd::run_unchecked`] on a blocking thread, for async callers.
    ///
    /// # Errors
    /// As [`Cmd::run_unchecked`].
    pub async fn run_unchecked_async(&self) -> Result<Output> {
        let cmd = self.clone();
        tokio::task::spawn_blocking(move || cmd.run_unchecked())
            .await
            .unwrap_or_else(|join| {
                Err(Error::Spawn {
                    command: self.to_string(),
                    source: std::io::Error::other(join.to_string()),
                })
            })
    }

    /// The [`Error::Command`] describing a failed run of this command.
    pub fn failure(&self, out: &Output) -> Error {
        let text = if out.stderr.trim().is_empty() {
            &out.stdout
        } else {
            &out.stderr
        };
        Error::Command {
            command: self.to_string(),
            status: match out.code {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".into(),
            },
            stderr: output_in_one_line(text),
        }
    }
}

/// The end of a failed command's output as one line: whole lines only
/// (a cut never starts mid-line) joined with ` ⏎ `. One line because the
/// run's error is printed as one (`error::chain` keeps each message's
/// first line): with the lines kept apart, a kind load that failed showed
/// only `...ing...`, the cut's fragment, and not kind's error below it.
fn output_in_one_line(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut len = 0;
    for line in text
        .trim()
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if len + line.len() > ERROR_OUTPUT_CHARS && !kept.is_empty() {
            kept.push("...");
            break;
        }
        len += line.len() + 3;
        kept.push(line);
    }
    kept.reverse();
    tail(&kept.join(" ⏎ "), ERROR_OUTPUT_CHARS + 10)
}

/// Shell-like rendering: arguments with spaces or quotes are single-quoted.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", quote(v))?;
        }
        f.write_str(&quote(&self.program))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `scripts/<name>` in this checkout: the scripts the harness runs (image
/// builds) live beside it, wherever the checkout is.
pub(crate) fn checkout_script(name: &str) -> PathBuf {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .unwrap_or(crate_dir)
        .join("scripts")
        .join(name)
}

/// Whether `program` is on PATH (as the given PATH value sees it).
pub(crate) fn on_path(program: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_shell_line() {
        let c = Cmd::new("kind")
            .args(["create", "cluster", "--name", "e2e-x"])
            .arg("it's here")
            .env("KUBECONFIG", "/tmp/k c");
        assert_eq!(
            c.to_string(),
            "KUBECONFIG='/tmp/k c' kind create cluster --name e2e-x 'it'\\''s here'"
        );
    }

    /// A streamed command still yields everything it printed, and its
    /// failure names the status and the lines it printed last.
    #[test]
    fn a_streamed_command_keeps_what_it_printed_for_the_error() {
        let c = Cmd::new("sh")
            .args(["-c", "echo step one; echo broke >&2; exit 4"])
            .quiet()
            .streamed();
        let out = c.run_unchecked().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.code, Some(4));
        assert_eq!(out.stderr, "step one\nbroke\n");
        let e = c.run().expect_err("exit 4 fails").to_string();
        assert!(e.contains("failed (exit 4)") && e.contains("broke"), "{e}");
    }

    /// kind's two-line error after a long progress output reads in one
    /// line, whole lines from the end, never a fragment of a cut line.
    #[test]
    fn a_long_failure_output_keeps_whole_last_lines_in_one_line() {
        let mut text = "Loading images...\n".repeat(200);
        text.push_str(
            "ERROR: failed to load image: command \"docker exec ctr images import\" failed\n\
             Command Output: ctr: write /var/lib/containerd/x: no space left on device\n",
        );
        let one = output_in_one_line(&text);
        assert!(!one.contains('\n'), "{one}");
        assert!(one.starts_with("..."), "{one}");
        assert!(
            one.ends_with(
                "ERROR: failed to load image: command \"docker exec ctr images import\" failed ⏎ \
                 Command Output: ctr: write /var/lib/containerd/x: no space left on device"
            ),
            "{one}"
        );
        assert!(one.contains("⏎ Loading images... ⏎"), "whole lines: {one}");
        assert!(
            one.chars().count() <= ERROR_OUTPUT_CHARS + 10,
            "{}",
            one.len()
        );
    }

    #[test]
    fn failure_carries_command_status_and_stderr() {
        let c = Cmd::new("sh")
            .args(["-c", "echo out; echo boom >&2; exit 3"])
            .quiet();
        let e = c.run().expect_err("exit 3 fails").to_string();
        assert_eq!(
            e,
            "`sh -c 'echo out; echo boom >&2; exit 3'` failed (exit 3): boom"
        );
        let ok = Cmd::new("sh").args(["-c", "cat"]).stdin("hi").quiet().run();
        assert_eq!(ok.map(|o| o.stdout).ok().as_deref(), Some("hi"));
    }

    #[test]
    fn missing_program_is_a_spawn_error_naming_it() {
        let e = Cmd::new("no-such-tool-e2e")
            .quiet()
            .run()
            .expect_err("missing");
        assert!(e.to_string().contains("no-such-tool-e2e"), "{e}");
    }
}
