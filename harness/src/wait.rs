//! Bounded waits. Watchable Kubernetes objects are waited on with a watch
//! (see `watch_object`); things that cannot be watched (a PromQL answer,
//! Grafana's health, an NFS export) with [`poll`]. Either way every wait has
//! a timeout, and its error says what was seen last.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kube::Resource;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, watcher};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// What one check of a polled condition found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T> {
    /// The condition holds; here is what it produced.
    Ready(T),
    /// Not yet; the status says what was seen (kept for the timeout error).
    NotYet(String),
    /// It can no longer hold (e.g. the container exited); stop waiting.
    Failed(String),
}

/// Poll `check` every `interval` until it is ready, fails, or `timeout` passes.
///
/// # Errors
/// [`Error::Timeout`] with the last `NotYet` status, or
/// [`Error::WaitFailed`] when a check says `Failed`.
pub async fn poll<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check<T>>,
{
    let start = Instant::now();
    let mut last = String::from("(not checked yet)");
    loop {
        let remaining = timeout.saturating_sub(start.elapsed());
        match tokio::time::timeout(remaining, check()).await {
            Ok(Check::Ready(v)) => return Ok(v),
            Ok(Check::Failed(reason)) => {
                return Err(Error::WaitFailed {
                    what: what.to_owned(),
                    reason,
                });
            }
            Ok(Check::NotYet(status)) => last = status,
            Err(_) => last = format!("{last} (the last check itself did not finish)"),
        }
        if start.elapsed() + interval > timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                waited: start.elapsed(),
                last_seen: last,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// Watch the object `name` through `api` until `ready` returns `Some`, or
/// `timeout` passes. `describe` turns the latest object into the status the
/// timeout error shows. Unlike `kube::runtime::wait::await_condition`, which
/// adds no timeout and forgets what it saw, this keeps the last state.
///
/// # Errors
/// [`Error::Timeout`] with the last described state, [`Error::Kube`] when
/// the watch itself fails.
pub(crate) async fn watch_object<K, T>(
    api: Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut(Option<&K>) -> Option<T>,
    describe: impl Fn(Option<&K>) -> String,
) -> Result<T>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let start = Instant::now();
    let cfg = watcher::Config::default().fields(&format!("metadata.name={name}"));
    // Watch errors are retryable (kube-runtime's watcher docs): back off and
    // keep going; the last one shows in the timeout error.
    let mut stream = watcher(api, cfg).default_backoff().boxed();
    let mut last: Option<K> = None;
    let mut seen = false;
    let mut last_error: Option<String> = None;
    let outcome = tokio::time::timeout(timeout, async {
        while let Some(item) = stream.next().await {
            let event = match item {
                Ok(event) => event,
                Err(e) => {
                    last_error = Some(e.to_string());
                    continue;
                }
            };
            match event {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => last = Some(o),
                watcher::Event::Delete(_) => last = None,
                watcher::Event::Init => {}
                watcher::Event::InitDone => {}
            }
            seen = true;
            if let Some(v) = ready(last.as_ref()) {
                return Ok(v);
            }
        }
        Err(Error::WaitFailed {
            what: what.to_owned(),
            reason: "the watch stream ended".into(),
        })
    })
    .await;
    match outcome {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            what: what.to_owned(),
            waited: start.elapsed(),
            last_seen: match (seen, last_error) {
                (true, _) => describe(last.as_ref()),
                (false, Some(e)) => {
                    format!("no answer from the API server (last watch error: {e})")
                }
                (false, None) => "no answer from the API server".into(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn poll_returns_when_ready() {
        let n = AtomicU32::new(0);
        let v = poll(
            "counter",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || async {
                let i = n.fetch_add(1, Ordering::SeqCst);
                if i >= 2 {
                    Check::Ready(i)
                } else {
                    Check::NotYet(format!("at {i}"))
                }
            },
        )
        .await;
        assert_eq!(v.ok(), Some(2));
    }

    #[tokio::test]
    async fn poll_timeout_says_what_was_seen_last() {
        let e = poll::<(), _, _>(
            "the export",
            Duration::from_millis(30),
            Duration::from_millis(5),
            || async { Check::NotYet("port closed".into()) },
        )
        .await
        .expect_err("never ready");
        let msg = e.to_string();
        assert!(msg.starts_with("timed out after"), "{msg}");
        assert!(
            msg.ends_with("waiting for the export; last seen: port closed"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn poll_stops_on_failure() {
        let e = poll::<(), _, _>(
            "x",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || async { Check::Failed("container exited 1".into()) },
        )
        .await
        .expect_err("fails");
        assert_eq!(e.to_string(), "gave up waiting for x: container exited 1");
    }
}
