//! Tier-0 tests of the disruptions: the pure rules, and contract tests of
//! the API requests each pod-level disruption sends.

mod upgrade {
    use super::super::rollout::check_upgrade;

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

mod rollout_state {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::super::rollout::{RolloutState, stuck_or_done};

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
        let map: BTreeMap<String, Pod> = pods.into_iter().collect();
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

mod contract {
    //! Contract tests: the API requests each pod-level disruption sends,
    //! checked against a stub API server (wiremock) answering in the shapes
    //! of the Kubernetes API reference. They prove verbs, paths, patch types
    //! and bodies (restartedAt as kubectl's pkg/polymorphichelpers/objectrestarter.go
    //! sets it; grace period 0 and Recreate as the API reference defines them), not a
    //! cluster's behaviour.
    use super::super::*;
    use crate::vocab::Disruption;
    use crate::workload::{Kind, PROMETHEUS};
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
            setup: crate::vocab::Setup::Plain,
            nodes: None,
            nfs: None,
            upgrade_image,
            wal_mark: None,
            prometheus: None,
            progress: None,
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
    async fn contract_rollout_other_node_adds_a_required_affinity_away_from_the_old_node() {
        let (a, sent) = sent_by(Disruption::RolloutOtherNode).await;
        assert_eq!(a.node.as_deref(), Some("kind-worker"));
        assert_eq!(sent.len(), 1);
        let r = &sent[0];
        assert_eq!(
            r.url.path(),
            format!("/apis/apps/v1/namespaces/{NS}/deployments/prometheus")
        );
        assert_eq!(content_type(r), "application/strategic-merge-patch+json");
        let b = body(r);
        assert_eq!(
            b["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["nodeSelectorTerms"],
            json!([{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["kind-worker"]}
            ]}])
        );
        assert_eq!(
            b["spec"].get("strategy"),
            None,
            "RollingUpdate is left as deployed"
        );
    }

    #[tokio::test]
    async fn contract_node_disruptions_refuse_without_node_operations() {
        let server = stub().await;
        let t = target(&server, None);
        for d in [
            Disruption::ContainerKill,
            Disruption::NodeStop,
            Disruption::NodeStopOutOfService,
        ] {
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
