//! Applying the disruptions of [`crate::vocab::Disruption`] to running pods and nodes.
//!
//! Over 600 lines because its tier-0 and stub-API contract tests sit
//! beside the code; the code itself is under 500.

use std::time::{Duration, Instant};

use crate::vocab::Disruption;

/// An upgrade to the image the pod already runs changes nothing: no pod is
/// replaced, and the cell would judge an undisturbed pod (an emptyDir would
/// read as surviving). Refuse it, naming the image and the fix.
///
/// # Errors
/// [`Error::Preflight`] when `to` is what `pod` runs.
fn check_upgrade(pod: &str, running: Option<&str>, to: &str) -> Result<()> {
    if running == Some(to) {
        return Err(Error::Preflight {
            what: format!(
                "image-upgrade would set {to}, which pod {pod} already runs, so nothing would be replaced"
            ),
            fix: "give the upgrade two different images (HARNESS_PROMETHEUS_PREVIOUS_IMAGE -> \
                  HARNESS_PROMETHEUS_IMAGE, and the Grafana pair)"
                .into(),
        });
    }
    Ok(())
}

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt as _};
use serde_json::json;

use crate::cluster::node;
use crate::cmd::Output;
use crate::error::{Error, Result};
use crate::workload::{self, Kind, Workload};

/// How long a stuck rollout is given to show itself (new pod not Ready
/// while the old one holds the volume) before the unblock step acts anyway.
pub const STUCK_ROLLOUT_OBSERVE: Duration = Duration::from_secs(90);

/// A new pod still creating its container after this long is taken as
/// blocked on its volume (Multi-Attach, a mount that does not come).
pub const STUCK_CREATING: Duration = Duration::from_secs(45);

/// Operations on cluster nodes a disruption needs; the cluster guard
/// implements them (`docker exec`/`docker stop` on node containers).
#[async_trait]
pub trait NodeOps: Send + Sync {
    /// Run `argv` on the node (in the node container).
    async fn node_exec(&self, node: &str, argv: &[&str]) -> Result<Output>;
    /// Stop the node.
    async fn stop_node(&self, node: &str) -> Result<()>;
    /// Start a stopped node.
    async fn start_node(&self, node: &str) -> Result<()>;
}

/// The cluster's node operations (`docker exec`/`stop`/`start` on the node containers).
#[async_trait]
impl NodeOps for crate::cluster::ClusterInfo {
    async fn node_exec(&self, node: &str, argv: &[&str]) -> Result<Output> {
        crate::cluster::ClusterInfo::node_exec(self, node, argv).await
    }

    async fn stop_node(&self, node: &str) -> Result<()> {
        crate::cluster::ClusterInfo::stop_node(self, node).await
    }

    async fn start_node(&self, node: &str) -> Result<()> {
        crate::cluster::ClusterInfo::start_node(self, node).await
    }
}

/// Something that can be restarted in place (the NFS server).
#[async_trait]
pub trait Restartable: Send + Sync {
    /// Restart and wait until it serves again.
    async fn restart(&self) -> Result<()>;
}

/// What a disruption is applied to.
pub struct Target<'a> {
    /// API client.
    pub client: Client,
    /// The cell's namespace.
    pub namespace: &'a str,
    /// The workload disrupted.
    pub workload: Workload,
    /// How it is run.
    pub kind: Kind,
    /// Node operations (None on providers whose nodes the harness does not own).
    pub nodes: Option<&'a dyn NodeOps>,
    /// The NFS server, for nfs-restart.
    pub nfs: Option<&'a dyn Restartable>,
    /// The image to upgrade to, for image-upgrade.
    pub upgrade_image: Option<&'a str>,
}

/// What was done, for the wait that follows and for the report.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The disruption.
    pub disruption: Disruption,
    /// When it was applied: recovery time counts from here.
    pub at: Instant,
    /// The pod that was running before (and may be gone now).
    pub old_pod: String,
    /// Its uid: a StatefulSet's replacement pod has the same name.
    pub old_uid: String,
    /// The uids of all the workload's pods before (a rollout replaces them all).
    pub old_uids: Vec<String>,
    /// Whether the disruption acted on this workload; `false` for a
    /// bystander (e.g. Grafana on another node during node-stop).
    pub affected: bool,
    /// The node it ran on.
    pub node: Option<String>,
    /// The main container's restart count before.
    pub restarts_before: i32,
    /// What the harness did, step by step, for the report.
    pub steps: Vec<String>,
    /// Nodes cordoned or stopped, to put back by [`restore`].
    cordoned: Option<String>,
    stopped: Option<String>,
}

impl Applied {
    /// Whether the disruption replaces the pod (as opposed to restarting a
    /// container in it, or leaving it alone).
    pub fn replaces_pod(&self) -> bool {
        !matches!(
            self.disruption,
            Disruption::ContainerKill | Disruption::NfsRestart
        )
    }
}

/// Record the state of a workload a node-level disruption may hit in
/// passing (`affected` says whether its pod is on `node`), without acting.
///
/// # Errors
/// As [`apply`] when the workload has no pod.
pub async fn bystander(
    d: Disruption,
    t: &Target<'_>,
    node: Option<&str>,
    at: Instant,
) -> Result<Applied> {
    let pods = workload::pods(&t.client, t.namespace, &t.workload).await?;
    let pod = pods.first().ok_or_else(|| Error::Cannot {
        action: format!("apply {d} near {}", t.workload.name),
        why: format!("no {} pod in {}", t.workload.name, t.namespace),
    })?;
    let on = workload::node_of(pod);
    Ok(Applied {
        disruption: d,
        at,
        old_pod: pod.name_any(),
        old_uid: pod.metadata.uid.clone().unwrap_or_default(),
        old_uids: pods.iter().filter_map(|p| p.metadata.uid.clone()).collect(),
        affected: d == Disruption::NfsRestart
            || (d == Disruption::NodeStop && on.is_some() && on.as_deref() == node),
        node: on,
        restarts_before: workload::restarts(pod, t.workload.container),
        steps: Vec::new(),
        cordoned: None,
        stopped: None,
    })
}

/// Apply `d` to the target's (first, oldest) running pod.
///
/// # Errors
/// [`Error::Cannot`] when there is no pod to apply it to,
/// [`Error::NotSupported`] when node operations or an NFS server are not
/// available here, else the Kubernetes or command error.
pub async fn apply(d: Disruption, t: &Target<'_>) -> Result<Applied> {
    let pods = workload::pods(&t.client, t.namespace, &t.workload).await?;
    let pod = pods
        .iter()
        .find(|p| workload::is_ready(p))
        .or(pods.first())
        .ok_or_else(|| Error::Cannot {
            action: format!("apply {d} to {}", t.workload.name),
            why: format!("no {} pod in {}", t.workload.name, t.namespace),
        })?;
    let mut a = Applied {
        disruption: d,
        at: Instant::now(),
        old_pod: pod.name_any(),
        old_uid: pod.metadata.uid.clone().unwrap_or_default(),
        old_uids: pods.iter().filter_map(|p| p.metadata.uid.clone()).collect(),
        affected: true,
        node: workload::node_of(pod),
        restarts_before: workload::restarts(pod, t.workload.container),
        steps: Vec::new(),
        cordoned: None,
        stopped: None,
    };
    let pods_api: Api<Pod> = Api::namespaced(t.client.clone(), t.namespace);
    match d {
        Disruption::ContainerKill => {
            let nodes = need_nodes(d, t)?;
            let node = a.node.clone().unwrap_or_default();
            let id =
                workload::container_id(pod, t.workload.container).ok_or_else(|| Error::Cannot {
                    action: format!("apply {d} to pod {}", a.old_pod),
                    why: "the container has no id yet".into(),
                })?;
            // SIGKILL the container's main process from the node: the pod
            // stays, the kubelet restarts the container, and Prometheus sees
            // its own lock file left behind (clean_start 0).
            let script = format!(
                "kill -KILL \"$(crictl inspect --output go-template --template '{{{{.info.pid}}}}' {id})\""
            );
            a.at = Instant::now();
            let out = nodes.node_exec(&node, &["sh", "-c", &script]).await?;
            if !out.success() {
                return Err(Error::Command {
                    command: format!("[node {node}] sh -c {script:?}"),
                    status: format!("exit {:?}", out.code),
                    stderr: out.stderr,
                });
            }
            a.steps
                .push(format!("SIGKILL main process of container {id} on {node}"));
        }
        Disruption::PodDelete | Disruption::PodForceDelete => {
            let dp = if d == Disruption::PodForceDelete {
                DeleteParams {
                    grace_period_seconds: Some(0),
                    ..DeleteParams::background()
                }
            } else {
                DeleteParams::default()
            };
            a.at = Instant::now();
            delete_pod(&pods_api, &a.old_pod, &dp).await?;
            a.steps.push(format!(
                "deleted pod {} ({})",
                a.old_pod,
                if d == Disruption::PodForceDelete {
                    "grace 0"
                } else {
                    "graceful"
                }
            ));
        }
        Disruption::RolloutRestart => {
            a.at = Instant::now();
            restart_rollout(t, None).await?;
            a.steps
                .push("patched kubectl.kubernetes.io/restartedAt (RollingUpdate)".into());
        }
        Disruption::RolloutRecreate => {
            a.at = Instant::now();
            restart_rollout(t, Some(json!({"type": "Recreate", "rollingUpdate": null}))).await?;
            a.steps
                .push("set strategy Recreate and patched restartedAt".into());
        }
        Disruption::StuckRolloutUnblock => {
            a.at = Instant::now();
            restart_rollout(t, None).await?;
            a.steps.push("patched restartedAt (RollingUpdate)".into());
            let old = a.old_pod.clone();
            // Observe the stuck state the seed article describes (a new pod
            // that cannot become Ready while the old one holds the volume),
            // then apply its workaround: delete the old pod. A workload
            // whose rollout finishes instead (Grafana has no lock) has
            // nothing to unblock.
            let seen = workload::watch_pods(
                &t.client,
                t.namespace,
                &t.workload,
                "a stuck rollout (a new pod not Ready while the old one runs) or a finished one",
                STUCK_ROLLOUT_OBSERVE,
                |pods| stuck_or_done(pods, &old, t.workload.container),
            )
            .await;
            match seen {
                Ok(RolloutState::Finished) => {
                    a.steps.push(format!(
                        "{}: rollout finished by itself; nothing to unblock",
                        t.workload.name
                    ));
                }
                Ok(RolloutState::Stuck(state)) => {
                    a.steps
                        .push(format!("rollout stuck as documented: {state}"));
                    delete_pod(&pods_api, &old, &DeleteParams::default()).await?;
                    a.steps.push(format!(
                        "deleted old pod {old} (the seed article's workaround)"
                    ));
                }
                Err(e) => {
                    a.steps
                        .push(format!("rollout neither stuck nor finished: {e}"));
                    delete_pod(&pods_api, &old, &DeleteParams::default()).await?;
                    a.steps.push(format!(
                        "deleted old pod {old} (the seed article's workaround)"
                    ));
                }
            }
        }
        Disruption::RescheduleOtherNode => {
            let node = a.node.clone().ok_or_else(|| unscheduled(d, &a.old_pod))?;
            node::set_unschedulable(&t.client, &node, true).await?;
            a.cordoned = Some(node.clone());
            a.at = Instant::now();
            if let Err(e) = delete_pod(&pods_api, &a.old_pod, &DeleteParams::default()).await {
                // Never leave the node cordoned behind a failed step.
                let _ = node::set_unschedulable(&t.client, &node, false).await;
                return Err(e);
            }
            a.steps
                .push(format!("cordoned {node} and deleted pod {}", a.old_pod));
        }
        Disruption::NodeStop => {
            let nodes = need_nodes(d, t)?;
            let node = a.node.clone().ok_or_else(|| unscheduled(d, &a.old_pod))?;
            a.at = Instant::now();
            nodes.stop_node(&node).await?;
            a.stopped = Some(node.clone());
            a.steps.push(format!("stopped node {node}"));
        }
        Disruption::NfsRestart => {
            let nfs = t.nfs.ok_or_else(|| Error::NotSupported {
                what: d.to_string(),
                why: "this variant has no NFS server".into(),
            })?;
            a.at = Instant::now();
            nfs.restart().await?;
            a.steps.push("restarted the NFS server container".into());
        }
        Disruption::ImageUpgrade => {
            let image = t.upgrade_image.ok_or_else(|| Error::Cannot {
                action: format!("apply {d}"),
                why: "no upgrade image given".into(),
            })?;
            let running = pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.iter().find(|c| c.name == t.workload.container))
                .and_then(|c| c.image.as_deref());
            check_upgrade(&a.old_pod, running, image)?;
            a.at = Instant::now();
            // Upgrade as the docs advise for a single-writer volume: a
            // Deployment switches to Recreate in the same patch, so the old
            // Prometheus releases its lock first (a StatefulSet replaces pods
            // one at a time anyway).
            let mut patch = json!({"spec": {"template": {"spec": {"containers": [
                {"name": t.workload.container, "image": image}
            ]}}}});
            if t.kind == Kind::Deployment {
                patch["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": null});
            }
            patch_workload(t, &patch, Patch::Strategic(patch.clone())).await?;
            a.steps.push(format!(
                "set image {image}{}",
                if t.kind == Kind::Deployment {
                    " with strategy Recreate"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(a)
}

/// Undo what a disruption left changed on shared state (uncordon, start a
/// stopped node). Always call it, also when the cell failed.
///
/// # Errors
/// The Kubernetes or node error; the caller reports it.
pub async fn restore(a: &Applied, t: &Target<'_>) -> Result<()> {
    if let Some(node) = &a.cordoned {
        node::set_unschedulable(&t.client, node, false).await?;
    }
    if let (Some(node), Some(nodes)) = (&a.stopped, t.nodes) {
        nodes.start_node(node).await?;
    }
    Ok(())
}

fn need_nodes<'a>(d: Disruption, t: &Target<'a>) -> Result<&'a dyn NodeOps> {
    t.nodes.ok_or_else(|| Error::NotSupported {
        what: d.to_string(),
        why: "node operations need a cluster the harness owns (kind or k3d)".into(),
    })
}

fn unscheduled(d: Disruption, pod: &str) -> Error {
    Error::Cannot {
        action: format!("apply {d}"),
        why: format!("pod {pod} is not scheduled on a node"),
    }
}

async fn delete_pod(api: &Api<Pod>, name: &str, dp: &DeleteParams) -> Result<()> {
    api.delete(name, dp)
        .await
        .map(|_| ())
        .map_err(|e| Error::kube(format!("delete pod {name}"), e))
}

/// `kubectl rollout restart`: stamp the pod template with
/// `kubectl.kubernetes.io/restartedAt` (as kubernetes/kubectl
/// pkg/polymorphichelpers/objectrestarter.go does), optionally changing the
/// Deployment strategy in the same patch.
async fn restart_rollout(t: &Target<'_>, strategy: Option<serde_json::Value>) -> Result<()> {
    let now = k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map_err(|e| Error::parse("the current time", e.to_string()))?;
    let mut patch = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now.to_string()
    }}}}});
    if let Some(s) = strategy {
        patch["spec"]["strategy"] = s;
    }
    patch_workload(t, &patch, Patch::Merge(patch.clone())).await
}

async fn patch_workload(
    t: &Target<'_>,
    shown: &serde_json::Value,
    patch: Patch<serde_json::Value>,
) -> Result<()> {
    let pp = PatchParams::default();
    let action = || {
        format!(
            "patch {} {}/{} with {shown}",
            match t.kind {
                Kind::Deployment => "deployment",
                Kind::StatefulSet => "statefulset",
            },
            t.namespace,
            t.workload.name
        )
    };
    match t.kind {
        Kind::Deployment => Api::<Deployment>::namespaced(t.client.clone(), t.namespace)
            .patch(t.workload.name, &pp, &patch)
            .await
            .map(|_| ()),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(t.client.clone(), t.namespace)
            .patch(t.workload.name, &pp, &patch)
            .await
            .map(|_| ()),
    }
    .map_err(|e| Error::kube(action(), e))
}

/// What a rollout looks like while the unblock step watches it.
enum RolloutState {
    /// A new pod is failing or pending while `old` still runs.
    Stuck(String),
    /// `old` is gone and every pod is Ready.
    Finished,
}

fn stuck_or_done(
    pods: &std::collections::BTreeMap<String, Pod>,
    old: &str,
    container: &str,
) -> Option<RolloutState> {
    let old_present = pods.contains_key(old);
    let others: Vec<&Pod> = pods.values().filter(|p| p.name_any() != old).collect();
    if !old_present && !others.is_empty() && others.iter().all(|p| workload::is_ready(p)) {
        return Some(RolloutState::Finished);
    }
    let stuck = old_present
        && others.iter().any(|p| {
            let crash_looping = !workload::is_ready(p) && workload::restarts(p, container) > 0;
            crash_looping
                || workload::unschedulable(p)
                || workload::creating_longer_than(p, STUCK_CREATING)
        });
    stuck.then(|| RolloutState::Stuck(workload::describe(&pods.values().collect::<Vec<_>>())))
}

/// Building [`Applied`] values for other modules' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// What [`apply`] would record for `d` on `pod`, before acting.
    pub(crate) fn applied(d: Disruption, pod: &Pod) -> Applied {
        Applied {
            disruption: d,
            at: Instant::now(),
            old_pod: pod.name_any(),
            old_uid: pod.metadata.uid.clone().unwrap_or_default(),
            old_uids: pod.metadata.uid.iter().cloned().collect(),
            affected: true,
            node: workload::node_of(pod),
            restarts_before: workload::restarts(pod, "prometheus"),
            steps: Vec::new(),
            cordoned: None,
            stopped: None,
        }
    }
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;

    #[test]
    fn an_upgrade_to_the_running_image_is_refused_with_the_fix() {
        assert!(check_upgrade("p", Some("prom:2.42"), "prom:2.53").is_ok());
        assert!(check_upgrade("p", None, "prom:2.53").is_ok());
        let err = check_upgrade("prometheus-x", Some("prom:2.42"), "prom:2.42").unwrap_err();
        assert_eq!(
            err.to_string(),
            "image-upgrade would set prom:2.42, which pod prometheus-x already runs, so nothing \
             would be replaced; fix: give the upgrade two different images \
             (HARNESS_PROMETHEUS_PREVIOUS_IMAGE -> HARNESS_PROMETHEUS_IMAGE, and the Grafana pair)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str, ready: bool, restarts: i32, scheduled: bool) -> (String, Pod) {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": "2026-11-22T01:00:00Z"},
            "status": {
                "phase": phase,
                "conditions": [
                    {"type": "Ready", "status": if ready { "True" } else { "False" }},
                    {"type": "PodScheduled", "status": if scheduled { "True" } else { "False" },
                     "reason": if scheduled { "" } else { "Unschedulable" }}
                ],
                "containerStatuses": [{"name": "prometheus", "ready": ready, "restartCount": restarts,
                                       "image": "i", "imageID": ""}]
            }
        }))
        .unwrap();
        (name.to_owned(), p)
    }

    fn state(pods: Vec<(String, Pod)>) -> Option<&'static str> {
        let map = pods.into_iter().collect();
        stuck_or_done(&map, "old", "prometheus").map(|s| match s {
            RolloutState::Stuck(_) => "stuck",
            RolloutState::Finished => "finished",
        })
    }

    /// The seed article's deadlock: the new pod crash-loops on the lock
    /// while the old one keeps running.
    #[test]
    fn a_crash_looping_new_pod_beside_the_old_one_is_stuck() {
        let old = pod("old", "Running", true, 0, true);
        assert_eq!(
            state(vec![old.clone(), pod("new", "Running", false, 3, true)]),
            Some("stuck")
        );
        assert_eq!(
            state(vec![old.clone(), pod("new", "Pending", false, 0, false)]),
            Some("stuck")
        );
        // Still starting: not stuck yet.
        assert_eq!(
            state(vec![old, pod("new", "Running", false, 0, true)]),
            None
        );
    }

    #[test]
    fn a_rollout_that_replaced_the_old_pod_is_finished() {
        assert_eq!(
            state(vec![pod("new", "Running", true, 0, true)]),
            Some("finished")
        );
    }
}

#[cfg(test)]
mod contract_tests {
    //! Contract tests: the API requests each pod-level disruption sends,
    //! checked against a stub API server (wiremock) answering in the shapes
    //! of the Kubernetes API reference. They prove verbs, paths, patch types
    //! and bodies (restartedAt as kubectl's pkg/polymorphichelpers/objectrestarter.go
    //! sets it; grace period 0 and Recreate as the API reference defines them), not a
    //! cluster's behaviour.
    use super::*;
    use crate::workload::PROMETHEUS;
    use serde_json::{Value, json};
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    const NS: &str = "e2e-cell";

    async fn stub() -> MockServer {
        let server = MockServer::start().await;
        let pod = json!({
            "metadata": {"name": "prometheus-abc", "namespace": NS, "uid": "uid-1",
                          "creationTimestamp": "2026-11-22T01:00:00Z"},
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "prometheus"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "prometheus", "ready": true, "restartCount": 0,
                                              "image": "i", "imageID": "", "containerID": "containerd://c1"}]}
        });
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/namespaces/{NS}/pods")))
            .and(query_param(
                "labelSelector",
                "app.kubernetes.io/name=prometheus",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [pod.clone()]
            })))
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(200).set_body_json(pod))
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "kind": "Deployment", "apiVersion": "apps/v1",
                "metadata": {"name": "prometheus", "namespace": NS}
            })))
            .mount(&server)
            .await;
        server
    }

    /// Prometheus as a Deployment in [`NS`], without node operations or NFS.
    fn target<'a>(server: &MockServer, upgrade_image: Option<&'a str>) -> Target<'a> {
        Target {
            client: crate::stub_api::client(server),
            namespace: NS,
            workload: PROMETHEUS,
            kind: Kind::Deployment,
            nodes: None,
            nfs: None,
            upgrade_image,
        }
    }

    async fn sent_by(d: Disruption) -> (Applied, Vec<Request>) {
        let server = stub().await;
        let t = target(&server, Some("prom/prometheus:v3.7.3"));
        let a = apply(d, &t).await.expect("the disruption is sent");
        let sent = server.received_requests().await.expect("recorded");
        // The first request lists the pods; the rest is the disruption.
        (
            a,
            sent.into_iter()
                .filter(|r| r.method.as_str() != "GET")
                .collect(),
        )
    }

    fn body(r: &Request) -> Value {
        serde_json::from_slice(&r.body).expect("JSON body")
    }

    fn content_type(r: &Request) -> String {
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn contract_pod_delete_is_graceful_and_force_delete_has_grace_zero() {
        let (a, sent) = sent_by(Disruption::PodDelete).await;
        assert_eq!(a.old_pod, "prometheus-abc");
        assert_eq!(a.old_uid, "uid-1");
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].url.path(),
            format!("/api/v1/namespaces/{NS}/pods/prometheus-abc")
        );
        assert_eq!(body(&sent[0]).get("gracePeriodSeconds"), None);

        let (_, sent) = sent_by(Disruption::PodForceDelete).await;
        assert_eq!(sent[0].method.as_str(), "DELETE");
        assert_eq!(body(&sent[0])["gracePeriodSeconds"], json!(0));
    }

    #[tokio::test]
    async fn contract_rollout_restart_stamps_restarted_at_like_kubectl() {
        let (_, sent) = sent_by(Disruption::RolloutRestart).await;
        assert_eq!(sent.len(), 1);
        let r = &sent[0];
        assert_eq!(
            r.url.path(),
            format!("/apis/apps/v1/namespaces/{NS}/deployments/prometheus")
        );
        assert_eq!(content_type(r), "application/merge-patch+json");
        let stamp = body(r)["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            stamp.parse::<k8s_openapi::jiff::Timestamp>().is_ok(),
            "RFC 3339: {stamp:?}"
        );
        assert_eq!(
            body(r)["spec"].get("strategy"),
            None,
            "RollingUpdate is left as deployed"
        );
    }

    #[tokio::test]
    async fn contract_rollout_recreate_switches_strategy_in_the_same_patch() {
        let (_, sent) = sent_by(Disruption::RolloutRecreate).await;
        let b = body(&sent[0]);
        assert_eq!(
            b["spec"]["strategy"],
            json!({"type": "Recreate", "rollingUpdate": null})
        );
        assert!(
            b["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
                .is_string()
        );
    }

    #[tokio::test]
    async fn contract_image_upgrade_patches_the_container_by_name_with_recreate() {
        let (_, sent) = sent_by(Disruption::ImageUpgrade).await;
        let r = &sent[0];
        assert_eq!(content_type(r), "application/strategic-merge-patch+json");
        let b = body(r);
        assert_eq!(
            b["spec"]["template"]["spec"]["containers"],
            json!([{"name": "prometheus", "image": "prom/prometheus:v3.7.3"}])
        );
        assert_eq!(b["spec"]["strategy"]["type"], json!("Recreate"));
    }

    #[tokio::test]
    async fn contract_node_disruptions_refuse_without_node_operations() {
        let server = stub().await;
        let t = target(&server, None);
        for d in [Disruption::ContainerKill, Disruption::NodeStop] {
            let e = apply(d, &t)
                .await
                .expect_err("no node operations")
                .to_string();
            assert!(
                e.contains("node operations need a cluster the harness owns"),
                "{e}"
            );
        }
        let e = apply(Disruption::NfsRestart, &t)
            .await
            .expect_err("no NFS server")
            .to_string();
        assert!(e.contains("this variant has no NFS server"), "{e}");
    }
}
