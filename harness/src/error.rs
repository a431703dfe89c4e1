//! The harness's one error type.
//!
//! Every variant carries the context a person needs to act on it (which
//! variable, which file and document, which command and its stderr, what a
//! wait last saw). The underlying cause goes in `#[source]` and is not
//! repeated in the message, so `{err:#}` chains read cleanly.

use std::path::PathBuf;
use std::time::Duration;

/// Shorthand used throughout the harness.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable has a value the harness does not accept.
    #[error("{var}={value:?} is not valid: expected {allowed}")]
    Config {
        /// The variable, e.g. `E2E_PROVIDER`.
        var: &'static str,
        /// What it was set to.
        value: String,
        /// The allowed values or shape, in words.
        allowed: String,
    },

    /// An id (variant, disruption, provider...) that is not known.
    #[error(transparent)]
    Unknown(#[from] crate::vocab::UnknownId),

    /// A manifest file could not be used: names the file, document and object.
    #[error("{file}: document {doc} ({object}): {message}")]
    Manifest {
        /// The manifest file.
        file: PathBuf,
        /// Zero-based index of the YAML document in the file.
        doc: usize,
        /// `Kind/name` of the object, or `?` when it could not be read.
        object: String,
        /// What is wrong with it.
        message: String,
    },

    /// A file or directory could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What the harness was doing, e.g. `reading manifest`.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An external command could not be started.
    #[error("could not run `{command}`")]
    Spawn {
        /// The command line.
        command: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An external command exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status, in words.
        status: String,
        /// The end of what it printed on stderr (and stdout when stderr was empty).
        stderr: String,
    },

    /// The run could not get what every cell needs (its cluster); reported
    /// once for the run, and each cell that needed it is marked not run.
    #[error("the run's cluster did not start")]
    RunFailed {
        /// Why; shared by every cell that asked.
        #[source]
        source: std::sync::Arc<Error>,
    },

    /// Something this harness, cluster or machine cannot do (e.g. an NFS
    /// server on a cluster with no Docker network); names what and why.
    #[error("{what} is not supported here: {why}")]
    NotSupported {
        /// What was asked for.
        what: String,
        /// Why it cannot be done here, and where it can.
        why: String,
    },

    /// The harness cannot take its next step because what it found does
    /// not allow it (no pod to disrupt, a server already cleaned up). Not
    /// a wait: nothing was waited for.
    #[error("cannot {action}: {why}")]
    Cannot {
        /// What the harness was about to do.
        action: String,
        /// What it found instead.
        why: String,
    },

    /// A server (container or pod) failed; carries the end of its log,
    /// which usually says why, alongside the error that showed it.
    #[error("{server} failed")]
    ServerLog {
        /// The server, e.g. `NFS server container e2e-nfs-ab12`.
        server: String,
        /// The end of its log.
        log: String,
        /// What showed the failure.
        #[source]
        source: Box<Error>,
    },

    /// A wait ran out of time; says what it waited for and what it saw last.
    #[error("timed out after {waited:?} waiting for {what}; last seen: {last_seen}")]
    Timeout {
        /// What the harness waited for.
        what: String,
        /// How long it waited.
        waited: Duration,
        /// The last status observed.
        last_seen: String,
    },

    /// A wait gave up early because what it waited for can no longer happen.
    #[error("gave up waiting for {what}: {reason}")]
    WaitFailed {
        /// What the harness waited for.
        what: String,
        /// Why it cannot happen.
        reason: String,
    },

    /// A call to the Kubernetes API failed.
    #[error("kubernetes API: {action}")]
    Kube {
        /// What the harness asked for, e.g. `create namespace e2e-x`.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },

    /// An HTTP request could not be sent or its answer not read.
    #[error("{method} {url}")]
    Http {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },

    /// An HTTP request got an answer the harness did not expect.
    #[error("{method} {url} sent {sent}, got {status}: {body}")]
    HttpStatus {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// A short description of what was sent.
        sent: String,
        /// The status code.
        status: u16,
        /// The (truncated) answer body.
        body: String,
    },

    /// A Docker operation through testcontainers failed.
    #[error("docker: {action}")]
    Docker {
        /// What the harness asked Docker to do.
        action: String,
        /// The cause.
        #[source]
        source: testcontainers::TestcontainersError,
    },

    /// A tool the run needs is missing or too old.
    #[error("{what}; fix: {fix}")]
    Preflight {
        /// What is missing or wrong.
        what: String,
        /// How to fix it, e.g. `make tools`.
        fix: String,
    },

    /// Data the harness reads back (an API answer, a log, a listing) did not have the expected shape.
    #[error("could not parse {what}: {message}")]
    Parse {
        /// What was being parsed.
        what: String,
        /// What was wrong, including a short excerpt.
        message: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path` while doing `action`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Kube`] for `action`.
    pub(crate) fn kube(action: impl Into<String>, source: kube::Error) -> Self {
        Self::Kube {
            action: action.into(),
            source,
        }
    }

    /// An [`Error::Parse`] for `what`.
    pub(crate) fn parse(what: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Parse {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// An error and every cause under it, as one line: `a: b: c`. What
/// people see (progress lines, cell failures, the run's one error line)
/// goes through this, so no cause is dropped on the way. Each message
/// gives its first line (kube appends a YAML snippet under its own); a
/// server log attached on the way ([`Error::ServerLog`]) follows the line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut logs = String::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let first = text.lines().next().unwrap_or_default().trim();
        // Some errors repeat their source's text in their own message.
        if !line.ends_with(first) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(first);
        }
        if let Some(Error::ServerLog { server, log, .. }) = err.downcast_ref::<Error>() {
            logs.push_str(&format!(
                "\n--- the end of {server}'s log ---\n{}",
                log.trim_end()
            ));
        }
        next = err.source();
    }
    line + &logs
}

/// Keep at most the last `max` characters of `text`, on a char boundary, so
/// errors carry the end of a long stderr (where the cause usually is).
pub fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let e = Error::io("reading", "/x", io);
        assert_eq!(chain(&e), "reading /x: connection refused");
        let run = Error::RunFailed {
            source: std::sync::Arc::new(e),
        };
        assert_eq!(
            chain(&run),
            "the run's cluster did not start: reading /x: connection refused"
        );
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        assert_eq!(tail("  short ", 10), "short");
        assert_eq!(tail("0123456789abc", 3), "...abc");
        assert_eq!(tail("ééé", 3), "...é");
    }
}
