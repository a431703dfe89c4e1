//! The rules behind the table. Each (variant, provider) is reduced to the
//! storage mechanism each app actually gets (a [`Shape`]); each disruption
//! then has one rule per mechanism, citing the sources that document it.
//!
//! Over 600 lines because it is the table: one rule per mechanism with its
//! sources, and its tier-0 tests. Split, the predictions for one cell
//! would no longer read in one place.

use std::borrow::Cow;

use super::sources::*;
use super::{Expectation, Outcome, Source, Text};
use crate::vocab::{self, App, Cell, Disruption, PartKind, Provider, Reason, Setup, Variant};

/// What the table assumes about how the harness deploys and disrupts. The
/// manifests and disruptions must keep to this, or the cells they break
/// become wrong; it is printed at the top of `docs/expectations.md`.
pub(crate) const ASSUMPTIONS: &[&str] = &[
    "One replica per Deployment, strategy RollingUpdate with the defaults (maxSurge 25% -> 1 pod, \
     maxUnavailable 25% -> 0) and a short progressDeadlineSeconds, as in the seed article's \
     manifests. A stuck rollout is observed as Progressing=False/ProgressDeadlineExceeded.",
    "host-path pods are pinned (nodeSelector kubernetes.io/hostname) to the node whose directory \
     they use; unpinned, every pod replacement would be a coin toss between nodes.",
    "kind and k3d clusters give every cell two workers besides the tainted control plane: the run's \
     first two, or, for a cell that stops or cordons a node on a kind cluster with node pools \
     (E2E_NODE_POOLS), the two of the pool it leases (labelled and tainted for it alone), so one \
     worker stays schedulable when a disruption takes the other away; their default class is \
     rancher.io/local-path (pinned PVs).",
    "rwop claims and the statefulset's volumeClaimTemplates use the provider's default class; \
     Grafana in the statefulset variant is a Deployment on a default-class claim.",
    "rollout-recreate and image-upgrade first switch the Deployment to strategy Recreate \
     (image-upgrade: previous pinned image -> current, on the same volume); a StatefulSet keeps its \
     RollingUpdate.",
    "stuck-rollout-unblock runs rollout-restart, waits until the rollout is stuck, then deletes the \
     old pod (the seed article's workaround).",
    "reschedule-other-node cordons the node of the Prometheus pod (replica 0 for the statefulset) and \
     deletes the pods on it; node-stop stops that node's container and keeps it stopped while the \
     cell observes; node-stop-out-of-service does the same, then taints the node \
     node.kubernetes.io/out-of-service once it is NotReady. An app not on that node is untouched and \
     must survive.",
    "rollout-other-node gives the pod template a required node affinity away from the old pod's \
     node (that change is the rollout, RollingUpdate as deployed); rollout-other-node-unblock then \
     waits until it is stuck and deletes the old pod.",
    "csi-rwo claims are provisioned by the project's own CSI driver (attachRequired: true, no \
     topology: every node can attach every volume, one node at a time), whose controller runs on \
     the control-plane node, which no cell disrupts.",
    "Survives means a pod of the workload is Ready again and every seeded datum reads back; reasons \
     seen on the way (a lock held for a moment, a Multi-Attach until detach) are reported, not \
     failures.",
    "On an existing cluster, custom-class and the default class are judged against the claim that \
     they are network-attached ReadWriteOnce storage (see the claim source). On a kind or k3d \
     cluster the harness creates, the only class is the provider's local-path one, so custom-class \
     (E2E_STORAGE_CLASS=standard on kind, local-path on k3d) is judged as that node-local class; \
     the harness refuses any other class there.",
    "volume-full, snapshot-restore and volume-expand act on Prometheus's volume only; Grafana is left \
     alone and must survive. Their figures (time to fill, writes refused and lost while full, \
     eviction, snapshot and restore times, the expansion) are reported beside the verdict, never \
     judged.",
];

/// The storage mechanism one app gets in one (variant, provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    EmptyDir,
    HostPathPinned,
    /// A local PV with explicit nodeAffinity (local-pv).
    LocalPv,
    /// A rancher.io/local-path PV: pinned to the node it was provisioned on.
    LocalPath,
    Nfs,
    /// The user's class, judged by [`CLAIM_NETWORK_RWO`].
    UserClaim,
    /// The project's attachable CSI driver (csi-rwo): a volume attached to
    /// one node at a time, able to move to any other.
    Attachable,
}

impl Backend {
    fn pinned(self) -> bool {
        matches!(self, Self::HostPathPinned | Self::LocalPv | Self::LocalPath)
    }

    /// Backends on which the old and the new Prometheus share one directory
    /// during a rolling update, so the lock decides.
    fn shares_dir_in_rollout(self) -> bool {
        self.pinned() || self == Self::Nfs
    }

    /// Backends whose volume is attached to one node at a time and moves
    /// with its pod: the attach/detach controller decides.
    fn attachable(self) -> bool {
        matches!(self, Self::UserClaim | Self::Attachable)
    }
}

#[derive(Debug, Clone, Copy)]
struct Shape {
    backend: Backend,
    rwop: bool,
    statefulset: bool,
    /// The StatefulSet's claims go with it (`persistentVolumeClaimRetentionPolicy:
    /// {whenDeleted: Delete}`); false everywhere but operator-claim-delete.
    deletes_claims: bool,
}

fn default_class(provider: Provider) -> Backend {
    match provider {
        Provider::Kind | Provider::K3d => Backend::LocalPath,
        Provider::Existing => Backend::UserClaim,
    }
}

/// What custom-class is judged as: the user's claim on their own cluster;
/// on a cluster the harness creates, the only class there is.
fn custom_class(provider: Provider) -> Backend {
    match provider {
        Provider::Kind | Provider::K3d => Backend::LocalPath,
        Provider::Existing => Backend::UserClaim,
    }
}

/// (Prometheus, Grafana) shapes of a variant on a provider.
fn shapes(variant: Variant, provider: Provider) -> (Shape, Shape) {
    let plain = |backend| Shape {
        backend,
        rwop: false,
        statefulset: false,
        deletes_claims: false,
    };
    match variant {
        Variant::EmptyDir => (plain(Backend::EmptyDir), plain(Backend::EmptyDir)),
        Variant::HostPath => (
            plain(Backend::HostPathPinned),
            plain(Backend::HostPathPinned),
        ),
        Variant::LocalPv => (plain(Backend::LocalPv), plain(Backend::LocalPv)),
        Variant::NfsStatic | Variant::NfsDynamic => (plain(Backend::Nfs), plain(Backend::Nfs)),
        Variant::DefaultClass => (
            plain(default_class(provider)),
            plain(default_class(provider)),
        ),
        Variant::Statefulset => (
            Shape {
                backend: default_class(provider),
                rwop: false,
                statefulset: true,
                deletes_claims: false,
            },
            plain(default_class(provider)),
        ),
        Variant::Rwop => {
            let s = Shape {
                backend: default_class(provider),
                rwop: true,
                statefulset: false,
                deletes_claims: false,
            };
            (s, s)
        }
        // A cluster the harness creates has one class, the provider's
        // local-path one (crate::storage_class refuses any other there).
        Variant::CustomClass => (plain(custom_class(provider)), plain(custom_class(provider))),
        Variant::CsiRwo => (plain(Backend::Attachable), plain(Backend::Attachable)),
        // The operator's StatefulSet and the seed 003 one of the Thanos
        // setup; no Grafana (`expected` marks it not applicable, the shape
        // is never read).
        Variant::OperatorDefault | Variant::ThanosEmptyDir | Variant::ThanosCompacting => (
            Shape {
                backend: Backend::EmptyDir,
                rwop: false,
                statefulset: true,
                deletes_claims: false,
            },
            plain(Backend::EmptyDir),
        ),
        Variant::OperatorClaim | Variant::OperatorClaimDelete | Variant::ThanosClaim => (
            Shape {
                backend: default_class(provider),
                rwop: false,
                statefulset: true,
                deletes_claims: variant == Variant::OperatorClaimDelete,
            },
            plain(default_class(provider)),
        ),
        Variant::OperatorClaimCsi => (
            Shape {
                backend: Backend::Attachable,
                rwop: false,
                statefulset: true,
                deletes_claims: false,
            },
            plain(Backend::Attachable),
        ),
    }
}

/// One app's expected outcome with its sources and note.
struct Part {
    outcome: Outcome,
    sources: Vec<Source>,
    notes: Vec<&'static str>,
}

impl Part {
    fn new(outcome: Outcome, sources: impl IntoIterator<Item = Source>) -> Self {
        Self {
            outcome,
            sources: sources.into_iter().collect(),
            notes: Vec::new(),
        }
    }

    fn note(mut self, note: &'static str) -> Self {
        self.notes.push(note);
        self
    }

    fn with(mut self, sources: impl IntoIterator<Item = Source>) -> Self {
        self.sources.extend(sources);
        self
    }
}

const N_LOCK_TRANSIENT: &str = "Prometheus: the replacement may start while the old process still holds \
     the lock and restart until it is released (transient prometheus-lock-held / crash-loop).";
const N_RWOP_TRANSIENT: &str =
    "The replacement is unschedulable (rwop-rejected) until the old pod is gone from the API.";
const N_ATTACH_TRANSIENT: &str = "On an attachable backend the replacement waits for the old node to \
     detach (multi-attach, 'Waiting for detach') when it lands elsewhere.";
const N_UNBLOCK: &str = "Deleting the old pod makes the old ReplicaSet create a replacement at once, so \
     the new pod and a fresh old-template pod race for the volume; whichever wins serves the same \
     data. The cell passes when it reads back; whether the rollout completed is in the report.";
const N_ATTACH_NODE_STOP: &str = "The old pod stays Terminating on the stopped node and keeps its volume \
     wanted there, so the attach/detach controller neither detaches it nor starts its 6-minute \
     force-detach timer: the replacement waits on FailedAttachVolume for as long as the node stays \
     away (it recovers once the node is back, which the cell does not wait for).";
const N_OUT_OF_SERVICE: &str = "The out-of-service taint makes pod GC force-delete the old pod and the \
     attach/detach controller detach its volume at once (a 'Waiting for detach' / Multi-Attach \
     event on the way is transient).";
const N_AWAY_UNBLOCK: &str = "Deleting the old pod does not end the rollout by itself: its ReplicaSet \
     recreates it at once from the old template (no affinity), on either node. On the old node it \
     keeps the volume there and the new pod keeps waiting; on the new pod's node the volume moves \
     there and the two race for the lock. Either way a pod serves the same data; the report says \
     which pod won, on which node, and whether the rollout completed.";
const N_ROLLOUT_PLACEMENT: &str = "The scheduler does not know where the volume is attached, so the new \
     pod lands on the old pod's node (shared attachment, the lock is held: prometheus-lock-held) or \
     on the other worker (the volume cannot attach there: multi-attach) by a near coin toss; the \
     report says where it landed.";
const N_NFS_LEASE: &str = "If the stopped node could not release Prometheus's lock on the export, it \
     lapses with the node's NFSv4 lease: the replacement may crash-loop on the lock until then.";
const N_GRAFANA_USER_ROLLOUT: &str = "Grafana on an attachable backend: a new pod placed on another node \
     waits for the volume until the deadline (rollout stuck, multi-attach); on the same node it \
     shares the volume and the rollout completes.";
const N_CUSTOM_CREATED: &str = "Changed on 2026-12-01 from survives (the network-storage claim): on a \
     cluster the harness creates the class is its local-path one, whose PVs are bound to one node. \
     Observed on kind 1.35 with E2E_STORAGE_CLASS=standard: FailedScheduling '0/3 nodes are \
     available: 1 node(s) didn't match PersistentVolume's node affinity, 1 node(s) had untolerated \
     taint(s), 1 node(s) were unschedulable.'";
const N_FULL: &str = "While full, Prometheus refuses appends ('write to WAL: ... no space left on \
     device'; the receiver answers 500) and panics at the first head chunk it cannot write \
     ('panic: preallocate: no space left on device' from tsdb.handleChunkWriteError); the kubelet \
     restarts it and it crash-loops (prometheus-disk-full) until the space is back, then repairs \
     the WAL record it had half-written when the disk filled ('Encountered WAL read error, \
     attempting repair' ... 'unexpected checksum': prometheus-corruption), replays the rest and \
     serves again. The samples written while full are lost, reported as \
     a figure (lost while full), not as a failure: what the table judges is what was written \
     before the disk filled. Changed on 2026-12-06 from 'keeps running and Ready' (predicted from \
     the WAL's append path alone): observed on kind 1.35 with the 2.53 stand-in, whose log ended \
     'panic: preallocate: no space left on device' / \
     'github.com/prometheus/prometheus/tsdb.handleChunkWriteError'.";
const N_SNAPSHOT: &str = "Judged is the Prometheus restored from the snapshot; the original keeps \
     running and must read back whole (the cell fails otherwise). The copy holds what had reached \
     the volume's device when the image was copied: the blocks (fsynced when written) and the WAL \
     up to some recent point; what Prometheus wrote after it (the head's newest samples) is \
     missing, counted in the judgement's evidence. Observed on kind 1.35 (2026-12-06): the newest \
     second of writes, the top-up, was missing (303 samples before, 301 in the copy), the rest of \
     the dense head and the blocks whole.";
const N_EXPAND: &str = "Where the driver has CAP_SYS_RESOURCE (GitHub Actions' runners) it grows \
     the filesystem online and Prometheus keeps running. On this project's machine the driver grows \
     volumes offline only: the resizer refuses while the claim is in use (expansion-offline) and \
     the harness stops Prometheus until the claim has grown, a restart the report shows. Either way \
     the pod's filesystem must have grown, or the cell fails.";
const N_THANOS_BUCKET: &str = "Judged here is Prometheus's own TSDB. Beside it, every block the \
     sidecar had shipped before the disruption must still be in the bucket afterwards, once (read \
     through the S3 API with `thanos tools bucket ls`), or the cell fails: the seed's point is that \
     the bucket keeps what the pod loses.";
const N_THANOS_COMPACTING: &str = "The store starts only once Prometheus has compacted the \
     seeded blocks. Beside the table's judgement: the bucket must then hold only level-1 blocks \
     (the newest seeded block, which the compactor leaves out, and what Prometheus cuts after), \
     never a compacted one, or the cell fails; the seeded hours that exist only as compacted \
     blocks on the emptyDir are reported, and a replaced pod loses them from everywhere.";
const N_K3D_NFS: &str = "k3d: NFS mounts from k3d nodes are known to be flaky (k3d#1109).";

/// Total loss, as a pod starting on an empty directory shows it: every
/// seeded part must be reported lost (prometheus::part, and the
/// Grafana objects the harness created through the API).
fn lost(app: App) -> Outcome {
    let (what, parts): (&str, &[PartKind]) = match app {
        App::Prometheus => (
            "blocks and WAL: the new pod starts on an empty directory",
            &[PartKind::Blocks, PartKind::HeadWal],
        ),
        App::Grafana => (
            "dashboard, datasource and folder: the new pod starts on an empty grafana.db",
            &[PartKind::Dashboard, PartKind::Datasource, PartKind::Folder],
        ),
    };
    Outcome::Lost {
        what: Cow::Borrowed(what),
        parts: parts.iter().copied().map(vocab::Part::new).collect(),
    }
}

/// Sources for where a replacement pod finds its data.
fn placement(s: Shape) -> Vec<Source> {
    let mut out = match s.backend {
        Backend::EmptyDir => vec![EMPTYDIR],
        Backend::HostPathPinned => vec![HOSTPATH, NODE_SELECTOR],
        Backend::LocalPv => vec![LOCAL_VOLUME, STORAGE_CLASS_LOCAL],
        Backend::LocalPath => vec![LOCAL_VOLUME, KIND_STORAGE, K3S_LOCAL_PATH],
        Backend::Nfs => vec![NFS_RWO_NOT_ENFORCED, RWO_NOT_ENFORCED],
        Backend::UserClaim => vec![CLAIM_NETWORK_RWO, ATTACH_RECONCILER],
        Backend::Attachable => vec![
            PROJECT_ATTACHABLE_CSI,
            ATTACH_RECONCILER,
            ATTACH_SAFE_DETACH,
        ],
    };
    if s.statefulset {
        out.push(STS_STABLE_STORAGE);
    }
    if s.rwop {
        out.extend([RWOP_SCHEDULER, RWOP_E2E]);
    }
    out
}

/// Notes for a replacement created while the old pod may still run.
fn overlap_notes(app: App, s: Shape, mut part: Part) -> Part {
    if s.rwop {
        part = part.note(N_RWOP_TRANSIENT);
    } else if app == App::Prometheus && s.backend != Backend::EmptyDir {
        part = part.note(N_LOCK_TRANSIENT);
    }
    if s.backend.attachable() {
        part = part.note(N_ATTACH_TRANSIENT);
    }
    part
}

// Over 80 lines on purpose: the table's one dispatch, one short arm per
// disruption (the long ones already have their own function); a reader
// looks up a disruption here and finds every rule in one place.
fn rule(app: App, s: Shape, d: Disruption, provider: Provider) -> Part {
    use Backend::*;
    match d {
        Disruption::ContainerKill => {
            let mut src = vec![RESTART_POLICY];
            src.extend(placement(s));
            if app == App::Prometheus {
                src.extend([PROM_LOCK_REPLACED, PROM_WAL]);
            }
            Part::new(Outcome::Survives, src)
        }
        Disruption::PodDelete | Disruption::PodForceDelete => {
            let force = (d == Disruption::PodForceDelete).then_some(FORCE_DELETE);
            if s.backend == EmptyDir {
                return Part::new(lost(app), [EMPTYDIR]).with(force);
            }
            let part = Part::new(Outcome::Survives, placement(s))
                .with(force.clone())
                .with([DEPLOY_RECREATE]);
            if s.statefulset && force.is_none() {
                // The StatefulSet controller waits until the old pod is gone
                // before it creates the new one: no overlap.
                return part;
            }
            overlap_notes(app, s, part)
        }
        Disruption::RolloutRestart => rollout_restart(app, s),
        Disruption::RolloutRecreate => {
            if s.backend == EmptyDir {
                return Part::new(lost(app), [EMPTYDIR, DEPLOY_RECREATE]);
            }
            let part = Part::new(Outcome::Survives, [DEPLOY_RECREATE]).with(placement(s));
            if s.backend.attachable() {
                part.note(N_ATTACH_TRANSIENT)
            } else {
                part
            }
        }
        Disruption::StuckRolloutUnblock => {
            let mut part =
                Part::new(Outcome::Survives, [SEED_DEADLOCK, DEPLOY_RECREATE]).with(placement(s));
            if s.rwop || app == App::Prometheus {
                part = part.note(N_UNBLOCK);
            }
            if s.backend.attachable() {
                part = part.with([MULTI_ATTACH_PR]).note(N_ATTACH_TRANSIENT);
            }
            part
        }
        Disruption::RolloutOtherNode => rollout_other_node(app, s),
        Disruption::RolloutOtherNodeUnblock => {
            let part = Part::new(Outcome::Survives, [SEED_DEADLOCK, ROLLING_OLD_RS_KEPT])
                .with(placement(s))
                .with([ATTACH_RECONCILER, MULTI_ATTACH_PR]);
            if app == App::Prometheus || s.backend.attachable() {
                part.note(N_AWAY_UNBLOCK)
            } else {
                part
            }
        }
        Disruption::RescheduleOtherNode => reschedule(app, s),
        Disruption::NodeStop => node_stop(app, s),
        Disruption::NodeStopOutOfService => node_stop_out_of_service(app, s),
        Disruption::NfsRestart => {
            let mut part = Part::new(
                Outcome::Survives,
                [NFS_HARD, NFS4_LEASES, PROJECT_NFS_SERVER],
            )
            .with(match app {
                App::Prometheus => [PROM_STORAGE, PROM_NFS_CORRUPTION],
                App::Grafana => [GRAFANA_SQLITE_NFS, GRAFANA_NFS_DISK_IO],
            });
            if provider == Provider::K3d {
                part = part.with([K3D_NFS_FLAKY]).note(N_K3D_NFS);
            }
            part
        }
        Disruption::WalTailTorn => match app {
            // Only where the harness reaches the directory (not_applicable
            // leaves the others out): the backends pinned to a node.
            App::Prometheus => Part::new(
                Outcome::Lost {
                    what: Cow::Borrowed(
                        "the head's newest samples: the WAL is replayed up to the cut, the blocks \
                         stay",
                    ),
                    parts: vec![vocab::Part::new(PartKind::HeadWal)],
                },
                [PROM_WAL_REPAIR, PROM_WAL, PROJECT_WAL_TEAR],
            )
            .with(placement(s)),
            App::Grafana => Part::new(Outcome::Survives, [PROJECT_WAL_TEAR]),
        },
        Disruption::VolumeFull => match (app, s.backend) {
            (App::Grafana, _) => Part::new(Outcome::Survives, [PROJECT_VOLUME_FULL]),
            (App::Prometheus, EmptyDir) => Part::new(
                lost(App::Prometheus),
                [EMPTYDIR_SIZE_LIMIT, KUBELET_EMPTYDIR_EVICTION, EMPTYDIR],
            )
            .with([PROJECT_VOLUME_FULL]),
            // Not applicable on the others (not_applicable): no capacity of
            // their own.
            (App::Prometheus, _) => Part::new(
                Outcome::Survives,
                [
                    PROM_WAL_COMMIT_ROLLBACK,
                    PROM_REMOTE_WRITE_500,
                    PROM_CHUNK_WRITE_PANIC,
                    PROM_DISK_FULL_RUNNING,
                    PROM_DISK_FULL_START,
                    PROM_DB_SNAPSHOT,
                    PROJECT_VOLUME_FULL,
                ],
            )
            .with(placement(s))
            .note(N_FULL),
        },
        Disruption::SnapshotRestore => match app {
            App::Grafana => Part::new(Outcome::Survives, [PROJECT_SNAPSHOT_RESTORE]),
            App::Prometheus => Part::new(
                Outcome::Lost {
                    what: Cow::Borrowed(
                        "the head's newest samples in the restored copy: WAL writes not yet on the \
                         volume's device when it was copied; the blocks are whole",
                    ),
                    parts: vec![vocab::Part::new(PartKind::HeadWal)],
                },
                [
                    SNAPSHOT_NO_CONSISTENCY,
                    SNAPSHOT_RESTORE,
                    PROM_WAL_NO_FSYNC,
                    KERNEL_WRITEBACK,
                    PROJECT_SNAPSHOT_RESTORE,
                ],
            )
            .with(placement(s))
            .note(N_SNAPSHOT),
        },
        Disruption::VolumeExpand => match (app, s.backend) {
            (App::Grafana, _) => Part::new(Outcome::Survives, [PROJECT_VOLUME_EXPAND]),
            (App::Prometheus, Attachable) => Part::new(
                Outcome::Survives,
                [EXPAND_PVC, CSI_EXPAND_OFFLINE, PROJECT_VOLUME_EXPAND],
            )
            .with(placement(s))
            .note(N_EXPAND),
            (App::Prometheus, UserClaim) => Part::new(
                Outcome::OneOf {
                    outcomes: vec![
                        Outcome::Survives,
                        Outcome::Refused {
                            reason: Reason::ExpansionForbidden,
                        },
                    ],
                },
                [
                    EXPAND_PVC,
                    RESIZE_ADMISSION,
                    CSI_EXPAND_OFFLINE,
                    CLAIM_NETWORK_RWO,
                ],
            )
            .with([PROJECT_VOLUME_EXPAND]),
            // The node-local classes the harness's clusters have (and the
            // local PV's own class): none allows expansion.
            (App::Prometheus, _) => Part::new(
                Outcome::Refused {
                    reason: Reason::ExpansionForbidden,
                },
                [EXPAND_PVC, RESIZE_ADMISSION, PROJECT_VOLUME_EXPAND],
            ),
        },
        // The Thanos setup's own (not_applicable keeps it there).
        Disruption::StoreRestart => Part::new(
            Outcome::Survives,
            [THANOS_SHIPPER_RETRY, THANOS_SIDECAR_LOSS],
        ),
        // The operator's own (not_applicable keeps them to its setup).
        Disruption::OperatorRestart => Part::new(
            Outcome::Survives,
            [STS_UPDATE_STRATEGIES, OPERATOR_RECONCILE],
        ),
        Disruption::ResourceRecreate => {
            if s.backend == EmptyDir {
                return Part::new(lost(app), [OWNER_GC, EMPTYDIR]);
            }
            if s.deletes_claims {
                return Part::new(lost(app), [OWNER_GC, STS_PVC_RETENTION]);
            }
            Part::new(
                Outcome::Survives,
                [OWNER_GC, OPERATOR_PVC_RETENTION, STS_PVC_RETENTION],
            )
            .with(placement(s))
        }
        Disruption::ImageUpgrade => {
            let upgrade = match app {
                App::Prometheus => PROM_STABILITY,
                App::Grafana => GRAFANA_UPGRADE,
            };
            if s.backend == EmptyDir {
                let replaced = if s.statefulset {
                    STS_UPDATE_STRATEGIES
                } else {
                    DEPLOY_RECREATE
                };
                return Part::new(lost(app), [EMPTYDIR, replaced]);
            }
            let strategy = if s.statefulset {
                vec![STS_UPDATE_STRATEGIES]
            } else {
                vec![DEPLOY_RECREATE]
            };
            Part::new(Outcome::Survives, [upgrade])
                .with(strategy)
                .with(placement(s))
        }
    }
}

// Over 80 lines on purpose: one match arm per backend, each citing its
// sources; the table reads best as one match, and splitting it would
// scatter one disruption's predictions over several functions.
fn rollout_restart(app: App, s: Shape) -> Part {
    use Backend::*;
    if s.backend == EmptyDir {
        return Part::new(lost(app), [EMPTYDIR, DEPLOY_ROLLING]);
    }
    if s.statefulset {
        return Part::new(Outcome::Survives, [STS_UPDATE_STRATEGIES]).with(placement(s));
    }
    if s.rwop {
        return Part::new(
            Outcome::RolloutStuck {
                reason: Reason::RwopRejected,
            },
            [
                ACCESS_MODES,
                RWOP_SCHEDULER,
                RWOP_E2E,
                DEPLOY_ROLLING,
                DEPLOY_FAILED,
            ],
        );
    }
    match (app, s.backend) {
        (App::Prometheus, Attachable) => Part::new(
            Outcome::OneOf {
                outcomes: vec![
                    Outcome::RolloutStuck {
                        reason: Reason::PrometheusLockHeld,
                    },
                    Outcome::RolloutStuck {
                        reason: Reason::MultiAttach,
                    },
                ],
            },
            [
                SEED_DEADLOCK,
                DEPLOY_ROLLING,
                SCHEDULER_SPREAD,
                ACCESS_MODES,
                PROM_LOCK_ISSUE,
                ATTACH_RECONCILER,
                MULTI_ATTACH_PR,
                DEPLOY_FAILED,
                PROJECT_ATTACHABLE_CSI,
            ],
        )
        .note(N_ROLLOUT_PLACEMENT),
        (App::Prometheus, b) if b.shares_dir_in_rollout() => {
            let mut src = vec![
                SEED_DEADLOCK,
                DEPLOY_ROLLING,
                PROM_LOCK_ISSUE,
                PROM_RECREATE_MYBINDER,
            ];
            if b == Nfs {
                src.extend([
                    NFS_RWO_NOT_ENFORCED,
                    RWO_NOT_ENFORCED,
                    FLOCK_NFS,
                    PROM_STORAGE,
                    PROM_NFS_CORRUPTION,
                ]);
            } else {
                src.push(ACCESS_MODES);
                src.extend(placement(s));
            }
            src.push(DEPLOY_FAILED);
            Part::new(
                Outcome::RolloutStuck {
                    reason: Reason::PrometheusLockHeld,
                },
                src,
            )
        }
        (App::Prometheus, _) => Part::new(
            Outcome::RolloutStuck {
                reason: Reason::ProgressDeadlineExceeded,
            },
            [
                CLAIM_NETWORK_RWO,
                SEED_DEADLOCK,
                DEPLOY_ROLLING,
                MULTI_ATTACH_PR,
                ATTACH_RECONCILER,
                PROM_LOCK_ISSUE,
                DEPLOY_FAILED,
            ],
        ),
        (App::Grafana, Nfs) => Part::new(
            Outcome::Survives,
            [
                DEPLOY_ROLLING,
                NFS_RWO_NOT_ENFORCED,
                RWO_NOT_ENFORCED,
                GRAFANA_SQLITE_NFS,
                GRAFANA_NFS_DISK_IO,
            ],
        ),
        (App::Grafana, UserClaim | Attachable) => Part::new(
            Outcome::OneOf {
                outcomes: vec![
                    Outcome::Survives,
                    Outcome::RolloutStuck {
                        reason: Reason::MultiAttach,
                    },
                ],
            },
            [
                ACCESS_MODES,
                DEPLOY_ROLLING,
                SCHEDULER_SPREAD,
                MULTI_ATTACH_PR,
                ATTACH_RECONCILER,
            ],
        )
        .with(placement(s))
        .note(N_GRAFANA_USER_ROLLOUT),
        (App::Grafana, _) => {
            Part::new(Outcome::Survives, [DEPLOY_ROLLING, ACCESS_MODES]).with(placement(s))
        }
    }
}

fn reschedule(app: App, s: Shape) -> Part {
    use Backend::*;
    match s.backend {
        EmptyDir => Part::new(lost(app), [EMPTYDIR, CORDON]),
        HostPathPinned => Part::new(
            Outcome::Pending {
                reason: Reason::Unschedulable,
            },
            [CORDON, NODE_SELECTOR, HOSTPATH, SEED_HOSTPATH],
        ),
        LocalPv | LocalPath => Part::new(
            Outcome::Pending {
                reason: Reason::NodeAffinityConflict,
            },
            [CORDON, VOLUME_BINDING],
        )
        .with(placement(s)),
        Nfs => Part::new(Outcome::Survives, [CORDON]).with(placement(s)),
        UserClaim | Attachable => Part::new(Outcome::Survives, [CORDON, MULTI_ATTACH_PR])
            .with(placement(s))
            .note(N_ATTACH_TRANSIENT),
    }
}

fn node_stop(app: App, s: Shape) -> Part {
    use Backend::*;
    if s.statefulset && s.backend.pinned() {
        return Part::new(
            Outcome::Pending {
                reason: Reason::NodeNotReady,
            },
            [
                STS_FORCE_DELETE,
                STS_NEVER_EVICTED,
                TAINT_EVICTION,
                KIND_NODE_TMPFS,
                KIND_RESTART,
            ],
        );
    }
    let evicted = [TAINT_EVICTION, STS_NEVER_EVICTED];
    match s.backend {
        EmptyDir => Part::new(lost(app), evicted).with([EMPTYDIR]),
        HostPathPinned => Part::new(
            Outcome::Pending {
                reason: Reason::Unschedulable,
            },
            evicted,
        )
        .with([NODE_SELECTOR, HOSTPATH, KIND_NODE_TMPFS, KIND_RESTART]),
        LocalPv | LocalPath if s.rwop => Part::new(
            Outcome::Pending {
                reason: Reason::RwopRejected,
            },
            evicted,
        )
        .with([
            STS_FORCE_DELETE,
            RWOP_SCHEDULER,
            RWOP_E2E,
            KIND_NODE_TMPFS,
            KIND_RESTART,
        ]),
        LocalPv | LocalPath => Part::new(
            Outcome::Pending {
                reason: Reason::NodeAffinityConflict,
            },
            evicted,
        )
        .with([NODE_AFFINITY_UNREACHABLE, VOLUME_BINDING])
        .with(placement(s))
        .with([KIND_NODE_TMPFS, KIND_RESTART]),
        Nfs => {
            let part = Part::new(Outcome::Survives, evicted).with(placement(s));
            if app == App::Prometheus {
                part.with([NFS4_LEASES]).note(N_NFS_LEASE)
            } else {
                part
            }
        }
        UserClaim | Attachable => Part::new(
            Outcome::Pending {
                reason: Reason::MultiAttach,
            },
            evicted,
        )
        .with([
            ATTACH_WANTED_WHILE_TERMINATING,
            NON_GRACEFUL_SHUTDOWN,
            FORCE_DETACH_TIMEOUT,
        ])
        .with(placement(s))
        .note(N_ATTACH_NODE_STOP),
    }
}

/// node-stop, then the out-of-service taint once the node is NotReady:
/// the old pods are force-deleted and attachable volumes detached at once,
/// so what stays pending is only what is bound to the node itself.
fn node_stop_out_of_service(app: App, s: Shape) -> Part {
    use Backend::*;
    let shutdown = [NON_GRACEFUL_SHUTDOWN, PODGC_OUT_OF_SERVICE, TAINT_EVICTION];
    match s.backend {
        EmptyDir => Part::new(lost(app), shutdown).with([EMPTYDIR]),
        HostPathPinned => Part::new(
            Outcome::Pending {
                reason: Reason::Unschedulable,
            },
            shutdown,
        )
        .with([NODE_SELECTOR, HOSTPATH, KIND_NODE_TMPFS, KIND_RESTART]),
        // Also the statefulset's and rwop's: once pod GC has deleted the
        // old pod, neither the StatefulSet's name nor the RWOP claim is held,
        // and the replacement meets the PV's node affinity.
        LocalPv | LocalPath => Part::new(
            Outcome::Pending {
                reason: Reason::NodeAffinityConflict,
            },
            shutdown,
        )
        .with([NODE_AFFINITY_UNREACHABLE, VOLUME_BINDING])
        .with(placement(s))
        .with([KIND_NODE_TMPFS, KIND_RESTART]),
        Nfs => {
            let part = Part::new(Outcome::Survives, shutdown).with(placement(s));
            if app == App::Prometheus {
                part.with([NFS4_LEASES]).note(N_NFS_LEASE)
            } else {
                part
            }
        }
        UserClaim | Attachable => Part::new(Outcome::Survives, shutdown)
            .with([ATTACH_SAFE_DETACH])
            .with(placement(s))
            .note(N_OUT_OF_SERVICE),
    }
}

/// A rollout whose new pod may not run on the old pod's node: whatever is
/// bound to that node stops it; an attachable volume cannot attach to the
/// new node while the old pod still uses it; a shared one meets the lock.
fn rollout_other_node(app: App, s: Shape) -> Part {
    use Backend::*;
    let rollout = [NODE_AFFINITY, DEPLOY_ROLLING, DEPLOY_FAILED];
    let stuck = |reason| Outcome::RolloutStuck { reason };
    if s.rwop && s.backend != EmptyDir {
        return Part::new(stuck(Reason::RwopRejected), rollout).with([
            ACCESS_MODES,
            RWOP_SCHEDULER,
            RWOP_E2E,
        ]);
    }
    match s.backend {
        EmptyDir => Part::new(lost(app), [EMPTYDIR, NODE_AFFINITY, DEPLOY_ROLLING]),
        HostPathPinned => Part::new(stuck(Reason::Unschedulable), rollout).with([
            NODE_SELECTOR,
            HOSTPATH,
            SEED_HOSTPATH,
        ]),
        LocalPv | LocalPath => Part::new(stuck(Reason::NodeAffinityConflict), rollout)
            .with([VOLUME_BINDING])
            .with(placement(s)),
        Nfs => match app {
            App::Prometheus => Part::new(stuck(Reason::PrometheusLockHeld), rollout).with([
                NFS_RWO_NOT_ENFORCED,
                RWO_NOT_ENFORCED,
                FLOCK_NFS,
                PROM_LOCK_ISSUE,
            ]),
            App::Grafana => Part::new(Outcome::Survives, [NODE_AFFINITY, DEPLOY_ROLLING]).with([
                NFS_RWO_NOT_ENFORCED,
                RWO_NOT_ENFORCED,
                GRAFANA_SQLITE_NFS,
                GRAFANA_NFS_DISK_IO,
            ]),
        },
        UserClaim | Attachable => Part::new(stuck(Reason::MultiAttach), rollout)
            .with([ACCESS_MODES, MULTI_ATTACH_PR])
            .with(placement(s)),
    }
}

/// Cells the harness does not run, with why and the sources that say so.
fn not_applicable(cell: Cell) -> Option<(&'static str, Vec<Source>)> {
    match (cell.variant, cell.disruption, cell.provider) {
        (v, _, Provider::Existing) if v.setup() != Setup::Plain => Some((
            "the setup's images are built on the harness's machine (no registry serves them here) \
             and loaded into the nodes of a cluster the harness creates; your cluster's nodes \
             cannot pull them",
            vec![PROJECT_EXISTING],
        )),
        (v, d, _) if v.setup() == Setup::Operator && !d.for_operator_setup() => Some((
            "the prometheus-operator setup runs the pod-level disruptions, reschedule-other-node, its \
             own (operator-restart, resource-recreate) and image-upgrade through its resource so \
             far; the rollouts change a StatefulSet the operator owns and would put back, the rest \
             are not predicted for it yet (docs/setups.md)",
            vec![OPERATOR_STORAGE],
        )),
        (v, d, _) if v.setup() == Setup::Thanos && !d.for_thanos_setup() => Some((
            "the Thanos sidecar setup runs the pod-level disruptions so far (docs/setups.md)",
            vec![THANOS_SIDECAR_LOSS],
        )),
        (Variant::ThanosCompacting, Disruption::StoreRestart, _) => Some((
            "the variant starts its store late on purpose, and a block written while the store is \
             stopped would race Prometheus's compactor (not predicted); store-restart runs on \
             thanos-empty-dir and thanos-claim",
            vec![THANOS_UNEQUAL_BLOCKS, PROM_COMPACTION],
        )),
        (v, Disruption::StoreRestart, _) if v.setup() != Setup::Thanos => Some((
            "the variant has no Thanos sidecar and no object store",
            vec![THANOS_SIDECAR_LOSS],
        )),
        (v, Disruption::OperatorRestart | Disruption::ResourceRecreate, _)
            if v.setup() != Setup::Operator =>
        {
            Some((
                "the variant is not run by prometheus-operator: there is no operator and no \
                 Prometheus resource",
                vec![OPERATOR_STORAGE],
            ))
        }
        (_, Disruption::NodeStop | Disruption::NodeStopOutOfService, Provider::Existing) => Some((
            "the harness never stops a node of a cluster it did not create",
            vec![PROJECT_EXISTING],
        )),
        (_, Disruption::RescheduleOtherNode, Provider::Existing) => Some((
            "the harness never cordons a node of a cluster it did not create",
            vec![PROJECT_EXISTING],
        )),
        (_, Disruption::ContainerKill, Provider::Existing) => Some((
            "killing the process from the node needs the node container, which only kind/k3d give",
            vec![PROJECT_EXISTING],
        )),
        (Variant::HostPath | Variant::LocalPv, _, Provider::Existing) => Some((
            "the harness never writes directories onto the nodes of a cluster it did not create",
            vec![PROJECT_EXISTING],
        )),
        (Variant::CsiRwo, _, Provider::Existing) => Some((
            "the attachable driver keeps its volumes in a host directory mounted into every node of \
             a cluster the harness creates; on your cluster, check your own attachable class with \
             custom-class (E2E_STORAGE_CLASS)",
            vec![PROJECT_EXISTING, PROJECT_ATTACHABLE_CSI],
        )),
        (v, _, Provider::Existing) if v.uses_nfs() => Some((
            "the NFS server container joins the cluster's Docker network, which only kind/k3d have",
            vec![PROJECT_EXISTING, PROJECT_NFS_SERVER],
        )),
        (v, Disruption::NfsRestart, _) if !v.uses_nfs() => Some((
            "the variant does not use the harness's NFS server",
            vec![PROJECT_NFS_SERVER],
        )),
        (Variant::Statefulset, Disruption::RolloutRecreate, _) => Some((
            "a StatefulSet has no Recreate strategy (OnDelete or RollingUpdate only)",
            vec![STS_UPDATE_STRATEGIES],
        )),
        (Variant::Statefulset, Disruption::StuckRolloutUnblock, _) => Some((
            "a StatefulSet rollout deletes before it recreates, so it never gets stuck on the volume",
            vec![STS_UPDATE_STRATEGIES],
        )),
        (
            Variant::EmptyDir,
            Disruption::StuckRolloutUnblock | Disruption::RolloutOtherNodeUnblock,
            _,
        ) => Some((
            "the rollout never gets stuck: each new pod gets its own emptyDir",
            vec![EMPTYDIR, DEPLOY_ROLLING],
        )),
        (
            Variant::Statefulset,
            Disruption::RolloutOtherNode | Disruption::RolloutOtherNodeUnblock,
            _,
        ) => Some((
            "a StatefulSet replaces its pods in place, one at a time, and the variant's two \
                 replicas with pod anti-affinity already take both workers: there is no other node \
                 for replica 0's new template",
            vec![STS_UPDATE_STRATEGIES, NODE_AFFINITY],
        )),
        (v, Disruption::VolumeFull, p)
            if shapes(v, p).0.backend.pinned() || shapes(v, p).0.backend == Backend::Nfs =>
        {
            Some((
                "the volume has no capacity of its own: a node directory (hostPath, local PV, \
                 local-path) or an NFS export shares the node's or the host's disk, so filling it \
                 would fill that disk",
                vec![PROJECT_VOLUME_FULL],
            ))
        }
        (v, Disruption::SnapshotRestore, p)
            if !shapes(v, p).0.backend.attachable() || shapes(v, p).0.statefulset =>
        {
            Some((
                "a CSI snapshot needs a claim of a CSI driver with a VolumeSnapshotClass (on a \
                 cluster the harness creates, only the attachable driver has one), and the \
                 restored copy is made from a Deployment (not a StatefulSet)",
                vec![SNAPSHOT_RESTORE, PROJECT_SNAPSHOT_RESTORE],
            ))
        }
        (v, Disruption::VolumeExpand, p)
            if matches!(
                shapes(v, p).0.backend,
                Backend::EmptyDir | Backend::HostPathPinned | Backend::Nfs
            ) =>
        {
            Some((
                "no claim with a size of its own to grow: an emptyDir or hostPath volume has no \
                 claim, and an NFS export's size is the server's disk (df shows it whatever the \
                 claim asks)",
                vec![EXPAND_PVC, PROJECT_VOLUME_EXPAND],
            ))
        }
        (_, Disruption::WalTailTorn, Provider::Existing) => Some((
            "the harness never enters a node of a cluster it did not create",
            vec![PROJECT_EXISTING, PROJECT_WAL_TEAR],
        )),
        (v, Disruption::WalTailTorn, p) if !shapes(v, p).0.backend.pinned() => Some((
            "the harness cuts the WAL in a node directory (hostPath, local PV, local-path); this \
             variant's data is elsewhere (an emptyDir goes with its pod, an NFS export or an \
             attachable volume is not a node directory)",
            vec![PROJECT_WAL_TEAR],
        )),
        (v, Disruption::RolloutOtherNodeUnblock, p) if shapes(v, p).0.backend.pinned() => Some((
            "the data is bound to the old node, so no pod of the new template can ever start there \
             or elsewhere; deleting the old pod only brings back one of the old template \
             (rollout-other-node shows the stuck rollout itself)",
            vec![NODE_AFFINITY, ROLLING_OLD_RS_KEPT, VOLUME_BINDING],
        )),
        _ => None,
    }
}

/// The expected outcome of one cell, with its sources.
pub(crate) fn expected(
    variant: Variant,
    disruption: Disruption,
    provider: Provider,
) -> Expectation {
    let cell = Cell::new(variant, disruption, provider);
    if let Some((why, sources)) = not_applicable(cell) {
        let na = Outcome::NotApplicable {
            why: Cow::Borrowed(why),
        };
        return Expectation {
            cell,
            prometheus: na.clone(),
            grafana: na,
            sources,
            note: None,
        };
    }
    let (ps, gs) = shapes(variant, provider);
    let mut p = rule(App::Prometheus, ps, disruption, provider);
    let mut g = rule(App::Grafana, gs, disruption, provider);
    match variant.setup() {
        Setup::Plain => {}
        Setup::Operator => p = p.with([OPERATOR_STORAGE, SEED_OPERATOR_EMPTYDIR]),
        Setup::Thanos => {
            p = p
                .with([THANOS_SIDECAR_LOSS, SEED_THANOS])
                .note(N_THANOS_BUCKET);
            if variant == Variant::ThanosCompacting {
                p = p
                    .with([
                        THANOS_SHIP_LEVEL_ONE,
                        THANOS_UNEQUAL_BLOCKS,
                        PROM_COMPACTION,
                    ])
                    .note(N_THANOS_COMPACTING);
            }
        }
    }
    if !variant.setup().apps().contains(&App::Grafana) {
        g = Part::new(
            Outcome::NotApplicable {
                why: Cow::Owned(format!(
                    "Grafana is not part of the {} setup",
                    variant.setup()
                )),
            },
            [],
        );
    }
    if variant == Variant::CustomClass
        && provider != Provider::Existing
        && disruption.is_node_level()
    {
        p = p.note(N_CUSTOM_CREATED);
    }
    let mut sources: Vec<Source> = Vec::new();
    for s in p.sources.into_iter().chain(g.sources) {
        if !sources.contains(&s) {
            sources.push(s);
        }
    }
    // Primary sources first, then this project's own code.
    sources.sort_by_key(|s| !s.is_primary());
    let mut notes: Vec<&str> = Vec::new();
    for n in p.notes.into_iter().chain(g.notes) {
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
    let note: Option<Text> = (!notes.is_empty()).then(|| Cow::Owned(notes.join(" ")));
    Expectation {
        cell,
        prometheus: p.outcome,
        grafana: g.outcome,
        sources,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::NamedId;

    fn exp(v: Variant, d: Disruption, p: Provider) -> Expectation {
        expected(v, d, p)
    }

    #[test]
    fn every_cell_has_an_outcome_and_a_primary_source() {
        for cell in Cell::all() {
            let e = exp(cell.variant, cell.disruption, cell.provider);
            assert_eq!(e.cell, cell);
            assert!(!e.sources.is_empty(), "{cell}: no source");
            assert!(
                e.sources.iter().any(Source::is_primary) || !e.is_applicable(),
                "{cell}: only project-local sources"
            );
            for s in &e.sources {
                assert!(
                    !s.says().trim().is_empty(),
                    "{cell}: source {} says nothing",
                    s.title()
                );
            }
            // Both apps are applicable, or neither: a cell runs whole;
            // Grafana only in a setup that has it.
            let grafana_in_setup = cell.variant.setup().apps().contains(&App::Grafana);
            assert_eq!(
                e.prometheus.is_applicable() && grafana_in_setup,
                e.grafana.is_applicable(),
                "{cell}"
            );
            for o in [&e.prometheus, &e.grafana] {
                assert!(
                    !matches!(o, Outcome::Changed { .. } | Outcome::NotReady { .. }),
                    "{cell}: observed-only outcome expected"
                );
            }
        }
    }

    #[test]
    fn empty_dir_is_the_negative_control() {
        for p in Provider::ALL.iter().copied() {
            let kill = exp(Variant::EmptyDir, Disruption::ContainerKill, p);
            if p != Provider::Existing {
                assert_eq!(kill.prometheus, Outcome::Survives);
                assert_eq!(kill.grafana, Outcome::Survives);
            }
            for d in [
                Disruption::PodDelete,
                Disruption::PodForceDelete,
                Disruption::RolloutRestart,
            ] {
                let e = exp(Variant::EmptyDir, d, p);
                assert!(matches!(e.prometheus, Outcome::Lost { .. }), "{}", e.cell);
                assert!(matches!(e.grafana, Outcome::Lost { .. }), "{}", e.cell);
            }
        }
    }

    #[test]
    fn the_seed_deadlock_on_node_local_and_nfs_storage() {
        for v in [
            Variant::HostPath,
            Variant::LocalPv,
            Variant::DefaultClass,
            Variant::NfsStatic,
            Variant::NfsDynamic,
        ] {
            let e = exp(v, Disruption::RolloutRestart, Provider::Kind);
            assert_eq!(
                e.prometheus,
                Outcome::RolloutStuck {
                    reason: Reason::PrometheusLockHeld
                },
                "{}",
                e.cell
            );
            assert_eq!(e.grafana, Outcome::Survives, "{}", e.cell);
            assert!(e.sources.contains(&SEED_DEADLOCK), "{}", e.cell);
            let unblock = exp(v, Disruption::StuckRolloutUnblock, Provider::Kind);
            assert_eq!(unblock.prometheus, Outcome::Survives, "{}", unblock.cell);
        }
        let rwop = exp(Variant::Rwop, Disruption::RolloutRestart, Provider::K3d);
        assert_eq!(
            rwop.prometheus,
            Outcome::RolloutStuck {
                reason: Reason::RwopRejected
            }
        );
        assert_eq!(
            rwop.grafana,
            Outcome::RolloutStuck {
                reason: Reason::RwopRejected
            }
        );
        let sts = exp(
            Variant::Statefulset,
            Disruption::RolloutRestart,
            Provider::Kind,
        );
        assert_eq!(sts.prometheus, Outcome::Survives);
    }

    #[test]
    fn moving_off_the_node() {
        let cases = [
            (Variant::EmptyDir, None),
            (Variant::HostPath, Some(Reason::Unschedulable)),
            (Variant::LocalPv, Some(Reason::NodeAffinityConflict)),
            (Variant::DefaultClass, Some(Reason::NodeAffinityConflict)),
            (Variant::Statefulset, Some(Reason::NodeAffinityConflict)),
            (Variant::Rwop, Some(Reason::NodeAffinityConflict)),
            (Variant::CustomClass, Some(Reason::NodeAffinityConflict)),
        ];
        for (v, reason) in cases {
            let e = exp(v, Disruption::RescheduleOtherNode, Provider::Kind);
            match reason {
                None => assert!(matches!(e.prometheus, Outcome::Lost { .. }), "{}", e.cell),
                Some(r) => assert_eq!(e.prometheus, Outcome::Pending { reason: r }, "{}", e.cell),
            }
        }
        for v in [Variant::NfsStatic, Variant::NfsDynamic] {
            let e = exp(v, Disruption::RescheduleOtherNode, Provider::Kind);
            assert_eq!(e.prometheus, Outcome::Survives, "{}", e.cell);
        }
        let sts = exp(Variant::Statefulset, Disruption::NodeStop, Provider::Kind);
        assert_eq!(
            sts.prometheus,
            Outcome::Pending {
                reason: Reason::NodeNotReady
            }
        );
    }

    #[test]
    fn attachable_storage_follows_the_pod_and_waits_for_detach() {
        let e = |d| exp(Variant::CsiRwo, d, Provider::Kind);
        for d in [
            Disruption::PodDelete,
            Disruption::PodForceDelete,
            Disruption::RolloutRecreate,
            Disruption::StuckRolloutUnblock,
            Disruption::RescheduleOtherNode,
            Disruption::NodeStopOutOfService,
            Disruption::RolloutOtherNodeUnblock,
            Disruption::ImageUpgrade,
            Disruption::ContainerKill,
        ] {
            assert_eq!(e(d).prometheus, Outcome::Survives, "{d}");
            assert!(e(d).sources.contains(&PROJECT_ATTACHABLE_CSI), "{d}");
        }
        let stuck = |reason| Outcome::RolloutStuck { reason };
        assert_eq!(
            e(Disruption::RolloutOtherNode).prometheus,
            stuck(Reason::MultiAttach)
        );
        assert_eq!(
            e(Disruption::RolloutOtherNode).grafana,
            stuck(Reason::MultiAttach)
        );
        assert_eq!(
            e(Disruption::RolloutRestart).prometheus,
            Outcome::OneOf {
                outcomes: vec![
                    stuck(Reason::PrometheusLockHeld),
                    stuck(Reason::MultiAttach)
                ]
            }
        );
        assert_eq!(
            e(Disruption::NodeStop).prometheus,
            Outcome::Pending {
                reason: Reason::MultiAttach
            }
        );
        assert!(
            e(Disruption::NodeStop)
                .sources
                .contains(&ATTACH_WANTED_WHILE_TERMINATING)
        );
        assert!(!e(Disruption::NfsRestart).is_applicable());
        assert!(!exp(Variant::CsiRwo, Disruption::PodDelete, Provider::Existing).is_applicable());
        // The same mechanism on node-local storage: the new pod never starts.
        assert_eq!(
            exp(
                Variant::DefaultClass,
                Disruption::RolloutOtherNode,
                Provider::Kind
            )
            .prometheus,
            stuck(Reason::NodeAffinityConflict)
        );
        assert!(matches!(
            exp(
                Variant::EmptyDir,
                Disruption::RolloutOtherNode,
                Provider::Kind
            )
            .prometheus,
            Outcome::Lost { .. }
        ));
        assert_eq!(
            exp(
                Variant::DefaultClass,
                Disruption::NodeStopOutOfService,
                Provider::Kind
            )
            .prometheus,
            Outcome::Pending {
                reason: Reason::NodeAffinityConflict
            }
        );
    }

    #[test]
    fn not_applicable_cells_say_why() {
        for cell in Cell::all() {
            let e = exp(cell.variant, cell.disruption, cell.provider);
            let na = e.not_applicable_why().is_some();
            let existing_off_limits = cell.provider == Provider::Existing
                && (matches!(
                    cell.disruption,
                    Disruption::NodeStop
                        | Disruption::RescheduleOtherNode
                        | Disruption::ContainerKill
                ) || matches!(
                    cell.variant,
                    Variant::HostPath | Variant::LocalPv | Variant::NfsStatic | Variant::NfsDynamic
                ));
            let existing_off_limits = existing_off_limits
                || (cell.provider == Provider::Existing
                    && (cell.disruption == Disruption::NodeStopOutOfService
                        || cell.variant == Variant::CsiRwo));
            let rollout_away = matches!(
                cell.disruption,
                Disruption::RolloutOtherNode | Disruption::RolloutOtherNodeUnblock
            );
            // The unblock needs a rollout that gets stuck and a volume that
            // can follow the new pod: not emptyDir, not node-bound storage.
            let node_bound = matches!(cell.variant, Variant::HostPath | Variant::LocalPv)
                || (cell.provider != Provider::Existing
                    && matches!(
                        cell.variant,
                        Variant::DefaultClass | Variant::Rwop | Variant::CustomClass
                    ));
            let should = existing_off_limits
                || (cell.disruption == Disruption::NfsRestart && !cell.variant.uses_nfs())
                || (cell.variant == Variant::Statefulset
                    && (rollout_away
                        || matches!(
                            cell.disruption,
                            Disruption::RolloutRecreate | Disruption::StuckRolloutUnblock
                        )))
                || (cell.variant == Variant::EmptyDir
                    && matches!(
                        cell.disruption,
                        Disruption::StuckRolloutUnblock | Disruption::RolloutOtherNodeUnblock
                    ))
                || (cell.disruption == Disruption::RolloutOtherNodeUnblock && node_bound)
                // The WAL cut needs a node directory of a cluster the
                // harness created.
                || (cell.disruption == Disruption::WalTailTorn
                    && (cell.provider == Provider::Existing
                        || matches!(
                            cell.variant,
                            Variant::EmptyDir
                                | Variant::NfsStatic
                                | Variant::NfsDynamic
                                | Variant::CsiRwo
                        )))
                // Filling needs a volume with a capacity of its own.
                || (cell.disruption == Disruption::VolumeExpand
                    && (cell.variant.uses_nfs()
                        || matches!(cell.variant, Variant::EmptyDir | Variant::HostPath)))
                || (cell.disruption == Disruption::SnapshotRestore
                    && !(cell.variant == Variant::CsiRwo
                        || (cell.provider == Provider::Existing
                            && matches!(
                                cell.variant,
                                Variant::DefaultClass | Variant::Rwop | Variant::CustomClass
                            ))))
                || (cell.disruption == Disruption::VolumeFull
                    && (node_bound
                        || cell.variant.uses_nfs()
                        || (cell.variant == Variant::Statefulset
                            && cell.provider != Provider::Existing)));
            // The operator setup runs some disruptions; its own run nowhere else.
            let operator_only = matches!(
                cell.disruption,
                Disruption::OperatorRestart | Disruption::ResourceRecreate
            );
            let thanos_only = cell.disruption == Disruption::StoreRestart;
            let operator_cell = cell.variant.setup() == Setup::Operator;
            let thanos_cell = cell.variant.setup() == Setup::Thanos;
            let setup_mismatch = (cell.provider == Provider::Existing
                && cell.variant.setup() != Setup::Plain)
                || (operator_cell && !cell.disruption.for_operator_setup())
                || (thanos_cell && !cell.disruption.for_thanos_setup())
                || (!operator_cell && operator_only)
                || (!thanos_cell && thanos_only)
                || (cell.variant == Variant::ThanosCompacting && thanos_only);
            assert_eq!(na, should || setup_mismatch, "{cell}");
        }
    }

    #[test]
    fn custom_class_is_the_users_claim_on_their_cluster_and_local_path_on_ours() {
        for d in Disruption::ALL.iter().copied() {
            let mine = exp(Variant::CustomClass, d, Provider::Existing);
            if mine.is_applicable() {
                assert!(mine.sources.contains(&CLAIM_NETWORK_RWO), "{}", mine.cell);
            }
            for p in [Provider::Kind, Provider::K3d] {
                let ours = exp(Variant::CustomClass, d, p);
                let default = exp(Variant::DefaultClass, d, p);
                assert_eq!(ours.prometheus, default.prometheus, "{}", ours.cell);
                assert!(!ours.sources.contains(&CLAIM_NETWORK_RWO), "{}", ours.cell);
            }
        }
    }
}
