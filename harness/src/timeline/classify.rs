//! Pure classifiers: recorded events, pod states, Deployment conditions and
//! log lines in, typed [`Reason`]s out. Every phrase matched is the exact
//! text Kubernetes emits; [`phrases`] names where each one comes from.

use super::{PodLog, Record, Timeline};
use crate::vocab::Reason;

/// The message fragments the classifiers look for, with their origin.
pub mod phrases {
    /// attach/detach controller, before kubernetes PR #138837
    /// (pkg/controller/volume/attachdetach/reconciler/reconciler.go).
    pub const MULTI_ATTACH_OLD: &str = "Multi-Attach error for volume";
    /// attach/detach controller, since kubernetes PR #138837 (2026, backported to 1.33+).
    pub const MULTI_ATTACH_NEW: &str = "Waiting for detach for volume";
    /// Scheduler VolumeBinding ErrReasonNodeConflict up to about 1.30
    /// (pkg/scheduler/framework/plugins/volumebinding/binder.go).
    pub const NODE_AFFINITY_OLD: &str = "volume node affinity conflict";
    /// Scheduler VolumeBinding ErrReasonNodeConflict in current releases.
    pub const NODE_AFFINITY_NEW: &str = "didn't match PersistentVolume's node affinity";
    /// Scheduler VolumeRestrictions ErrReasonReadWriteOncePodConflict as
    /// first released (kubernetes PR #102028, 1.22)
    /// (pkg/scheduler/framework/plugins/volumerestrictions/volume_restrictions.go).
    pub const RWOP_SCHEDULER_OLD: &str = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";
    /// The same reason as current releases word it (volume_restrictions.go
    /// line 60 at v1.35.8); seen on kind 1.35 by rwop/rollout-restart.
    pub const RWOP_SCHEDULER_NEW: &str = "unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already in-use by another pod";
    /// kubelet FailedMount for a second pod on the node
    /// (test/e2e/storage/testsuites/readwriteoncepod.go, kubernetes PR #102028).
    pub const RWOP_KUBELET: &str =
        "volume uses the ReadWriteOncePod access mode and is already in use by another pod";
    /// Scheduler NodeAffinity ErrReasonPod: a pod whose nodeSelector or
    /// node affinity names no node it may use
    /// (pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go).
    pub const NODE_SELECTOR_MISMATCH: &str = "didn't match Pod's node affinity/selector";
    /// kubelet BackOff event (pkg/kubelet/kuberuntime).
    pub const BACK_OFF: &str = "Back-off restarting failed container";
    /// Refusals in FailedMount / FailedAttachVolume messages: mount(8)
    /// output from NFS (`mount.nfs: access denied by server while
    /// mounting`, kubernetes#108963) and EACCES/EPERM from the kubelet.
    pub const PERMISSION: &[&str] = &[
        "access denied by server",
        "permission denied",
        "operation not permitted",
    ];
}

/// A function that reads one container log and names what went wrong in
/// it (the Prometheus and Grafana log classifiers of `probe` fit).
pub type LogClassifier<'a> = &'a dyn Fn(&str) -> Vec<Reason>;

/// One classified observation, with the object and the text it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The reason.
    pub reason: Reason,
    /// `Kind/name` of the object (for logs: `Pod/name`).
    pub object: String,
    /// The message or state it was read from.
    pub evidence: String,
    /// Milliseconds since the watch started (0 for log findings: a log
    /// line has no place on the timeline).
    pub at_ms: u64,
}

/// How the evidence of a finding read from a log starts.
const LOG_EVIDENCE: &str = "log: ";

impl Finding {
    /// Whether it was read from a pod's log rather than from the timeline
    /// (its `at_ms` then says nothing).
    pub fn is_from_log(&self) -> bool {
        self.evidence.starts_with(LOG_EVIDENCE)
    }
}

/// Classify one Kubernetes event by its reason and message. Normal events
/// (Scheduled, Pulled, Started, Killing...) and unknown ones give `None`.
pub fn classify_event(reason: &str, message: &str) -> Option<Reason> {
    let lower = message.to_ascii_lowercase();
    let refused = || phrases::PERMISSION.iter().any(|p| lower.contains(p));
    match reason {
        "FailedAttachVolume" => Some(
            if message.contains(phrases::MULTI_ATTACH_OLD)
                || message.contains(phrases::MULTI_ATTACH_NEW)
            {
                Reason::MultiAttach
            } else if refused() {
                Reason::VolumePermissionDenied
            } else {
                Reason::FailedMount
            },
        ),
        "FailedScheduling" => Some(
            if message.contains(phrases::RWOP_SCHEDULER_OLD)
                || message.contains(phrases::RWOP_SCHEDULER_NEW)
            {
                Reason::RwopRejected
            } else if message.contains(phrases::NODE_AFFINITY_OLD)
                || message.contains(phrases::NODE_AFFINITY_NEW)
            {
                Reason::NodeAffinityConflict
            } else {
                Reason::Unschedulable
            },
        ),
        "FailedMount" | "FailedMapVolume" => Some(if message.contains(phrases::RWOP_KUBELET) {
            Reason::RwopRejected
        } else if refused() {
            Reason::VolumePermissionDenied
        } else {
            Reason::FailedMount
        }),
        "BackOff" if message.contains(phrases::BACK_OFF) => Some(Reason::CrashLoop),
        "NodeNotReady" => Some(Reason::NodeNotReady),
        "Evicted" => Some(Reason::Evicted),
        "VolumeResizeFailed" if lower.contains("offline") => Some(Reason::ExpansionOffline),
        _ => None,
    }
}

/// Every finding in a timeline and the given logs.
///
/// `logs` are container logs (several per pod are fine:
/// current and previous containers); `log_classifier` reads each text.
/// Generic findings are dropped when a specific one explains them: a
/// FailedMount or Unschedulable when the same workload shows why the
/// volume or node was refused, a crash loop of a pod whose logs say why.
pub fn findings(
    timeline: &Timeline,
    logs: &[PodLog],
    log_classifier: LogClassifier<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for entry in &timeline.entries {
        let at_ms = entry.at_ms;
        match &entry.record {
            Record::Event(e) => {
                if let Some(reason) = classify_event(&e.reason, &e.message) {
                    out.push(Finding {
                        reason,
                        object: entry.record.object(),
                        evidence: format!("{}: {}", e.reason, e.message),
                        at_ms,
                    });
                }
            }
            Record::Pod(p) => {
                if let Some(msg) = &p.unschedulable
                    && let Some(reason) = classify_event("FailedScheduling", msg)
                {
                    out.push(Finding {
                        reason,
                        object: entry.record.object(),
                        evidence: format!("PodScheduled=False: {msg}"),
                        at_ms,
                    });
                }
                for c in &p.containers {
                    if c.waiting.as_deref() == Some("CrashLoopBackOff") {
                        out.push(Finding {
                            reason: Reason::CrashLoop,
                            object: entry.record.object(),
                            evidence: format!(
                                "container {} CrashLoopBackOff after {} restarts (last: {})",
                                c.name,
                                c.restarts,
                                c.last_terminated.as_deref().unwrap_or("-")
                            ),
                            at_ms,
                        });
                    }
                }
            }
            Record::Deployment(d) => {
                if d.deadline_exceeded() {
                    let msg = d
                        .conditions
                        .iter()
                        .find(|c| c.type_ == "Progressing")
                        .and_then(|c| c.message.clone())
                        .unwrap_or_default();
                    out.push(Finding {
                        reason: Reason::ProgressDeadlineExceeded,
                        object: entry.record.object(),
                        evidence: format!("Progressing=False ProgressDeadlineExceeded: {msg}"),
                        at_ms,
                    });
                }
            }
            Record::Note { .. } | Record::Mark { .. } => {}
        }
    }
    for log in logs {
        for reason in log_classifier(&log.text) {
            out.push(Finding {
                reason,
                object: format!("Pod/{}", log.pod),
                evidence: format!("{LOG_EVIDENCE}{}", first_line_with_error(&log.text)),
                at_ms: 0,
            });
        }
    }
    suppress_explained(out)
}

fn first_line_with_error(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("level=error") || l.contains("err=") || l.contains("error")
        })
        .or_else(|| text.lines().last())
        .unwrap_or("");
    crate::error::tail(line, 300)
}

fn suppress_explained(all: Vec<Finding>) -> Vec<Finding> {
    let has = |r: &[Reason]| all.iter().any(|f| r.contains(&f.reason));
    let mount_explained = has(&[
        Reason::MultiAttach,
        Reason::RwopRejected,
        Reason::VolumePermissionDenied,
    ]);
    let schedule_explained = has(&[Reason::NodeAffinityConflict, Reason::RwopRejected]);
    let log_explained: Vec<String> = all
        .iter()
        .filter(|f| f.is_from_log())
        .map(|f| f.object.clone())
        .collect();
    all.iter()
        .filter(|f| match f.reason {
            Reason::FailedMount => !mount_explained,
            Reason::Unschedulable => !schedule_explained,
            Reason::CrashLoop => !log_explained.contains(&f.object),
            _ => true,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
fn reasons_of(findings: &[Finding]) -> Vec<Reason> {
    let mut out: Vec<Reason> = findings.iter().map(|f| f.reason).collect();
    out.sort();
    out.dedup();
    out
}

/// The distinct reasons in a timeline (events, pod states, Deployment
/// conditions), sorted. Use [`classify_with_logs`] when logs are at hand.
#[cfg(test)]
pub fn classify(timeline: &Timeline) -> Vec<Reason> {
    reasons_of(&findings(timeline, &[], &|_| Vec::new()))
}

/// The distinct reasons in a timeline and the given logs, sorted.
///
/// A lock-file crash loop shows as the pod's CrashLoopBackOff plus the log
/// line the Prometheus classifier recognises; the result then says
/// `prometheus-lock-held` (the crash loop it explains is dropped).
#[cfg(test)]
pub fn classify_with_logs(
    timeline: &Timeline,
    logs: &[PodLog],
    log_classifier: LogClassifier<'_>,
) -> Vec<Reason> {
    reasons_of(&findings(timeline, logs, log_classifier))
}

#[cfg(test)]
mod tests {
    //! Tier 0 on recorded real-world samples: harness/tests/data/timeline/
    //! holds events, pods and Deployments in the exact shape `kubectl get
    //! ... -o yaml` prints, each file citing where its messages come from.

    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Event, Pod};
    use serde::Deserialize;

    use super::*;
    use crate::timeline::{DeploymentRecord, EventRecord, PodRecord};

    #[derive(Deserialize)]
    struct List<T> {
        items: Vec<T>,
    }

    fn events(yaml: &str) -> Vec<Event> {
        serde_yaml_ng::from_str::<List<Event>>(yaml)
            .unwrap_or_else(|e| panic!("sample does not parse as an event list: {e}"))
            .items
    }

    fn timeline_of(yaml: &str) -> Timeline {
        Timeline::from_records(
            events(yaml)
                .iter()
                .map(|e| Record::Event(EventRecord::from_event(e))),
        )
    }

    /// Each event of a sample file, classified on its own.
    fn each(yaml: &str) -> Vec<(String, Option<Reason>)> {
        events(yaml)
            .iter()
            .map(|e| {
                let r = EventRecord::from_event(e);
                (r.reason.clone(), classify_event(&r.reason, &r.message))
            })
            .collect()
    }

    const MULTI_ATTACH: &str = include_str!("../../tests/data/timeline/events-multi-attach.yaml");
    const NODE_AFFINITY: &str = include_str!("../../tests/data/timeline/events-node-affinity.yaml");
    const RWOP: &str = include_str!("../../tests/data/timeline/events-rwop.yaml");
    const MOUNT: &str = include_str!("../../tests/data/timeline/events-mount.yaml");
    const NORMAL: &str = include_str!("../../tests/data/timeline/events-normal.yaml");
    const NODE_LOST: &str = include_str!("../../tests/data/timeline/events-node-lost.yaml");
    const CRASHLOOP_PODS: &str = include_str!("../../tests/data/timeline/pods-lock-crashloop.yaml");
    const STUCK_DEPLOYMENT: &str = include_str!("../../tests/data/timeline/deployment-stuck.yaml");
    const PROMETHEUS_LOCK_LOG: &str = include_str!("../../tests/data/timeline/prometheus-lock.log");

    #[test]
    fn the_volume_s_own_life_events() {
        // Seen on kind 1.35 and 1.36 (volume-full on empty-dir,
        // volume-expand on csi-rwo), 2026-12-06.
        assert_eq!(
            classify_event(
                "Evicted",
                "Usage of EmptyDir volume \"data\" exceeds the limit \"512Mi\". "
            ),
            Some(Reason::Evicted)
        );
        assert_eq!(
            classify_event(
                "VolumeResizeFailed",
                "Unable to expand ns/prometheus-data because CSI driver loop.csi.storage-e2e.test \
                 only supports offline expansion and volume is currently in-use"
            ),
            Some(Reason::ExpansionOffline)
        );
        // A resize that failed for another reason is not an offline driver.
        assert_eq!(
            classify_event(
                "VolumeResizeFailed",
                "rpc error: code = Internal desc = boom"
            ),
            None
        );
    }

    #[test]
    fn multi_attach_both_wordings() {
        let got = each(MULTI_ATTACH);
        let attach: Vec<_> = got
            .iter()
            .filter(|(r, _)| r == "FailedAttachVolume")
            .collect();
        assert_eq!(attach.len(), 4, "{got:?}");
        assert!(
            attach.iter().all(|(_, c)| *c == Some(Reason::MultiAttach)),
            "{got:?}"
        );
        // The kubelet's timeout that follows is explained by the Multi-Attach.
        assert_eq!(
            classify(&timeline_of(MULTI_ATTACH)),
            vec![Reason::MultiAttach]
        );
    }

    #[test]
    fn node_affinity_conflict_both_wordings_and_not_pod_affinity() {
        let got = each(NODE_AFFINITY);
        assert_eq!(
            got.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
            vec![
                Some(Reason::NodeAffinityConflict),
                Some(Reason::NodeAffinityConflict),
                Some(Reason::NodeAffinityConflict),
                Some(Reason::Unschedulable),
                Some(Reason::Unschedulable),
            ],
            "{got:?}"
        );
    }

    #[test]
    fn rwop_rejection_by_scheduler_and_kubelet() {
        let got = each(RWOP);
        assert_eq!(
            got.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
            vec![Some(Reason::RwopRejected); 3],
            "{got:?}"
        );
    }

    #[test]
    fn mount_permission_and_generic_failures() {
        let got = each(MOUNT);
        assert_eq!(
            got.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
            vec![
                Some(Reason::FailedMount),
                Some(Reason::VolumePermissionDenied),
                Some(Reason::FailedMount),
            ],
            "{got:?}"
        );
        assert_eq!(
            classify(&timeline_of(MOUNT)),
            vec![Reason::VolumePermissionDenied]
        );
    }

    #[test]
    fn normal_events_classify_to_nothing() {
        let got = each(NORMAL);
        assert!(got.len() >= 8, "{got:?}");
        assert!(got.iter().all(|(_, c)| c.is_none()), "{got:?}");
        assert!(classify(&timeline_of(NORMAL)).is_empty());
    }

    #[test]
    fn node_lost() {
        assert_eq!(
            classify(&timeline_of(NODE_LOST)),
            vec![Reason::NodeAffinityConflict, Reason::NodeNotReady]
        );
    }

    /// The real Prometheus log classifier, as `cell` plugs it in.
    fn prometheus_logs(text: &str) -> Vec<Reason> {
        crate::prometheus::classify_log(text)
    }

    fn crashloop_timeline() -> Timeline {
        let pods = serde_yaml_ng::from_str::<List<Pod>>(CRASHLOOP_PODS).expect("pod list");
        let deployments: Deployment =
            serde_yaml_ng::from_str(STUCK_DEPLOYMENT).expect("deployment");
        let mut records: Vec<Record> = pods
            .items
            .iter()
            .map(|p| Record::Pod(PodRecord::from_pod(p, false)))
            .collect();
        records.push(Record::Deployment(DeploymentRecord::from_deployment(
            &deployments,
        )));
        Timeline::from_records(records)
    }

    #[test]
    fn lock_file_crash_loop_and_stuck_rollout() {
        let t = crashloop_timeline();
        // Without logs: a crash loop and a stuck rollout, cause unknown.
        assert_eq!(
            classify(&t),
            vec![Reason::CrashLoop, Reason::ProgressDeadlineExceeded]
        );
        // With the new pod's previous log: the lock explains the crash loop.
        let logs = vec![PodLog::current(
            "prometheus-server-6b8d4f5c7-new01",
            "prometheus",
            PROMETHEUS_LOCK_LOG,
        )];
        assert_eq!(
            classify_with_logs(&t, &logs, &prometheus_logs),
            vec![Reason::PrometheusLockHeld, Reason::ProgressDeadlineExceeded]
        );
        let f = findings(&t, &logs, &prometheus_logs);
        let lock = f
            .iter()
            .find(|f| f.reason == Reason::PrometheusLockHeld)
            .expect("lock finding");
        assert!(
            lock.evidence.contains("resource temporarily unavailable"),
            "{lock:?}"
        );
        // The healthy old pod's state says nothing.
        assert!(f.iter().all(|f| !f.object.contains("old00")), "{f:?}");
    }

    #[test]
    fn logs_of_another_pod_do_not_explain_a_crash_loop() {
        let t = crashloop_timeline();
        let logs = vec![PodLog::current(
            "some-other-pod",
            "prometheus",
            PROMETHEUS_LOCK_LOG,
        )];
        let r = classify_with_logs(&t, &logs, &prometheus_logs);
        assert!(r.contains(&Reason::CrashLoop), "{r:?}");
        assert!(r.contains(&Reason::PrometheusLockHeld), "{r:?}");
    }

    #[test]
    fn unschedulable_pod_condition_is_classified_like_the_event() {
        let p = PodRecord {
            name: "grafana-1".into(),
            uid: String::new(),
            node: None,
            phase: "Pending".into(),
            ready: false,
            terminating: false,
            deleted: false,
            // The PodScheduled message carries the scheduler's text; this one
            // is put together from the recorded wording in
            // tests/data/timeline/events-rwop.yaml (VolumeRestrictions
            // plugin), not captured from a pod.
            unschedulable: Some(
                "0/3 nodes are available: 1 node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode."
                    .to_owned(),
            ),
            containers: vec![],
        };
        assert_eq!(
            classify(&Timeline::from_records([Record::Pod(p)])),
            vec![Reason::RwopRejected]
        );
    }

    #[test]
    fn unknown_and_empty_inputs() {
        assert_eq!(classify_event("", ""), None);
        assert_eq!(
            classify_event("BackOff", "Back-off pulling image \"x\""),
            None
        );
        assert!(classify(&Timeline::default()).is_empty());
    }
}
