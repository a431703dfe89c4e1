//! The expectation table: for every (variant, disruption, provider) cell,
//! the outcome the documentation predicts and the source that says so.
//! Observed != expected fails the cell and names the contradicted source.
//!
//! - [`expected`] answers one cell; [`Cell::all`] lists every cell.
//! - [`Outcome::observed`] turns what a cell saw (the probe's judgement and
//!   the reasons the timeline classifiers found) into the table's terms.
//! - [`matches`] compares the two and returns a [`Mismatch`] whose message
//!   names the cell, the expectation, its sources and what was seen.
//! - [`render_markdown`] renders the whole table (checked in as
//!   `docs/expectations.md`; `cargo run -q -- expectations` regenerates it).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::Provider;
use crate::disrupt::Disruption;
use crate::ids::NamedId;
use crate::probe::{Judgement, Verdict};
use crate::variant::Variant;

mod observed;
mod render;
mod sources;
mod table;

pub use observed::{RECORD_PATH as OBSERVED_PATH, Record as ObservedRecord};
pub use render::render_markdown;
pub use sources::Source;
pub use table::{ASSUMPTIONS, expected};

/// Text that is usually a `'static` literal from the table but can be owned
/// after a round trip through JSON (the report reads cells back).
pub type Text = Cow<'static, str>;

/// How the probes mark a part that was already missing before the
/// disruption (harness::probe::grafana's compare).
const MISSING_BEFORE: &str = "already missing before";

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
}

impl Reason {
    /// Every reason, in display order.
    pub const ALL: &'static [Self] = &[
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
    ];

    /// The stable kebab-case id used in JSON and reports.
    pub fn id(self) -> &'static str {
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
        }
    }

    /// Generic reasons say that something failed but not why; a specific
    /// reason seen for the same object explains them (see
    /// `timeline::classify`), and the table only predicts them when nothing
    /// more specific can be known.
    pub fn is_generic(self) -> bool {
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
    pub fn headline(reasons: &[Reason]) -> Option<Reason> {
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

/// The two applications every cell deploys and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum App {
    /// Prometheus: TSDB blocks, WAL and its `lock` file.
    Prometheus,
    /// Grafana: grafana.db (SQLite).
    Grafana,
}

impl App {
    /// Both apps, in display order.
    pub const ALL: &'static [Self] = &[Self::Prometheus, Self::Grafana];

    /// `prometheus` / `grafana`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::Grafana => "grafana",
        }
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Serde for [`NamedId`] types as their id string (the shared macro only
/// derives `Serialize`; the report also reads cells back).
pub mod named_id {
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};

    use crate::ids::NamedId;

    /// Serialize as the id string.
    ///
    /// # Errors
    /// Whatever the serializer returns.
    pub fn serialize<S: Serializer, T: NamedId>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.id())
    }

    /// Deserialize from the id string; unknown ids list the valid ones.
    ///
    /// # Errors
    /// When the string is not an id of `T`.
    pub fn deserialize<'de, D: Deserializer<'de>, T: NamedId>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        T::parse_id(&s).map_err(D::Error::custom)
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    /// The storage variant.
    #[serde(with = "named_id")]
    pub variant: Variant,
    /// What is done to it.
    #[serde(with = "named_id")]
    pub disruption: Disruption,
    /// Where the cluster comes from.
    #[serde(with = "named_id")]
    pub provider: Provider,
}

impl Cell {
    /// The cell for these three ids.
    pub fn new(variant: Variant, disruption: Disruption, provider: Provider) -> Self {
        Self {
            variant,
            disruption,
            provider,
        }
    }

    /// Every cell, variant-major, in the ids' display order.
    pub fn all() -> impl Iterator<Item = Cell> {
        Variant::ALL.iter().flat_map(|&v| {
            Disruption::ALL
                .iter()
                .flat_map(move |&d| Provider::ALL.iter().map(move |&p| Cell::new(v, d, p)))
        })
    }

    /// `variant/disruption`, the label progress lines and test names use.
    pub fn short(&self) -> String {
        format!("{}/{}", self.variant, self.disruption)
    }

    /// A file-name-safe id, e.g. `nfs-static__pod-delete__kind`.
    pub fn file_stem(&self) -> String {
        format!("{}__{}__{}", self.variant, self.disruption, self.provider)
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} on {}",
            self.variant, self.disruption, self.provider
        )
    }
}

/// What happens to one app in one cell, in the table's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// A pod of the workload is Ready again and every seeded datum reads
    /// back. Reasons seen on the way (a transient lock or Multi-Attach) are
    /// reported, not failures.
    Survives,
    /// A pod is Ready again, but seeded data is gone.
    Lost {
        /// What is lost (expected: in words; observed: the probe's parts).
        what: Text,
        /// Expected: the probe parts that must all be reported lost (e.g.
        /// `blocks`, `head/wal`; `dashboard` matches `dashboard <uid>`), so a
        /// half-detected loss does not pass. Observed: the parts reported.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<Text>,
    },
    /// The rollout never finishes: Deployment condition
    /// Progressing=False/ProgressDeadlineExceeded, with `reason` among the
    /// reasons seen. The old pod keeps serving the data.
    RolloutStuck {
        /// The cause the classifiers must see (ProgressDeadlineExceeded
        /// itself when the cause depends on the backend).
        reason: Reason,
    },
    /// The replacement pod never runs, with `reason` among the reasons seen.
    Pending {
        /// Why it cannot run.
        reason: Reason,
    },
    /// Any one of these (only where the outcome depends on a backend the
    /// harness cannot know, e.g. the user's custom StorageClass).
    OneOf {
        /// The accepted outcomes.
        outcomes: Vec<Outcome>,
    },
    /// The disruption does not apply to this cell; it is not run.
    NotApplicable {
        /// Why not.
        why: Text,
    },
    /// Observed only: the data is there but differs (a dashboard's version
    /// or panels, a series' values). Never expected.
    Changed {
        /// What differs.
        what: Text,
    },
    /// Observed only: never Ready again and no classifier recognised why.
    NotReady {
        /// What the cell saw last.
        seen: Text,
    },
    /// Observed only: the app was not deployed in this cell (E2E_APPS left
    /// it out). Never expected; never counted as a pass for that app, nor
    /// as a failure: the cell is judged on the apps it ran.
    NotRun {
        /// Why not, e.g. `E2E_APPS=prometheus`.
        why: Text,
    },
}

impl Outcome {
    /// A short label for tables and messages, e.g. `rollout stuck (prometheus-lock-held)`.
    pub fn label(&self) -> String {
        match self {
            Self::Survives => "survives".into(),
            Self::Lost { what, .. } => format!("lost ({what})"),
            Self::RolloutStuck { reason } => format!("rollout stuck ({reason})"),
            Self::Pending { reason } => format!("pending ({reason})"),
            Self::OneOf { outcomes } => {
                let parts: Vec<String> = outcomes.iter().map(Outcome::label).collect();
                format!("one of: {}", parts.join(" | "))
            }
            Self::NotApplicable { why } => format!("not applicable ({why})"),
            Self::Changed { what } => format!("changed ({what})"),
            Self::NotReady { seen } => format!("not ready ({seen})"),
            Self::NotRun { why } => format!("not run ({why})"),
        }
    }

    /// A one-character symbol for the matrix at a glance.
    pub fn symbol(&self) -> &'static str {
        match self {
            Self::Survives => "✔",
            Self::Lost { .. } | Self::Changed { .. } => "✘",
            Self::RolloutStuck { .. } => "⏸",
            Self::Pending { .. } | Self::NotReady { .. } => "⌛",
            Self::OneOf { .. } => "≈",
            Self::NotApplicable { .. } => "➖",
            Self::NotRun { .. } => "·",
        }
    }

    /// Whether the cell is run at all.
    pub fn is_applicable(&self) -> bool {
        !matches!(self, Self::NotApplicable { .. })
    }

    /// What a cell saw for one app, in the table's terms.
    ///
    /// `judgement` is the probe's comparison of the seeded data before and
    /// after (None when no pod became Ready to read it from); `reasons` are
    /// what the timeline classifiers found for this app. Data loss is the
    /// headline whenever it happened; a stuck rollout next (its old pod
    /// still serves, so the judgement usually says survived); a pod that
    /// never became Ready is Pending with the most telling reason.
    pub fn observed(judgement: Option<&Judgement>, reasons: &[Reason]) -> Outcome {
        let stuck = reasons.contains(&Reason::ProgressDeadlineExceeded);
        let cause = Reason::headline(reasons);
        match judgement.map(|j| &j.verdict) {
            Some(Verdict::Lost { parts }) => Outcome::Lost {
                what: parts.join(", ").into(),
                parts: parts.iter().cloned().map(Text::from).collect(),
            },
            Some(Verdict::Changed { parts }) => Outcome::Changed {
                what: parts.join(", ").into(),
            },
            _ if stuck => Outcome::RolloutStuck {
                reason: cause.unwrap_or(Reason::ProgressDeadlineExceeded),
            },
            Some(Verdict::Survived) => Outcome::Survives,
            None => match cause {
                Some(reason) => Outcome::Pending { reason },
                None => Outcome::NotReady {
                    seen: "no pod became Ready and no classifier recognised why".into(),
                },
            },
        }
    }

    /// Whether `observed` (with the reasons seen) satisfies this expectation.
    pub fn accepts(&self, observed: &Outcome, reasons: &[Reason]) -> bool {
        match (self, observed) {
            (Self::Survives, Self::Survives) => true,
            // A loss passes only when every expected part was detected, and
            // none was missing already before the disruption (a seed that
            // never took must not read as the negative control working).
            (Self::Lost { parts: want, .. }, Self::Lost { parts: seen, .. }) => {
                seen.iter().all(|p| !p.contains(MISSING_BEFORE))
                    && want.iter().all(|w| {
                        seen.iter()
                            .any(|p| p == w || p.starts_with(&format!("{w} ")))
                    })
            }
            (Self::RolloutStuck { reason }, Self::RolloutStuck { .. }) => reasons.contains(reason),
            (Self::Pending { reason }, Self::Pending { .. }) => reasons.contains(reason),
            (Self::OneOf { outcomes }, _) => outcomes.iter().any(|o| o.accepts(observed, reasons)),
            _ => false,
        }
    }
}

/// The expected outcome of one cell, per app, with the sources that
/// document it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The cell.
    pub cell: Cell,
    /// What happens to Prometheus.
    pub prometheus: Outcome,
    /// What happens to Grafana.
    pub grafana: Outcome,
    /// Where the behaviour is documented. Never empty.
    pub sources: Vec<Source>,
    /// What a person reading a result should know (transient reasons, bounds).
    pub note: Option<Text>,
}

impl Expectation {
    /// The expected outcome for `app`.
    pub fn outcome(&self, app: App) -> &Outcome {
        match app {
            App::Prometheus => &self.prometheus,
            App::Grafana => &self.grafana,
        }
    }

    /// Whether the cell is run (not applicable cells are not).
    pub fn is_applicable(&self) -> bool {
        self.prometheus.is_applicable() || self.grafana.is_applicable()
    }

    /// Why the cell is not applicable, when it is not.
    pub fn not_applicable_why(&self) -> Option<&str> {
        match (&self.prometheus, &self.grafana) {
            (Outcome::NotApplicable { why }, Outcome::NotApplicable { .. }) => Some(why),
            _ => None,
        }
    }
}

/// What a cell saw for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The outcome in the table's terms (see [`Outcome::observed`]).
    pub outcome: Outcome,
    /// Every reason the classifiers found for this app.
    pub reasons: Vec<Reason>,
    /// Whether the disruption touched this app. Node-level disruptions act
    /// on the node of the Prometheus pod; Grafana elsewhere is untouched and
    /// must simply survive.
    pub disrupted: bool,
}

impl Observed {
    /// An app this cell did not deploy, and why.
    pub fn not_run(why: impl Into<Text>) -> Self {
        Self {
            outcome: Outcome::NotRun { why: why.into() },
            reasons: Vec::new(),
            disrupted: false,
        }
    }

    /// Build from the probe's judgement and the classified reasons.
    pub fn new(judgement: Option<&Judgement>, reasons: Vec<Reason>, disrupted: bool) -> Self {
        Self {
            outcome: Outcome::observed(judgement, &reasons),
            reasons,
            disrupted,
        }
    }
}

/// What a cell saw, per app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Prometheus.
    pub prometheus: Observed,
    /// Grafana.
    pub grafana: Observed,
}

impl Observation {
    /// What was seen for `app`.
    pub fn app(&self, app: App) -> &Observed {
        match app {
            App::Prometheus => &self.prometheus,
            App::Grafana => &self.grafana,
        }
    }
}

/// One app whose observation contradicts the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMismatch {
    /// Which app.
    pub app: App,
    /// What the table expected for it (Survives for an untouched app).
    pub expected: Outcome,
    /// What was seen.
    pub observed: Outcome,
    /// The reasons seen.
    pub reasons: Vec<Reason>,
    /// Whether the disruption touched the app.
    pub disrupted: bool,
}

/// Observed != expected: names the cell, the expectation, its sources and
/// what was seen. Its `Display` is the test's failure message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The cell.
    pub cell: Cell,
    /// Set when a not-applicable cell was run anyway.
    pub not_applicable: Option<String>,
    /// The apps that contradict the table.
    pub apps: Vec<AppMismatch>,
    /// The apps the cell did not run, and why (shown, never judged).
    pub not_run: Vec<(App, Text)>,
    /// The sources of the contradicted expectation.
    pub sources: Vec<Source>,
    /// The expectation's note, if any.
    pub note: Option<Text>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.not_applicable {
            return write!(
                f,
                "cell {} was run, but the expectation table says it is not applicable: {why}",
                self.cell
            );
        }
        write!(f, "cell {}: observed != expected", self.cell)?;
        for m in &self.apps {
            let seen = if m.reasons.is_empty() {
                "none".to_owned()
            } else {
                m.reasons
                    .iter()
                    .map(|r| r.id())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            write!(
                f,
                "\n  {}: expected {}{}, observed {} (reasons seen: {seen})",
                m.app,
                m.expected.label(),
                if m.disrupted {
                    ""
                } else {
                    " because the disruption did not touch it"
                },
                m.observed.label()
            )?;
        }
        for (app, why) in &self.not_run {
            write!(f, "\n  {app}: not run ({why})")?;
        }
        if let Some(note) = &self.note {
            write!(f, "\n  note: {note}")?;
        }
        write!(f, "\n  the contradicted expectation comes from:")?;
        for s in &self.sources {
            write!(f, "\n    - {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// Compare what a cell saw with what the table expects.
///
/// An app the disruption did not touch (`disrupted == false`) must survive,
/// whatever the table says for a touched one.
///
/// # Errors
/// A [`Mismatch`] naming every app that contradicts the table, or saying
/// that a not-applicable cell was run.
pub fn matches(expected: &Expectation, observed: &Observation) -> Result<(), Box<Mismatch>> {
    let mut mismatch = Mismatch {
        cell: expected.cell,
        not_applicable: None,
        apps: Vec::new(),
        not_run: Vec::new(),
        sources: expected.sources.clone(),
        note: expected.note.clone(),
    };
    if let Some(why) = expected.not_applicable_why() {
        mismatch.not_applicable = Some(why.to_owned());
        return Err(Box::new(mismatch));
    }
    for &app in App::ALL {
        let seen = observed.app(app);
        if let Outcome::NotRun { why } = &seen.outcome {
            mismatch.not_run.push((app, why.clone()));
            continue;
        }
        let want = if seen.disrupted {
            expected.outcome(app).clone()
        } else {
            Outcome::Survives
        };
        if !want.accepts(&seen.outcome, &seen.reasons) {
            mismatch.apps.push(AppMismatch {
                app,
                expected: want,
                observed: seen.outcome.clone(),
                reasons: seen.reasons.clone(),
                disrupted: seen.disrupted,
            });
        }
    }
    if mismatch.apps.is_empty() {
        Ok(())
    } else {
        Err(Box::new(mismatch))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn judged(verdict: Verdict) -> Judgement {
        Judgement {
            verdict,
            details: vec![],
            recovery: Some(Duration::from_secs(3)),
        }
    }

    fn seen(outcome_of: Option<Verdict>, reasons: &[Reason]) -> Observed {
        Observed::new(outcome_of.map(judged).as_ref(), reasons.to_vec(), true)
    }

    #[test]
    fn observed_lost_wins_over_everything_else() {
        let j = judged(Verdict::Lost {
            parts: vec!["blocks".into(), "head/wal".into()],
        });
        let o = Outcome::observed(Some(&j), &[Reason::ProgressDeadlineExceeded]);
        assert_eq!(
            o,
            Outcome::Lost {
                what: "blocks, head/wal".into(),
                parts: vec!["blocks".into(), "head/wal".into()],
            }
        );
    }

    #[test]
    fn observed_stuck_rollout_names_the_specific_cause() {
        let j = judged(Verdict::Survived);
        let o = Outcome::observed(
            Some(&j),
            &[
                Reason::CrashLoop,
                Reason::ProgressDeadlineExceeded,
                Reason::PrometheusLockHeld,
            ],
        );
        assert_eq!(
            o,
            Outcome::RolloutStuck {
                reason: Reason::PrometheusLockHeld
            }
        );
    }

    #[test]
    fn observed_never_ready_is_pending_or_not_ready() {
        assert_eq!(
            Outcome::observed(None, &[Reason::Unschedulable, Reason::NodeAffinityConflict]),
            Outcome::Pending {
                reason: Reason::NodeAffinityConflict
            }
        );
        assert!(matches!(
            Outcome::observed(None, &[]),
            Outcome::NotReady { .. }
        ));
    }

    #[test]
    fn expected_reason_must_be_among_the_reasons_seen() {
        let want = Outcome::RolloutStuck {
            reason: Reason::PrometheusLockHeld,
        };
        let stuck = Outcome::RolloutStuck {
            reason: Reason::MultiAttach,
        };
        assert!(!want.accepts(
            &stuck,
            &[Reason::MultiAttach, Reason::ProgressDeadlineExceeded]
        ));
        assert!(want.accepts(&stuck, &[Reason::MultiAttach, Reason::PrometheusLockHeld]));
        assert!(!want.accepts(&Outcome::Survives, &[Reason::PrometheusLockHeld]));
    }

    #[test]
    fn one_of_accepts_any_alternative_and_nothing_else() {
        let want = Outcome::OneOf {
            outcomes: vec![
                Outcome::Survives,
                Outcome::RolloutStuck {
                    reason: Reason::MultiAttach,
                },
            ],
        };
        assert!(want.accepts(&Outcome::Survives, &[]));
        assert!(want.accepts(
            &Outcome::RolloutStuck {
                reason: Reason::MultiAttach
            },
            &[Reason::MultiAttach, Reason::ProgressDeadlineExceeded]
        ));
        assert!(!want.accepts(
            &Outcome::Lost {
                what: "blocks".into(),
                parts: vec!["blocks".into()],
            },
            &[]
        ));
    }

    /// The negative control must see the whole loss: a half-detected loss,
    /// or a seed that was missing before the disruption, does not pass.
    #[test]
    fn an_expected_loss_needs_every_part_detected() {
        let want = Outcome::Lost {
            what: "blocks and WAL".into(),
            parts: vec!["blocks".into(), "head/wal".into()],
        };
        let seen = |parts: &[&str]| {
            let j = judged(Verdict::Lost {
                parts: parts.iter().map(|p| p.to_string()).collect(),
            });
            Outcome::observed(Some(&j), &[])
        };
        assert!(want.accepts(&seen(&["blocks", "head/wal"]), &[]));
        assert!(!want.accepts(&seen(&["head/wal"]), &[]));
        let grafana = Outcome::Lost {
            what: "grafana.db".into(),
            parts: vec!["dashboard".into(), "datasource".into(), "folder".into()],
        };
        assert!(grafana.accepts(
            &seen(&[
                "dashboard e2e-gdash-1",
                "datasource e2e-gds-1",
                "folder e2e-gfolder-1"
            ]),
            &[]
        ));
        assert!(!grafana.accepts(
            &seen(&[
                "dashboard e2e-gdash-1 (already missing before the disruption)",
                "datasource e2e-gds-1",
                "folder e2e-gfolder-1"
            ]),
            &[]
        ));
        assert!(!grafana.accepts(&seen(&["dashboard e2e-gdash-1"]), &[]));
    }

    #[test]
    fn matching_cell_passes() {
        let cell = Cell::new(Variant::LocalPv, Disruption::RolloutRestart, Provider::Kind);
        let exp = expected(cell.variant, cell.disruption, cell.provider);
        let obs = Observation {
            prometheus: seen(
                Some(Verdict::Survived),
                &[Reason::PrometheusLockHeld, Reason::ProgressDeadlineExceeded],
            ),
            grafana: seen(Some(Verdict::Survived), &[]),
        };
        assert_eq!(matches(&exp, &obs), Ok(()));
    }

    #[test]
    fn mismatch_names_cell_expectation_source_and_what_was_seen() {
        let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
        let exp = expected(cell.variant, cell.disruption, cell.provider);
        let obs = Observation {
            prometheus: seen(Some(Verdict::Survived), &[]),
            grafana: seen(
                Some(Verdict::Lost {
                    parts: vec![
                        "dashboard e2e-dash".into(),
                        "datasource e2e-ds".into(),
                        "folder e2e-folder".into(),
                    ],
                }),
                &[],
            ),
        };
        let msg = matches(&exp, &obs)
            .expect_err("empty-dir must lose data")
            .to_string();
        assert!(
            msg.starts_with("cell empty-dir/pod-delete on kind: observed != expected"),
            "{msg}"
        );
        assert!(msg.contains("prometheus: expected lost ("), "{msg}");
        assert!(
            msg.contains("observed survives (reasons seen: none)"),
            "{msg}"
        );
        assert!(!msg.contains("grafana: expected"), "grafana matched: {msg}");
        assert!(
            msg.contains("kubernetes.io/docs/concepts/storage/volumes/#emptydir"),
            "{msg}"
        );
    }

    /// E2E_APPS=prometheus: the cell is judged on Prometheus alone, and
    /// Grafana shows as not run, with the reason, in pass and failure alike.
    #[test]
    fn an_app_not_run_is_shown_never_judged() {
        let cell = Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::Kind);
        let exp = expected(cell.variant, cell.disruption, cell.provider);
        let lost = Verdict::Lost {
            parts: vec!["blocks".into(), "head/wal".into()],
        };
        let obs = Observation {
            prometheus: seen(Some(lost), &[]),
            grafana: Observed::not_run("E2E_APPS=prometheus"),
        };
        assert_eq!(matches(&exp, &obs), Ok(()));
        assert_eq!(obs.grafana.outcome.label(), "not run (E2E_APPS=prometheus)");
        assert_ne!(obs.grafana.outcome, Outcome::Survives);

        let obs = Observation {
            prometheus: seen(Some(Verdict::Survived), &[]),
            grafana: Observed::not_run("E2E_APPS=prometheus"),
        };
        let msg = matches(&exp, &obs)
            .expect_err("the negative control survived")
            .to_string();
        assert!(msg.contains("prometheus: expected lost ("), "{msg}");
        assert!(
            msg.contains("\n  grafana: not run (E2E_APPS=prometheus)"),
            "{msg}"
        );
    }

    #[test]
    fn untouched_app_must_survive() {
        let cell = Cell::new(Variant::LocalPv, Disruption::NodeStop, Provider::Kind);
        let exp = expected(cell.variant, cell.disruption, cell.provider);
        let mut untouched = seen(None, &[Reason::NodeAffinityConflict]);
        untouched.disrupted = false;
        let obs = Observation {
            prometheus: seen(None, &[Reason::NodeAffinityConflict, Reason::NodeNotReady]),
            grafana: untouched,
        };
        let msg = matches(&exp, &obs)
            .expect_err("grafana was not on the node")
            .to_string();
        assert!(
            msg.contains("grafana: expected survives because the disruption did not touch it"),
            "{msg}"
        );
    }

    #[test]
    fn running_a_not_applicable_cell_is_a_mismatch() {
        let cell = Cell::new(Variant::EmptyDir, Disruption::NfsRestart, Provider::Kind);
        let exp = expected(cell.variant, cell.disruption, cell.provider);
        let obs = Observation {
            prometheus: seen(Some(Verdict::Survived), &[]),
            grafana: seen(Some(Verdict::Survived), &[]),
        };
        let msg = matches(&exp, &obs).expect_err("n/a").to_string();
        assert!(msg.contains("not applicable"), "{msg}");
    }

    #[test]
    fn cells_and_outcomes_round_trip_through_json() {
        for cell in Cell::all() {
            let exp = expected(cell.variant, cell.disruption, cell.provider);
            let json = serde_json::to_string(&exp).unwrap();
            let back: Expectation = serde_json::from_str(&json).unwrap();
            assert_eq!(back, exp, "{json}");
        }
    }

    #[test]
    fn cell_ids() {
        let cell = Cell::new(Variant::NfsStatic, Disruption::PodDelete, Provider::K3d);
        assert_eq!(cell.short(), "nfs-static/pod-delete");
        assert_eq!(cell.file_stem(), "nfs-static__pod-delete__k3d");
        assert_eq!(cell.to_string(), "nfs-static/pod-delete on k3d");
        assert_eq!(
            Cell::all().count(),
            Variant::ALL.len() * Disruption::ALL.len() * Provider::ALL.len()
        );
    }

    #[test]
    fn reason_ids_match_serde() {
        for r in Reason::ALL {
            assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{}\"", r.id()));
        }
    }
}
