//! What a timeline records: pod, event and Deployment states with their
//! times, and the marks the harness adds (the disruption, each recovery).

use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod};
use serde::{Deserialize, Serialize};

/// Everything recorded for one namespace, in the order it was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The entries, oldest first.
    pub entries: Vec<Entry>,
}

/// One observation, stamped with the time since the watch started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the watcher started (0 for recorded samples).
    pub at_ms: u64,
    /// What was seen.
    pub record: Record,
}

/// What one entry recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Record {
    /// A Kubernetes Event (core/v1).
    Event(EventRecord),
    /// A pod's state changed (or it was deleted).
    Pod(PodRecord),
    /// A Deployment's status changed.
    Deployment(DeploymentRecord),
    /// Something about the recording itself (a watch error, a restart).
    Note {
        /// What happened.
        text: String,
    },
    /// A moment the harness itself knows (the disruption, a recovery), so
    /// what the cluster did can be read against it (`timeline.svg` draws
    /// these as vertical lines).
    Mark {
        /// Which moment.
        mark: Mark,
        /// What it was about, e.g. `rollout-restart` or `prometheus`.
        text: String,
    },
}

/// The moments a cell marks on its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mark {
    /// The disruption was applied.
    Disruption,
    /// A disrupted app was back to full strength (the settle wait saw it).
    Recovery,
    /// A step inside a disruption that takes a while: the volume full, the
    /// space freed, a snapshot ready, a claim resized.
    Step,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Disruption => "disruption",
            Self::Recovery => "recovery",
            Self::Step => "step",
        })
    }
}

/// The parts of an Event the classifiers and a person need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event's own name (events are updated in place when they repeat).
    pub name: String,
    /// Kind of the object it is about (`Pod`, `Deployment`, ...).
    pub object_kind: String,
    /// Name of the object it is about.
    pub object_name: String,
    /// `Normal` or `Warning`.
    pub type_: String,
    /// e.g. `FailedScheduling`.
    pub reason: String,
    /// The message.
    pub message: String,
    /// How often it happened (count, or the series count).
    pub count: i32,
    /// Who reported it (`default-scheduler`, `kubelet`, ...).
    pub source: String,
}

impl EventRecord {
    /// Extract from a core/v1 Event.
    pub fn from_event(e: &Event) -> Self {
        let count = e
            .series
            .as_ref()
            .and_then(|s| s.count)
            .or(e.count)
            .unwrap_or(1);
        let source = e
            .reporting_component
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| e.source.as_ref().and_then(|s| s.component.clone()))
            .unwrap_or_default();
        Self {
            name: e.metadata.name.clone().unwrap_or_default(),
            object_kind: e.involved_object.kind.clone().unwrap_or_default(),
            object_name: e.involved_object.name.clone().unwrap_or_default(),
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            count,
            source,
        }
    }
}

/// One container's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// Container name.
    pub name: String,
    /// Whether it is an init container.
    pub init: bool,
    /// Restart count.
    pub restarts: i32,
    /// Ready.
    pub ready: bool,
    /// Reason it is waiting (`CrashLoopBackOff`, `ContainerCreating`...).
    pub waiting: Option<String>,
    /// `reason (exit N)` of the current termination.
    pub terminated: Option<String>,
    /// `reason (exit N)` of the previous termination.
    pub last_terminated: Option<String>,
}

/// A pod's state, as far as a cell cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodRecord {
    /// Pod name.
    pub name: String,
    /// Its uid: a StatefulSet's replacement has the old pod's name, not
    /// its uid. Empty (and not written) where it was not recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Node it is bound to.
    pub node: Option<String>,
    /// Phase (`Pending`, `Running`, ...).
    pub phase: String,
    /// Ready condition.
    pub ready: bool,
    /// It has a deletionTimestamp (Terminating).
    pub terminating: bool,
    /// It is gone from the API.
    pub deleted: bool,
    /// The PodScheduled=False message (the scheduler's reason), if any.
    pub unschedulable: Option<String>,
    /// Container states, init containers first.
    pub containers: Vec<ContainerRecord>,
}

impl PodRecord {
    /// Extract from a Pod; `deleted` when the watch reported its deletion.
    pub fn from_pod(p: &Pod, deleted: bool) -> Self {
        let status = p.status.as_ref();
        let conditions = status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let ready = conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let unschedulable = conditions
            .iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            .and_then(|c| c.message.clone());
        let term = |t: &k8s_openapi::api::core::v1::ContainerStateTerminated| {
            format!(
                "{} (exit {})",
                t.reason.clone().unwrap_or_else(|| "Terminated".into()),
                t.exit_code
            )
        };
        let mut containers = Vec::new();
        for (init, list) in [
            (
                true,
                status.and_then(|s| s.init_container_statuses.as_deref()),
            ),
            (false, status.and_then(|s| s.container_statuses.as_deref())),
        ] {
            for c in list.unwrap_or_default() {
                let state = c.state.as_ref();
                containers.push(ContainerRecord {
                    name: c.name.clone(),
                    init,
                    restarts: c.restart_count,
                    ready: c.ready,
                    waiting: state
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.clone()),
                    terminated: state.and_then(|s| s.terminated.as_ref()).map(term),
                    last_terminated: c
                        .last_state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .map(term),
                });
            }
        }
        Self {
            name: p.metadata.name.clone().unwrap_or_default(),
            uid: p.metadata.uid.clone().unwrap_or_default(),
            node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
            phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
            ready,
            terminating: p.metadata.deletion_timestamp.is_some(),
            deleted,
            unschedulable,
            containers,
        }
    }
}

/// One status condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionRecord {
    /// e.g. `Progressing`.
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// e.g. `ProgressDeadlineExceeded`.
    pub reason: Option<String>,
    /// The message.
    pub message: Option<String>,
}

/// A Deployment's rollout state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    /// Deployment name.
    pub name: String,
    /// spec.replicas.
    pub replicas: i32,
    /// status.updatedReplicas.
    pub updated: i32,
    /// status.readyReplicas.
    pub ready: i32,
    /// status.availableReplicas.
    pub available: i32,
    /// Whether status.observedGeneration has caught up with metadata.generation.
    pub observed: bool,
    /// status.conditions.
    pub conditions: Vec<ConditionRecord>,
}

impl DeploymentRecord {
    /// Extract from a Deployment.
    pub fn from_deployment(d: &Deployment) -> Self {
        let status = d.status.as_ref();
        Self {
            name: d.metadata.name.clone().unwrap_or_default(),
            replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
            ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
            available: status.and_then(|s| s.available_replicas).unwrap_or(0),
            observed: status.and_then(|s| s.observed_generation) == d.metadata.generation,
            conditions: status
                .and_then(|s| s.conditions.as_deref())
                .unwrap_or_default()
                .iter()
                .map(|c| ConditionRecord {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                })
                .collect(),
        }
    }

    /// Whether the rollout is stuck: Progressing=False/ProgressDeadlineExceeded.
    pub fn deadline_exceeded(&self) -> bool {
        self.conditions.iter().any(|c| {
            c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
    }
}

/// One container log of a pod the timeline saw, as the classifiers read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLog {
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The log of the container's previous run (after a restart).
    pub previous: bool,
    /// The log, or why it could not be read (so the report shows the gap).
    pub text: String,
}

impl PodLog {
    /// The current log of `pod`'s `container`.
    #[cfg(test)]
    pub fn current(
        pod: impl Into<String>,
        container: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            pod: pod.into(),
            container: container.into(),
            previous: false,
            text: text.into(),
        }
    }
}

impl Record {
    /// `Kind/name` of the object this entry is about (empty for notes).
    pub fn object(&self) -> String {
        match self {
            Self::Event(e) => format!("{}/{}", e.object_kind, e.object_name),
            Self::Pod(p) => format!("Pod/{}", p.name),
            Self::Deployment(d) => format!("Deployment/{}", d.name),
            Self::Note { .. } | Self::Mark { .. } => String::new(),
        }
    }

    fn object_name(&self) -> Option<&str> {
        match self {
            Self::Event(e) => Some(&e.object_name),
            Self::Pod(p) => Some(&p.name),
            Self::Deployment(d) => Some(&d.name),
            Self::Note { .. } | Self::Mark { .. } => None,
        }
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        match self {
            Self::Event(e) => format!(
                "{} {} {} (x{}, {}): {}",
                self.object(),
                e.type_,
                e.reason,
                e.count,
                e.source,
                e.message
            ),
            Self::Pod(p) => {
                let mut s = format!(
                    "{} {}{} ready={} node={}",
                    self.object(),
                    p.phase,
                    if p.deleted {
                        " deleted"
                    } else if p.terminating {
                        " terminating"
                    } else {
                        ""
                    },
                    p.ready,
                    p.node.as_deref().unwrap_or("-")
                );
                for c in &p.containers {
                    let _ = write!(s, " [{} restarts={}", c.name, c.restarts);
                    if let Some(w) = &c.waiting {
                        let _ = write!(s, " waiting={w}");
                    }
                    if let Some(t) = &c.last_terminated {
                        let _ = write!(s, " last={t}");
                    }
                    s.push(']');
                }
                if let Some(u) = &p.unschedulable {
                    let _ = write!(s, " unschedulable: {u}");
                }
                s
            }
            Self::Deployment(d) => {
                let mut s = format!(
                    "{} replicas={} updated={} ready={} available={}",
                    self.object(),
                    d.replicas,
                    d.updated,
                    d.ready,
                    d.available
                );
                for c in &d.conditions {
                    let _ = write!(
                        s,
                        " {}={}({})",
                        c.type_,
                        c.status,
                        c.reason.as_deref().unwrap_or("")
                    );
                }
                s
            }
            Self::Note { text } => format!("note: {text}"),
            Self::Mark { mark, text } => format!("{mark}: {text}"),
        }
    }
}

impl Timeline {
    /// A timeline of recorded entries (all at time 0), e.g. from a
    /// `kubectl get events -o yaml` dump.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Self {
        Self {
            entries: records
                .into_iter()
                .map(|record| Entry { at_ms: 0, record })
                .collect(),
        }
    }

    /// Only the entries about one workload: objects named `workload` or
    /// `workload-...` (its ReplicaSets and pods), so each app of a cell is
    /// classified on its own.
    pub fn only(&self, workload: &str) -> Timeline {
        self.filtered(|n| n.is_some_and(|n| Self::names(workload, n)))
    }

    /// The entries about none of `workloads` (see [`Self::only`]), marks
    /// and notes included.
    pub fn except(&self, workloads: &[&str]) -> Timeline {
        self.filtered(|n| !n.is_some_and(|n| workloads.iter().any(|w| Self::names(w, n))))
    }

    /// Whether `object` is the workload `workload` or one of its objects
    /// (`workload-...`: ReplicaSets, pods).
    pub fn names(workload: &str, object: &str) -> bool {
        object
            .strip_prefix(workload)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    }

    fn filtered(&self, keep: impl Fn(Option<&str>) -> bool) -> Timeline {
        Timeline {
            entries: self
                .entries
                .iter()
                .filter(|e| keep(e.record.object_name()))
                .cloned()
                .collect(),
        }
    }

    /// The timeline as text, one line per entry, for reports and artifacts.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            let _ = writeln!(
                out,
                "[{:>7.1}s] {}",
                e.at_ms as f64 / 1000.0,
                e.record.describe()
            );
        }
        out
    }

    /// The pods seen, last state of each, in first-seen order.
    pub fn pods(&self) -> Vec<&PodRecord> {
        let mut out: Vec<&PodRecord> = Vec::new();
        for e in &self.entries {
            if let Record::Pod(p) = &e.record {
                match out.iter_mut().find(|q| q.name == p.name) {
                    Some(q) => *q = p,
                    None => out.push(p),
                }
            }
        }
        out
    }
}
