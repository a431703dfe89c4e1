//! The driver's one error type, and how each variant maps onto the gRPC
//! status codes the CSI spec prescribes (spec.md, "Error Scheme" and each
//! RPC's error table): the code tells the CO what to do next (fix the
//! request, retry with back-off, give up), so the mapping is part of the
//! driver's contract, not an afterthought.

use std::error::Error as _;
use std::path::PathBuf;

/// A failed driver operation, with enough context to act on it from a log
/// line alone: which volume, node, path or command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field the spec marks REQUIRED is empty.
    #[error("missing required field {0}")]
    MissingField(&'static str),
    /// A field has a value this driver does not accept.
    #[error("{0}")]
    InvalidArgument(String),
    /// A volume, snapshot, node or path the request names does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// `volume`, `snapshot`, `node`, `path`.
        what: &'static str,
        /// What the request named.
        id: String,
    },
    /// The request conflicts with what already exists under the same name,
    /// or at the same path.
    #[error("{0}")]
    AlreadyExists(String),
    /// The system is not in a state the operation needs (attached
    /// elsewhere, not staged, still in use).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The capacity range cannot be satisfied.
    #[error("{0}")]
    OutOfRange(String),
    /// The SAN directory has no room for the request.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A list call's `starting_token` is not one this driver issued.
    #[error("invalid starting_token {0:?}: start the listing again without one")]
    InvalidToken(String),
    /// An external command could not be started.
    #[error("could not run `{argv}`")]
    Spawn {
        /// The command line.
        argv: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// An external command ran and failed.
    #[error("`{argv}` failed ({status}): {output}")]
    Command {
        /// The command line.
        argv: String,
        /// Its exit status.
        status: String,
        /// Its stderr (or stdout when stderr is empty), trimmed.
        output: String,
    },
    /// A file-system operation on the SAN, a device or a mount path failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `rename`...).
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A metadata file on the SAN is not what this driver writes.
    #[error("parse {}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A spawned operation panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The driver's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wrap an I/O error with the action and path it happened on.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// The gRPC code the CSI spec asks for in this situation.
    pub fn code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            Self::MissingField(_) | Self::InvalidArgument(_) => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::OutOfRange(_) => Code::OutOfRange,
            Self::ResourceExhausted(_) => Code::ResourceExhausted,
            Self::InvalidToken(_) => Code::Aborted,
            Self::Spawn { .. }
            | Self::Command { .. }
            | Self::Io { .. }
            | Self::Metadata { .. }
            | Self::Internal(_) => Code::Internal,
        }
    }

    /// The message with its whole cause chain, for the status and the log:
    /// the CO shows only the status message, so the cause must be in it.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        tonic::Status::new(e.code(), e.chain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_spec_error_tables() {
        assert_eq!(
            Error::MissingField("name").code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(
            Error::NotFound {
                what: "volume",
                id: "vol-1".into()
            }
            .code(),
            tonic::Code::NotFound
        );
        assert_eq!(Error::InvalidToken("x".into()).code(), tonic::Code::Aborted);
        assert_eq!(
            Error::OutOfRange("x".into()).code(),
            tonic::Code::OutOfRange
        );
        assert_eq!(
            Error::ResourceExhausted("x".into()).code(),
            tonic::Code::ResourceExhausted
        );
    }

    #[test]
    fn the_status_message_carries_the_cause() {
        let e = Error::io("read", "/san/volumes/vol-1.json")(std::io::Error::from(
            std::io::ErrorKind::PermissionDenied,
        ));
        let status = tonic::Status::from(e);
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(
            status.message(),
            "read /san/volumes/vol-1.json: permission denied"
        );
    }
}
