//! Where the table's expectations come from. Each source says in a sentence
//! what it documents, so a mismatch message can quote the claim it
//! contradicts. Primary sources (docs, code, issues, the seed articles) come
//! first; this project's own code, where a cell rests on it, comes after.
//!
//! Over 600 lines because it is the bibliography: one constant per source
//! with the sentence it is cited for; split, a reader could no longer scan
//! every claim the table rests on in one place.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Text;

/// One source an expectation rests on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Source {
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
    /// One of the articles the project was created from (README.md, "The
    /// seed articles").
    Seed {
        /// The name README.md gives the article.
        file: Text,
        /// What it reports.
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
    pub(crate) fn url(&self) -> Option<String> {
        match self {
            Self::Doc { url, .. } => Some(url.to_string()),
            Self::Code { repo, path, .. } => {
                Some(format!("https://github.com/{repo}/blob/HEAD/{path}"))
            }
            Self::Issue { repo, number, .. } => {
                Some(format!("https://github.com/{repo}/issues/{number}"))
            }
            Self::Seed { .. } | Self::Project { .. } | Self::Claim { .. } => None,
        }
    }

    /// A short human title.
    pub(crate) fn title(&self) -> String {
        match self {
            Self::Doc { title, .. } => title.to_string(),
            Self::Code { repo, path, .. } => format!("{repo}: {path}"),
            Self::Issue { repo, number, .. } => format!("{repo}#{number}"),
            Self::Seed { file, .. } => {
                format!("seed article {file} (README.md, \"The seed articles\")")
            }
            Self::Project { path, .. } => format!("storage-e2e {path}"),
            Self::Claim { .. } => "the user's claim".to_owned(),
        }
    }

    /// What the source says.
    pub(crate) fn says(&self) -> &str {
        match self {
            Self::Doc { says, .. }
            | Self::Code { says, .. }
            | Self::Issue { says, .. }
            | Self::Seed { says, .. }
            | Self::Project { says, .. }
            | Self::Claim { says } => says,
        }
    }

    /// Whether this is a primary source (not this project's own code).
    pub(crate) fn is_primary(&self) -> bool {
        !matches!(self, Self::Project { .. })
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

// ---- Kubernetes documentation -------------------------------------------

pub(super) const EMPTYDIR: Source = doc(
    "kubernetes.io: Volumes, emptyDir",
    "https://kubernetes.io/docs/concepts/storage/volumes/#emptydir",
    "A container crashing does not remove a Pod from a node; the data in an emptyDir volume is safe \
     across container crashes. When a Pod is removed from a node for any reason, the data in the \
     emptyDir is deleted permanently.",
);

pub(super) const EMPTYDIR_SIZE_LIMIT: Source = doc(
    "kubernetes.io: Volumes, emptyDir",
    "https://kubernetes.io/docs/concepts/storage/volumes/#emptydir",
    "A size limit can be specified for the default medium, which limits the capacity of the \
     emptyDir volume.",
);

pub(super) const SNAPSHOT_NO_CONSISTENCY: Source = doc(
    "kubernetes.io blog: Kubernetes 1.17 Feature: Kubernetes Volume Snapshot Moves to Beta",
    "https://kubernetes.io/blog/2019/12/09/kubernetes-1-17-feature-cis-volume-snapshot-beta/",
    "Please note that the Kubernetes Snapshot API does not provide any consistency guarantees. You \
     have to prepare your application (pause application, freeze filesystem etc.) before taking the \
     snapshot for data consistency. ... No snapshot consistency guarantees beyond any guarantees \
     provided by storage system (e.g. crash consistency).",
);

pub(super) const SNAPSHOT_RESTORE: Source = doc(
    "kubernetes.io: Volume Snapshots, provisioning volumes from snapshots",
    "https://kubernetes.io/docs/concepts/storage/volume-snapshots/#provisioning-volumes-from-snapshots",
    "You can provision a new volume, pre-populated with data from a snapshot, by using the \
     dataSource field in the PersistentVolumeClaim object.",
);

pub(super) const EXPAND_PVC: Source = doc(
    "kubernetes.io: Persistent Volumes, expanding persistent volume claims",
    "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims",
    "You can only expand a PVC if its storage class's allowVolumeExpansion field is set to true. \
     ... (resizing an in-use claim) In this case, you don't need to delete and recreate a Pod or \
     deployment that is using an existing PVC.",
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
     the volume when they run on the same node. ReadWriteOncePod: mounted read-write by a single Pod. \
     Volume access modes do not enforce write protection once the storage has been mounted.",
);

pub(super) const STORAGE_CLASS_LOCAL: Source = doc(
    "kubernetes.io: Storage Classes, local",
    "https://kubernetes.io/docs/concepts/storage/storage-classes/#local",
    "A local StorageClass has provisioner kubernetes.io/no-provisioner (local volumes are not \
     dynamically provisioned) and volumeBindingMode WaitForFirstConsumer, which delays binding until \
     a Pod is scheduled to the appropriate node.",
);

pub(super) const NODE_SELECTOR: Source = doc(
    "kubernetes.io: Assigning Pods to Nodes, nodeSelector",
    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector",
    "Kubernetes only schedules the Pod onto nodes that have each of the labels you specify.",
);

pub(super) const NODE_AFFINITY: Source = doc(
    "kubernetes.io: Assigning Pods to Nodes, node affinity",
    "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity",
    "requiredDuringSchedulingIgnoredDuringExecution: the scheduler can't schedule the Pod unless the \
     rule is met; NotIn gives anti-affinity to the listed nodes.",
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
    "All existing Pods are killed before new ones are created when .spec.strategy.type==Recreate. \
     This only holds for upgrades: a manually deleted Pod is replaced by the ReplicaSet immediately, \
     even if the old Pod is still in a Terminating state.",
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
    "Without it, the VolumeAttachments will not be deleted from the original shutdown node, so the \
     volumes used by its pods cannot be attached to a new running node. With the \
     node.kubernetes.io/out-of-service taint, pods on the node are forcefully deleted if they have no \
     matching toleration, and volume detach operations for the pods terminating on the node happen \
     immediately (stable since 1.28).",
);

pub(super) const FORCE_DETACH_TIMEOUT: Source = doc(
    "kubernetes.io: Node shutdowns, storage force detach on timeout",
    "https://kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#storage-force-detach-on-timeout",
    "In any situation where a pod deletion has not succeeded for 6 minutes, kubernetes will force \
     detach volumes being unmounted if the node is unhealthy at that instant.",
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

pub(super) const GRAFANA_NFS_DISK_IO: Source = issue(
    "grafana/grafana",
    47225,
    "Grafana 8.4 on Kubernetes with its data on NFS fails the SQLite migration at start with 'disk \
     I/O error'; the reporter concludes that SQLite does not work on NFS.",
);

pub(super) const PROM_LOCK_REPLACED: Source = code(
    "prometheus/prometheus",
    "tsdb/tsdbutil/dir_locker.go",
    "A lock file left in the data dir is taken over with the warning 'A lockfile from a previous \
     execution already existed. It was replaced' and prometheus_tsdb_clean_start 0 (1: created \
     cleanly, -1: lock file disabled); a lock another process holds fails 'lock DB directory'.",
);

pub(super) const PROM_WAL: Source = code(
    "prometheus/prometheus",
    "tsdb/wlog/wlog.go",
    "Each batch of records is written to the current WAL segment file before Log returns; a segment \
     is fsynced only when it is completed or the WAL is closed, and a torn last page is zero-filled \
     when the segment is reopened.",
);

pub(super) const PROM_WAL_REPAIR: Source = code(
    "prometheus/prometheus",
    "tsdb/db.go",
    "When the head's WAL replay at open fails, Prometheus logs 'Encountered WAL read error, attempting \
     repair' and calls the WAL's Repair (tsdb/wlog/wlog.go), which 'discards all data after the \
     corruption': the segments after it are deleted and the corrupted one is rewritten up to its \
     last whole record. The samples after the cut are gone; those before it, and the blocks, stay.",
);

pub(super) const PROM_NFS_CORRUPTION: Source = issue(
    "prometheus/prometheus",
    2805,
    "Data corruption using the Prometheus 2.0 image on NFS: blocks whose meta.json is missing or \
     unreadable after restarts, confirmed by several users up to 2.1.0.",
);

pub(super) const PROM_RECREATE_MYBINDER: Source = issue(
    "jupyterhub/mybinder.org-deploy",
    1734,
    "prometheus-server must be alone on its PVC to start: a rolling update fails with 'opening \
     storage failed: lock DB directory: resource temporarily unavailable', so the deployment \
     switched to strategy Recreate.",
);

pub(super) const PROM_WAL_COMMIT_ROLLBACK: Source = code(
    "prometheus/prometheus",
    "tsdb/head_append.go (Commit), tsdb/wlog/wlog.go (flushPage), v2.53.5",
    "An append whose WAL write fails is rolled back and returns the error: 'if err := a.log(); \
     err != nil { _ = a.Rollback() // Most likely the same error will happen again.' ... \
     'return fmt.Errorf(\"write to WAL: %w\", err)'. The WAL keeps what it flushed of a failed page \
     ('p.flushed += n; return err') and flushes the rest before the next record, so a full disk \
     refuses appends and nothing exits.",
);

pub(super) const PROM_REMOTE_WRITE_500: Source = code(
    "prometheus/prometheus",
    "storage/remote/write_handler.go",
    "The remote-write receiver answers an append error other than out-of-order, out-of-bounds, \
     duplicate or too-old samples with 'http.Error(w, err.Error(), \
     http.StatusInternalServerError)': the sender sees every write refused while the disk is full.",
);

pub(super) const PROM_CHUNK_WRITE_PANIC: Source = code(
    "prometheus/prometheus",
    "tsdb/head_append.go (handleChunkWriteError), v2.42.0, v2.53.5 and main",
    "A head chunk that cannot be written to chunks_head panics the process: 'func \
     handleChunkWriteError(err error) { if err != nil && !errors.Is(err, \
     chunks.ErrChunkDiskMapperClosed) { panic(err) } }'. prometheus/prometheus#18152 (open) would \
     replace the panic with a log line and a counter.",
);

pub(super) const PROM_DISK_FULL_RUNNING: Source = issue(
    "prometheus/prometheus",
    7627,
    "A running server on a full disk logs 'msg=\"append failed\" err=\"write to WAL: log series: \
     write /data/wal/00001900: no space left on device\"' and 'compaction failed', and keeps \
     running.",
);

pub(super) const PROM_DISK_FULL_START: Source = issue(
    "prometheus/prometheus",
    8128,
    "A Prometheus that starts on a full disk crash-loops: 'opening storage failed: open \
     /prometheus/wal/00000500: no space left on device'. The cell frees the space before anything \
     restarts Prometheus, so it predicts no restart.",
);

pub(super) const PROM_DB_SNAPSHOT: Source = code(
    "prometheus/prometheus",
    "tsdb/db.go (Snapshot, compactHead), tsdb/head.go (compactable), v2.53.5",
    "The admin API's TSDB snapshot writes the head as a block through the compactor, as a head \
     compaction does: 'db.compactor.Write(dir, head, mint, maxt+1, nil)' (snapshot) and \
     'db.compactor.Write(db.dir, head, head.MinTime(), head.BlockMaxTime(), nil)' (compactHead). \
     A head is compacted only once it spans more than 1.5 block ranges ('h.MaxTime()-h.MinTime() > \
     h.chunkRange.Load()/2*3': over 3 h), which no bounded cell waits for; the snapshot is the \
     block write it can provoke.",
);

pub(super) const PROM_WAL_NO_FSYNC: Source = code(
    "prometheus/prometheus",
    "tsdb/wlog/wlog.go (log, flushPage, nextSegment), tsdb/compact.go (LeveledCompactor.write), v2.53.5",
    "The WAL writes each commit's records with write(2) ('if final || typ != recFull || \
     w.page.full() { if err := w.flushPage(false)' ) and fsyncs a segment only when it is \
     closed; a block is written to a temporary directory, fsynced and renamed into place. So \
     after a crash the blocks are whole and the head has what the kernel had written back.",
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

pub(super) const ATTACH_RECONCILER: Source = code(
    "kubernetes/kubernetes",
    "pkg/controller/volume/attachdetach/reconciler/reconciler.go",
    "A ReadWriteOnce volume attached to one node is not attached to a second: once per volume and \
     node the new pod gets a Warning FailedAttachVolume, 'Multi-Attach error for volume \"<pv>\" \
     Volume is already used by pod(s) <old pod>' (v1.35.8, lines 396-437) or 'Waiting for detach \
     for volume \"<pv>\" ...' (v1.36.4, kubernetes PR #138837).",
);

pub(super) const ATTACH_SAFE_DETACH: Source = code(
    "kubernetes/kubernetes",
    "pkg/controller/volume/attachdetach/reconciler/reconciler.go",
    "A volume no longer wanted on a node is detached only once that node's status stops listing it \
     in volumesInUse (the kubelet unmounted it); the 6-minute maxWaitForUnmountDuration forces it \
     only on an unhealthy node, and the out-of-service taint skips the wait (v1.35.8 lines 229-275; \
     the same in v1.36.4).",
);

pub(super) const ATTACH_WANTED_WHILE_TERMINATING: Source = code(
    "kubernetes/kubernetes",
    "pkg/controller/volume/attachdetach/util/util.go",
    "A pod keeps its volumes wanted on its node until it is deleted from the API or terminated \
     (phase Failed/Succeeded, or deletion requested and no container running); a pod stranded \
     Terminating on a stopped node still reports its container running, so the reconciler never \
     starts the force-detach timer for it (util.go:186 and pkg/volume/util/util.go IsPodTerminated \
     at v1.35.8).",
);

pub(super) const PODGC_OUT_OF_SERVICE: Source = code(
    "kubernetes/kubernetes",
    "pkg/controller/podgc/gc_controller.go",
    "Every 20 s pod GC force-deletes (grace 0) the terminating pods on nodes that are NotReady and \
     carry the node.kubernetes.io/out-of-service taint (gcTerminating, line 162 at v1.35.8 and \
     v1.36.4).",
);

pub(super) const ROLLING_OLD_RS_KEPT: Source = code(
    "kubernetes/kubernetes",
    "pkg/controller/deployment/rolling.go",
    "With maxUnavailable 0 a stuck rollout cannot scale the old ReplicaSet down (maxScaledDown = \
     all pods - minAvailable - unavailable new pods = 0, line 129 at v1.35.8), so a deleted old pod \
     is recreated by its ReplicaSet at once, from the old template.",
);

pub(super) const SCHEDULER_SPREAD: Source = code(
    "kubernetes/kubernetes",
    "pkg/scheduler/framework/plugins/podtopologyspread/plugin.go",
    "The default topology spread (hostname, maxSkew 3, ScheduleAnyway) counts only pods matching the \
     new ReplicaSet's selector, which carries its own pod-template-hash; nothing in scoring knows \
     where a volume is attached, and equal scores are broken at random (schedule_one.go).",
);

pub(super) const RWO_NOT_ENFORCED: Source = issue(
    "kubernetes/kubernetes",
    60903,
    "Multiple pods able to write to a PV with accessMode ReadWriteOnce: an NFS PV bound as \
     ReadWriteOnce is mounted by pods on different nodes.",
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

pub(super) const KIND_STORAGE: Source = code(
    "kubernetes-sigs/kind",
    "pkg/build/nodeimage/const_storage.go",
    "kind's default StorageClass `standard` has provisioner rancher.io/local-path, volumeBindingMode \
     WaitForFirstConsumer and reclaimPolicy Delete; volumes are directories under \
     /var/local-path-provisioner on the node.",
);

pub(super) const KIND_NODE_TMPFS: Source = code(
    "kubernetes-sigs/kind",
    "pkg/cluster/internal/providers/docker/provision.go",
    "Node containers run with --tmpfs /tmp and --tmpfs /run, and an anonymous volume for /var.",
);

pub(super) const K3S_LOCAL_PATH: Source = doc(
    "docs.k3s.io: Volumes and Storage",
    "https://docs.k3s.io/add-ons/storage",
    "K3s comes with Rancher's Local Path Provisioner (class local-path), which permanently binds the \
     pod to the node hosting the volume; volumes live under /var/lib/rancher/k3s/storage.",
);

pub(super) const K3D_NFS_FLAKY: Source =
    issue("k3d-io/k3d", 1109, "NFS mounts from k3d nodes are flaky.");

pub(super) const KUBELET_EMPTYDIR_EVICTION: Source = code(
    "kubernetes/kubernetes",
    "pkg/kubelet/eviction/eviction_manager.go (emptyDirLimitEviction), helpers.go, v1.36.4",
    "'the emptyDir usage exceeds the size limit, evict the pod', with the Warning event reason \
     'Evicted' and the message 'Usage of EmptyDir volume %q exceeds the limit %q. '; the kubelet \
     checks every 10 s (evictionMonitoringPeriod) on volume usage it measures every \
     volumeStatsAggPeriod (1m, jittered). An evicted pod's emptyDir goes with it, and its \
     Deployment's replacement starts on an empty one.",
);

pub(super) const KERNEL_WRITEBACK: Source = code(
    "torvalds/linux",
    "mm/page-writeback.c, Documentation/admin-guide/sysctl/vm.rst",
    "'unsigned int dirty_writeback_interval = 5 * 100; /* centiseconds */' and 'unsigned int \
     dirty_expire_interval = 30 * 100; /* centiseconds */': 'Data which has been dirty in-memory \
     for longer than this interval will be written out next time a flusher thread wakes up.' \
     Writes younger than that are in the page cache only, not on the device a snapshot copies.",
);

pub(super) const RESIZE_ADMISSION: Source = code(
    "kubernetes/kubernetes",
    "plugin/pkg/admission/storage/persistentvolume/resize/admission.go, v1.36.4",
    "A claim whose class is empty, missing or without allowVolumeExpansion cannot grow: the API \
     server refuses the new size with 'only dynamically provisioned pvc can be resized and the \
     storageclass that provisions the pvc must support resize'. kind's `standard` class \
     (pkg/build/nodeimage/const_storage.go) and k3s's `local-path` class \
     (k3s-io/k3s manifests/local-storage.yaml) set no allowVolumeExpansion.",
);

pub(super) const CSI_EXPAND_OFFLINE: Source = code(
    "container-storage-interface/spec",
    "csi.proto (VolumeExpansion), v1.13.0; kubernetes-csi/external-resizer \
     pkg/controller/expand_and_recover.go, v2.3.0",
    "'OFFLINE indicates that volumes currently published and available on a node SHALL NOT be \
     expanded via ControllerExpandVolume.' The resizer then records 'Unable to expand %s because \
     CSI driver %s only supports offline expansion and volume is currently in-use' \
     (VolumeResizeFailed) and grows the volume once no pod uses it.",
);

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

pub(super) const THANOS_SIDECAR_LOSS: Source = code(
    "thanos-io/thanos",
    "docs/components/sidecar.md",
    "The sidecar uploads the TSDB blocks Prometheus writes (only uncompacted ones) to object \
     storage; Prometheus keeps the head, up to its 2 hour block range, locally: if it crashes and \
     restarts you will lose ~2 hours of metrics, so persistent disk for Prometheus is highly \
     recommended.",
);

pub(super) const THANOS_SHIPPER_RETRY: Source = code(
    "thanos-io/thanos",
    "pkg/shipper/shipper.go",
    "The shipper syncs every 30 s (cmd/thanos/sidecar.go): a sync that fails (the bucket \
     unreachable) is logged and retried at the next one; before uploading a block it checks \
     whether the bucket already holds its meta.json, and it records what it uploaded in \
     thanos.shipper.json, so a block is neither lost nor uploaded twice.",
);

pub(super) const THANOS_SHIP_LEVEL_ONE: Source = code(
    "thanos-io/thanos",
    "pkg/shipper/shipper.go",
    "Sync skips every block whose compaction level is above 1 (\"We only ship of the first \
     compacted block level as normal flow\") unless --shipper.upload-compacted is set (v0.42.5).",
);

pub(super) const THANOS_UNEQUAL_BLOCKS: Source = code(
    "thanos-io/thanos",
    "cmd/thanos/sidecar.go",
    "The sidecar refuses a Prometheus whose min and max block durations differ (\"Compaction \
     needs to be disabled\") unless --shipper.ignore-unequal-block-size, and then warns: \"If the \
     upload of a 2h block fails and a Prometheus compaction happens that block may be missing \
     from your Thanos bucket storage.\" (v0.42.5)",
);

pub(super) const PROM_COMPACTION: Source = code(
    "prometheus/prometheus",
    "tsdb/db.go, tsdb/compact.go",
    "The TSDB compacts from its own loop, a minute after it opens and every minute after, or \
     at once when an append finds the head compactable (dbAppender.Commit); the leveled \
     compactor merges adjacent blocks into the ranges up to --storage.tsdb.max-block-duration \
     (2h, 6h, 18h with 24h), leaving out the newest block, and the merged block's compaction \
     level is one above its sources'.",
);

pub(super) const OPERATOR_RECONCILE: Source = code(
    "prometheus-operator/prometheus-operator",
    "pkg/prometheus/server/operator.go",
    "The operator reconciles each Prometheus resource into its StatefulSet and updates that \
     StatefulSet only when the spec it generates differs (it compares a hash of the generated \
     spec, the prometheus-operator-input-hash annotation), so a restarted operator that finds \
     nothing changed leaves the StatefulSet, and so its pods, as they are.",
);

pub(super) const OPERATOR_PVC_RETENTION: Source = code(
    "prometheus-operator/prometheus-operator",
    "Documentation/api-reference/api.md",
    "persistentVolumeClaimRetentionPolicy: the field controls if and how PVCs are deleted during \
     the lifecycle of a StatefulSet. The default behavior is all PVCs are retained.",
);

pub(super) const OWNER_GC: Source = doc(
    "kubernetes.io: Garbage collection, owners and dependents",
    "https://kubernetes.io/docs/concepts/architecture/garbage-collection/#owners-dependents",
    "Deleting an owner deletes its dependents (cascading deletion, background by default): the \
     operator makes its StatefulSet a dependent of the Prometheus resource, and the StatefulSet's \
     pods are dependents of the StatefulSet.",
);

pub(super) const STS_PVC_RETENTION: Source = doc(
    "kubernetes.io: StatefulSets, PersistentVolumeClaim retention",
    "https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#persistentvolumeclaim-retention",
    "whenDeleted: Retain (the default) keeps the PVCs from the volumeClaimTemplate when the \
     StatefulSet is deleted; Delete deletes them after their Pods have been deleted (stable since \
     1.32).",
);

pub(super) const OPERATOR_STORAGE: Source = code(
    "prometheus-operator/prometheus-operator",
    "Documentation/platform/storage.md",
    "By default, the operator configures Pods to store data on emptyDir volumes which aren't \
     persisted when the Pods are redeployed; spec.storage.volumeClaimTemplate gives each Prometheus \
     pod of its StatefulSet a PersistentVolumeClaim of its own.",
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

pub(super) const SEED_OPERATOR_EMPTYDIR: Source = Source::Seed {
    file: Cow::Borrowed("001_43073dae661ea77a.txt"),
    says: Cow::Borrowed(
        "In the chart's default configuration Prometheus's TSDB is on an emptyDir, so after a pod \
         restart the historical data cannot be found; storageSpec with a volumeClaimTemplate fixes it.",
    ),
};

pub(super) const SEED_THANOS: Source = Source::Seed {
    file: Cow::Borrowed("003_79a218e511ee5ca2.txt"),
    says: Cow::Borrowed(
        "Prometheus writes a TSDB block every 2h, so it is still not stateless with the Thanos \
         sidecar: if it crashes and restarts, about 2 hours of metrics are lost; hence a \
         StatefulSet with volumeClaimTemplates.",
    ),
};

// ---- this project and the user's claim -----------------------------------

pub(super) const PROJECT_ATTACHABLE_CSI: Source = Source::Project {
    path: Cow::Borrowed("images/csi-driver/README.md"),
    says: Cow::Borrowed(
        "The project's own CSI driver stands in for a storage array only: a volume is an ext4 \
         filesystem in an image file on a directory every node sees, attached to one node at a \
         time (CSIDriver attachRequired: true; ControllerPublish refuses a second node), staged on \
         a loop device; the attach/detach controller, VolumeAttachments, external-attacher, the \
         kubelet and ext4 are real.",
    ),
};

pub(super) const PROJECT_VOLUME_FULL: Source = Source::Project {
    path: Cow::Borrowed("harness/src/disrupt/volume.rs"),
    says: Cow::Borrowed(
        "volume-full writes a filler file from inside the pod, as the app's user, into the pod's \
         own mount of the volume: until ENOSPC on a volume with a capacity of its own, 64 MiB past \
         the sizeLimit on an emptyDir. The cell may judge only once df (du for an emptyDir) in the \
         pod shows the volume full. It holds it full for 60 s, writing one sample a second to \
         Prometheus and asking it to write its head as a block halfway, then removes the filler \
         and waits until Prometheus accepts a write again. Grafana is left alone. Node-local \
         directories and NFS exports have no capacity of their own (filling them fills the node \
         or the host), so those cells are not run.",
    ),
};

pub(super) const PROJECT_SNAPSHOT_RESTORE: Source = Source::Project {
    path: Cow::Borrowed("harness/src/disrupt/snapshot.rs"),
    says: Cow::Borrowed(
        "snapshot-restore creates a VolumeSnapshot of the running Prometheus's claim (the \
         VolumeSnapshotClass of its CSI driver; no pause, no freeze), waits until it is ready, \
         restores it into a new claim (dataSource) and starts a copy of the Prometheus Deployment \
         on it (own name and labels, no seeding init container). The copy is judged against the \
         before snapshot; the original must still read back whole, or the cell fails. The \
         attachable driver's snapshot is a copy of the volume's image file while it is attached \
         and mounted (images/csi-driver san.rs copy_image): what the loop device had written, no \
         more.",
    ),
};

pub(super) const PROJECT_VOLUME_EXPAND: Source = Source::Project {
    path: Cow::Borrowed("harness/src/disrupt/expand.rs"),
    says: Cow::Borrowed(
        "volume-expand asks for 1 GiB more on the running Prometheus's claim. Refused by the API \
         server, it records that and stops. Accepted, it waits until the pod's filesystem grows \
         (online) or the resizer says the driver grows volumes offline only; then it scales \
         Prometheus to 0 until the claim has grown and back. The pod's filesystem must have \
         grown, or the cell fails. The attachable driver advertises ONLINE expansion only where \
         it has CAP_SYS_RESOURCE (the kernel refuses an online ext4 resize without it: \
         images/csi-driver/src/ext4.rs); this project's machine runs Docker without it, so here \
         it grows volumes offline.",
    ),
};

pub(super) const PROJECT_WAL_TEAR: Source = Source::Project {
    path: Cow::Borrowed("harness/src/disrupt/data.rs"),
    says: Cow::Borrowed(
        "wal-tail-torn is a fault the harness makes, no storage: it scales Prometheus to 0 (a \
         graceful stop that closes the WAL), tears the first WAL record written after a mark \
         taken right before the head's last write (keeping its header and half its payload) in \
         the volume's directory on the node, and scales back. It needs a node directory the \
         harness can reach (hostPath, local PV, local-path) on a cluster it created. The head \
         holds minutes of samples written through the remote-write receiver up to the stop, so \
         the cut takes exactly the newest of them (prometheus/wal.rs).",
    ),
};

pub(super) const PROJECT_EXISTING: Source = Source::Project {
    path: Cow::Borrowed("harness/src/cluster/start.rs"),
    says: Cow::Borrowed(
        "Provider::Existing is a cluster the user owns, reached through E2E_KUBECONFIG: the harness \
         never creates, stops, cordons, enters or deletes its nodes, and only namespaced objects of \
         its own go away again.",
    ),
};

pub(super) const PROJECT_NFS_SERVER: Source = Source::Project {
    path: Cow::Borrowed("harness/src/nfs/server.rs"),
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
