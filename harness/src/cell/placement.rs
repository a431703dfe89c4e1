//! Where a disrupted workload's new pods landed relative to the old pod,
//! read from the cell's timeline, and whether a rollout completed: on
//! attachable storage the placement decides what happens (same node: the
//! attachment is shared and the lock decides; another node: the volume
//! must detach first), and the scheduler picks it, so the report says
//! which it was; after an unblock, whether the new template took over is
//! what an operator wants to know.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::Api;

use crate::timeline::{Record, Timeline};

/// One line on where the workload's new pods ran (their last known node),
/// whether each was ever Ready, and whether that is the old pod's node;
/// `None` when the timeline shows no new pod. A pod is new when its uid is
/// not among `old_uids` (the workload's pods before the disruption): a
/// StatefulSet's replacement keeps the old pod's name, and its other
/// replicas are not new.
pub(super) fn describe(
    t: &Timeline,
    old_uids: &[String],
    old_pod: &str,
    old_node: Option<&str>,
) -> Option<String> {
    // (name, last node, ever ready), in the order the watch first saw them.
    let mut pods: Vec<(String, String, Option<String>, bool)> = Vec::new();
    for e in &t.entries {
        let Record::Pod(p) = &e.record else { continue };
        if old_uids.contains(&p.uid) || (p.uid.is_empty() && p.name == old_pod) {
            continue;
        }
        match pods.iter_mut().find(|(_, uid, _, _)| *uid == p.uid) {
            Some((_, _, node, ready)) => {
                if p.node.is_some() {
                    node.clone_from(&p.node);
                }
                *ready |= p.ready;
            }
            None => pods.push((p.name.clone(), p.uid.clone(), p.node.clone(), p.ready)),
        }
    }
    if pods.is_empty() {
        return None;
    }
    let old = old_node.unwrap_or("?");
    let each: Vec<String> = pods
        .iter()
        .map(|(name, _, node, ready)| {
            let place = match node.as_deref() {
                None => "never scheduled".to_owned(),
                Some(n) if Some(n) == old_node => format!("on {n}, the old pod's node"),
                Some(n) => format!("on {n}, another node"),
            };
            let ready = if *ready { "Ready" } else { "never Ready" };
            let same = if name == old_pod { " (same name)" } else { "" };
            format!("{name}{same} {place}, {ready}")
        })
        .collect();
    Some(format!(
        "placement: old pod {old_pod} on {old}; new: {}",
        each.join("; ")
    ))
}

/// One line on whether the Deployment `name` finished its rollout
/// (condition Progressing with reason NewReplicaSetAvailable), with its
/// replica counts; the API error in words when it cannot be read.
pub(super) async fn rollout_state(client: &Client, ns: &str, name: &str) -> String {
    match Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
    {
        Ok(d) => describe_rollout(&d),
        Err(e) => format!("rollout: could not read deployment {name}: {e}"),
    }
}

/// [`rollout_state`]'s words for a Deployment (pure, for tier 0).
pub(super) fn describe_rollout(d: &Deployment) -> String {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing")
        .map(|c| c.reason.clone().unwrap_or_default())
        .unwrap_or_default();
    let complete = progressing == "NewReplicaSetAvailable"
        && status.updated_replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) >= want;
    format!(
        "rollout {}: {}/{want} updated, {} available, {} unavailable (Progressing: {})",
        if complete {
            "completed"
        } else {
            "not completed"
        },
        status.updated_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0),
        status.unavailable_replicas.unwrap_or(0),
        if progressing.is_empty() {
            "-"
        } else {
            &progressing
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Entry, PodRecord};

    fn pod(name: &str, node: Option<&str>, ready: bool) -> Entry {
        pod_uid(name, &format!("uid-{name}"), node, ready)
    }

    fn pod_uid(name: &str, uid: &str, node: Option<&str>, ready: bool) -> Entry {
        Entry {
            at_ms: 0,
            record: Record::Pod(PodRecord {
                name: name.into(),
                uid: uid.into(),
                node: node.map(str::to_owned),
                phase: "Running".into(),
                ready,
                terminating: false,
                deleted: false,
                unschedulable: None,
                containers: Vec::new(),
            }),
        }
    }

    #[test]
    fn says_which_new_pod_landed_where_and_whether_it_ran() {
        let t = Timeline {
            entries: vec![
                pod("prometheus-old", Some("w1"), true),
                pod("prometheus-new", None, false),
                pod("prometheus-new", Some("w2"), false),
                pod("prometheus-back", Some("w1"), false),
                pod("prometheus-back", Some("w1"), true),
            ],
        };
        let old = ["uid-prometheus-old".to_owned()];
        assert_eq!(
            describe(&t, &old, "prometheus-old", Some("w1")).as_deref(),
            Some(
                "placement: old pod prometheus-old on w1; new: prometheus-new on w2, another node, \
                 never Ready; prometheus-back on w1, the old pod's node, Ready"
            )
        );
        let only_old = Timeline {
            entries: vec![pod("prometheus-old", Some("w1"), true)],
        };
        assert_eq!(
            describe(&only_old, &old, "prometheus-old", Some("w1")),
            None
        );
    }

    /// A StatefulSet's replacement has the old pod's name and a new uid;
    /// its other replica was there before and is not new (thanos-compacting
    /// once named prometheus-1 as the new pod).
    #[test]
    fn a_statefulset_replacement_is_told_by_its_uid() {
        let t = Timeline {
            entries: vec![
                pod_uid("prometheus-0", "a", Some("w1"), true),
                pod_uid("prometheus-1", "b", Some("w2"), true),
                pod_uid("prometheus-0", "c", None, false),
                pod_uid("prometheus-0", "c", Some("w2"), true),
            ],
        };
        let old = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            describe(&t, &old, "prometheus-0", Some("w1")).as_deref(),
            Some(
                "placement: old pod prometheus-0 on w1; new: prometheus-0 (same name) on w2, \
                 another node, Ready"
            )
        );
    }

    #[test]
    fn a_rollout_is_complete_only_when_the_new_replica_set_is_available() {
        let d = |reason: &str, updated: i32| -> Deployment {
            serde_json::from_value(serde_json::json!({
                "spec": {"replicas": 1, "selector": {}, "template": {}},
                "status": {"updatedReplicas": updated, "availableReplicas": 1,
                           "unavailableReplicas": 1 - updated,
                           "conditions": [{"type": "Progressing", "status": "True", "reason": reason}]}
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(
            describe_rollout(&d("NewReplicaSetAvailable", 1)),
            "rollout completed: 1/1 updated, 1 available, 0 unavailable (Progressing: NewReplicaSetAvailable)"
        );
        assert_eq!(
            describe_rollout(&d("ProgressDeadlineExceeded", 1)),
            "rollout not completed: 1/1 updated, 1 available, 0 unavailable (Progressing: ProgressDeadlineExceeded)"
        );
    }
}
