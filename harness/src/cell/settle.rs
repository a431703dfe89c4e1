//! When a disrupted workload has settled: recovered, visibly stuck, or
//! held by the node the disruption took away; bounded by a watch on the
//! cell's timeline, never by a sleep.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::{Client, ResourceExt as _};

use crate::disrupt::Applied;
use crate::timeline::{self, Mark, TimelineHandle};
use crate::vocab::{App, Disruption, Reason};
use crate::workload::{self, Kind, Workload};

/// How long a disrupted workload gets to settle: recovered, visibly stuck,
/// or not coming back. Longer than the manifests' progressDeadlineSeconds
/// (120 s) so a stuck rollout is reported by its Deployment condition, and
/// than the node-stop eviction path (node NotReady after ~50 s, then the
/// pods' 10 s tolerations).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(240);

/// Why the disrupted workload cannot come back while the node the
/// disruption took away stays away, once the timeline `t` (this app's
/// entries) shows it after `since_ms`: the terminal states of node-level
/// cells on node-bound storage, so the cell need not sit out the settle
/// timeout to call them pending.
///
/// - The scheduler refused a replacement because its volume or its
///   nodeSelector binds it to that node (NodeAffinityConflict, or
///   Unschedulable "didn't match Pod's node affinity/selector"). Nothing
///   changes that while the node is cordoned or stopped, and the cell keeps
///   it so until it ends.
/// - After node-stop only: the scheduler refused it because the old pod,
///   stranded on the stopped node, still holds its ReadWriteOncePod claim.
///   After reschedule-other-node the same refusal is transient: the old pod
///   finishes terminating on its working node, and the scheduler's next
///   answer is the node affinity (seen on kind 1.35, rwop/reschedule-other-node).
/// - After node-stop only: a Deployment's replacement waits on
///   FailedAttachVolume (Multi-Attach / "Waiting for detach") while the old
///   pod is stranded Terminating on the stopped node: that pod keeps the
///   volume wanted there, so the attach/detach controller never detaches it
///   (pkg/controller/volume/attachdetach/util/util.go, IsPodTerminated).
///   After node-stop-out-of-service the same event is transient: pod GC
///   deletes the old pod and the volume is detached at once.
/// - After node-stop only: a StatefulSet's pod on the stopped node is marked
///   for deletion after NodeNotReady but can never finish terminating, and
///   the controller creates no replacement until it has
///   (kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod/).
///   The out-of-service taint ends that too (pod GC force-deletes it).
pub(super) fn held_by_node(
    t: &timeline::Timeline,
    since_ms: u64,
    old_pod: &str,
    node: &str,
    kind: Kind,
    disruption: Disruption,
) -> Option<Reason> {
    let after = || t.entries.iter().filter(|e| e.at_ms >= since_ms);
    // Only a plain node-stop strands the old pod: the out-of-service taint
    // makes pod GC delete it.
    let stranding = disruption == Disruption::NodeStop;
    let stranded = || {
        stranding
            && after().any(|e| {
                matches!(&e.record, timeline::Record::Pod(p)
                    if p.name == old_pod && p.terminating && !p.deleted && p.node.as_deref() == Some(node))
            })
    };
    let refused = after().find_map(|e| match &e.record {
        timeline::Record::Event(ev) if ev.reason == "FailedScheduling" => {
            match timeline::classify_event(&ev.reason, &ev.message)? {
                Reason::NodeAffinityConflict => Some(Reason::NodeAffinityConflict),
                Reason::RwopRejected if stranding => Some(Reason::RwopRejected),
                Reason::Unschedulable
                    if ev
                        .message
                        .contains(timeline::phrases::NODE_SELECTOR_MISMATCH) =>
                {
                    Some(Reason::Unschedulable)
                }
                _ => None,
            }
        }
        timeline::Record::Event(ev) if ev.reason == "FailedAttachVolume" => {
            (timeline::classify_event(&ev.reason, &ev.message)? == Reason::MultiAttach)
                .then_some(Reason::MultiAttach)
        }
        _ => None,
    });
    match refused {
        Some(Reason::MultiAttach) => return stranded().then_some(Reason::MultiAttach),
        Some(r) => return Some(r),
        None if kind != Kind::StatefulSet => return None,
        None => {}
    }
    let not_ready = t
        .entries
        .iter()
        .any(|e| matches!(&e.record, timeline::Record::Event(ev) if ev.reason == "NodeNotReady"));
    (not_ready && stranded()).then_some(Reason::NodeNotReady)
}

/// How a disrupted workload ended up.
#[derive(Debug, Clone)]
pub enum Settled {
    /// Back to full strength with the pods the disruption asked for.
    Recovered {
        /// A Ready pod to read the data from.
        pod: String,
        /// Disruption to recovered.
        after: Duration,
        /// How long after that pod's Ready time (the API's lastTransitionTime,
        /// truncated to the second) the watch showed the harness: the
        /// detection latency, overstated by at most one second.
        seen_after_ready: Option<Duration>,
    },
    /// The Deployment reported ProgressDeadlineExceeded; the old pod may still serve.
    Stuck {
        /// A Ready pod still serving, if any.
        serving: Option<String>,
    },
    /// It cannot come back while the disrupted node stays away
    /// (`held_by_node`): a terminal state, seen without waiting out the
    /// settle timeout.
    HeldByNode {
        /// Why, as the timeline showed it.
        reason: Reason,
        /// The node.
        node: String,
        /// Disruption to seen.
        after: Duration,
    },
    /// Neither within the settle timeout.
    NotRecovered {
        /// A Ready pod still serving, if any.
        serving: Option<String>,
        /// What the pods looked like last.
        last_seen: String,
    },
}

impl Settled {
    /// The pod to read data from, when one serves.
    pub fn serving_pod(&self) -> Option<&str> {
        match self {
            Self::Recovered { pod, .. } => Some(pod),
            Self::Stuck { serving } | Self::NotRecovered { serving, .. } => serving.as_deref(),
            Self::HeldByNode { .. } => None,
        }
    }
}

impl std::fmt::Display for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recovered {
                pod,
                after,
                seen_after_ready,
            } => {
                write!(f, "recovered in {:.1}s ({pod}", after.as_secs_f64())?;
                if let Some(d) = seen_after_ready {
                    write!(f, ", seen {:.2}s after its Ready time", d.as_secs_f64())?;
                }
                f.write_str(")")
            }
            Self::Stuck { serving } => write!(
                f,
                "rollout stuck (ProgressDeadlineExceeded), serving: {}",
                serving.as_deref().unwrap_or("none")
            ),
            Self::HeldByNode {
                reason,
                node,
                after,
            } => write!(
                f,
                "cannot come back while {node} is away ({reason}), seen after {:.1}s",
                after.as_secs_f64()
            ),
            Self::NotRecovered { last_seen, .. } => write!(f, "not recovered: {last_seen}"),
        }
    }
}

/// Mark on the timeline when a disrupted app recovered (a bystander that
/// merely stayed Ready gets no mark), for its picture.
pub(super) fn mark_recovery(
    watcher: &TimelineHandle,
    app: App,
    applied: &Applied,
    settled: &Settled,
) {
    if let (true, Settled::Recovered { after, .. }) = (applied.affected, settled)
        && let Some(at) = applied.at.checked_add(*after)
    {
        watcher.mark(at, Mark::Recovery, app.id());
    }
}

/// Wait until the disrupted workload recovers, gets visibly stuck, or the
/// settle timeout passes. Recovered means: the wanted number of Ready pods,
/// none terminating, and the disruption's effect visible (a container
/// restart for container-kill, the old pod replaced for pod-replacing ones).
// Over 80 lines: three watches raced in one select (recovered, stuck,
// held by the node) and the settle timeout; each branch is short, and the
// race reads as one.
pub(super) async fn settle(
    client: &Client,
    ns: &str,
    w: Workload,
    kind: Kind,
    replicas: usize,
    a: &Applied,
    watcher: Option<&TimelineHandle>,
) -> Settled {
    let what = format!("{} to recover from {}", w.name, a.disruption);
    let recovered = workload::watch_pods(client, ns, &w, &what, SETTLE_TIMEOUT, |pods| {
        let name = recovered_pod(pods.values(), w, replicas, a)?;
        let ready = pods.get(&name).and_then(workload::ready_since);
        Some((name, ready))
    });
    let stuck = async {
        // For stuck-rollout-unblock the stuck state is the starting point the
        // cell provokes, not its outcome: only recovery counts.
        if kind != Kind::Deployment || a.disruption.unblocks() {
            return std::future::pending::<()>().await;
        }
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let seen = crate::wait::watch_object(
            api,
            w.name,
            &format!("deployment {} to report ProgressDeadlineExceeded", w.name),
            SETTLE_TIMEOUT + Duration::from_secs(60),
            |d| d.filter(|d| deadline_exceeded(d)).map(|_| ()),
            |_| String::new(),
        )
        .await;
        if seen.is_err() {
            // Only a reported deadline counts; a watch error or timeout
            // leaves the verdict to the pod wait.
            std::future::pending::<()>().await;
        }
    };
    let held = async {
        let node = match (watcher, &a.node) {
            (Some(watcher), Some(node)) if a.affected && a.disruption.is_node_level() => {
                let since = watcher.offset_ms(a.at);
                let what = format!("{} held by node {node}", w.name);
                let found = watcher.wait_until(&what, SETTLE_TIMEOUT, |t| {
                    held_by_node(&t.only(w.name), since, &a.old_pod, node, kind, a.disruption)
                });
                found.await.ok().map(|reason| (reason, node.clone()))
            }
            _ => None,
        };
        match node {
            Some(found) => found,
            // Not a node-level cell, or never seen: the other branches decide.
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        r = recovered => Some(Ok(r)),
        () = stuck => None,
        (reason, node) = held => Some(Err((reason, node))),
    };
    let serving = || async {
        workload::pods(client, ns, &w).await.ok().and_then(|ps| {
            ps.iter()
                .find(|p| workload::is_ready(p))
                .map(|p| p.name_any())
        })
    };
    match outcome {
        Some(Err((reason, node))) => Settled::HeldByNode {
            reason,
            node,
            after: a.at.elapsed(),
        },
        Some(Ok(Ok((pod, ready)))) => Settled::Recovered {
            pod,
            after: a.at.elapsed(),
            seen_after_ready: ready.and_then(|t| {
                let ms = k8s_openapi::jiff::Timestamp::now().as_millisecond() - t.as_millisecond();
                u64::try_from(ms).ok().map(Duration::from_millis)
            }),
        },
        Some(Ok(Err(e))) => Settled::NotRecovered {
            serving: serving().await,
            last_seen: e.to_string(),
        },
        None => Settled::Stuck {
            serving: serving().await,
        },
    }
}

/// Whether `d` reports its rollout stuck: the timeline's one rule
/// ([`timeline::DeploymentRecord::deadline_exceeded`]).
pub(super) fn deadline_exceeded(d: &Deployment) -> bool {
    timeline::DeploymentRecord::from_deployment(d).deadline_exceeded()
}

/// The recovery rule of [`settle`], pure so tier 0 can test it.
pub(super) fn recovered_pod<'p>(
    pods: impl Iterator<Item = &'p Pod>,
    w: Workload,
    replicas: usize,
    a: &Applied,
) -> Option<String> {
    let live: Vec<&Pod> = pods
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    let replaced = |p: &&Pod| !a.old_uids.contains(&uid(p));
    let ready: Vec<&Pod> = live
        .iter()
        .copied()
        .filter(|p| workload::is_ready(p))
        .collect();
    let ok = match a.disruption {
        _ if !a.affected => ready.len() == replicas,
        Disruption::ContainerKill => {
            ready.len() == replicas
                && live.iter().any(|p| {
                    p.name_any() == a.old_pod
                        && workload::restarts(p, w.container) > a.restarts_before
                })
        }
        // The pod keeps running (an emptyDir past its limit is evicted
        // before the disruption returns, so only its replacement is Ready).
        Disruption::NfsRestart
        | Disruption::VolumeFull
        | Disruption::SnapshotRestore
        | Disruption::VolumeExpand => ready.len() == replicas,
        // The operator's or the object store's restart must leave
        // Prometheus's pod alone: only that same pod, Ready, is recovered.
        Disruption::OperatorRestart | Disruption::StoreRestart => {
            ready.len() == replicas && ready.iter().any(|p| uid(p) == a.old_uid)
        }
        Disruption::ResourceRecreate
        | Disruption::RolloutRestart
        | Disruption::RolloutRecreate
        | Disruption::RolloutOtherNode
        | Disruption::ImageUpgrade => {
            live.len() == replicas && ready.len() == replicas && ready.iter().all(replaced)
        }
        // After the workaround, either ReplicaSet's pod may win the volume
        // (the old one recreates its pod at once): recovered is "a pod
        // other than the deleted one serves", whichever it is.
        Disruption::StuckRolloutUnblock | Disruption::RolloutOtherNodeUnblock => {
            ready.len() >= replicas && ready.iter().all(replaced)
        }
        Disruption::PodDelete
        | Disruption::PodForceDelete
        | Disruption::RescheduleOtherNode
        | Disruption::NodeStop
        | Disruption::NodeStopOutOfService
        | Disruption::WalTailTorn => {
            live.len() == replicas
                && ready.len() == replicas
                && !ready.iter().any(|p| uid(p) == a.old_uid)
        }
    };
    ok.then(|| {
        ready
            .iter()
            .find(|p| replaced(p))
            .or(ready.first())
            .map(|p| p.name_any())
    })
    .flatten()
}
