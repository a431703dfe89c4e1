//! Where the table's expectations come from. Each source says in a sentence
//! what it documents, so a mismatch message can quote the claim it
//! contradicts. Primary sources (docs, code, issues) come first; the
//! project's FACTS.md lines, which summarise them, are cited alongside.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Text;

/// One source an expectation rests on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// A documentation page.
    Doc {
        /// Short title.
        title: Text,
        /// The page (with anchor).
        url: Text,
        /// What it says that matters here.
        says: Text,
    },
    /// A file in a public repository.
    Code {
        /// `owner/name`.
        repo: Text,
        /// Path inside the repository.
        path: Text,
        /// What it says that matters here.
        says: Text,
    },
    /// An issue or pull request.
    Issue {
        /// `owner/name`.
        repo: Text,
        /// Issue or PR number.
        number: u32,
        /// What it shows.
        says: Text,
    },
    /// One of the articles the project was created from.
    Seed {
        /// File name in the seeds folder.
        file: Text,
        /// What it reports.
        says: Text,
    },
    /// Lines of the project's FACTS.md, which names its own sources.
    Facts {
        /// Line range, e.g. `89-94`.
        lines: Text,
        /// What they say.
        says: Text,
    },
    /// This project's own code or tests.
    Project {
        /// Path in this repository.
        path: Text,
        /// What it establishes.
        says: Text,
    },
    /// A claim the user makes by choosing the cell (custom-class).
    Claim {
        /// The claim.
        says: Text,
    },
}

impl Source {
    /// Where to read it online, for documentation, code and issues.
    pub fn url(&self) -> Option<String> {
        match self {
            Self::Doc { url, .. } => Some(url.to_string()),
            Self::Code { repo, path, .. } => {
                Some(format!("https://github.com/{repo}/blob/HEAD/{path}"))
            }
            Self::Issue { repo, number, .. } => {
                Some(format!("https://github.com/{repo}/issues/{number}"))
            }
            Self::Seed { .. } | Self::Facts { .. } | Self::Project { .. } | Self::Claim { .. } => {
                None
            }
        }
    }

    /// A short human title.
    pub fn title(&self) -> String {
        match self {
            Self::Doc { title, .. } => title.to_string(),
            Self::Code { repo, path, .. } => format!("{repo}: {path}"),
            Self::Issue { repo, number, .. } => format!("{repo}#{number}"),
            Self::Seed { file, .. } => format!("seed article {file}"),
            Self::Facts { lines, .. } => format!("FACTS.md lines {lines}"),
            Self::Project { path, .. } => format!("storage-e2e {path}"),
            Self::Claim { .. } => "the user's claim".to_owned(),
        }
    }

    /// What the source says.
    pub fn says(&self) -> &str {
        match self {
            Self::Doc { says, .. }
            | Self::Code { says, .. }
            | Self::Issue { says, .. }
            | Self::Seed { says, .. }
            | Self::Facts { says, .. }
            | Self::Project { says, .. }
            | Self::Claim { says } => says,
        }
    }

    /// Whether this is a primary source (not this project's summary of one).
    pub fn is_primary(&self) -> bool {
        !matches!(self, Self::Facts { .. } | Self::Project { .. })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: \"{}\"", self.title(), self.says())?;
        if let Some(url) = self.url() {
            write!(f, " <{url}>")?;
        }
        Ok(())
    }
}

const fn doc(title: &'static str, url: &'static str, says: &'static str) -> Source {
    Source::Doc {
        title: Cow::Borrowed(title),
        url: Cow::Borrowed(url),
        says: Cow::Borrowed(says),
    }
}

const fn code(repo: &'static str, path: &'static str, says: &'static str) -> Source {
    Source::Code {
        repo: Cow::Borrowed(repo),
        path: Cow::Borrowed(path),
        says: Cow::Borrowed(says),
    }
}

const fn issue(repo: &'static str, number: u32, says: &'static str) -> Source {
    Source::Issue {
        repo: Cow::Borrowed(repo),
        number,
        says: Cow::Borrowed(says),
    }
}

const fn facts(lines: &'static str, says: &'static str) -> Source {
    Source::Facts {
        lines: Cow::Borrowed(lines),
        says: Cow::Borrowed(says),
    }
}

// ---- Kubernetes documentation -------------------------------------------

pub(super) const EMPTYDIR: Source = doc(
    "kubernetes.io: Volumes, emptyDir",
    "https://kubernetes.io/docs/concepts/storage/volumes/#emptydir",
    "A container crashing does not remove a Pod from a node; the data in an emptyDir volume is safe \
     across container crashes. When a Pod is removed from a node for any reason, the data in the \
     emptyDir is deleted permanently.",
);

pub(super) const HOSTPATH: Source = doc(
    "kubernetes.io: Volumes, hostPath",
    "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath",
    "A hostPath volume mounts a file or directory from the host node's filesystem; Pods with \
     identical configuration may behave differently on different nodes due to different files on \
     the nodes.",
);

pub(super) const LOCAL_VOLUME: Source = doc(
    "kubernetes.io: Volumes, local",
    "https://kubernetes.io/docs/concepts/storage/volumes/#local",
    "Local volumes require PersistentVolume nodeAffinity; the scheduler places Pods using them on \
     that node. If the node becomes unhealthy the local volume becomes inaccessible by the Pod.",
);

pub(super) const ACCESS_MODES: Source = doc(
    "kubernetes.io: Persistent Volumes, access modes",
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#access-modes",
    "ReadWriteOnce: mounted read-write by a single node; it can still allow multiple pods to access \
     the volume when they run on the same node. ReadWriteOncePod: mounted read-write by a single Pod.",
);

pub(super) const NODE_SELECTOR: Source = doc(
    "kubernetes.io: Assigning Pods to Nodes, nodeSelector",
    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector",
    "Kubernetes only schedules the Pod onto nodes that have each of the labels you specify.",
);

pub(super) const CORDON: Source = doc(
    "kubernetes.io: Nodes, manual node administration",
    "https://kubernetes.io/docs/concepts/architecture/nodes/#manual-node-administration",
    "Marking a node as unschedulable prevents the scheduler from placing new pods onto that Node \
     but does not affect existing Pods on the Node.",
);

pub(super) const RESTART_POLICY: Source = doc(
    "kubernetes.io: Pod lifecycle, container restarts",
    "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#restart-policy",
    "With restartPolicy Always the kubelet restarts a container that exits, in the same Pod, with an \
     exponential back-off (CrashLoopBackOff while it waits).",
);

pub(super) const FORCE_DELETE: Source = doc(
    "kubernetes.io: Pod lifecycle, forced termination",
    "https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination-forced",
    "A forced deletion removes the Pod from the API immediately, without waiting for the kubelet to \
     confirm that it has stopped, so a new Pod with the same name can be created at once.",
);

pub(super) const DEPLOY_ROLLING: Source = doc(
    "kubernetes.io: Deployments, rolling update",
    "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment",
    "RollingUpdate (the default) brings up new Pods before old ones are killed: maxSurge 25% \
     (rounded up), maxUnavailable 25% (rounded down).",
);

pub(super) const DEPLOY_RECREATE: Source = doc(
    "kubernetes.io: Deployments, Recreate",
    "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#recreate-deployment",
    "All existing Pods are killed before new ones are created when .spec.strategy.type==Recreate.",
);

pub(super) const DEPLOY_FAILED: Source = doc(
    "kubernetes.io: Deployments, failed deployment",
    "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#failed-deployment",
    "Once progressDeadlineSeconds is exceeded the Deployment gets condition type Progressing, \
     status False, reason ProgressDeadlineExceeded.",
);

pub(super) const STS_UPDATE_STRATEGIES: Source = doc(
    "kubernetes.io: StatefulSets, update strategies",
    "https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#update-strategies",
    "A StatefulSet's .spec.updateStrategy is OnDelete or RollingUpdate; RollingUpdate deletes and \
     recreates each Pod, one at a time, from the largest ordinal to the smallest.",
);

pub(super) const STS_STABLE_STORAGE: Source = doc(
    "kubernetes.io: StatefulSets, stable storage",
    "https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-storage",
    "When a StatefulSet Pod is (re)scheduled, its volumeMounts mount the PersistentVolumes of its \
     own PersistentVolumeClaims; deleting the Pod does not delete them.",
);

pub(super) const STS_FORCE_DELETE: Source = doc(
    "kubernetes.io: Force delete StatefulSet Pods",
    "https://kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod/",
    "Kubernetes (1.5 or newer) will not delete Pods just because a Node is unreachable; they stay \
     Terminating or Unknown until the node returns, the Node object is deleted, or they are force \
     deleted.",
);

pub(super) const TAINT_EVICTION: Source = doc(
    "kubernetes.io: Taints and tolerations, taint based evictions",
    "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions",
    "An unreachable or not-ready node gets the NoExecute taints node.kubernetes.io/unreachable / \
     not-ready; Pods are evicted after their tolerationSeconds for them.",
);

pub(super) const NON_GRACEFUL_SHUTDOWN: Source = doc(
    "kubernetes.io: Node shutdowns, non-graceful node shutdown",
    "https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown",
    "After a non-graceful shutdown the Pods of the node stay Terminating and their volumes stay \
     attached; the attach/detach controller only force-detaches after its timeout (or at once with \
     the out-of-service taint).",
);

// ---- Prometheus and Grafana -----------------------------------------------

pub(super) const PROM_STORAGE: Source = doc(
    "prometheus.io: Storage",
    "https://prometheus.io/docs/prometheus/latest/storage/",
    "Non-POSIX compliant filesystems are not supported for Prometheus' local storage; NFS \
     filesystems (including AWS's EFS) are not supported.",
);

pub(super) const PROM_STABILITY: Source = doc(
    "prometheus.io: API stability guarantees",
    "https://prometheus.io/docs/prometheus/latest/stability/",
    "Exact on-disk format is not frozen within 3.x, but potential changes will be forward \
     compatible and transparently handled by Prometheus.",
);

pub(super) const GRAFANA_UPGRADE: Source = doc(
    "grafana.com: Upgrade Grafana",
    "https://grafana.com/docs/grafana/v9.0/setup-grafana/upgrade-grafana/",
    "Upgrades are backward compatible; during startup Grafana automatically migrates the database \
     schema (with SQLite, grafana.db holds everything).",
);

pub(super) const PROM_LOCK_ISSUE: Source = issue(
    "prometheus/prometheus",
    9513,
    "In a Kubernetes cluster a restarted Prometheus fails with err=\"opening storage failed: lock \
     DB directory: resource temporarily unavailable\".",
);

pub(super) const GRAFANA_SQLITE_NFS: Source = issue(
    "grafana/grafana",
    16638,
    "grafana.db on NFS: 'database is locked' errors.",
);

// ---- Kubernetes source and issues ---------------------------------------

pub(super) const RWOP_E2E: Source = code(
    "kubernetes/kubernetes",
    "test/e2e/storage/testsuites/readwriteoncepod.go",
    "A second pod using an in-use ReadWriteOncePod claim is unschedulable, or, when forced onto the \
     node, gets FailedMount 'volume uses the ReadWriteOncePod access mode and is already in use by \
     another pod'.",
);

pub(super) const RWOP_SCHEDULER: Source = code(
    "kubernetes/kubernetes",
    "pkg/scheduler/framework/plugins/volumerestrictions/volume_restrictions.go",
    "ErrReasonReadWriteOncePodConflict = \"node(s) unavailable due to PersistentVolumeClaim with \
     ReadWriteOncePod access mode already in-use by another pod\" (1.22: \"node has pod using \
     PersistentVolumeClaim with the same name and ReadWriteOncePod access mode\"); a pod is \
     counted while it exists in the API, including while Terminating.",
);

pub(super) const VOLUME_BINDING: Source = code(
    "kubernetes/kubernetes",
    "pkg/scheduler/framework/plugins/volumebinding/binder.go",
    "ErrReasonNodeConflict: a bound PV whose nodeAffinity does not match the node makes the node \
     unusable (\"had volume node affinity conflict\", later \"didn't match PersistentVolume's node \
     affinity\").",
);

pub(super) const MULTI_ATTACH_PR: Source = issue(
    "kubernetes/kubernetes",
    138837,
    "Multi-Attach events reworded to 'Waiting for detach for volume ...': common during rolling \
     updates because Pod deletion is not blocked by detach.",
);

pub(super) const NODE_AFFINITY_UNREACHABLE: Source = issue(
    "kubernetes/kubernetes",
    119967,
    "After a node became unreachable, the StatefulSet pod stayed Pending: '1 node(s) had \
     untolerated taint {node.kubernetes.io/unreachable: }, 2 node(s) had volume node affinity \
     conflict'.",
);

pub(super) const STS_NEVER_EVICTED: Source = issue(
    "kubernetes/kubernetes",
    54368,
    "StatefulSet pod is never evicted from a shut-down node (by design); a Deployment gets a new \
     pod on another node once the not-ready/unreachable tolerations expire.",
);

pub(super) const NFS_RWO_NOT_ENFORCED: Source = issue(
    "kubernetes-csi/csi-driver-nfs",
    384,
    "NFS volumes are not attachable: ReadWriteOnce is not enforced, pods on several nodes mount \
     the same export.",
);

pub(super) const KIND_RESTART: Source = issue(
    "kubernetes-sigs/kind",
    148,
    "Restarting kind nodes (docker stop/start) is not reliably supported.",
);

pub(super) const K3D_NFS_FLAKY: Source =
    issue("k3d-io/k3d", 1109, "NFS mounts from k3d nodes are flaky.");

// ---- man pages and RFCs -------------------------------------------------

pub(super) const FLOCK_NFS: Source = doc(
    "man7.org: flock(2), NFS details",
    "https://man7.org/linux/man-pages/man2/flock.2.html",
    "Since Linux 2.6.12, NFS clients support flock() locks by emulating them as byte-range locks on \
     the entire file: a lock taken on one client blocks the same lock on another.",
);

pub(super) const NFS_HARD: Source = doc(
    "man7.org: nfs(5), hard mounts",
    "https://man7.org/linux/man-pages/man5/nfs.5.html",
    "With the hard option (the default) NFS requests are retried indefinitely: processes wait while \
     the server is away and continue when it returns.",
);

pub(super) const NFS4_LEASES: Source = doc(
    "RFC 8881: NFSv4.1, leases",
    "https://www.rfc-editor.org/rfc/rfc8881",
    "NFSv4.1 locks are leased: a client that stops renewing its lease loses its locks when the \
     lease expires, and a restarted server gives clients a grace period to reclaim theirs.",
);

// ---- the seed articles ----------------------------------------------------

pub(super) const SEED_DEADLOCK: Source = Source::Seed {
    file: Cow::Borrowed("000_7284833a484512d6.txt"),
    says: Cow::Borrowed(
        "kubectl rollout restart on an RWO claim never finishes: the new Prometheus pod \
         crash-loops until the old one dies; the workaround is kubectl delete pod of the old one.",
    ),
};

pub(super) const SEED_HOSTPATH: Source = Source::Seed {
    file: Cow::Borrowed("000_7284833a484512d6.txt"),
    says: Cow::Borrowed(
        "hostPath mounts a node directory: data becomes inconsistent when the pod moves to another \
         node.",
    ),
};

// ---- FACTS.md -------------------------------------------------------------

pub(super) const F_PROM_KILL: Source = facts(
    "15-20, 36-37",
    "A killed Prometheus leaves its lock, which the next start replaces (clean_start 0); kill -9 \
     loses nothing committed to the WAL.",
);
pub(super) const F_PROM_LOCK: Source = facts(
    "21-25",
    "A second Prometheus on the same dir fails: 'opening storage failed: lock DB directory: resource \
     temporarily unavailable'.",
);
pub(super) const F_PROM_NFS: Source = facts(
    "44-46",
    "Prometheus does not support NFS; corruption and lock issues reported on it.",
);
pub(super) const F_GRAFANA_NFS: Source = facts(
    "66-70",
    "SQLite on NFS: 'database is locked' / disk I/O errors; ownership trouble with squashed exports.",
);
pub(super) const F_RWO_NODE: Source = facts(
    "73-75",
    "ReadWriteOnce = one NODE; several pods on the same node may mount it.",
);
pub(super) const F_RWO_ENFORCED: Source = facts(
    "76-79",
    "RWO is enforced only for attachable volumes; NFS and hostPath RWO is a label; local-path PVs \
     are pinned by nodeAffinity instead.",
);
pub(super) const F_MULTI_ATTACH: Source = facts(
    "80-83",
    "Multi-Attach: FailedAttachVolume 'Multi-Attach error for volume' or 'Waiting for detach for \
     volume'.",
);
pub(super) const F_NODE_AFFINITY: Source = facts(
    "84-85",
    "Local PV on the wrong node: FailedScheduling 'volume node affinity conflict' or 'didn't match \
     PersistentVolume's node affinity'.",
);
pub(super) const F_RWOP: Source = facts(
    "86-88",
    "ReadWriteOncePod: a second pod gets FailedScheduling / FailedMount.",
);
pub(super) const F_ROLLING: Source = facts(
    "89-94",
    "RollingUpdate starts the new pod first; with one replica and an RWO volume holding \
     Prometheus's lock the new pod crash-loops and the rollout ends in ProgressDeadlineExceeded.",
);
pub(super) const F_RECREATE: Source = facts(
    "97-99",
    "Recreate kills old pods first on an update, but a manually deleted pod is replaced \
     immediately, even while the old one is still Terminating.",
);
pub(super) const F_STS_ROLLING: Source = facts(
    "100-101",
    "StatefulSet RollingUpdate deletes then recreates pods one at a time: no overlap on a volume.",
);
pub(super) const F_LOCAL_PV: Source = facts(
    "102-104",
    "Local PV: no-provisioner class, WaitForFirstConsumer, PV with explicit nodeAffinity.",
);
pub(super) const F_LOCAL_PATH: Source = facts(
    "114-117, 138-139",
    "kind's `standard` and k3d's `local-path` classes are rancher.io/local-path: WaitForFirstConsumer, \
     PVs pinned to one node.",
);
pub(super) const F_KIND_NODES: Source = facts(
    "118-121",
    "kind nodes: /tmp is tmpfs, /var an anonymous volume; restarting nodes is unreliable.",
);
pub(super) const F_K3D_NFS: Source =
    facts("138-140", "NFS mounts on k3d are flaky (k3d#1109, #1383).");

// ---- this project and the user's claim -----------------------------------

pub(super) const PROJECT_EXISTING: Source = Source::Project {
    path: Cow::Borrowed("harness/src/cluster/mod.rs"),
    says: Cow::Borrowed(
        "Provider::Existing is a cluster the user owns, reached through E2E_KUBECONFIG: the harness \
         never creates, stops, cordons, enters or deletes its nodes, and only namespaced objects of \
         its own go away again.",
    ),
};

pub(super) const PROJECT_NFS_SERVER: Source = Source::Project {
    path: Cow::Borrowed("harness/src/nfs.rs"),
    says: Cow::Borrowed(
        "The harness's NFS server keeps its export on a Docker volume, so restarting the container \
         (the nfs-restart disruption) keeps the files; its tier-1 test proves it with a real client.",
    ),
};

pub(super) const CLAIM_NETWORK_RWO: Source = Source::Claim {
    says: Cow::Borrowed(
        "The class under test (E2E_STORAGE_CLASS, or an existing cluster's default class) is \
         network-attached ReadWriteOnce storage: data outlives every pod and follows a pod to \
         another node once the old node lets go of it. A regression of the backend shows as a \
         mismatch.",
    ),
};
