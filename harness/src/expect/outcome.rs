//! Outcomes in the table's terms, and the expectation of one cell.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::sources::Source;
use crate::vocab::{App, Cell, Judgement, Part, PartKind, Reason, Verdict, show_parts};

/// Text that is usually a `'static` literal from the table but can be owned
/// after a round trip through JSON (the report reads cells back).
pub(crate) type Text = Cow<'static, str>;

/// What happens to one app in one cell, in the table's terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// A pod of the workload is Ready again and every seeded datum reads
    /// back. Reasons seen on the way (a transient lock or Multi-Attach) are
    /// reported, not failures.
    Survives,
    /// A pod is Ready again, but seeded data is gone.
    Lost {
        /// What is lost (expected: in words; observed: the probe's parts).
        what: Text,
        /// Expected: the kinds of part that must all be reported lost
        /// (`blocks`, `head/wal`, `dashboard`: any dashboard), so a
        /// half-detected loss does not pass. Observed: the parts reported.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<Part>,
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
    /// The operation was refused before it touched the volume (the API
    /// server would not resize a claim whose class does not allow it), with
    /// `reason` among the reasons seen; a pod serves and every seeded datum
    /// reads back.
    Refused {
        /// Who refused, and why.
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
    pub(crate) fn label(&self) -> String {
        match self {
            Self::Survives => "survives".into(),
            Self::Lost { what, .. } => format!("lost ({what})"),
            Self::RolloutStuck { reason } => format!("rollout stuck ({reason})"),
            Self::Pending { reason } => format!("pending ({reason})"),
            Self::Refused { reason } => format!("refused ({reason})"),
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
    pub(crate) fn symbol(&self) -> &'static str {
        match self {
            Self::Survives => "✔",
            Self::Lost { .. } | Self::Changed { .. } => "✘",
            Self::RolloutStuck { .. } => "⏸",
            Self::Pending { .. } | Self::NotReady { .. } => "⌛",
            Self::Refused { .. } => "⊘",
            Self::OneOf { .. } => "≈",
            Self::NotApplicable { .. } => "➖",
            Self::NotRun { .. } => "·",
        }
    }

    /// Whether the cell is run at all.
    pub(crate) fn is_applicable(&self) -> bool {
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
    pub(crate) fn observed(judgement: Option<&Judgement>, reasons: &[Reason]) -> Outcome {
        let stuck = reasons.contains(&Reason::ProgressDeadlineExceeded);
        let cause = Reason::headline(reasons);
        match judgement.map(|j| &j.verdict) {
            Some(Verdict::Lost { parts }) => Outcome::Lost {
                what: show_parts(parts).into(),
                parts: parts.clone(),
            },
            Some(Verdict::Changed { parts }) => Outcome::Changed {
                what: show_parts(parts).into(),
            },
            _ if stuck => Outcome::RolloutStuck {
                reason: cause.unwrap_or(Reason::ProgressDeadlineExceeded),
            },
            Some(Verdict::Survived) if reasons.contains(&Reason::ExpansionForbidden) => {
                Outcome::Refused {
                    reason: Reason::ExpansionForbidden,
                }
            }
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
    pub(crate) fn accepts(&self, observed: &Outcome, reasons: &[Reason]) -> bool {
        match (self, observed) {
            (Self::Survives, Self::Survives) => true,
            // A loss passes only when every expected part was detected,
            // none was missing already before the disruption (a seed that
            // never took must not read as the negative control working),
            // and nothing else was lost: a cell expecting the head's tail
            // gone fails when the blocks went too. grafana.db itself may
            // go with a database whose objects are expected lost.
            (Self::Lost { parts: want, .. }, Self::Lost { parts: seen, .. }) => {
                let wanted = |k: PartKind| want.iter().any(|w| w.kind == k);
                seen.iter().all(|p| !p.missing_before)
                    && want.iter().all(|w| seen.iter().any(|p| p.kind == w.kind))
                    && seen.iter().all(|p| {
                        wanted(p.kind)
                            || (p.kind == PartKind::GrafanaDb && wanted(PartKind::Dashboard))
                    })
            }
            (Self::RolloutStuck { reason }, Self::RolloutStuck { .. }) => reasons.contains(reason),
            (Self::Pending { reason }, Self::Pending { .. }) => reasons.contains(reason),
            (Self::Refused { reason }, Self::Refused { .. }) => reasons.contains(reason),
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
    pub(crate) cell: Cell,
    /// What happens to Prometheus.
    pub(crate) prometheus: Outcome,
    /// What happens to Grafana.
    pub(crate) grafana: Outcome,
    /// Where the behaviour is documented. Never empty.
    pub(crate) sources: Vec<Source>,
    /// What a person reading a result should know (transient reasons, bounds).
    pub(crate) note: Option<Text>,
}

impl Expectation {
    /// The same expectation with Prometheus's outcome turned around
    /// (survives ↔ lost blocks and head), for E2E_CONTROL=opposite: a cell
    /// judged against it must fail. Only applicable outcomes turn.
    pub fn opposite(mut self) -> Self {
        self.prometheus = match self.prometheus {
            Outcome::Survives => Outcome::Lost {
                what: Cow::Borrowed("blocks and head/wal (the opposite of the table, on purpose)"),
                parts: vec![Part::new(PartKind::Blocks), Part::new(PartKind::HeadWal)],
            },
            o @ Outcome::NotApplicable { .. } => o,
            _ => Outcome::Survives,
        };
        self.note = Some(Cow::Borrowed(
            "E2E_CONTROL=opposite: Prometheus is expected to do the opposite of what the table \
             predicts, so that this cell fails on purpose",
        ));
        self
    }

    /// The expected outcome for `app`.
    pub(crate) fn outcome(&self, app: App) -> &Outcome {
        match app {
            App::Prometheus => &self.prometheus,
            App::Grafana => &self.grafana,
        }
    }

    /// Whether the cell is run (not applicable cells are not).
    pub(crate) fn is_applicable(&self) -> bool {
        self.prometheus.is_applicable() || self.grafana.is_applicable()
    }

    /// Why the cell is not applicable, when it is not.
    pub(crate) fn not_applicable_why(&self) -> Option<&str> {
        match (&self.prometheus, &self.grafana) {
            (Outcome::NotApplicable { why }, Outcome::NotApplicable { .. }) => Some(why),
            _ => None,
        }
    }
}
