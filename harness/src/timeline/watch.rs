//! The live side: watch a namespace's Pods, Events and Deployments into a
//! shared [`Timeline`] while a cell runs, and fetch pod logs afterwards.
//! Needs a cluster; compiled in every tier, run in tier 2.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, LogParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;

use super::{DeploymentRecord, Entry, EventRecord, Mark, PodLog, PodRecord, Record, Timeline};

/// Shared, append-only recording with de-duplication per object: an entry
/// is only added when the object's recorded state changed.
#[derive(Clone)]
struct Recorder {
    started: Instant,
    inner: Arc<Mutex<Recorded>>,
    /// Bumped on every new entry, so [`TimelineHandle::wait_until`] wakes
    /// on changes instead of polling.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

#[derive(Default)]
struct Recorded {
    entries: Vec<Entry>,
    last: HashMap<String, Record>,
}

impl Recorder {
    fn push(&self, key: String, record: Record) {
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if r.last.get(&key) == Some(&record) {
            return;
        }
        r.last.insert(key, record.clone());
        r.entries.push(Entry { at_ms, record });
        drop(r);
        self.changed();
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn note(&self, text: String) {
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        r.entries.push(Entry {
            at_ms,
            record: Record::Note { text },
        });
        drop(r);
        self.changed();
    }

    /// Insert an entry stamped with `at` (which may lie before entries
    /// already recorded), keeping the entries in time order.
    fn insert_at(&self, at: Instant, record: Record) {
        let at_ms = u64::try_from(at.saturating_duration_since(self.started).as_millis())
            .unwrap_or(u64::MAX);
        let mut r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let i = r.entries.partition_point(|e| e.at_ms <= at_ms);
        r.entries.insert(i, Entry { at_ms, record });
        drop(r);
        self.changed();
    }

    fn snapshot(&self) -> Timeline {
        let r = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        Timeline {
            entries: r.entries.clone(),
        }
    }
}

/// Configure, then [`start`](Self::start): records the namespace's Pods,
/// core/v1 Events and Deployments until the handle is stopped.
///
/// Crate-internal, so the example is not compiled as a doctest:
///
/// ```ignore
/// # async fn demo(client: kube::Client) -> crate::Result<()> {
/// use crate::timeline::{TimelineWatcher, classify};
/// let handle = TimelineWatcher::new(client, "e2e-local-pv-x1y2z3").start();
/// // ... disrupt, wait ...
/// let timeline = handle.stop().await;
/// let reasons = classify(&timeline.only("prometheus"));
/// # Ok(()) }
/// ```
pub struct TimelineWatcher {
    client: Client,
    namespace: String,
}

impl TimelineWatcher {
    /// A watcher for `namespace` (the cell's own namespace).
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        Self {
            client,
            namespace: namespace.into(),
        }
    }

    /// Start watching. Must be called inside a Tokio runtime; the watches
    /// run as tasks until [`TimelineHandle::stop`] (or the handle is dropped).
    /// Watch errors are retried with kube's default backoff and recorded as
    /// notes, so a flaky API server shows in the timeline instead of
    /// silently losing entries.
    pub fn start(self) -> TimelineHandle {
        let recorder = Recorder {
            started: Instant::now(),
            inner: Arc::default(),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        recorder.note(format!("watching namespace {}", self.namespace));
        let (stop, stopped) = signal::channel(false);
        let synced = Arc::new(tokio::sync::Semaphore::new(0));
        let ns = &self.namespace;
        let tasks = vec![
            tokio::spawn(record_watch(
                Api::<Pod>::namespaced(self.client.clone(), ns),
                "pods",
                recorder.clone(),
                Arc::clone(&synced),
                stopped.clone(),
                |p: &Pod, deleted| {
                    let r = PodRecord::from_pod(p, deleted);
                    (format!("pod/{}", r.name), Record::Pod(r))
                },
            )),
            tokio::spawn(record_watch(
                Api::<Event>::namespaced(self.client.clone(), ns),
                "events",
                recorder.clone(),
                Arc::clone(&synced),
                stopped.clone(),
                |e: &Event, _| {
                    let r = EventRecord::from_event(e);
                    (format!("event/{}", r.name), Record::Event(r))
                },
            )),
            tokio::spawn(record_watch(
                Api::<Deployment>::namespaced(self.client.clone(), ns),
                "deployments",
                recorder.clone(),
                Arc::clone(&synced),
                stopped,
                |d: &Deployment, _| {
                    let r = DeploymentRecord::from_deployment(d);
                    (format!("deployment/{}", r.name), Record::Deployment(r))
                },
            )),
        ];
        TimelineHandle {
            recorder,
            stop,
            tasks,
            synced,
        }
    }
}

async fn record_watch<K, F>(
    api: Api<K>,
    what: &'static str,
    recorder: Recorder,
    synced: Arc<tokio::sync::Semaphore>,
    mut stopped: signal::Receiver<bool>,
    to_record: F,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    F: Fn(&K, bool) -> (String, Record) + Send + 'static,
{
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            item = stream.next() => match item {
                None => {
                    recorder.note(format!("{what} watch ended"));
                    break;
                }
                Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) => {
                    let (key, rec) = to_record(&o, false);
                    recorder.push(key, rec);
                }
                Some(Ok(watcher::Event::Delete(o))) => {
                    let (key, rec) = to_record(&o, true);
                    recorder.push(key, rec);
                }
                Some(Ok(watcher::Event::InitDone)) => synced.add_permits(1),
                Some(Ok(watcher::Event::Init)) => {}
                Some(Err(e)) => recorder.note(format!("{what} watch error (retrying): {e}")),
            }
        }
    }
}

/// A running timeline watch. [`stop`](Self::stop) it to get the recording;
/// dropping it stops the watches too (without returning anything).
pub struct TimelineHandle {
    recorder: Recorder,
    stop: signal::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// One permit per watch that has listed its initial state.
    synced: Arc<tokio::sync::Semaphore>,
}

/// How long the watches get to list the namespace before a cell disrupts.
pub const SYNC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The number of watches a timeline runs (pods, events, Deployments).
const WATCHES: u32 = 3;

impl TimelineHandle {
    /// What has been recorded so far (the watch keeps running), e.g. to
    /// wait until a classifier sees a stuck rollout.
    #[cfg(test)]
    pub fn snapshot(&self) -> Timeline {
        self.recorder.snapshot()
    }

    /// Wait until every watch has listed the namespace once, so nothing a
    /// disruption does right after is missed. Gives up after
    /// `SYNC_TIMEOUT` with a note in the timeline (a slow API server
    /// should not fail the cell; the gap is visible instead).
    pub async fn synced(&self) {
        match tokio::time::timeout(SYNC_TIMEOUT, self.synced.acquire_many(WATCHES)).await {
            Ok(Ok(permits)) => permits.forget(),
            _ => self.recorder.note(format!(
                "the watches had not all listed the namespace after {SYNC_TIMEOUT:?}; early entries may be missing"
            )),
        }
    }

    /// Mark a moment the harness knows (the disruption, a recovery) at the
    /// instant it happened, which may be before the call: the watches only
    /// show its effects, and the picture of the timeline draws it as a line.
    pub fn mark(&self, at: Instant, mark: Mark, text: impl Into<String>) {
        self.recorder.insert_at(
            at,
            Record::Mark {
                mark,
                text: text.into(),
            },
        );
    }

    /// Where `at` falls on this timeline (its entries' `at_ms`).
    pub fn offset_ms(&self, at: Instant) -> u64 {
        u64::try_from(
            at.saturating_duration_since(self.recorder.started)
                .as_millis(),
        )
        .unwrap_or(u64::MAX)
    }

    /// Wait until `found` answers `Some` for what has been recorded,
    /// checking at every new entry (no polling), for at most `timeout`.
    ///
    /// # Errors
    /// [`crate::Error::Timeout`] naming `what`, with the number of entries
    /// seen by then.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        timeout: std::time::Duration,
        found: impl Fn(&Timeline) -> Option<T>,
    ) -> crate::Result<T> {
        let mut changes = self.recorder.changes.subscribe();
        let seen = async {
            loop {
                changes.borrow_and_update();
                if let Some(t) = found(&self.recorder.snapshot()) {
                    return t;
                }
                if changes.changed().await.is_err() {
                    // The recorder outlives its handle; unreachable in practice.
                    return std::future::pending().await;
                }
            }
        };
        tokio::time::timeout(timeout, seen)
            .await
            .map_err(|_| crate::Error::Timeout {
                what: what.to_owned(),
                waited: timeout,
                last_seen: format!(
                    "{} timeline entries, none matching",
                    self.recorder.snapshot().entries.len()
                ),
            })
    }

    /// Stop watching and return everything recorded.
    pub async fn stop(mut self) -> Timeline {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            if let Err(e) = t.await {
                self.recorder
                    .note(format!("a watch task ended abnormally: {e}"));
            }
        }
        self.recorder.note("stopped".into());
        self.recorder.snapshot()
    }
}

impl Drop for TimelineHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The logs of every pod the timeline saw and that still exists: each
/// container's current log, and its previous one when it restarted.
/// For [`findings`](super::findings); a log that
/// cannot be read is kept with a text that says why, so the report shows
/// the gap instead of hiding it.
pub async fn collect_logs(client: &Client, namespace: &str, timeline: &Timeline) -> Vec<PodLog> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut out = Vec::new();
    for pod in timeline.pods() {
        if pod.deleted {
            continue;
        }
        for c in &pod.containers {
            let mut wanted = vec![false];
            if c.restarts > 0 {
                wanted.push(true);
            }
            for previous in wanted {
                let lp = LogParams {
                    container: Some(c.name.clone()),
                    previous,
                    ..LogParams::default()
                };
                let text = match api.logs(&pod.name, &lp).await {
                    Ok(t) => t,
                    Err(e) => format!(
                        "(could not read {}log of {}/{}: {e})",
                        if previous { "previous " } else { "" },
                        pod.name,
                        c.name
                    ),
                };
                out.push(PodLog {
                    pod: pod.name.clone(),
                    container: c.name.clone(),
                    previous,
                    text,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod contract_tests {
    //! Contract test of the timeline watch against a stub API server
    //! (wiremock) speaking list + watch for pods, events and Deployments in
    //! the shapes of the Kubernetes API reference: what the watch records is
    //! what the classifiers read. The event text is the Multi-Attach wording
    //! recorded in tests/data/timeline (kubernetes#96142).
    use super::*;
    use crate::stub_api::{client, list_and_watch};
    use crate::vocab::Reason;
    use serde_json::json;
    use wiremock::MockServer;

    const NS: &str = "e2e-cell";

    #[tokio::test]
    async fn contract_the_watch_records_events_the_classifiers_recognise() {
        let server = MockServer::start().await;
        let event = json!({
            "metadata": {"name": "grafana-new.17a1", "namespace": NS, "resourceVersion": "2"},
            "involvedObject": {"kind": "Pod", "name": "grafana-new", "namespace": NS},
            "reason": "FailedAttachVolume",
            "message": "Multi-Attach error for volume \"pvc-0c1d\" Volume is already used by pod(s) grafana-old",
            "type": "Warning",
            "lastTimestamp": "2026-11-22T01:00:00Z"
        });
        list_and_watch(
            &server,
            &format!("/api/v1/namespaces/{NS}/events"),
            "EventList",
            vec![],
            &[json!({"type": "ADDED", "object": event})],
        )
        .await;
        list_and_watch(
            &server,
            &format!("/api/v1/namespaces/{NS}/pods"),
            "PodList",
            vec![],
            &[],
        )
        .await;
        list_and_watch(
            &server,
            &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
            "DeploymentList",
            vec![],
            &[],
        )
        .await;
        let client = client(&server);

        let handle = TimelineWatcher::new(client, NS).start();
        handle.synced().await;
        let seen = crate::wait::poll(
            "the Multi-Attach event in the timeline",
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(50),
            || async {
                let reasons = crate::timeline::classify(&handle.snapshot());
                if reasons.contains(&Reason::MultiAttach) {
                    crate::wait::Check::Ready(reasons)
                } else {
                    crate::wait::Check::NotYet(format!("{reasons:?}"))
                }
            },
        )
        .await;
        let timeline = handle.stop().await;
        assert!(seen.is_ok(), "{seen:?}\n{}", timeline.render_text());
        assert!(
            timeline
                .render_text()
                .contains("Multi-Attach error for volume"),
            "{}",
            timeline.render_text()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_mark_at_an_earlier_instant_keeps_the_entries_in_time_order() {
        let started = Instant::now()
            .checked_sub(Duration::from_secs(10))
            .unwrap_or_else(Instant::now);
        let recorder = Recorder {
            started,
            inner: Arc::default(),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        };
        recorder.note("seen now".into());
        recorder.insert_at(
            started + Duration::from_secs(2),
            Record::Mark {
                mark: Mark::Disruption,
                text: "pod-delete".into(),
            },
        );
        // Before the watch started: clamped to 0, still first.
        recorder.insert_at(
            started
                .checked_sub(Duration::from_secs(1))
                .unwrap_or(started),
            Record::Note {
                text: "early".into(),
            },
        );
        let t = recorder.snapshot();
        let at: Vec<u64> = t.entries.iter().map(|e| e.at_ms).collect();
        assert_eq!(at[..2], [0, 2_000], "{at:?}");
        assert!(at[2] >= 10_000, "{at:?}");
        assert!(
            t.render_text()
                .contains("[    2.0s] disruption: pod-delete\n"),
            "{}",
            t.render_text()
        );
    }
}
