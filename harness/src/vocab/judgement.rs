//! A probe's verdict on seeded data, with the evidence behind it.
//!
//! Verdicts are typed all the way to the table: which part, which object,
//! whether it was already missing before the disruption, and the evidence
//! are fields, so the table matches on them instead of on the words a
//! probe happened to write.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which part of an app's seeded data a verdict speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PartKind {
    /// Prometheus's persisted TSDB blocks (the seeded history).
    #[serde(rename = "blocks")]
    Blocks,
    /// Prometheus's head: the samples not yet in a block, replayed from the
    /// WAL on start.
    #[serde(rename = "head/wal")]
    HeadWal,
    /// A Grafana dashboard the harness created.
    #[serde(rename = "dashboard")]
    Dashboard,
    /// A Grafana datasource the harness created.
    #[serde(rename = "datasource")]
    Datasource,
    /// A Grafana folder the harness created.
    #[serde(rename = "folder")]
    Folder,
    /// Grafana's database file itself.
    #[serde(rename = "grafana.db")]
    GrafanaDb,
}

impl PartKind {
    /// The name the table, the report and the JSON use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Blocks => "blocks",
            Self::HeadWal => "head/wal",
            Self::Dashboard => "dashboard",
            Self::Datasource => "datasource",
            Self::Folder => "folder",
            Self::GrafanaDb => "grafana.db",
        }
    }
}

impl fmt::Display for PartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One part of the seeded data that did not come through as it was (or,
/// in an expectation, that must be reported lost).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Which part.
    pub(crate) kind: PartKind,
    /// Which one, where an app has several of the kind: a Grafana object's
    /// uid, the directory of grafana.db.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) object: Option<String>,
    /// The before snapshot already lacked it: the seed never took, so its
    /// absence after is no evidence that the disruption lost it (and a
    /// negative control must not pass on it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) missing_before: bool,
    /// What is gone or what differs, in one line (counts, before -> after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl Part {
    /// The part `kind`, with nothing more known yet.
    pub(crate) fn new(kind: PartKind) -> Self {
        Self {
            kind,
            object: None,
            missing_before: false,
            evidence: None,
        }
    }

    /// The object `object` of `kind` (a dashboard's uid...).
    pub fn object(kind: PartKind, object: impl Into<String>) -> Self {
        Self {
            object: Some(object.into()),
            ..Self::new(kind)
        }
    }

    /// Marked as already missing before the disruption.
    pub(crate) fn missing_before(self) -> Self {
        Self {
            missing_before: true,
            ..self
        }
    }

    /// With `evidence` (added to what is there, `; `-separated).
    pub(crate) fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        self.add_evidence(evidence);
        self
    }

    /// Add `evidence` to what the part already says.
    pub(crate) fn add_evidence(&mut self, evidence: impl Into<String>) {
        let evidence = evidence.into();
        self.evidence = Some(match self.evidence.take() {
            Some(had) => format!("{had}; {evidence}"),
            None => evidence,
        });
    }
}

impl fmt::Display for Part {
    /// `dashboard e2e-dash: version 1 -> 2`, `grafana.db in /var/lib/grafana`,
    /// `head/wal: … (already missing before the disruption)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (&self.object, self.kind) {
            (Some(dir), PartKind::GrafanaDb) => write!(f, " in {dir}")?,
            (Some(o), _) => write!(f, " {o}")?,
            (None, _) => {}
        }
        if let Some(e) = &self.evidence {
            write!(f, ": {e}")?;
        }
        if self.missing_before {
            f.write_str(" (already missing before the disruption)")?;
        }
        Ok(())
    }
}

/// `parts` shown in one line, comma-separated.
pub(crate) fn show_parts(parts: &[Part]) -> String {
    parts
        .iter()
        .map(Part::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether seeded data came through a disruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Everything seeded before is there after, with the same values.
    Survived,
    /// Some or all seeded data is gone; `parts` says which.
    Lost {
        /// What is missing.
        parts: Vec<Part>,
    },
    /// The data is there but differs (e.g. a dashboard's version or panels).
    Changed {
        /// What differs, before -> after in each part's evidence.
        parts: Vec<Part>,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Survived => f.write_str("survived"),
            Self::Lost { parts } => write!(f, "lost {}", show_parts(parts)),
            Self::Changed { parts } => write!(f, "changed {}", show_parts(parts)),
        }
    }
}

impl Verdict {
    /// Lost when anything is lost (a change alongside is the lesser news),
    /// else Changed when anything differs, else Survived.
    pub(crate) fn of(lost: Vec<Part>, changed: Vec<Part>) -> Self {
        if !lost.is_empty() {
            Self::Lost { parts: lost }
        } else if !changed.is_empty() {
            Self::Changed { parts: changed }
        } else {
            Self::Survived
        }
    }

    /// The kinds of part a Lost verdict says the disruption lost, in order
    /// (parts already missing before are not its loss); None for any other
    /// verdict.
    pub fn lost_kinds(&self) -> Option<Vec<PartKind>> {
        match self {
            Self::Lost { parts } => Some(
                parts
                    .iter()
                    .filter(|p| !p.missing_before)
                    .map(|p| p.kind)
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// A verdict with the evidence behind it, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// Human-readable facts the verdict rests on (block coverage, ULID identity, clean_start...).
    pub details: Vec<String>,
    /// Disruption to ready again, when it became ready.
    pub recovery: Option<Duration>,
}
