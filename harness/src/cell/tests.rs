//! Tier-0 tests of the settle rules: recorded pod states and kube-scheduler
//! messages, and a stub API server for the stuck-rollout contract.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use super::settle::*;
use crate::disrupt::{self, Applied};
use crate::timeline;
use crate::vocab::{Disruption, Reason};
use crate::workload::{Kind, PROMETHEUS};

mod rules {
    //! The recovery rule, on pods in the shape `kubectl get pod -o json`
    //! prints (fields from the Pod API reference).
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, ready: bool, restarts: i32, terminating: bool) -> Pod {
        let mut meta = json!({"name": name, "uid": uid, "namespace": "e2e-x"});
        if terminating {
            meta["deletionTimestamp"] = json!("2026-11-22T01:00:00Z");
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "prometheus"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{"name": "prometheus", "ready": ready, "restartCount": restarts,
                                       "image": "i", "imageID": ""}]
            }
        }))
        .unwrap()
    }

    fn applied(d: Disruption, affected: bool) -> Applied {
        let pods = [pod("prometheus-a", "uid-a", true, 0, false)];
        let mut a = disrupt::tests_support::applied(d, &pods[0]);
        a.affected = affected;
        a
    }

    fn rule(d: Disruption, pods: &[Pod]) -> Option<String> {
        recovered_pod(pods.iter(), PROMETHEUS, 1, &applied(d, true))
    }

    #[test]
    fn a_deleted_pod_counts_as_recovered_only_once_replaced() {
        let old = pod("prometheus-a", "uid-a", true, 0, false);
        let old_going = pod("prometheus-a", "uid-a", true, 0, true);
        let new_starting = pod("prometheus-b", "uid-b", false, 0, false);
        let new_ready = pod("prometheus-b", "uid-b", true, 0, false);
        assert_eq!(
            rule(Disruption::PodDelete, std::slice::from_ref(&old)),
            None
        );
        assert_eq!(
            rule(Disruption::PodDelete, &[old_going.clone(), new_starting]),
            None
        );
        assert_eq!(
            rule(Disruption::PodDelete, &[old_going, new_ready.clone()]).as_deref(),
            Some("prometheus-b")
        );
        // A StatefulSet's replacement keeps the name: the uid tells them apart.
        let same_name = pod("prometheus-a", "uid-c", true, 0, false);
        assert_eq!(
            rule(Disruption::NodeStop, &[same_name]).as_deref(),
            Some("prometheus-a")
        );
        // A rollout that never replaced the old pod is not recovered.
        assert_eq!(rule(Disruption::RolloutRestart, &[old]), None);
        assert_eq!(
            rule(Disruption::RolloutRestart, &[new_ready]).as_deref(),
            Some("prometheus-b")
        );
    }

    #[test]
    fn after_the_unblock_workaround_any_pod_but_the_deleted_one_may_serve() {
        let recreated_by_old_rs = pod("prometheus-old-2", "uid-c", true, 0, false);
        let new_crash_looping = pod("prometheus-new", "uid-b", false, 4, false);
        let deleted = pod("prometheus-a", "uid-a", true, 0, true);
        assert_eq!(
            rule(
                Disruption::StuckRolloutUnblock,
                &[recreated_by_old_rs, new_crash_looping.clone()]
            )
            .as_deref(),
            Some("prometheus-old-2")
        );
        assert_eq!(
            rule(
                Disruption::StuckRolloutUnblock,
                &[deleted, new_crash_looping]
            ),
            None
        );
    }

    #[test]
    fn a_killed_container_counts_once_it_restarted_and_is_ready() {
        let before = pod("prometheus-a", "uid-a", true, 0, false);
        let restarting = pod("prometheus-a", "uid-a", false, 1, false);
        let back = pod("prometheus-a", "uid-a", true, 1, false);
        assert_eq!(rule(Disruption::ContainerKill, &[before]), None);
        assert_eq!(rule(Disruption::ContainerKill, &[restarting]), None);
        assert_eq!(
            rule(Disruption::ContainerKill, &[back]).as_deref(),
            Some("prometheus-a")
        );
    }

    #[test]
    fn a_bystander_only_needs_to_stay_ready() {
        let same = pod("prometheus-a", "uid-a", true, 0, false);
        let a = applied(Disruption::NodeStop, false);
        assert_eq!(
            recovered_pod([same].iter(), PROMETHEUS, 1, &a).as_deref(),
            Some("prometheus-a")
        );
    }

    #[test]
    fn settled_states_read_well_in_progress_lines() {
        let s = Settled::Stuck {
            serving: Some("prometheus-a".into()),
        };
        assert_eq!(
            s.to_string(),
            "rollout stuck (ProgressDeadlineExceeded), serving: prometheus-a"
        );
        assert_eq!(s.serving_pod(), Some("prometheus-a"));
        let n = Settled::NotRecovered {
            serving: None,
            last_seen: "timed out".into(),
        };
        assert_eq!(n.serving_pod(), None);
        let h = Settled::HeldByNode {
            reason: Reason::NodeAffinityConflict,
            node: "w1".into(),
            after: Duration::from_millis(12_340),
        };
        assert_eq!(
            h.to_string(),
            "cannot come back while w1 is away (node-affinity-conflict), seen after 12.3s"
        );
        assert_eq!(h.serving_pod(), None);
    }

    fn event_at(at_ms: u64, object: &str, reason: &str, message: &str) -> timeline::Entry {
        timeline::Entry {
            at_ms,
            record: timeline::Record::Event(timeline::EventRecord {
                name: format!("{object}.{at_ms}"),
                object_kind: "Pod".into(),
                object_name: object.into(),
                type_: "Warning".into(),
                reason: reason.into(),
                message: message.into(),
                count: 1,
                source: "default-scheduler".into(),
            }),
        }
    }

    fn pod_at(at_ms: u64, name: &str, node: &str, terminating: bool) -> timeline::Entry {
        timeline::Entry {
            at_ms,
            record: timeline::Record::Pod(timeline::PodRecord {
                name: name.into(),
                uid: String::new(),
                node: Some(node.into()),
                phase: "Running".into(),
                ready: false,
                terminating,
                deleted: false,
                unschedulable: None,
                containers: Vec::new(),
            }),
        }
    }

    /// Scheduler messages as kube-scheduler 1.35 words them.
    const LOCAL_PATH_REFUSED: &str = "0/3 nodes are available: 1 node(s) had untolerated taint(s), \
        1 node(s) had volume node affinity conflict, 1 node(s) were unschedulable. preemption: 0/3 \
        nodes are available: 3 Preemption is not helpful for scheduling.";
    const SELECTOR_REFUSED: &str = "0/3 nodes are available: 1 node(s) didn't match Pod's node \
        affinity/selector, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable.";
    const NO_ROOM: &str = "0/3 nodes are available: 3 Insufficient memory.";

    #[test]
    fn a_replacement_bound_to_the_missing_node_is_held_once_the_scheduler_says_so() {
        let held = |entries: Vec<timeline::Entry>, kind| {
            let t = timeline::Timeline { entries };
            held_by_node(
                &t,
                1_000,
                "prometheus-a",
                "w1",
                kind,
                Disruption::RescheduleOtherNode,
            )
        };
        let refused = |msg| vec![event_at(2_000, "prometheus-b", "FailedScheduling", msg)];
        assert_eq!(
            held(refused(LOCAL_PATH_REFUSED), Kind::Deployment),
            Some(Reason::NodeAffinityConflict)
        );
        assert_eq!(
            held(refused(SELECTOR_REFUSED), Kind::Deployment),
            Some(Reason::Unschedulable)
        );
        // Not bound to the node: room may come, so the settle wait decides.
        assert_eq!(held(refused(NO_ROOM), Kind::Deployment), None);
        // Seen before the disruption: the first deploy's, not the replacement's.
        let early = vec![event_at(
            500,
            "prometheus-b",
            "FailedScheduling",
            LOCAL_PATH_REFUSED,
        )];
        assert_eq!(held(early, Kind::Deployment), None);
    }

    /// kube-scheduler 1.35's refusal while the old pod still holds the claim
    /// (recorded by rwop/reschedule-other-node on kind 1.35).
    const RWOP_REFUSED: &str = "0/3 nodes are available: 1 node(s) had untolerated taint(s), 1 \
        node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already \
        in-use by another pod, 1 node(s) were unschedulable.";

    #[test]
    fn a_readwriteoncepod_refusal_is_final_only_while_the_old_pod_is_stranded() {
        let t = |entries| timeline::Timeline { entries };
        let rwop = event_at(2_000, "prometheus-b", "FailedScheduling", RWOP_REFUSED);
        let affinity = event_at(
            3_000,
            "prometheus-b",
            "FailedScheduling",
            LOCAL_PATH_REFUSED,
        );
        let held = |t: &timeline::Timeline, d| {
            held_by_node(t, 1_000, "prometheus-a", "w1", Kind::Deployment, d)
        };
        // Cordoned: the old pod leaves its working node, then the PV decides.
        let early = t(vec![rwop.clone()]);
        assert_eq!(held(&early, Disruption::RescheduleOtherNode), None);
        let later = t(vec![rwop.clone(), affinity]);
        assert_eq!(
            held(&later, Disruption::RescheduleOtherNode),
            Some(Reason::NodeAffinityConflict)
        );
        // Stopped: the old pod never leaves the API, so the claim stays taken.
        assert_eq!(
            held(&early, Disruption::NodeStop),
            Some(Reason::RwopRejected)
        );
    }

    /// The attach/detach controller's event as v1.35.8 and v1.36.4 word it
    /// (reconciler.go, kubernetes PR #138837).
    const MULTI_ATTACH_135: &str = "Multi-Attach error for volume \"pvc-0c1d\" Volume is already \
        used by pod(s) prometheus-a";
    const MULTI_ATTACH_136: &str = "Waiting for detach for volume \"pvc-0c1d\" Volume is already \
        used by pod(s) prometheus-a";

    /// After node-stop the old pod stays Terminating on the stopped node and
    /// keeps its attachable volume there: the replacement's wait for
    /// attach is final. With the out-of-service taint it is transient.
    #[test]
    fn a_multi_attach_wait_is_final_only_while_the_old_pod_is_stranded_on_the_stopped_node() {
        let t = |entries| timeline::Timeline { entries };
        let held = |t: &timeline::Timeline, d| {
            held_by_node(t, 1_000, "prometheus-a", "w1", Kind::Deployment, d)
        };
        for text in [MULTI_ATTACH_135, MULTI_ATTACH_136] {
            let wait = event_at(3_000, "prometheus-b", "FailedAttachVolume", text);
            let stranded = pod_at(2_000, "prometheus-a", "w1", true);
            let both = t(vec![stranded.clone(), wait.clone()]);
            assert_eq!(
                held(&both, Disruption::NodeStop),
                Some(Reason::MultiAttach),
                "{text}"
            );
            assert_eq!(held(&both, Disruption::NodeStopOutOfService), None);
            // The wait alone (the old pod finished elsewhere): not final.
            assert_eq!(held(&t(vec![wait]), Disruption::NodeStop), None);
        }
    }

    #[test]
    fn a_statefulset_pod_stranded_on_the_stopped_node_is_held() {
        let held = |entries, kind| {
            let t = timeline::Timeline { entries };
            held_by_node(&t, 1_000, "prometheus-0", "w1", kind, Disruption::NodeStop)
        };
        let not_ready = event_at(1_500, "prometheus-0", "NodeNotReady", "Node is not ready");
        let stranded = pod_at(2_000, "prometheus-0", "w1", true);
        let both = vec![not_ready.clone(), stranded.clone()];
        assert_eq!(
            held(both.clone(), Kind::StatefulSet),
            Some(Reason::NodeNotReady)
        );
        // A Deployment's pod is replaced instead: only the scheduler decides.
        assert_eq!(held(both, Kind::Deployment), None);
        // Terminating on a node that works finishes by itself.
        let elsewhere = vec![not_ready, pod_at(2_000, "prometheus-0", "w2", true)];
        assert_eq!(held(elsewhere, Kind::StatefulSet), None);
        assert_eq!(held(vec![stranded], Kind::StatefulSet), None);
    }
}

mod contract {
    //! Contract test of `settle` against a stub API server (wiremock)
    //! speaking list + watch for pods and Deployments, in the shapes of the
    //! Kubernetes API reference: the seed article's stuck rollout must come
    //! out as `Settled::Stuck` with the old pod still serving.
    use super::*;
    use crate::stub_api::{client, list_and_watch};
    use serde_json::json;
    use wiremock::MockServer;

    const NS: &str = "e2e-cell";

    fn pod(name: &str, uid: &str, ready: bool, restarts: i32) -> serde_json::Value {
        json!({
            "metadata": {"name": name, "namespace": NS, "uid": uid, "resourceVersion": "7",
                          "labels": {"app.kubernetes.io/name": "prometheus"}},
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "prometheus"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                       "containerStatuses": [{"name": "prometheus", "ready": ready, "restartCount": restarts,
                                              "image": "i", "imageID": "",
                                              "state": if ready { json!({"running": {}}) } else { json!({"waiting": {"reason": "CrashLoopBackOff"}}) }}]}
        })
    }

    #[tokio::test]
    async fn contract_a_stuck_rollout_settles_as_stuck_with_the_old_pod_serving() {
        let server = MockServer::start().await;
        let pods = vec![
            pod("prometheus-old", "uid-old", true, 0),
            pod("prometheus-new", "uid-new", false, 5),
        ];
        list_and_watch(
            &server,
            &format!("/api/v1/namespaces/{NS}/pods"),
            "PodList",
            pods,
            &[],
        )
        .await;
        let deployment = json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "prometheus", "namespace": NS, "resourceVersion": "8"},
            "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                        "message": "ReplicaSet \"prometheus-new\" has timed out progressing."}]}
        });
        list_and_watch(
            &server,
            &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
            "DeploymentList",
            vec![],
            &[json!({"type": "MODIFIED", "object": deployment})],
        )
        .await;
        let client = client(&server);
        let old: Pod =
            serde_json::from_value(pod("prometheus-old", "uid-old", true, 0)).expect("pod");
        let a = disrupt::tests_support::applied(Disruption::RolloutRestart, &old);

        let settled = tokio::time::timeout(
            Duration::from_secs(20),
            settle(&client, NS, PROMETHEUS, Kind::Deployment, 1, &a, None),
        )
        .await
        .expect("settle follows the watches");
        match settled {
            Settled::Stuck { serving } => assert_eq!(serving.as_deref(), Some("prometheus-old")),
            other => panic!("expected Stuck, got {other}"),
        }
    }
}

mod verdict_and_findings {
    //! The cell decides its verdict (verdict.rs) and classifies what the
    //! cluster did once per app (judge.rs `findings_by_app`).
    use std::time::Duration;

    use super::super::judge::findings_by_app;
    use crate::expect::{Observation, Observed};
    use crate::report::Status;
    use crate::timeline::{EventRecord, PodLog, Record, Timeline};
    use crate::vocab::{
        App, Cell, Disruption, Judgement, Part, PartKind, Provider, Reason, Variant, Verdict,
    };

    fn lost_everything() -> Judgement {
        Judgement {
            verdict: Verdict::Lost {
                parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
            },
            details: Vec::new(),
            recovery: Some(Duration::from_secs(3)),
        }
    }

    /// empty-dir/pod-delete loses everything, as the table says: passed;
    /// the same observation against the opposite (E2E_CONTROL) fails,
    /// naming the mismatch, and the expectation says why.
    #[test]
    fn the_cell_decides_its_verdict_and_the_control_turns_it() {
        let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
        let p = lost_everything();
        let obs = || Observation {
            prometheus: Observed::new(Some(&p), vec![], true),
            grafana: Observed::not_run("E2E_APPS=prometheus"),
        };
        let r = crate::cell::judged(cell, false, Some("1.35"), obs(), Some(&p), None, Ok(()));
        assert_eq!(r.status, Status::Passed);
        assert_eq!(r.recovery_seconds, Some(3.0));
        let r = crate::cell::judged(cell, true, Some("1.35"), obs(), Some(&p), None, Ok(()));
        let failure = r.status.failure().unwrap_or_default().to_owned();
        assert!(
            failure.contains("prometheus: expected survives"),
            "{failure}"
        );
        assert!(
            r.expected
                .note
                .as_deref()
                .is_some_and(|n| n.contains("E2E_CONTROL=opposite")),
            "{:?}",
            r.expected.note
        );
    }

    fn event(kind: &str, object: &str, reason: &str, message: &str) -> Record {
        Record::Event(EventRecord {
            name: format!("{object}.1"),
            object_kind: kind.into(),
            object_name: object.into(),
            type_: "Warning".into(),
            reason: reason.into(),
            message: message.into(),
            count: 1,
            source: "kubelet".into(),
        })
    }

    /// Each app is classified on its own objects and its own pods' logs:
    /// a Prometheus lock error in a Grafana pod's log is not Prometheus's,
    /// the same line in Prometheus's log is; an object of neither app
    /// (a StatefulSet's claim) is kept apart.
    #[test]
    fn findings_are_classified_once_per_app() {
        let lock = "level=error err=\"opening storage failed: lock DB directory: resource \
                    temporarily unavailable\"";
        let t = Timeline::from_records([
            event(
                "Pod",
                "grafana-7d9-x",
                "FailedMount",
                "MountVolume.SetUp failed",
            ),
            event(
                "PersistentVolumeClaim",
                "data-prometheus-0",
                "FailedMount",
                "MountVolume.SetUp failed",
            ),
        ]);
        let reasons = |logs: &[PodLog]| {
            findings_by_app(&t, logs)
                .into_iter()
                .map(|(app, f)| (app, f.iter().map(|f| f.reason).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
        };
        let in_grafana = [PodLog::current("grafana-7d9-x", "grafana", lock)];
        assert_eq!(
            reasons(&in_grafana),
            vec![
                (Some(App::Prometheus), vec![]),
                (Some(App::Grafana), vec![Reason::FailedMount]),
                (None, vec![Reason::FailedMount]),
            ]
        );
        let in_prometheus = [PodLog::current("prometheus-5c-y", "prometheus", lock)];
        assert_eq!(
            reasons(&in_prometheus)[0],
            (Some(App::Prometheus), vec![Reason::PrometheusLockHeld])
        );
    }
}
