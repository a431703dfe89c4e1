//! Grafana: dashboards created through the HTTP API as the evidence that
//! `grafana.db` survived.
//!
//! Provisioned (file) dashboards are re-inserted on every start, so they
//! reappear even on an empty database; only objects created through the API
//! prove that the database itself came through (Grafana's provisioning docs,
//! grafana.com/docs/grafana/latest/administration/provisioning/: "When Grafana
//! starts, it will update/insert all dashboards available in the configured
//! path"). So
//! [`GrafanaClient::seed`] creates a folder, a Prometheus datasource and a
//! dashboard with known uids, [`GrafanaClient::snapshot`] reads them back
//! (absence is recorded, not an error: it is what a lost volume looks like),
//! and `compare` turns two snapshots into a [`Judgement`](crate::vocab::Judgement)
//! naming the object that was lost or changed. [`classify_log`] types
//! Grafana's storage failures for the expectation table.
//!
//! The client logs in as `admin` with the password from the generated
//! Secret, never `admin/admin`: `GF_SECURITY_ADMIN_PASSWORD` only applies on
//! the first start with an empty database (grafana#4923), so a rejected
//! password is itself a sign that an older database was kept.
//!
//! The same code runs in tier 1 (a container's published port) and tier 2
//! (a port-forward); only the base URL and the [`Exec`](crate::exec::Exec)
//! differ.
//!
//! Organised by what the harness does with the app, each file importing
//! only the ones listed before it (no sibling imports in a cycle): `facts`
//! (the port, paths and users: one home for all of them), `api` (the
//! [`GrafanaClient`]), `seed`, `snapshot`, `judge`, and `logs`. How a
//! cell uses Grafana is `crate::apps`'s `grafana.rs`.

mod api;
#[cfg(test)]
mod contract_tests;
mod facts;
mod judge;
mod logs;
mod seed;
mod snapshot;

pub use api::{GrafanaClient, HEALTH_TIMEOUT, Health, generate_password};
pub use facts::{ADMIN_PASSWORD_ENV, DATA_DIR, GID, PORT, UID};
#[cfg(test)]
pub(crate) use facts::{ADMIN_USER, DB_FILE};
#[cfg(test)]
pub(crate) use judge::compare;
pub use logs::classify_log;
pub use seed::{SeedSpec, Seeded, Uids};
pub use snapshot::{DbFile, Snapshot};
