//! What a cell observed, and comparing it with what the table expects.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::outcome::{Expectation, Outcome, Text};
use super::sources::Source;
use crate::vocab::{App, Cell, Judgement, Reason};

/// What a cell saw for one app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Observed {
    /// The outcome in the table's terms (see [`Outcome::observed`]).
    pub(crate) outcome: Outcome,
    /// Every reason the classifiers found for this app.
    pub(crate) reasons: Vec<Reason>,
    /// Whether the disruption touched this app. Node-level disruptions act
    /// on the node of the Prometheus pod; Grafana elsewhere is untouched and
    /// must simply survive.
    pub(crate) disrupted: bool,
}

impl Observed {
    /// An app this cell did not deploy, and why.
    pub(crate) fn not_run(why: impl Into<Text>) -> Self {
        Self {
            outcome: Outcome::NotRun { why: why.into() },
            reasons: Vec::new(),
            disrupted: false,
        }
    }

    /// Build from the probe's judgement and the classified reasons.
    pub(crate) fn new(
        judgement: Option<&Judgement>,
        reasons: Vec<Reason>,
        disrupted: bool,
    ) -> Self {
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
    pub(crate) prometheus: Observed,
    /// Grafana.
    pub(crate) grafana: Observed,
}

impl Observation {
    /// What was seen for `app`.
    pub(crate) fn app(&self, app: App) -> &Observed {
        match app {
            App::Prometheus => &self.prometheus,
            App::Grafana => &self.grafana,
        }
    }
}

/// One app whose observation contradicts the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AppMismatch {
    /// Which app.
    pub(crate) app: App,
    /// What the table expected for it (Survives for an untouched app).
    pub(crate) expected: Outcome,
    /// What was seen.
    pub(crate) observed: Outcome,
    /// The reasons seen.
    pub(crate) reasons: Vec<Reason>,
    /// Whether the disruption touched the app.
    pub(crate) disrupted: bool,
}

/// Observed != expected: names the cell, the expectation, its sources and
/// what was seen. Its `Display` is the test's failure message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    /// The cell.
    pub(crate) cell: Cell,
    /// Set when a not-applicable cell was run anyway.
    pub(crate) not_applicable: Option<String>,
    /// The apps that contradict the table.
    pub(crate) apps: Vec<AppMismatch>,
    /// The apps the cell did not run, and why (shown, never judged).
    pub(crate) not_run: Vec<(App, Text)>,
    /// The sources of the contradicted expectation.
    pub(crate) sources: Vec<Source>,
    /// The expectation's note, if any.
    pub(crate) note: Option<Text>,
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
pub(crate) fn matches(expected: &Expectation, observed: &Observation) -> Result<(), Box<Mismatch>> {
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
