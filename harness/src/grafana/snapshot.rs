//! What Grafana answers about the seeded objects at one moment, before or
//! after a disruption: a [`Snapshot`]. Absence is recorded, not returned as
//! an error: it is what a lost volume looks like.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::grafana::api::{BODY_CHARS, GrafanaClient, Health, head};
use crate::grafana::facts::DB_FILE;
use crate::grafana::seed::Uids;

/// The seeded dashboard as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DashboardState {
    /// Its title.
    pub(crate) title: String,
    /// `meta.version` (falls back to `dashboard.version`): each save increments it.
    pub(crate) version: i64,
    /// `meta.folderUid`, when it is in a folder.
    pub(crate) folder_uid: Option<String>,
    /// The `panels` array as Grafana returned it.
    pub(crate) panels: Vec<Value>,
    /// The whole `dashboard` JSON, for the report.
    pub(crate) json: Value,
}

/// The seeded datasource as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DatasourceState {
    /// Its name.
    pub(crate) name: String,
    /// Its plugin type, `prometheus`.
    pub(crate) kind: String,
    /// Its URL.
    pub(crate) url: String,
}

/// The seeded folder as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FolderState {
    /// Its title.
    pub(crate) title: String,
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
    pub(crate) uids: Uids,
    /// `/api/health`.
    pub(crate) health: Health,
    /// The dashboard, `None` when Grafana answered 404.
    pub(crate) dashboard: Option<DashboardState>,
    /// The datasource, `None` when Grafana answered 404.
    pub(crate) datasource: Option<DatasourceState>,
    /// The folder, `None` when Grafana answered 404.
    pub(crate) folder: Option<FolderState>,
    /// `grafana.db` in [`DATA_DIR`](crate::grafana::DATA_DIR).
    pub db_file: DbFile,
}

impl GrafanaClient {
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
    ///
    /// [`DATA_DIR`]: crate::grafana::DATA_DIR
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
}
