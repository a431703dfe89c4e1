//! The disruptions a cell applies to a running Prometheus + Grafana
//! (docs/architecture.md "Disruptions").

use super::id::{NamedId, named_id_traits};

/// Something every cell of some variants shares, which a disruption may
/// restart: cells that use it wait while it is restarted, the others run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Shared {
    /// The harness's NFS server (the NFS variants' volumes).
    NfsServer,
    /// The prometheus-operator (every operator-setup cell's Prometheus).
    Operator,
}

/// Something the cluster (or an operator) does to the pods and their storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disruption {
    /// SIGKILL the main process from the node; the pod stays.
    ContainerKill,
    /// Graceful pod delete.
    PodDelete,
    /// Pod delete with grace period 0.
    PodForceDelete,
    /// `kubectl rollout restart` with strategy RollingUpdate.
    RolloutRestart,
    /// A rollout with strategy Recreate.
    RolloutRecreate,
    /// Delete the old pod while a rollout is stuck (the seed article's workaround).
    StuckRolloutUnblock,
    /// Cordon the node and delete the pod so it lands on another node.
    RescheduleOtherNode,
    /// Stop the worker container the pod runs on.
    NodeStop,
    /// Restart the NFS server container.
    NfsRestart,
    /// Upgrade the image N-1 -> N on the same volume.
    ImageUpgrade,
    /// A rollout whose new pod cannot land on the old pod's node: the pod
    /// template gains a required node affinity away from it (the rollout
    /// itself), so an attachable volume must move between nodes.
    RolloutOtherNode,
    /// [`Self::RolloutOtherNode`], then the seed article's workaround once
    /// it is stuck: delete the old pod.
    RolloutOtherNodeUnblock,
    /// Stop the node, wait until it is NotReady, then apply the
    /// `node.kubernetes.io/out-of-service` taint (non-graceful node shutdown).
    NodeStopOutOfService,
    /// Stop Prometheus (its workload scaled to 0), tear the first WAL record
    /// written after a mark taken before the head's last write, on the
    /// node's copy of the volume (a backend that lost the tail of its last
    /// writes), and start it again. A
    /// harness-made fault: the negative control of the head's density.
    WalTailTorn,
    /// Fill Prometheus's volume from inside its pod while it runs (a file
    /// the harness writes until the filesystem refuses, or past an
    /// emptyDir's sizeLimit), hold it full, then free the space.
    VolumeFull,
    /// Take a VolumeSnapshot of Prometheus's live claim (no pause: crash
    /// consistent), restore it into a new claim and start a second
    /// Prometheus on it; the original keeps running.
    SnapshotRestore,
    /// Grow Prometheus's claim while it runs (offline, with a stop, where
    /// the driver grows volumes offline only).
    VolumeExpand,
    /// Delete prometheus-operator's pod and let its Deployment replace it:
    /// the restarted operator reconciles the Prometheus resource again.
    OperatorRestart,
    /// Delete the `Prometheus` resource, wait until what the operator made
    /// of it is gone, and create it again (does the claim, and so the
    /// data, outlive the resource?).
    ResourceRecreate,
    /// Stop the Thanos setup's S3 store while a block is due to ship, and
    /// start it again: nothing shipped may be lost, nothing shipped twice.
    StoreRestart,
}

impl NamedId for Disruption {
    const WHAT: &'static str = "disruption";
    const ALL: &'static [Self] = &[
        Self::ContainerKill,
        Self::PodDelete,
        Self::PodForceDelete,
        Self::RolloutRestart,
        Self::RolloutRecreate,
        Self::StuckRolloutUnblock,
        Self::RescheduleOtherNode,
        Self::NodeStop,
        Self::NfsRestart,
        Self::ImageUpgrade,
        Self::RolloutOtherNode,
        Self::RolloutOtherNodeUnblock,
        Self::NodeStopOutOfService,
        Self::WalTailTorn,
        Self::VolumeFull,
        Self::SnapshotRestore,
        Self::VolumeExpand,
        Self::OperatorRestart,
        Self::ResourceRecreate,
        Self::StoreRestart,
    ];

    fn id(self) -> &'static str {
        match self {
            Self::ContainerKill => "container-kill",
            Self::PodDelete => "pod-delete",
            Self::PodForceDelete => "pod-force-delete",
            Self::RolloutRestart => "rollout-restart",
            Self::RolloutRecreate => "rollout-recreate",
            Self::StuckRolloutUnblock => "stuck-rollout-unblock",
            Self::RescheduleOtherNode => "reschedule-other-node",
            Self::NodeStop => "node-stop",
            Self::NfsRestart => "nfs-restart",
            Self::ImageUpgrade => "image-upgrade",
            Self::RolloutOtherNode => "rollout-other-node",
            Self::RolloutOtherNodeUnblock => "rollout-other-node-unblock",
            Self::NodeStopOutOfService => "node-stop-out-of-service",
            Self::WalTailTorn => "wal-tail-torn",
            Self::VolumeFull => "volume-full",
            Self::SnapshotRestore => "snapshot-restore",
            Self::VolumeExpand => "volume-expand",
            Self::OperatorRestart => "operator-restart",
            Self::ResourceRecreate => "resource-recreate",
            Self::StoreRestart => "store-restart",
        }
    }
}

named_id_traits!(Disruption);

impl Disruption {
    /// Node-level disruptions touch state other tests share (a node, the NFS
    /// server), so their cells run one at a time.
    pub(crate) fn is_node_level(self) -> bool {
        matches!(
            self,
            Self::RescheduleOtherNode
                | Self::NodeStop
                | Self::NfsRestart
                | Self::NodeStopOutOfService
        )
    }

    /// Disruptions done to Prometheus's data alone: Grafana is left alone
    /// (a bystander, as in a node-level disruption off its node).
    pub(crate) fn prometheus_only(self) -> bool {
        matches!(
            self,
            Self::WalTailTorn
                | Self::VolumeFull
                | Self::SnapshotRestore
                | Self::VolumeExpand
                | Self::OperatorRestart
                | Self::ResourceRecreate
                | Self::StoreRestart
        )
    }

    /// Disruptions done to the volume itself while its pod keeps running:
    /// the pod is neither replaced nor restarted by the harness.
    pub(crate) fn keeps_pod(self) -> bool {
        matches!(
            self,
            Self::NfsRestart
                | Self::VolumeFull
                | Self::SnapshotRestore
                | Self::VolumeExpand
                | Self::OperatorRestart
                | Self::StoreRestart
        )
    }

    /// Disruptions a run holds no other cell beside, where there are no
    /// node pools: the ones that take a node away from every cell
    /// ([`Disruption::needs_own_nodes`]). With pools they lease one.
    pub(crate) fn runs_alone(self) -> bool {
        self.needs_own_nodes()
    }

    /// What this disruption restarts that other cells share: while it
    /// does, the cells that use it wait (another operator cell's resource
    /// change would wait for the operator, and its timings with it; an NFS
    /// cell's volume would hang), the others run on.
    pub fn restarts(self) -> Option<Shared> {
        match self {
            Self::NfsRestart => Some(Shared::NfsServer),
            Self::OperatorRestart => Some(Shared::Operator),
            _ => None,
        }
    }

    /// Node-level disruptions whose whole effect stays on the two workers
    /// the cell's pods may use: stopping or cordoning the pod's node, the
    /// replacement going to the other (or nowhere). A node pool holds such
    /// a cell; nfs-restart takes away the server every NFS cell shares.
    pub fn needs_own_nodes(self) -> bool {
        matches!(
            self,
            Self::RescheduleOtherNode | Self::NodeStop | Self::NodeStopOutOfService
        )
    }

    /// Disruptions the prometheus-operator setup runs: the pod-level ones,
    /// the version change through its resource (image-upgrade), the pod
    /// placed on another node (reschedule-other-node: the operator does not
    /// pin its pods, so the StatefulSet controller's replacement lands
    /// wherever the scheduler puts it), and its own.
    pub(crate) fn for_operator_setup(self) -> bool {
        matches!(
            self,
            Self::ContainerKill
                | Self::PodDelete
                | Self::PodForceDelete
                | Self::ImageUpgrade
                | Self::RescheduleOtherNode
                | Self::OperatorRestart
                | Self::ResourceRecreate
        )
    }

    /// Disruptions the Thanos sidecar setup runs: the pod-level ones and
    /// its own.
    pub(crate) fn for_thanos_setup(self) -> bool {
        matches!(
            self,
            Self::ContainerKill | Self::PodDelete | Self::PodForceDelete | Self::StoreRestart
        )
    }

    /// Disruptions that stop the Prometheus pod's node.
    pub(crate) fn stops_node(self) -> bool {
        matches!(self, Self::NodeStop | Self::NodeStopOutOfService)
    }

    /// Disruptions that provoke a stuck rollout on purpose and then delete
    /// the old pod: the stuck state is their starting point, not their
    /// outcome.
    pub(crate) fn unblocks(self) -> bool {
        matches!(
            self,
            Self::StuckRolloutUnblock | Self::RolloutOtherNodeUnblock
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_level_disruptions_are_the_serialised_ones() {
        let node_level: Vec<&str> = Disruption::ALL
            .iter()
            .filter(|d| d.is_node_level())
            .map(|d| d.id())
            .collect();
        assert_eq!(
            node_level,
            [
                "reschedule-other-node",
                "node-stop",
                "nfs-restart",
                "node-stop-out-of-service"
            ]
        );
    }
}
