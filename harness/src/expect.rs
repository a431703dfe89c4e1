//! The expectation table: for every (variant, disruption, provider) cell,
//! the outcome the documentation predicts and the source that says so.
//! Observed != expected fails the cell and names the contradicted source.

use serde::Serialize;

/// Why something did not simply survive: the typed result of a classifier
/// (Kubernetes events, Prometheus logs, Grafana logs). Classifiers in
/// `timeline` and `probe` return these; the table predicts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
}
