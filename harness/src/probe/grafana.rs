//! Grafana: dashboards created through the HTTP API as the evidence that
//! `grafana.db` survived.
//!
//! Provisioned (file) dashboards are re-inserted on every start, so they
//! reappear even on an empty database; only objects created through the API
//! prove that the database itself came through (FACTS.md, Grafana). So
//! [`GrafanaClient::seed`] creates a folder, a Prometheus datasource and a
//! dashboard with known uids, [`GrafanaClient::snapshot`] reads them back
//! (absence is recorded, not an error: it is what a lost volume looks like),
//! and [`compare`] turns two snapshots into a [`Judgement`] naming the object
//! that was lost or changed. [`classify_log`] types Grafana's storage
//! failures for the expectation table.
//!
//! The client logs in as `admin` with the password from the generated
//! Secret, never `admin/admin`: `GF_SECURITY_ADMIN_PASSWORD` only applies on
//! the first start with an empty database (grafana#4923), so a rejected
//! password is itself a sign that an older database was kept.
//!
//! The same code runs in tier 1 (a container's published port) and tier 2
//! (a port-forward); only the base URL and the [`Exec`] differ.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use rand::RngExt as _;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::expect::Reason;
use crate::labels::unique_name;
use crate::probe::{Judgement, Verdict};
use crate::wait::{Check, poll};

#[cfg(test)]
mod contract_tests;

/// The user the harness logs in as (with a generated password).
pub const ADMIN_USER: &str = "admin";
/// The uid the grafana/grafana image runs as (since 7.3); gid is 0.
pub const UID: u32 = 472;
/// Grafana's data directory in the image.
pub const DATA_DIR: &str = "/var/lib/grafana";
/// The SQLite database inside [`DATA_DIR`].
pub const DB_FILE: &str = "/var/lib/grafana/grafana.db";
/// Grafana's HTTP port in the container.
pub const PORT: u16 = 3000;
/// How long a fresh Grafana may take to answer `/api/health` with
/// `database: ok` (migrations on an empty database take a while on slow disks).
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(120);
/// How often health is polled.
pub const HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Per-request timeout, so a hung port-forward fails one request instead of a whole wait.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Dashboard schema version the seed declares: recent enough for today's
/// panel JSON, old enough for every Grafana release the harness pins.
const SCHEMA_VERSION: u32 = 39;
/// How much of an answer body an error keeps.
const BODY_CHARS: usize = 400;
/// How much of a sent JSON body an error shows.
const SENT_CHARS: usize = 300;
/// Length of [`generate_password`]'s passwords.
const PASSWORD_LEN: usize = 24;

/// A fresh random admin password (24 ASCII letters and digits), for the
/// per-run Secret and `GF_SECURITY_ADMIN_PASSWORD`.
pub fn generate_password() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..PASSWORD_LEN)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// What [`GrafanaClient::seed`] creates. Every uid is unique per run, so a
/// data dir kept from an earlier run cannot make a new run pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedSpec {
    /// Folder uid.
    pub folder_uid: String,
    /// Folder title (unique too: Grafana refuses duplicate folder titles).
    pub folder_title: String,
    /// Datasource uid.
    pub datasource_uid: String,
    /// Datasource name (must be unique in the org).
    pub datasource_name: String,
    /// The Prometheus URL the datasource points at (Grafana does not check it on create).
    pub prometheus_url: String,
    /// Dashboard uid.
    pub dashboard_uid: String,
    /// Dashboard title (unique per folder, or Grafana answers 412 `name-exists`).
    pub dashboard_title: String,
    /// The dashboard's panels.
    pub panels: Vec<PanelSpec>,
}

/// One time-series panel of the seeded dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelSpec {
    /// Panel id, unique in the dashboard.
    pub id: u32,
    /// Panel title.
    pub title: String,
    /// The PromQL expression of its one query.
    pub expr: String,
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
    pub fn uids(&self) -> Uids {
        Uids {
            dashboard: self.dashboard_uid.clone(),
            datasource: self.datasource_uid.clone(),
            folder: self.folder_uid.clone(),
        }
    }

    /// The `dashboard` object of `POST /api/dashboards/db`: `id: null` and a
    /// known uid, so Grafana creates it rather than updating another.
    pub fn dashboard_json(&self) -> Value {
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
    pub spec: SeedSpec,
    /// Numeric folder id Grafana assigned (per install, unlike the uid).
    pub folder_id: Option<i64>,
    /// Numeric datasource id Grafana assigned.
    pub datasource_id: Option<i64>,
    /// Numeric dashboard id Grafana assigned.
    pub dashboard_id: Option<i64>,
    /// The dashboard version Grafana answered with (1 for a new dashboard).
    pub dashboard_version: i64,
    /// The dashboard's URL path, e.g. `/d/<uid>/<slug>`.
    pub dashboard_url: Option<String>,
}

impl Seeded {
    /// The uids to snapshot.
    pub fn uids(&self) -> Uids {
        self.spec.uids()
    }
}

/// `GET /api/health`: `{database, version, commit}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `ok`, or `failing` when Grafana cannot reach its database.
    pub database: String,
    /// Grafana version (absent when anonymous health details are disabled).
    #[serde(default)]
    pub version: Option<String>,
    /// Build commit.
    #[serde(default)]
    pub commit: Option<String>,
}

/// The seeded dashboard as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardState {
    /// Its title.
    pub title: String,
    /// `meta.version` (falls back to `dashboard.version`): each save increments it.
    pub version: i64,
    /// `meta.folderUid`, when it is in a folder.
    pub folder_uid: Option<String>,
    /// The `panels` array as Grafana returned it.
    pub panels: Vec<Value>,
    /// The whole `dashboard` JSON, for the report.
    pub json: Value,
}

/// The seeded datasource as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasourceState {
    /// Its name.
    pub name: String,
    /// Its plugin type, `prometheus`.
    pub kind: String,
    /// Its URL.
    pub url: String,
}

/// The seeded folder as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderState {
    /// Its title.
    pub title: String,
}

/// `grafana.db` in the data dir, as `stat` saw it through an [`Exec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DbFile {
    /// No [`Exec`] was given (e.g. an e2e cell that only has the API).
    NotChecked,
    /// The file exists.
    Present {
        /// Numeric owner (472 in the official image).
        uid: u32,
        /// Numeric group.
        gid: u32,
        /// Size in bytes.
        size: u64,
        /// Octal permission bits, e.g. `640`.
        mode: String,
    },
    /// `stat` could not see it; its stderr says why.
    Missing {
        /// What `stat` printed.
        reason: String,
    },
}

impl fmt::Display for DbFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotChecked => f.write_str("not checked"),
            Self::Present {
                uid,
                gid,
                size,
                mode,
            } => write!(f, "owner {uid}:{gid}, mode {mode}, {size} bytes"),
            Self::Missing { reason } => write!(f, "missing ({reason})"),
        }
    }
}

/// Everything read back at one moment: before or after a disruption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The uids that were looked for.
    pub uids: Uids,
    /// `/api/health`.
    pub health: Health,
    /// The dashboard, `None` when Grafana answered 404.
    pub dashboard: Option<DashboardState>,
    /// The datasource, `None` when Grafana answered 404.
    pub datasource: Option<DatasourceState>,
    /// The folder, `None` when Grafana answered 404.
    pub folder: Option<FolderState>,
    /// `grafana.db` in [`DATA_DIR`].
    pub db_file: DbFile,
}

/// One request as the harness sent it, for error messages.
struct Call {
    method: Method,
    url: String,
    sent: String,
}

/// One answer, read whole.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

/// A Grafana HTTP API client logged in as `admin` with a generated password.
#[derive(Clone)]
pub struct GrafanaClient {
    base: String,
    password: String,
    http: reqwest::Client,
}

impl fmt::Debug for GrafanaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrafanaClient")
            .field("base", &self.base)
            .field("password", &"<generated, not shown>")
            .finish()
    }
}

impl GrafanaClient {
    /// A client for the Grafana at `base_url` (e.g. `http://127.0.0.1:32768`,
    /// with any sub-path Grafana is served under), using basic auth
    /// `admin:<admin_password>`.
    ///
    /// # Errors
    /// [`Error::Parse`] for a base URL that is not http(s), [`Error::Config`]
    /// for an empty password or the default `admin` (the harness never relies
    /// on the default credentials), [`Error::Http`] when the HTTP client
    /// cannot be built.
    pub fn new(base_url: impl Into<String>, admin_password: impl Into<String>) -> Result<Self> {
        let base = base_url.into().trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| Error::parse("the Grafana base URL", format!("{base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::parse(
                "the Grafana base URL",
                format!("{base:?}: expected an http:// or https:// URL"),
            ));
        }
        let password = admin_password.into();
        if password.is_empty() || password == ADMIN_USER {
            return Err(Error::Config {
                var: "GF_SECURITY_ADMIN_PASSWORD",
                value: password,
                allowed: "a password generated per run (probe::grafana::generate_password), \
                          never empty or the default admin"
                    .into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| Error::Http {
                method: "(build HTTP client for)".into(),
                url: base.clone(),
                source,
            })?;
        Ok(Self {
            base,
            password,
            http,
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /api/health` (no credentials). A 503 with a JSON body is an
    /// answer too (`database: failing`), not an error.
    ///
    /// # Errors
    /// [`Error::Http`] when nothing answers, [`Error::HttpStatus`] for any
    /// other status, [`Error::Parse`] for a non-JSON answer.
    pub async fn health(&self) -> Result<Health> {
        let (call, answer) = self.send(Method::GET, "/api/health", None, false).await?;
        match answer.status {
            200 | 503 => parse(&call, &answer),
            _ => Err(status_error(&call, &answer)),
        }
    }

    /// Poll `/api/health` until it answers `database: ok`, or `timeout` passes.
    ///
    /// # Errors
    /// [`Error::Timeout`] saying what the last poll saw (connection refused,
    /// `database "failing"`, a status code...).
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<Health> {
        let what = format!(
            "Grafana at {} to answer /api/health with database ok",
            self.base
        );
        poll(&what, timeout, HEALTH_POLL_INTERVAL, || async {
            match self.health().await {
                Ok(h) if h.database == "ok" => Check::Ready(h),
                Ok(h) => Check::NotYet(format!("database {:?}", h.database)),
                Err(e) => Check::NotYet(error_chain(&e)),
            }
        })
        .await
    }

    /// Wait until Grafana is healthy again after a disruption that happened
    /// at `disrupted_at`, and return the time from the disruption to
    /// healthy: the [`Judgement::recovery`] of the cell.
    ///
    /// # Errors
    /// As [`GrafanaClient::wait_healthy`].
    pub async fn wait_recovered(
        &self,
        disrupted_at: Instant,
        timeout: Duration,
    ) -> Result<Duration> {
        self.wait_healthy(timeout).await?;
        Ok(disrupted_at.elapsed())
    }

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

    /// Read back the objects named by `uids`, Grafana's health and, through
    /// `exec` when given, `grafana.db`'s numeric owner and size in
    /// [`DATA_DIR`]. A 404 for an object is recorded as `None` (that is the
    /// evidence of a lost database), not returned as an error.
    ///
    /// # Errors
    /// [`Error::HttpStatus`] for any status but 200 and 404 (401 says the
    /// generated password was rejected), [`Error::Parse`] for non-JSON or
    /// mis-shaped answers, [`Error::Http`] when nothing answers, the
    /// [`Exec`]'s error when `stat` cannot be started.
    pub async fn snapshot(&self, uids: &Uids, exec: Option<&dyn Exec>) -> Result<Snapshot> {
        let health = self.health().await?;
        let dashboard = self
            .read::<DashboardAnswer>(&format!("/api/dashboards/uid/{}", uids.dashboard))
            .await?
            .map(DashboardAnswer::into_state)
            .transpose()?;
        let datasource = self
            .read::<DatasourceAnswer>(&format!("/api/datasources/uid/{}", uids.datasource))
            .await?
            .map(|d| DatasourceState {
                name: d.name,
                kind: d.kind,
                url: d.url,
            });
        let folder = self
            .read::<FolderAnswer>(&format!("/api/folders/{}", uids.folder))
            .await?
            .map(|f| FolderState { title: f.title });
        let db_file = match exec {
            Some(exec) => stat_db_file(exec).await?,
            None => DbFile::NotChecked,
        };
        Ok(Snapshot {
            uids: uids.clone(),
            health,
            dashboard,
            datasource,
            folder,
            db_file,
        })
    }

    /// The usual after-disruption step in one call: wait until healthy
    /// (measuring recovery from `disrupted_at`), snapshot the uids of
    /// `before`, and [`compare`]. Returns the judgement (with `recovery`
    /// set) and the after snapshot for the report.
    ///
    /// # Errors
    /// As [`GrafanaClient::wait_recovered`] and [`GrafanaClient::snapshot`].
    pub async fn judge_after(
        &self,
        before: &Snapshot,
        disrupted_at: Instant,
        timeout: Duration,
        exec: Option<&dyn Exec>,
    ) -> Result<(Judgement, Snapshot)> {
        let recovery = self.wait_recovered(disrupted_at, timeout).await?;
        let after = self.snapshot(&before.uids, exec).await?;
        let mut judgement = compare(before, &after);
        judgement.recovery = Some(recovery);
        Ok((judgement, after))
    }

    /// POST `body` to `path` and parse a 200 answer.
    async fn create<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        let (call, answer) = self.send(Method::POST, path, Some(body), true).await?;
        if answer.status == 200 {
            parse(&call, &answer)
        } else {
            Err(status_error(&call, &answer))
        }
    }

    /// GET `path`: `Some` for 200, `None` for 404.
    async fn read<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        let (call, answer) = self.send(Method::GET, path, None, true).await?;
        match answer.status {
            200 => parse(&call, &answer).map(Some),
            404 => Ok(None),
            _ => Err(status_error(&call, &answer)),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: bool,
    ) -> Result<(Call, Answer)> {
        let url = format!("{}{path}", self.base);
        let mut sent = if auth {
            format!("basic auth {ADMIN_USER}:<generated password>")
        } else {
            "no credentials".to_owned()
        };
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::ACCEPT, "application/json");
        if auth {
            req = req.basic_auth(ADMIN_USER, Some(&self.password));
        }
        if let Some(b) = body {
            sent.push_str(" and JSON ");
            sent.push_str(&sent_json(b));
            req = req.json(b);
        }
        let call = Call {
            method: method.clone(),
            url,
            sent,
        };
        let http_err = |source| Error::Http {
            method: call.method.to_string(),
            url: call.url.clone(),
            source,
        };
        let resp = req.send().await.map_err(http_err)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)")
            .to_owned();
        let body = resp.text().await.map_err(http_err)?;
        Ok((
            call,
            Answer {
                status,
                content_type,
                body,
            },
        ))
    }
}

/// Parse a JSON answer, or say what was sent and what came back instead.
fn parse<T: DeserializeOwned>(call: &Call, answer: &Answer) -> Result<T> {
    serde_json::from_str(&answer.body).map_err(|e| {
        let kind = if serde_json::from_str::<Value>(&answer.body).is_ok() {
            "JSON of an unexpected shape"
        } else {
            "not JSON"
        };
        Error::Parse {
            what: format!(
                "the answer to {} {} (sent {})",
                call.method, call.url, call.sent
            ),
            message: format!(
                "{kind} ({e}); status {}, content-type {}, body: {}",
                answer.status,
                answer.content_type,
                head(&answer.body, BODY_CHARS)
            ),
        }
    })
}

/// The error for an unexpected status, with what it most likely means.
fn status_error(call: &Call, answer: &Answer) -> Error {
    let hint = match answer.status {
        401 => Some(
            "the admin password from the generated Secret was rejected; \
             GF_SECURITY_ADMIN_PASSWORD only applies on the first start with an empty \
             grafana.db (grafana#4923), so a data dir kept from an earlier run keeps \
             that run's password"
                .to_owned(),
        ),
        403 => Some("the admin user may not do this (is it the org admin?)".to_owned()),
        404 => Some(
            "not found: no such object, or the base URL does not point at Grafana's \
             HTTP root (a sub-path such as /grafana missing?)"
                .to_owned(),
        ),
        409 => Some(
            "already exists (same uid or name), e.g. left by an earlier run on the same \
             data dir"
                .to_owned(),
        ),
        412 => Some(precondition_hint(&answer.body)),
        _ => None,
    };
    let body = head(&answer.body, BODY_CHARS);
    Error::HttpStatus {
        method: call.method.to_string(),
        url: call.url.clone(),
        sent: call.sent.clone(),
        status: answer.status,
        body: match hint {
            Some(h) => format!("{h}; Grafana answered {body}"),
            None => body,
        },
    }
}

/// Which 412 it was, from the documented `status` field.
fn precondition_hint(body: &str) -> String {
    #[derive(Deserialize)]
    struct Precondition {
        #[serde(default)]
        status: String,
    }
    let status = serde_json::from_str::<Precondition>(body)
        .map(|p| p.status)
        .unwrap_or_default();
    match status.as_str() {
        "version-mismatch" => "version-mismatch: a dashboard with this uid already exists at \
                               another version (an earlier run on the same data dir, or a \
                               concurrent save); the harness sends overwrite:false and never \
                               replaces it"
            .to_owned(),
        "name-exists" => "name-exists: a dashboard with this title already exists in the \
                          folder (titles are unique per folder)"
            .to_owned(),
        "plugin-dashboard" => "plugin-dashboard: the dashboard belongs to a plugin".to_owned(),
        "" => "precondition failed without a status field".to_owned(),
        other => format!("precondition failed: {other}"),
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

/// `stat` `grafana.db` inside the workload's container.
async fn stat_db_file(exec: &dyn Exec) -> Result<DbFile> {
    let out = exec
        .exec(&["stat", "-c", "%u %g %s %a", DB_FILE], None)
        .await?;
    if !out.success() {
        let why = if out.stderr.trim().is_empty() {
            &out.stdout
        } else {
            &out.stderr
        };
        return Ok(DbFile::Missing {
            reason: head(why, BODY_CHARS),
        });
    }
    parse_stat(&out.stdout).ok_or_else(|| {
        Error::parse(
            format!("`stat -c '%u %g %s %a' {DB_FILE}` in {}", exec.target()),
            format!(
                "expected `<uid> <gid> <size> <mode>`, got {:?}",
                head(&out.stdout, 200)
            ),
        )
    })
}

fn parse_stat(stdout: &str) -> Option<DbFile> {
    let mut it = stdout.split_whitespace();
    let file = DbFile::Present {
        uid: it.next()?.parse().ok()?,
        gid: it.next()?.parse().ok()?,
        size: it.next()?.parse().ok()?,
        mode: it.next()?.to_owned(),
    };
    it.next().is_none().then_some(file)
}

/// Judge `after` against `before`. Lost when a seeded object (dashboard,
/// datasource, folder, or `grafana.db` itself) that was there before is gone
/// after; Changed when all are there but the dashboard's title, version,
/// folder or panels, the datasource's name/type/URL or the folder's title
/// differ; Survived otherwise. An object already missing before is reported
/// as lost too, so a broken seed can never pass as survival. Parts name the
/// object (`dashboard <uid>`, `datasource <uid>`, `folder <uid>`, `version
/// 1 -> 2`, `panels`); details carry the evidence either way. `recovery` is
/// left `None`: see [`GrafanaClient::wait_recovered`] and
/// [`GrafanaClient::judge_after`].
pub fn compare(before: &Snapshot, after: &Snapshot) -> Judgement {
    let mut lost = Vec::new();
    let mut changed = Vec::new();
    let mut details = vec![format!(
        "health database {} -> {}",
        before.health.database, after.health.database
    )];

    let uid = &before.uids.dashboard;
    match (&before.dashboard, &after.dashboard) {
        (None, _) => lost.push(format!(
            "dashboard {uid} (already missing before the disruption)"
        )),
        (Some(_), None) => lost.push(format!("dashboard {uid}")),
        (Some(b), Some(a)) => {
            if b.title != a.title {
                changed.push(format!(
                    "dashboard {uid} title {:?} -> {:?}",
                    b.title, a.title
                ));
            }
            if b.version != a.version {
                changed.push(format!(
                    "dashboard {uid} version {} -> {}",
                    b.version, a.version
                ));
            }
            if b.folder_uid != a.folder_uid {
                changed.push(format!(
                    "dashboard {uid} folder {} -> {}",
                    b.folder_uid.as_deref().unwrap_or("(none)"),
                    a.folder_uid.as_deref().unwrap_or("(none)")
                ));
            }
            if b.panels != a.panels {
                changed.push(format!(
                    "dashboard {uid} panels {} -> {}",
                    panel_summary(&b.panels),
                    panel_summary(&a.panels)
                ));
            }
            details.push(format!(
                "dashboard {uid}: title {:?}, version {}, {} panels after",
                a.title,
                a.version,
                a.panels.len()
            ));
        }
    }

    let uid = &before.uids.datasource;
    match (&before.datasource, &after.datasource) {
        (None, _) => lost.push(format!(
            "datasource {uid} (already missing before the disruption)"
        )),
        (Some(_), None) => lost.push(format!("datasource {uid}")),
        (Some(b), Some(a)) => {
            for (field, x, y) in [
                ("name", &b.name, &a.name),
                ("type", &b.kind, &a.kind),
                ("url", &b.url, &a.url),
            ] {
                if x != y {
                    changed.push(format!("datasource {uid} {field} {x:?} -> {y:?}"));
                }
            }
            details.push(format!(
                "datasource {uid}: {} ({}) at {}",
                a.name, a.kind, a.url
            ));
        }
    }

    let uid = &before.uids.folder;
    match (&before.folder, &after.folder) {
        (None, _) => lost.push(format!(
            "folder {uid} (already missing before the disruption)"
        )),
        (Some(_), None) => lost.push(format!("folder {uid}")),
        (Some(b), Some(a)) => {
            if b.title != a.title {
                changed.push(format!("folder {uid} title {:?} -> {:?}", b.title, a.title));
            }
            details.push(format!("folder {uid}: {:?}", a.title));
        }
    }

    match (&before.db_file, &after.db_file) {
        (DbFile::NotChecked, DbFile::NotChecked) => {}
        (DbFile::Present { .. }, DbFile::Missing { .. }) => {
            lost.push(format!("grafana.db in {DATA_DIR}"));
            details.push(format!(
                "grafana.db {} -> {}",
                before.db_file, after.db_file
            ));
        }
        (DbFile::Missing { .. }, _) => {
            // A seed that never took must not pass as "survived".
            lost.push(format!(
                "grafana.db in {DATA_DIR} (already missing before the disruption)"
            ));
            details.push(format!(
                "grafana.db {} -> {}",
                before.db_file, after.db_file
            ));
        }
        (b, a) => details.push(format!("grafana.db {b} -> {a}")),
    }

    let verdict = if !lost.is_empty() {
        details.extend(changed.into_iter().map(|c| format!("also changed: {c}")));
        Verdict::Lost { parts: lost }
    } else if !changed.is_empty() {
        Verdict::Changed { parts: changed }
    } else {
        Verdict::Survived
    };
    Judgement {
        verdict,
        details,
        recovery: None,
    }
}

/// `[1 "title" type, ...]`, short enough for a verdict part.
fn panel_summary(panels: &[Value]) -> String {
    let items: Vec<String> = panels
        .iter()
        .map(|p| {
            format!(
                "{} {:?} {}",
                p.get("id").map_or_else(|| "?".to_owned(), Value::to_string),
                p.get("title").and_then(Value::as_str).unwrap_or(""),
                p.get("type").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .collect();
    let summary = format!("[{}]", items.join(", "));
    if summary.len() > 200 {
        format!("[{} panels]", panels.len())
    } else {
        summary
    }
}

/// Recognise Grafana's storage failures in its log (current and previous
/// container), for the expectation table. Each line is matched on its own,
/// case-insensitively; the result is sorted and without duplicates.
///
/// - `database is locked` -> [`Reason::GrafanaDatabaseLocked`]: SQLite's
///   file lock failing, typically on NFS (grafana#16638, helm/charts#1071).
///   `database table is locked` is an in-process table lock, not storage,
///   and is not matched.
/// - `disk I/O error` -> [`Reason::GrafanaDiskIo`] (grafana#47225, #14584).
/// - permission denied / operation not permitted / not writable on the data
///   dir (`/var/lib/grafana`, `GF_PATHS_DATA`, `grafana.db`), and SQLite's
///   `attempt to write a readonly database` ->
///   [`Reason::GrafanaPermissionDenied`] (grafana#6285, #26675, #10830).
///   Permission errors on other paths (e.g. `/var/log/grafana`) are not
///   storage failures and are not matched.
pub fn classify_log(text: &str) -> Vec<Reason> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let l = line.to_ascii_lowercase();
        if l.contains("database is locked") {
            found.insert(Reason::GrafanaDatabaseLocked);
        }
        if l.contains("disk i/o error") {
            found.insert(Reason::GrafanaDiskIo);
        }
        if is_data_dir_permission_failure(&l) {
            found.insert(Reason::GrafanaPermissionDenied);
        }
    }
    found.into_iter().collect()
}

fn is_data_dir_permission_failure(lower: &str) -> bool {
    if lower.contains("attempt to write a readonly database") {
        return true;
    }
    let about_data =
        lower.contains(DATA_DIR) || lower.contains("gf_paths_data") || lower.contains("grafana.db");
    let refused = lower.contains("permission denied")
        || lower.contains("operation not permitted")
        || lower.contains("is not writable");
    about_data && refused
}

/// The first `max` characters of `text` (on a char boundary), trimmed: the
/// start of an answer body says what it is (JSON message, HTML page...).
fn head(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// The JSON body as an error shows it: whole when short, else with arrays
/// (the panels) reduced to their length, so the uids stay visible.
fn sent_json(body: &Value) -> String {
    fn shrink(v: &mut Value) {
        match v {
            Value::Array(items) => *v = Value::String(format!("<{} items>", items.len())),
            Value::Object(map) => map.values_mut().for_each(shrink),
            _ => {}
        }
    }
    let whole = body.to_string();
    if whole.len() <= SENT_CHARS {
        return whole;
    }
    let mut short = body.clone();
    shrink(&mut short);
    head(&short.to_string(), SENT_CHARS)
}

/// `err` with its sources, on one line, for a poll status.
fn error_chain(err: &Error) -> String {
    let mut s = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        s.push_str(": ");
        s.push_str(&e.to_string());
        source = e.source();
    }
    s
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

#[derive(Deserialize)]
struct DashboardAnswer {
    dashboard: Value,
    #[serde(default)]
    meta: Value,
}

impl DashboardAnswer {
    fn into_state(self) -> Result<DashboardState> {
        let title = self
            .dashboard
            .get("title")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::parse(
                    "a dashboard answer",
                    "`dashboard.title` is missing or not a string",
                )
            })?
            .to_owned();
        let version = self
            .meta
            .get("version")
            .and_then(Value::as_i64)
            .or_else(|| self.dashboard.get("version").and_then(Value::as_i64))
            .ok_or_else(|| {
                Error::parse(
                    format!("the answer for dashboard {title:?}"),
                    "neither `meta.version` nor `dashboard.version` is a number",
                )
            })?;
        let folder_uid = self
            .meta
            .get("folderUid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let panels = self
            .dashboard
            .get("panels")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(DashboardState {
            title,
            version,
            folder_uid,
            panels,
            json: self.dashboard,
        })
    }
}

#[derive(Deserialize)]
struct DatasourceAnswer {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
struct FolderAnswer {
    title: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn generated_passwords_are_long_random_and_never_the_default() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), PASSWORD_LEN);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert!(GrafanaClient::new("http://127.0.0.1:3000", a).is_ok());
    }

    #[rstest]
    #[case::default_admin("admin")]
    #[case::empty("")]
    fn client_refuses_default_or_empty_password(#[case] password: &str) {
        let e = GrafanaClient::new("http://127.0.0.1:3000", password).expect_err("refused");
        assert!(e.to_string().contains("GF_SECURITY_ADMIN_PASSWORD"), "{e}");
    }

    #[test]
    fn client_refuses_a_base_url_that_is_not_http() {
        let e = GrafanaClient::new("127.0.0.1:3000", generate_password()).expect_err("bad url");
        assert!(e.to_string().contains("Grafana base URL"), "{e}");
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = GrafanaClient::new("http://127.0.0.1:3000/", "s3cret-generated").expect("client");
        assert_eq!(c.base_url(), "http://127.0.0.1:3000");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

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

    #[rstest]
    #[case::busybox_stat("472 0 1040384 640\n", Some((472, 0, 1_040_384)))]
    #[case::root_owned("0 0 4096 644", Some((0, 0, 4096)))]
    #[case::garbage("stat: applet not found", None)]
    #[case::extra_fields("472 0 1 640 x", None)]
    fn stat_output_is_parsed_strictly(#[case] out: &str, #[case] want: Option<(u32, u32, u64)>) {
        let got = parse_stat(out).map(|f| match f {
            DbFile::Present { uid, gid, size, .. } => (uid, gid, size),
            other => panic!("unexpected {other:?}"),
        });
        assert_eq!(got, want);
    }

    fn snapshot_with(dashboard: Option<DashboardState>, db_file: DbFile) -> Snapshot {
        Snapshot {
            uids: Uids {
                dashboard: "e2e-gdash-a".into(),
                datasource: "e2e-gds-a".into(),
                folder: "e2e-gfolder-a".into(),
            },
            health: Health {
                database: "ok".into(),
                version: Some("12.2.1".into()),
                commit: None,
            },
            dashboard,
            datasource: Some(DatasourceState {
                name: "e2e-gds-a".into(),
                kind: "prometheus".into(),
                url: "http://prometheus:9090".into(),
            }),
            folder: Some(FolderState {
                title: "storage-e2e e2e-gfolder-a".into(),
            }),
            db_file,
        }
    }

    fn dashboard(version: i64) -> DashboardState {
        DashboardState {
            title: "t".into(),
            version,
            folder_uid: Some("e2e-gfolder-a".into()),
            panels: vec![json!({"id": 1, "title": "up", "type": "timeseries"})],
            json: json!({}),
        }
    }

    fn present(uid: u32) -> DbFile {
        DbFile::Present {
            uid,
            gid: 0,
            size: 4096,
            mode: "640".into(),
        }
    }

    #[test]
    fn compare_identical_snapshots_survives_with_evidence() {
        let s = snapshot_with(Some(dashboard(1)), present(472));
        let j = compare(&s, &s);
        assert_eq!(j.verdict, Verdict::Survived);
        assert!(
            j.details.iter().any(|d| d.contains("owner 472:0")),
            "{:?}",
            j.details
        );
        assert_eq!(j.recovery, None);
    }

    #[test]
    fn compare_names_a_lost_database_file() {
        let before = snapshot_with(Some(dashboard(1)), present(472));
        let after = snapshot_with(
            Some(dashboard(1)),
            DbFile::Missing {
                reason: "stat: can't stat '/var/lib/grafana/grafana.db': No such file or directory"
                    .into(),
            },
        );
        let j = compare(&before, &after);
        assert_eq!(
            j.verdict,
            Verdict::Lost {
                parts: vec!["grafana.db in /var/lib/grafana".into()]
            }
        );
    }

    #[test]
    fn compare_never_passes_a_seed_that_was_missing_before() {
        let s = snapshot_with(None, DbFile::NotChecked);
        let j = compare(&s, &s);
        assert!(
            matches!(&j.verdict, Verdict::Lost { parts } if parts[0].contains("already missing before")),
            "{j:?}"
        );
    }

    #[test]
    fn compare_reports_changes_alongside_a_loss() {
        let before = snapshot_with(Some(dashboard(1)), DbFile::NotChecked);
        let mut after = snapshot_with(Some(dashboard(2)), DbFile::NotChecked);
        after.folder = None;
        let j = compare(&before, &after);
        assert_eq!(
            j.verdict,
            Verdict::Lost {
                parts: vec!["folder e2e-gfolder-a".into()]
            }
        );
        assert!(
            j.details
                .iter()
                .any(|d| d == "also changed: dashboard e2e-gdash-a version 1 -> 2"),
            "{:?}",
            j.details
        );
    }

    // Log lines below are quoted from the Grafana and chart issues FACTS.md
    // cites (and others reporting the same failure); each case names its source.
    #[rstest]
    // grafana/grafana#16638 (Grafana 6.3.5 on Kubernetes).
    #[case::locked_retry_grafana_16638(
        r#"t=2020-03-09T19:03:42+0000 lvl=info msg="Database locked, sleeping then retrying" logger=sqlstore error="database is locked" retry=0"#,
        &[Reason::GrafanaDatabaseLocked]
    )]
    // helm/charts#1071 (Azure file share, comment by wolfedale).
    #[case::locked_migration_helm_charts_1071(
        r#"t=2018-09-06T10:36:09+0000 lvl=eror msg="Fail to initialize orm engine" logger=sqlstore error="Sqlstore::Migration failed err: database is locked\n""#,
        &[Reason::GrafanaDatabaseLocked]
    )]
    // bitnami/charts#15494 (azurefile-csi), same wording in recent releases.
    #[case::locked_start_bitnami_15494(
        "Failed to start grafana. error: migration failed (id = create migration_log table): database is locked",
        &[Reason::GrafanaDatabaseLocked]
    )]
    // grafana/grafana#47225 (Grafana 8.4 on NFS).
    #[case::disk_io_grafana_47225(
        "Failed to start grafana. error: migration failed (id = create migration_log table): disk I/O error",
        &[Reason::GrafanaDiskIo]
    )]
    // grafana/grafana#14584 (Grafana 5.4.1 on NFS).
    #[case::disk_io_grafana_14584(
        "Service init failed:Migration failed err:disk I/O error",
        &[Reason::GrafanaDiskIo]
    )]
    // grafana/grafana#26675 and #51931: the image's run.sh on an unwritable volume.
    #[case::not_writable_grafana_26675(
        "GF_PATHS_DATA='/var/lib/grafana' is not writable.",
        &[Reason::GrafanaPermissionDenied]
    )]
    #[case::mkdir_plugins_grafana_51931(
        "mkdir: can't create directory '/var/lib/grafana/plugins': Permission denied",
        &[Reason::GrafanaPermissionDenied]
    )]
    // grafana/grafana#6285: NFS export with all_squash,anonuid=1000.
    #[case::chown_squashed_nfs_grafana_6285(
        "chown: changing ownership of '/var/lib/grafana': Operation not permitted",
        &[Reason::GrafanaPermissionDenied]
    )]
    // soulteary/Home-Network-Note#15: data dir moved to /data, owned by root.
    #[case::create_db_denied_home_network_note_15(
        r#"Failed to start grafana. error: failed to connect to database: failed to create SQLite database file "/data/grafana.db": open /data/grafana.db: permission denied"#,
        &[Reason::GrafanaPermissionDenied]
    )]
    // grafana/grafana#10830: database file not writable by the grafana user.
    #[case::readonly_db_grafana_10830(
        r#"t=2018-02-08T05:32:53+0000 lvl=eror msg="Fail to initialize orm engine" logger=sqlstore error="Sqlstore::Migration failed err: attempt to write a readonly database\n""#,
        &[Reason::GrafanaPermissionDenied]
    )]
    // grafana/grafana#21139: the LOG dir, not storage: no reason.
    #[case::log_dir_is_not_storage_grafana_21139(
        "Failed to start grafana. error: failed to initialize file handler: open /var/log/grafana/grafana.log: permission denied",
        &[]
    )]
    // grafana/grafana#7992: an in-process table lock, not the file lock.
    #[case::table_lock_is_not_storage_grafana_7992(
        r#"EROR[03-30|13:50:29] Failed to update datasource              logger=context userId=1 orgId=1 uname=admin error="database table is locked""#,
        &[]
    )]
    // leandromoreira/cdn-up-and-running#9: a warning about loose permissions is not a failure.
    #[case::broad_permissions_warning_is_not_a_failure(
        r#"logger=sqlstore t=2023-02-11T20:48:28.244286070Z level=warn msg="SQLite database file has broader permissions than it should" path=/var/lib/grafana/grafana.db mode=-rw-r--r-- expected=-rw-r-----"#,
        &[]
    )]
    fn classify_log_recognises_storage_failures(#[case] line: &str, #[case] want: &[Reason]) {
        assert_eq!(classify_log(line), want);
    }

    #[test]
    fn classify_log_reports_each_reason_once_in_order() {
        // The run.sh preamble as grafana/grafana#26675 shows it, followed by
        // repeated lock retries (grafana#16638).
        let log = "mkdir: can't create directory '/var/lib/grafana/plugins': Permission denied\n\
                   GF_PATHS_DATA='/var/lib/grafana' is not writable.\n\
                   You may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later\n\
                   msg=\"Database locked, sleeping then retrying\" error=\"database is locked\" retry=0\n\
                   msg=\"Database locked, sleeping then retrying\" error=\"database is locked\" retry=1\n";
        assert_eq!(
            classify_log(log),
            vec![
                Reason::GrafanaDatabaseLocked,
                Reason::GrafanaPermissionDenied
            ]
        );
    }

    #[tokio::test]
    async fn wait_healthy_timeout_names_the_refused_connection() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let c = GrafanaClient::new(
            format!("http://127.0.0.1:{port}"),
            "generated-Secret-password-1",
        )
        .expect("client");
        let e = c
            .wait_healthy(Duration::from_millis(1200))
            .await
            .expect_err("nothing listens");
        let msg = e.to_string();
        assert!(msg.contains("last seen: GET http://127.0.0.1:"), "{msg}");
    }

    #[test]
    fn head_keeps_the_start_on_a_char_boundary() {
        assert_eq!(head(" short ", 10), "short");
        assert_eq!(head("0123456789", 4), "0123... (10 bytes)");
        assert_eq!(head("éé", 3), "é... (4 bytes)");
    }
}
