//! What the harness writes into Grafana before a disruption: a folder, a
//! Prometheus datasource and a dashboard with known uids, created through
//! the HTTP API. Provisioned (file) dashboards are re-inserted on every
//! start, so they reappear even on an empty database; only objects created
//! through the API prove that the database itself came through.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::grafana::api::GrafanaClient;
use crate::labels::unique_name;

/// Dashboard schema version the seed declares: recent enough for today's
/// panel JSON, old enough for every Grafana release the harness pins.
const SCHEMA_VERSION: u32 = 39;

/// What [`GrafanaClient::seed`] creates. Every uid is unique per run, so a
/// data dir kept from an earlier run cannot make a new run pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSpec {
    /// Folder uid.
    pub(crate) folder_uid: String,
    /// Folder title (unique too: Grafana refuses duplicate folder titles).
    pub(crate) folder_title: String,
    /// Datasource uid.
    pub(crate) datasource_uid: String,
    /// Datasource name (must be unique in the org).
    pub(crate) datasource_name: String,
    /// The Prometheus URL the datasource points at (Grafana does not check it on create).
    pub(crate) prometheus_url: String,
    /// Dashboard uid.
    pub(crate) dashboard_uid: String,
    /// Dashboard title (unique per folder, or Grafana answers 412 `name-exists`).
    pub(crate) dashboard_title: String,
    /// The dashboard's panels.
    pub(crate) panels: Vec<PanelSpec>,
}

/// One time-series panel of the seeded dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PanelSpec {
    /// Panel id, unique in the dashboard.
    pub(crate) id: u32,
    /// Panel title.
    pub(crate) title: String,
    /// The PromQL expression of its one query.
    pub(crate) expr: String,
}

impl SeedSpec {
    /// Fresh `e2e-` uids and two panels, with the datasource pointing at `prometheus_url`.
    pub fn unique(prometheus_url: impl Into<String>) -> Self {
        let folder_uid = unique_name("gfolder");
        let datasource_uid = unique_name("gds");
        let dashboard_uid = unique_name("gdash");
        Self {
            folder_title: format!("storage-e2e {folder_uid}"),
            folder_uid,
            datasource_name: datasource_uid.clone(),
            datasource_uid,
            prometheus_url: prometheus_url.into(),
            dashboard_title: format!("storage-e2e {dashboard_uid}"),
            dashboard_uid,
            panels: vec![
                PanelSpec {
                    id: 1,
                    title: "targets up".into(),
                    expr: "up".into(),
                },
                PanelSpec {
                    id: 2,
                    title: "head series".into(),
                    expr: "prometheus_tsdb_head_series".into(),
                },
            ],
        }
    }

    /// The uids a snapshot reads back.
    pub(crate) fn uids(&self) -> Uids {
        Uids {
            dashboard: self.dashboard_uid.clone(),
            datasource: self.datasource_uid.clone(),
            folder: self.folder_uid.clone(),
        }
    }

    /// The `dashboard` object of `POST /api/dashboards/db`: `id: null` and a
    /// known uid, so Grafana creates it rather than updating another.
    pub(crate) fn dashboard_json(&self) -> Value {
        let ds = json!({"type": "prometheus", "uid": self.datasource_uid});
        let panels: Vec<Value> = self
            .panels
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let x = if i % 2 == 0 { 0 } else { 12 };
                let y = u32::try_from(i / 2).unwrap_or(u32::MAX).saturating_mul(8);
                json!({
                    "id": p.id,
                    "type": "timeseries",
                    "title": p.title,
                    "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
                    "datasource": ds,
                    "targets": [{"refId": "A", "expr": p.expr, "datasource": ds}],
                })
            })
            .collect();
        json!({
            "id": null,
            "uid": self.dashboard_uid,
            "title": self.dashboard_title,
            "tags": ["storage-e2e"],
            "timezone": "utc",
            "schemaVersion": SCHEMA_VERSION,
            "panels": panels,
        })
    }
}

/// The uids of the seeded objects: what a snapshot looks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uids {
    /// Dashboard uid.
    pub dashboard: String,
    /// Datasource uid.
    pub datasource: String,
    /// Folder uid.
    pub folder: String,
}

/// What [`GrafanaClient::seed`] created, as Grafana answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeded {
    /// What was asked for.
    pub(crate) spec: SeedSpec,
    /// Numeric folder id Grafana assigned (per install, unlike the uid).
    pub(crate) folder_id: Option<i64>,
    /// Numeric datasource id Grafana assigned.
    pub(crate) datasource_id: Option<i64>,
    /// Numeric dashboard id Grafana assigned.
    pub(crate) dashboard_id: Option<i64>,
    /// The dashboard version Grafana answered with (1 for a new dashboard).
    pub(crate) dashboard_version: i64,
    /// The dashboard's URL path, e.g. `/d/<uid>/<slug>`.
    pub(crate) dashboard_url: Option<String>,
}

impl Seeded {
    /// The uids to snapshot.
    pub fn uids(&self) -> Uids {
        self.spec.uids()
    }
}

impl GrafanaClient {
    /// Create the folder, the Prometheus datasource and the dashboard of
    /// `spec`, in that order, through the API. `overwrite: false`: the
    /// harness never replaces an existing dashboard.
    ///
    /// # Errors
    /// [`Error::HttpStatus`] saying what was sent and what came back, with
    /// the likely cause for 401 (the generated password was rejected), 404,
    /// 409 and 412 (`version-mismatch` or `name-exists`); [`Error::Parse`]
    /// for a non-JSON answer or one naming another uid; [`Error::Http`] when
    /// nothing answers.
    pub async fn seed(&self, spec: &SeedSpec) -> Result<Seeded> {
        let folder: CreatedFolder = self
            .create(
                "/api/folders",
                &json!({"uid": spec.folder_uid, "title": spec.folder_title}),
            )
            .await?;
        check_uid("folder", &spec.folder_uid, folder.uid.as_deref())?;

        let datasource: CreatedDatasource = self
            .create(
                "/api/datasources",
                &json!({
                    "uid": spec.datasource_uid,
                    "name": spec.datasource_name,
                    "type": "prometheus",
                    "url": spec.prometheus_url,
                    "access": "proxy",
                    "isDefault": false,
                }),
            )
            .await?;
        check_uid(
            "datasource",
            &spec.datasource_uid,
            datasource
                .datasource
                .as_ref()
                .and_then(|d| d.uid.as_deref()),
        )?;

        let dashboard: CreatedDashboard = self
            .create(
                "/api/dashboards/db",
                &json!({
                    "dashboard": spec.dashboard_json(),
                    "folderUid": spec.folder_uid,
                    "message": "seeded by storage-e2e",
                    "overwrite": false,
                }),
            )
            .await?;
        check_uid("dashboard", &spec.dashboard_uid, Some(&dashboard.uid))?;

        Ok(Seeded {
            spec: spec.clone(),
            folder_id: folder.id,
            datasource_id: datasource
                .id
                .or_else(|| datasource.datasource.as_ref().and_then(|d| d.id)),
            dashboard_id: dashboard.id,
            dashboard_version: dashboard.version,
            dashboard_url: dashboard.url,
        })
    }
}

fn check_uid(what: &str, sent: &str, got: Option<&str>) -> Result<()> {
    match got {
        Some(g) if g != sent => Err(Error::parse(
            format!("Grafana's answer to creating the {what}"),
            format!("the harness sent uid {sent:?}, Grafana answered uid {g:?}"),
        )),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct CreatedFolder {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
}

#[derive(Deserialize)]
struct CreatedDatasource {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    datasource: Option<CreatedDatasourceInner>,
}

#[derive(Deserialize)]
struct CreatedDatasourceInner {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    uid: Option<String>,
}

#[derive(Deserialize)]
struct CreatedDashboard {
    #[serde(default)]
    id: Option<i64>,
    uid: String,
    version: i64,
    #[serde(default)]
    url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_specs_have_fresh_short_uids() {
        let a = SeedSpec::unique("http://prometheus:9090");
        let b = SeedSpec::unique("http://prometheus:9090");
        assert_ne!(a.dashboard_uid, b.dashboard_uid);
        for uid in [&a.dashboard_uid, &a.datasource_uid, &a.folder_uid] {
            // Grafana uids are at most 40 characters.
            assert!(uid.starts_with("e2e-") && uid.len() <= 40, "{uid}");
        }
        let d = a.dashboard_json();
        assert_eq!(d["id"], Value::Null);
        assert_eq!(d["uid"], a.dashboard_uid.as_str());
        assert_eq!(d["panels"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            d["panels"][1]["datasource"]["uid"],
            a.datasource_uid.as_str()
        );
    }
}
