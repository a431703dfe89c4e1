//! The pod and event timeline of one namespace during a cell, and the
//! classifiers that turn it into typed [`Reason`](crate::vocab::Reason)s.
//!
//! - [`TimelineWatcher::start`] watches Pods, core/v1 Events and
//!   Deployments of the namespace into a shared [`Timeline`];
//!   [`TimelineHandle::stop`] returns what was recorded.
//! - [`classify_event`] and [`findings`] are pure: tier 0 runs them on
//!   recorded real-world events (harness/tests/data/); a cell classifies
//!   once per app (cell/judge.rs).
//! - [`collect_logs`] fetches the logs (current and previous) of every pod
//!   the timeline saw, for log classifiers such as Prometheus's lock check.

mod classify;
mod record;
#[cfg(test)]
mod tests;
mod watch;

#[cfg(test)]
pub use classify::classify;
pub use classify::{Finding, LogClassifier, classify_event, findings, phrases};
#[cfg(test)]
pub use record::ContainerRecord;
pub use record::{DeploymentRecord, Entry, EventRecord, Mark, PodLog, PodRecord, Record, Timeline};
pub use watch::{TimelineHandle, TimelineWatcher, collect_logs};
