//! The two workloads every cell deploys (Prometheus and Grafana), found by
//! label in the test's namespace: their pods, readiness, logs, and the
//! namespace they live in. Waits are watch-based and bounded.
//!
//! Over 600 lines because its tier-0 tests (about 250 lines: the pod
//! states each wait must and must not accept, as the API returns them)
//! sit beside the waits they check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, ResourceExt as _};

use crate::error::{Error, Result};
use crate::prometheus;
use crate::vocab::App;
use crate::{grafana, manifest};

/// How the workload is run (defined with the rendered objects it is read
/// from: `manifest::Kind`).
pub use crate::manifest::Kind;

/// One of the two workloads, as the manifests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// The Deployment/StatefulSet name.
    pub(crate) name: &'static str,
    /// Its pods' `app.kubernetes.io/name` label, which selects them (the
    /// workload's name in the project's manifests; `prometheus` for the
    /// StatefulSet prometheus-operator makes).
    pub(crate) pod_label: &'static str,
    /// The app it runs; its id is the pods' `app.kubernetes.io/name`
    /// label value and the prefix of their names.
    pub(crate) app: App,
    /// The main container's name.
    pub(crate) container: &'static str,
    /// The HTTP port probes talk to.
    pub(crate) port: u16,
    /// The data directory inside the container.
    pub(crate) data_dir: &'static str,
}

/// Prometheus as manifests/base deploys it.
pub(crate) const PROMETHEUS: Workload = Workload {
    name: manifest::PROMETHEUS,
    pod_label: manifest::PROMETHEUS,
    app: App::Prometheus,
    container: manifest::PROMETHEUS,
    port: prometheus::PORT,
    data_dir: prometheus::DATA_DIR,
};

/// Grafana as manifests/base deploys it.
pub(crate) const GRAFANA: Workload = Workload {
    name: manifest::GRAFANA,
    pod_label: manifest::GRAFANA,
    app: App::Grafana,
    container: manifest::GRAFANA,
    port: grafana::PORT,
    data_dir: grafana::DATA_DIR,
};

/// Prometheus as prometheus-operator runs the setup's resource
/// `prometheus`: the StatefulSet `prometheus-prometheus`, whose pods the
/// operator labels `app.kubernetes.io/name: prometheus` and whose TSDB is
/// mounted at the same /prometheus.
pub(crate) const OPERATOR_PROMETHEUS: Workload = Workload {
    name: "prometheus-prometheus",
    ..PROMETHEUS
};

impl Workload {
    /// The label selector of its pods.
    pub(crate) fn selector(&self) -> String {
        format!("{}={}", manifest::APP_NAME_LABEL, self.pod_label)
    }

    /// The Prometheus workload of `setup`.
    pub(crate) fn prometheus_of(setup: crate::vocab::Setup) -> Self {
        match setup {
            crate::vocab::Setup::Plain | crate::vocab::Setup::Thanos => PROMETHEUS,
            crate::vocab::Setup::Operator => OPERATOR_PROMETHEUS,
        }
    }
}

/// Whether a pod is Ready (the condition, not the phase: kube-runtime's
/// `conditions::is_pod_running` checks only `status.phase`, kube-rs/kube
/// kube-runtime/src/wait.rs) and not being deleted.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// One line per pod: name, phase, node, readiness, restarts and the
/// waiting/terminated reason, for timeout errors and progress output.
pub(crate) fn describe(pods: &[&Pod]) -> String {
    if pods.is_empty() {
        return "no pods".into();
    }
    pods.iter()
        .map(|p| {
            let status = p.status.as_ref();
            let cs = status.and_then(|s| s.container_statuses.as_ref());
            let restarts: i32 = cs
                .map(|c| c.iter().map(|c| c.restart_count).sum())
                .unwrap_or(0);
            // Init containers first: a main container "PodInitializing"
            // says nothing; its init container's "ImagePullBackOff" does.
            let init = status.and_then(|s| s.init_container_statuses.as_ref());
            let why = init
                .into_iter()
                .flatten()
                .chain(cs.into_iter().flatten())
                .filter_map(|c| c.state.as_ref())
                .filter_map(|s| {
                    s.waiting
                        .as_ref()
                        .and_then(|w| w.reason.clone())
                        .or_else(|| s.terminated.as_ref().and_then(|t| t.reason.clone()))
                })
                .collect::<Vec<_>>()
                .join(",");
            format!(
                "{} {} node={} ready={} restarts={}{}{}",
                p.name_any(),
                status.and_then(|s| s.phase.as_deref()).unwrap_or("?"),
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .unwrap_or("-"),
                is_ready(p),
                restarts,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" {why}")
                },
                if p.metadata.deletion_timestamp.is_some() {
                    " terminating"
                } else {
                    ""
                },
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The workload's pods in `namespace`, oldest first.
///
/// # Errors
/// [`Error::Kube`] when the list fails.
pub(crate) async fn pods(client: &Client, namespace: &str, w: &Workload) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut list = api
        .list(&ListParams::default().labels(&w.selector()))
        .await
        .map_err(|e| Error::kube(format!("list {} pods in {namespace}", w.name), e))?
        .items;
    list.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .cmp(&b.metadata.creation_timestamp)
    });
    Ok(list)
}

/// Watch the workload's pods until `ready` accepts the current set (keyed
/// by name), or `timeout` passes; the timeout error lists every pod's state.
///
/// # Errors
/// [`Error::Timeout`] with the pods' last states, [`Error::Kube`] when the
/// watch fails.
pub(crate) async fn watch_pods<T>(
    client: &Client,
    namespace: &str,
    w: &Workload,
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut(&BTreeMap<String, Pod>) -> Option<T>,
) -> Result<T> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let cfg = watcher::Config::default().labels(&w.selector());
    // Watch errors are retryable (kube-runtime's watcher docs): back off and
    // keep going; the last one shows in the timeout error.
    let mut stream = watcher(api, cfg).default_backoff().boxed();
    let mut set = PodSet::default();
    let mut last_error: Option<String> = None;
    let start = Instant::now();
    let run = async {
        while let Some(item) = stream.next().await {
            match item {
                Ok(ev) => set.apply(ev),
                Err(e) => {
                    last_error = Some(e.to_string());
                    continue;
                }
            }
            if let Some(v) = set.known().and_then(&mut ready) {
                return Ok(v);
            }
        }
        Err(Error::WaitFailed {
            what: what.to_owned(),
            reason: "the pod watch ended".into(),
        })
    };
    let outcome = tokio::time::timeout(timeout, run).await;
    outcome.unwrap_or_else(|_| {
        Err(Error::Timeout {
            what: what.to_owned(),
            waited: start.elapsed(),
            last_seen: match &last_error {
                Some(e) => format!(
                    "{} (last watch error: {e})",
                    describe(&set.pods.values().collect::<Vec<_>>())
                ),
                None => describe(&set.pods.values().collect::<Vec<_>>()),
            },
        })
    })
}

/// The pods a watch has seen, by name, and whether its initial list is
/// complete. A condition on the whole set means nothing before that: "no
/// pod left" held at the watch's first event, when nothing was listed yet,
/// and wal-tail-torn cut a WAL its Prometheus was still writing.
#[derive(Debug, Default)]
struct PodSet {
    pods: BTreeMap<String, Pod>,
    listing: BTreeMap<String, Pod>,
    synced: bool,
}

impl PodSet {
    fn apply(&mut self, ev: watcher::Event<Pod>) {
        match ev {
            watcher::Event::Init => self.listing.clear(),
            watcher::Event::InitApply(p) => {
                self.listing.insert(p.name_any(), p);
            }
            watcher::Event::InitDone => {
                self.pods = std::mem::take(&mut self.listing);
                self.synced = true;
            }
            watcher::Event::Apply(p) => {
                self.pods.insert(p.name_any(), p);
            }
            watcher::Event::Delete(p) => {
                self.pods.remove(&p.name_any());
            }
        }
    }

    /// The pods, once the first listing is complete (a re-list keeps the
    /// last known set until it completes).
    fn known(&self) -> Option<&BTreeMap<String, Pod>> {
        self.synced.then_some(&self.pods)
    }
}

/// Wait until `count` pods of the workload are Ready and none is
/// terminating; returns them. `exclude` names pods that must not count
/// (e.g. the pod a disruption just deleted).
///
/// # Errors
/// As [`watch_pods`].
pub(crate) async fn wait_ready(
    client: &Client,
    namespace: &str,
    w: &Workload,
    count: usize,
    exclude: &[String],
    timeout: Duration,
) -> Result<Vec<Pod>> {
    let what = format!("{count} ready {} pod(s) in {namespace}", w.name);
    watch_pods(client, namespace, w, &what, timeout, |pods| {
        ready_set(pods.values(), count, exclude)
    })
    .await
}

/// The `count` Ready pods, once the workload's live pods are exactly those
/// and none is being deleted. A pod that ended (phase Failed or Succeeded:
/// evicted, say) is not live: it never runs again, its controller has
/// replaced it, and the events say why it ended (seen on kind 1.35: a
/// Deployment's first pod evicted during its init container, its
/// replacement Ready, the evicted pod left in the list).
fn ready_set<'a>(
    pods: impl Iterator<Item = &'a Pod>,
    count: usize,
    exclude: &[String],
) -> Option<Vec<Pod>> {
    let live: Vec<&Pod> = pods
        .filter(|p| !exclude.contains(&p.name_any()))
        .filter(|p| !ended(p))
        .collect();
    let ready: Vec<Pod> = live
        .iter()
        .filter(|p| is_ready(p))
        .map(|p| (*p).clone())
        .collect();
    let settled = live.iter().all(|p| p.metadata.deletion_timestamp.is_none());
    (ready.len() == count && live.len() == count && settled).then_some(ready)
}

/// Whether the pod has ended for good (phase Failed or Succeeded).
fn ended(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed" | "Succeeded")
    )
}

/// Wait until any pod of the workload is Ready (watch-based); returns its
/// name. For a step that needs one Ready pod right after a wait saw it
/// Ready: a pod's Ready condition can flap just after its container starts
/// (seen on kind 1.37: Ready True at about 12:04:00, False at 12:04:01 with
/// "containers with unready status", True again at 12:04:02), so one list
/// taken in between must not fail the cell.
///
/// # Errors
/// As [`watch_pods`]: a timeout names every pod's last state.
pub(crate) async fn wait_any_ready(
    client: &Client,
    namespace: &str,
    w: &Workload,
    timeout: Duration,
) -> Result<String> {
    let what = format!("a ready {} pod in {namespace}", w.name);
    watch_pods(client, namespace, w, &what, timeout, |pods| {
        pods.values()
            .filter(|p| is_ready(p))
            .min_by_key(|p| p.metadata.creation_timestamp.clone())
            .map(|p| p.name_any())
    })
    .await
}

/// Whether the scheduler has said it cannot place the pod (PodScheduled=False).
pub(crate) fn unschedulable(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
}

/// Whether the pod was created more than `age` ago and a container is still
/// waiting in ContainerCreating (typically a volume that will not attach or mount).
pub(crate) fn creating_longer_than(pod: &Pod, age: Duration) -> bool {
    let creating = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("ContainerCreating")
            })
        });
    let old_enough = pod.metadata.creation_timestamp.as_ref().is_some_and(|t| {
        let secs = k8s_openapi::jiff::Timestamp::now().as_second() - t.0.as_second();
        secs > i64::try_from(age.as_secs()).unwrap_or(i64::MAX)
    });
    creating && old_enough
}

/// When the pod's Ready condition last turned True, as the API server
/// recorded it (`lastTransitionTime`: RFC 3339 to the second).
pub(crate) fn ready_since(pod: &Pod) -> Option<k8s_openapi::jiff::Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

/// The node a pod runs on.
pub(crate) fn node_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref()?.node_name.clone()
}

/// The container id (without the `containerd://` prefix) of `container` in `pod`.
pub(crate) fn container_id(pod: &Pod, container: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == container)?
        .container_id
        .as_deref()
        .map(|id| id.rsplit("://").next().unwrap_or(id).to_owned())
}

/// Restart count of `container` in `pod`.
pub(crate) fn restarts(pod: &Pod, container: &str) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .map_or(0, |c| c.restart_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }}
            ]}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// An evicted pod beside its Ready replacement: the workload is Ready
    /// (the evicted pod never runs again); a pod still starting is not.
    #[test]
    fn an_ended_pod_does_not_hold_back_the_ready_one_that_replaced_it() {
        let evicted = pod("p-evicted", "Failed", false);
        let replacement = pod("p-new", "Running", true);
        let got = ready_set([&evicted, &replacement].into_iter(), 1, &[]);
        assert_eq!(
            got.map(|v| v.iter().map(|p| p.name_any()).collect::<Vec<_>>()),
            Some(vec!["p-new".to_owned()])
        );
        let starting = pod("p-2", "Pending", false);
        assert_eq!(
            ready_set([&replacement, &starting].into_iter(), 1, &[]),
            None
        );
        assert_eq!(ready_set([&evicted].into_iter(), 1, &[]), None);
    }

    /// Found by wal-tail-torn on a real cluster: waiting for "no pod left"
    /// returned at the watch's first event, before the listing of the pods
    /// still there. The set is only known once the listing is done.
    #[test]
    fn a_watch_knows_the_pods_only_once_its_listing_is_done() {
        let pod = |name: &str| -> Pod {
            serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))
                .unwrap_or_default()
        };
        let mut set = PodSet::default();
        set.apply(watcher::Event::Init);
        assert!(set.known().is_none(), "nothing is known before the listing");
        set.apply(watcher::Event::InitApply(pod("prometheus-0")));
        assert!(set.known().is_none());
        set.apply(watcher::Event::InitDone);
        assert_eq!(set.known().map(BTreeMap::len), Some(1));
        set.apply(watcher::Event::Delete(pod("prometheus-0")));
        assert!(set.known().is_some_and(BTreeMap::is_empty));
        // A re-list keeps the known set until it completes.
        set.apply(watcher::Event::Apply(pod("prometheus-1")));
        set.apply(watcher::Event::Init);
        assert_eq!(set.known().map(BTreeMap::len), Some(1));
    }

    /// The app's id is what the manifests name its workload and label its
    /// pods with: the selector and the timeline's per-app view rely on it.
    #[test]
    fn each_workload_is_named_and_labelled_after_its_app() {
        for w in [PROMETHEUS, GRAFANA] {
            assert_eq!(w.app.id(), w.name);
            assert_eq!(w.selector(), format!("app.kubernetes.io/name={}", w.name));
        }
        // The operator names its StatefulSet after the resource and labels
        // the pods after the app.
        assert_eq!(
            OPERATOR_PROMETHEUS.name,
            crate::manifest::prometheus_resource::statefulset_name(manifest::PROMETHEUS)
        );
        assert_eq!(
            OPERATOR_PROMETHEUS.selector(),
            "app.kubernetes.io/name=prometheus"
        );
    }

    /// A pod as `kubectl get pod -o json` shows one crash-looping on the
    /// Prometheus lock after a rollout restart (shape from the Pod API).
    fn crashlooping_pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "prometheus-7d9c-abcde", "namespace": "e2e-x",
                          "creationTimestamp": "2026-11-22T01:00:00Z"},
            "spec": {"nodeName": "e2e-kind-worker", "containers": [{"name": "prometheus"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [{
                    "name": "prometheus", "ready": false, "restartCount": 4, "image": "i", "imageID": "",
                    "containerID": "containerd://0123abcd",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}}
                }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn readiness_uses_the_condition_not_the_phase() {
        let mut p = crashlooping_pod();
        assert!(!is_ready(&p));
        p.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "True".into();
        assert!(is_ready(&p));
    }

    #[test]
    fn pod_facts_are_read_from_status() {
        let p = crashlooping_pod();
        assert_eq!(container_id(&p, "prometheus").as_deref(), Some("0123abcd"));
        assert_eq!(restarts(&p, "prometheus"), 4);
        assert_eq!(node_of(&p).as_deref(), Some("e2e-kind-worker"));
        assert_eq!(
            describe(&[&p]),
            "prometheus-7d9c-abcde Running node=e2e-kind-worker ready=false restarts=4 CrashLoopBackOff"
        );
        assert_eq!(describe(&[]), "no pods");
    }

    /// An image that cannot be pulled for the init container shows as
    /// that, not as the main container's uninformative PodInitializing
    /// (seen on an existing cluster without the previous Prometheus image).
    #[test]
    fn an_init_containers_reason_comes_first() {
        let p: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "prometheus-x"},
            "spec": {"nodeName": "w2", "containers": [{"name": "prometheus"}]},
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [{"name": "seed", "ready": false, "restartCount": 0,
                    "image": "i", "imageID": "", "state": {"waiting": {"reason": "ImagePullBackOff"}}}],
                "containerStatuses": [{"name": "prometheus", "ready": false, "restartCount": 0,
                    "image": "i", "imageID": "", "state": {"waiting": {"reason": "PodInitializing"}}}]
            }
        }))
        .unwrap();
        assert_eq!(
            describe(&[&p]),
            "prometheus-x Pending node=w2 ready=false restarts=0 ImagePullBackOff,PodInitializing"
        );
    }
}

#[cfg(test)]
mod contract_tests {
    //! Contract tests of the watch-based waits against a stub API server
    //! (wiremock) speaking the list + watch protocol of the Kubernetes API
    //! reference (a PodList, then newline-delimited watch events). They
    //! prove the waits follow the watch and report what they saw last, not
    //! a cluster's behaviour.
    use super::*;
    use crate::stub_api::{client, list_and_watch};
    use serde_json::json;
    use wiremock::MockServer;

    const NS: &str = "e2e-cell";

    fn pod(ready: bool) -> serde_json::Value {
        json!({
            "metadata": {"name": "grafana-abc", "namespace": NS, "uid": "u1", "resourceVersion": "5"},
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "grafana"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                       "containerStatuses": [{"name": "grafana", "ready": ready, "restartCount": 0,
                                              "image": "i", "imageID": ""}]}
        })
    }

    async fn stub(watch_events: &[serde_json::Value]) -> (MockServer, Client) {
        let server = MockServer::start().await;
        let url_path = format!("/api/v1/namespaces/{NS}/pods");
        list_and_watch(
            &server,
            &url_path,
            "PodList",
            vec![pod(false)],
            watch_events,
        )
        .await;
        let client = client(&server);
        (server, client)
    }

    #[tokio::test]
    async fn contract_wait_ready_returns_when_the_watch_reports_the_pod_ready() {
        let (_server, client) = stub(&[json!({"type": "MODIFIED", "object": pod(true)})]).await;
        let ready = wait_ready(&client, NS, &GRAFANA, 1, &[], Duration::from_secs(10))
            .await
            .expect("the MODIFIED event makes it ready");
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].name_any(), "grafana-abc");
    }

    #[tokio::test]
    async fn contract_wait_any_ready_waits_through_a_listing_that_shows_none_ready() {
        let (_server, client) = stub(&[json!({"type": "MODIFIED", "object": pod(true)})]).await;
        let name = wait_any_ready(&client, NS, &GRAFANA, Duration::from_secs(10))
            .await
            .expect("the MODIFIED event makes it ready");
        assert_eq!(name, "grafana-abc");
        let (_server, client) = stub(&[]).await;
        let e = wait_any_ready(&client, NS, &GRAFANA, Duration::from_millis(800))
            .await
            .expect_err("never ready")
            .to_string();
        assert!(e.contains("a ready grafana pod in e2e-cell"), "{e}");
        assert!(
            e.contains("grafana-abc Running node=kind-worker ready=false"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn contract_wait_ready_times_out_saying_what_it_saw_last() {
        let (_server, client) = stub(&[]).await;
        let e = wait_ready(&client, NS, &GRAFANA, 1, &[], Duration::from_millis(800))
            .await
            .expect_err("never ready")
            .to_string();
        assert!(
            e.contains("waiting for 1 ready grafana pod(s) in e2e-cell"),
            "{e}"
        );
        assert!(
            e.contains("last seen: grafana-abc Running node=kind-worker ready=false restarts=0"),
            "{e}"
        );
    }
}
