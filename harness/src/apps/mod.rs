//! The apps a cell deploys and judges, behind one interface. What an app
//! is (its client, seed, snapshot, judgement, log classifier and facts)
//! lives in its own folder (`prometheus/`, `grafana/`); how a cell uses it
//! is its file here (`prometheus.rs`, `grafana.rs`), which implements the
//! interface (`interface.rs`) on it, and `ALL` (`list.rs`) lists them.
//!
//! `AppFacts` is what every stage of a cell needs to know about an app
//! without knowing which one it is: its workload, how it is run, the image
//! image-upgrade moves it to, and how its own log lines read. `ALL` lists
//! every app the harness knows; the timeline's findings are classified per
//! app from that list.
//!
//! `Companion` is an app a cell runs *beside* Prometheus (Grafana today):
//! the cell waits for it, seeds it (`Companion::seed`), disrupts it as
//! the disruption says (hit with Prometheus, or a bystander), waits for it
//! to settle and judges it (`Before::judge`), all without naming it.
//! Prometheus itself is the app every disruption targets: its seed (the
//! history written before start, the dense head topped up right before the
//! disruption, the WAL mark) and its judgement (a StatefulSet's seeded
//! replica, a snapshot's restored copy, Thanos's bucket beside it) are the
//! cell's own stages, so it implements `AppFacts` only.
//!
//! A new companion app is a folder with its client, seed, snapshot,
//! judgement and log classifier, its file here implementing `AppFacts`
//! and `Companion`, its entry in `ALL`, the line in `cell/deploy.rs`
//! `companions` that builds it when the run selects it, its manifests in
//! the base folders, and its column in the expectation table (an
//! `App` case with its rules and sources); the cell's stages are not
//! edited.

mod grafana;
mod interface;
mod list;
mod prometheus;

pub(crate) use grafana::GrafanaCompanion;
pub(crate) use interface::{AppCx, Before, Companion};
pub(crate) use list::{ALL, facts};
