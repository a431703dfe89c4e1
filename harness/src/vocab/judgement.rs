//! A probe's verdict on seeded data, with the evidence behind it.

use std::time::Duration;

use serde::Serialize;

/// Whether seeded data came through a disruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Everything seeded before is there after, with the same values.
    Survived,
    /// Some or all seeded data is gone; `parts` names what (e.g. `blocks`,
    /// `head/wal`, `dashboard e2e-dash`).
    Lost {
        /// What is missing.
        parts: Vec<String>,
    },
    /// The data is there but differs (e.g. a dashboard's version or panels).
    Changed {
        /// What differs, before -> after.
        parts: Vec<String>,
    },
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
