//! Why something did not simply survive, as the classifiers name it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why something did not simply survive: the typed result of a classifier
/// (Kubernetes events, Prometheus logs, Grafana logs). Classifiers in
/// `timeline` and `probe` return these; the table predicts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// `FailedAttachVolume`: Multi-Attach error / Waiting for detach.
    MultiAttach,
    /// `FailedScheduling`: volume node affinity conflict.
    NodeAffinityConflict,
    /// A second pod refused a ReadWriteOncePod claim.
    RwopRejected,
    /// Prometheus: `lock DB directory: resource temporarily unavailable`.
    PrometheusLockHeld,
    /// Prometheus: permission denied on the data dir (`lock`, `queries.active`, WAL...).
    PrometheusPermissionDenied,
    /// Prometheus: TSDB corruption reported on open (e.g. WAL/chunk errors).
    PrometheusCorruption,
    /// Grafana: SQLite `database is locked`.
    GrafanaDatabaseLocked,
    /// Grafana: SQLite `disk I/O error`.
    GrafanaDiskIo,
    /// Grafana: permission denied on /var/lib/grafana.
    GrafanaPermissionDenied,
    /// A container in CrashLoopBackOff without a more specific reason.
    CrashLoop,
    /// Deployment condition Progressing=False, reason ProgressDeadlineExceeded.
    ProgressDeadlineExceeded,
    /// A volume failed to mount (`FailedMount`) without a more specific reason.
    FailedMount,
    /// A pod could not be scheduled without a more specific reason.
    Unschedulable,
    /// The kubelet could not mount or attach a volume because access was
    /// refused (`permission denied`, NFS `access denied by server`,
    /// `Operation not permitted`): squashed or root-owned exports.
    VolumePermissionDenied,
    /// The pod's node stopped reporting (`NodeNotReady` on the pod): the
    /// pod is stuck there, e.g. a StatefulSet pod on a stopped node.
    NodeNotReady,
    /// Prometheus: `no space left on device` writing its data dir (WAL,
    /// head chunks, a block).
    PrometheusDiskFull,
    /// The kubelet evicted the pod (`Evicted`), e.g. its emptyDir grew past
    /// its sizeLimit.
    Evicted,
    /// The API server refused to resize a claim (its class does not allow
    /// expansion, or its volume was not dynamically provisioned).
    ExpansionForbidden,
    /// The CSI resizer would not grow a claim in use: its driver expands
    /// volumes offline only (`VolumeResizeFailed` ... `only supports offline
    /// expansion`, or the driver's own refusal of an attached volume).
    ExpansionOffline,
}

impl Reason {
    /// Every reason, in display order.
    #[cfg(test)]
    pub(crate) const ALL: &'static [Self] = &[
        Self::MultiAttach,
        Self::NodeAffinityConflict,
        Self::RwopRejected,
        Self::PrometheusLockHeld,
        Self::PrometheusPermissionDenied,
        Self::PrometheusCorruption,
        Self::GrafanaDatabaseLocked,
        Self::GrafanaDiskIo,
        Self::GrafanaPermissionDenied,
        Self::CrashLoop,
        Self::ProgressDeadlineExceeded,
        Self::FailedMount,
        Self::Unschedulable,
        Self::VolumePermissionDenied,
        Self::NodeNotReady,
        Self::PrometheusDiskFull,
        Self::Evicted,
        Self::ExpansionForbidden,
        Self::ExpansionOffline,
    ];

    /// The stable kebab-case id used in JSON and reports.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::MultiAttach => "multi-attach",
            Self::NodeAffinityConflict => "node-affinity-conflict",
            Self::RwopRejected => "rwop-rejected",
            Self::PrometheusLockHeld => "prometheus-lock-held",
            Self::PrometheusPermissionDenied => "prometheus-permission-denied",
            Self::PrometheusCorruption => "prometheus-corruption",
            Self::GrafanaDatabaseLocked => "grafana-database-locked",
            Self::GrafanaDiskIo => "grafana-disk-io",
            Self::GrafanaPermissionDenied => "grafana-permission-denied",
            Self::CrashLoop => "crash-loop",
            Self::ProgressDeadlineExceeded => "progress-deadline-exceeded",
            Self::FailedMount => "failed-mount",
            Self::Unschedulable => "unschedulable",
            Self::VolumePermissionDenied => "volume-permission-denied",
            Self::NodeNotReady => "node-not-ready",
            Self::PrometheusDiskFull => "prometheus-disk-full",
            Self::Evicted => "evicted",
            Self::ExpansionForbidden => "expansion-forbidden",
            Self::ExpansionOffline => "expansion-offline",
        }
    }

    /// Generic reasons say that something failed but not why; a specific
    /// reason seen for the same object explains them (see
    /// `timeline::classify`), and the table only predicts them when nothing
    /// more specific can be known.
    pub(crate) fn is_generic(self) -> bool {
        matches!(
            self,
            Self::CrashLoop
                | Self::FailedMount
                | Self::Unschedulable
                | Self::ProgressDeadlineExceeded
        )
    }

    /// The most telling reason of a set: the one a person should read first.
    /// Specific before generic; among generic ones, the stuck rollout last
    /// (it says that something blocked, never what).
    pub(crate) fn headline(reasons: &[Reason]) -> Option<Reason> {
        let rank = |r: &Reason| match r {
            Self::ProgressDeadlineExceeded => 3,
            r if r.is_generic() => 2,
            Self::NodeNotReady => 1,
            _ => 0,
        };
        reasons.iter().copied().min_by_key(|r| (rank(r), *r))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
