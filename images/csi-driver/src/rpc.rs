//! What every gRPC handler does around its work: run it to completion,
//! log one line, answer with the right status.
//!
//! Operations run in their own task: when the CO gives up on a slow call
//! (its timeout, not ours), tonic drops the handler's future, and dropping
//! a half-done stage (loop device attached, mount not yet done) would
//! leave exactly the state a retry trips over. In its own task the
//! operation finishes, releases its lock, and the CO's retry finds it done.
//!
//! The log line (stderr, one per call) is what ends up in the harness's
//! failure artifacts, so it names the method, the volume or node, and the
//! result or the whole error chain.

use std::fmt::Display;
use std::future::Future;
use std::time::{Instant, SystemTime};

use crate::error::{Error, Result};

/// Print one log line with a UTC timestamp.
pub fn log(line: impl Display) {
    eprintln!(
        "{} {line}",
        humantime::format_rfc3339_millis(SystemTime::now())
    );
}

/// Run `work` in its own task, log the outcome and turn it into a gRPC
/// answer. `subject` names what the call is about (`volume=vol-...`);
/// `summary` describes a success.
///
/// # Errors
/// The operation's error as a [`tonic::Status`] with the spec's code.
pub async fn handle<T, F>(
    method: &str,
    subject: String,
    work: F,
    summary: impl FnOnce(&T) -> String,
) -> std::result::Result<tonic::Response<T>, tonic::Status>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let started = Instant::now();
    let outcome = match tokio::spawn(work).await {
        Ok(r) => r,
        Err(e) => Err(Error::Internal(format!("{method} did not finish: {e}"))),
    };
    let took = started.elapsed().as_millis();
    let subject = if subject.is_empty() {
        String::new()
    } else {
        format!(" {subject}")
    };
    match outcome {
        Ok(reply) => {
            let what = summary(&reply);
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(" {what}")
            };
            log(format_args!("{method}{subject}: ok{what} ({took} ms)"));
            Ok(tonic::Response::new(reply))
        }
        Err(e) => {
            log(format_args!(
                "{method}{subject}: error {:?}: {} ({took} ms)",
                e.code(),
                e.chain()
            ));
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_become_statuses_with_the_spec_code() {
        let r: std::result::Result<tonic::Response<()>, _> = handle(
            "DeleteVolume",
            "volume=x".into(),
            async { Err(Error::MissingField("volume_id")) },
            |_| String::new(),
        )
        .await;
        let status = r.expect_err("error");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "missing required field volume_id");
    }

    #[tokio::test]
    async fn a_panicking_operation_is_an_internal_error() {
        let r: std::result::Result<tonic::Response<()>, _> =
            handle("Probe", String::new(), async { panic!("boom") }, |_| {
                String::new()
            })
            .await;
        assert_eq!(r.expect_err("error").code(), tonic::Code::Internal);
    }
}
