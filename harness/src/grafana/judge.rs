//! [`compare`]: two Grafana [`Snapshot`]s judged into a [`Judgement`]
//! naming the object that was lost or changed, and
//! [`GrafanaClient::judge_after`], the usual after-disruption step in one
//! call.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::Result;
use crate::exec::Exec;
use crate::grafana::api::GrafanaClient;
use crate::grafana::facts::DATA_DIR;
use crate::grafana::snapshot::{DbFile, Snapshot};
use crate::vocab::{Judgement, Part, PartKind, Verdict};

impl GrafanaClient {
    /// The usual after-disruption step in one call: wait until healthy
    /// (measuring recovery from `disrupted_at`), snapshot the uids of
    /// `before`, and `compare`. Returns the judgement (with `recovery`
    /// set) and the after snapshot for the report.
    ///
    /// # Errors
    /// As `GrafanaClient::wait_recovered` and [`GrafanaClient::snapshot`].
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
}

/// Judge `after` against `before`. Lost when a seeded object (dashboard,
/// datasource, folder, or `grafana.db` itself) that was there before is gone
/// after; Changed when all are there but the dashboard's title, version,
/// folder or panels, the datasource's name/type/URL or the folder's title
/// differ; Survived otherwise. An object already missing before is reported
/// as lost too, marked [`Part::missing_before`], so a broken seed can never
/// pass as survival. Parts name the object by uid; a change's evidence says
/// what differs (`version 1 -> 2`, `panels [...] -> [...]`); details carry
/// the rest either way. `recovery` is left `None`: see
/// [`GrafanaClient::wait_recovered`] and [`GrafanaClient::judge_after`].
pub(crate) fn compare(before: &Snapshot, after: &Snapshot) -> Judgement {
    let mut f = Found {
        details: vec![format!(
            "health database {} -> {}",
            before.health.database, after.health.database
        )],
        ..Found::default()
    };
    compare_dashboard(before, after, &mut f);
    compare_datasource(before, after, &mut f);
    compare_folder(before, after, &mut f);
    compare_db_file(before, after, &mut f);
    f.into_judgement()
}

/// What the object comparisons of [`compare`] found.
#[derive(Debug, Default)]
struct Found {
    lost: Vec<Part>,
    changed: Vec<Part>,
    details: Vec<String>,
}

impl Found {
    /// Both states of the object `uid` of `kind` when it exists before and
    /// after; otherwise it is recorded lost (marked missing before when the
    /// seed never took) and None is returned.
    fn pair<'a, T>(
        &mut self,
        kind: PartKind,
        uid: &str,
        before: &'a Option<T>,
        after: &'a Option<T>,
    ) -> Option<(&'a T, &'a T)> {
        match (before, after) {
            (None, _) => {
                self.lost.push(Part::object(kind, uid).missing_before());
                None
            }
            (Some(_), None) => {
                self.lost.push(Part::object(kind, uid));
                None
            }
            (Some(b), Some(a)) => Some((b, a)),
        }
    }

    /// `object` of `kind` differs: `what`.
    fn change(&mut self, kind: PartKind, uid: &str, what: String) {
        self.changed
            .push(Part::object(kind, uid).with_evidence(what));
    }

    fn into_judgement(mut self) -> Judgement {
        if !self.lost.is_empty() {
            // The verdict names the losses; the changes stay in the details.
            self.details
                .extend(self.changed.iter().map(|c| format!("also changed: {c}")));
        }
        Judgement {
            verdict: Verdict::of(self.lost, self.changed),
            details: self.details,
            recovery: None,
        }
    }
}

fn compare_dashboard(before: &Snapshot, after: &Snapshot, f: &mut Found) {
    let uid = &before.uids.dashboard;
    let kind = PartKind::Dashboard;
    let Some((b, a)) = f.pair(kind, uid, &before.dashboard, &after.dashboard) else {
        return;
    };
    if b.title != a.title {
        f.change(kind, uid, format!("title {:?} -> {:?}", b.title, a.title));
    }
    if b.version != a.version {
        f.change(kind, uid, format!("version {} -> {}", b.version, a.version));
    }
    if b.folder_uid != a.folder_uid {
        f.change(
            kind,
            uid,
            format!(
                "folder {} -> {}",
                b.folder_uid.as_deref().unwrap_or("(none)"),
                a.folder_uid.as_deref().unwrap_or("(none)")
            ),
        );
    }
    if b.panels != a.panels {
        f.change(
            kind,
            uid,
            format!(
                "panels {} -> {}",
                panel_summary(&b.panels),
                panel_summary(&a.panels)
            ),
        );
    }
    f.details.push(format!(
        "dashboard {uid}: title {:?}, version {}, {} panels after",
        a.title,
        a.version,
        a.panels.len()
    ));
}

fn compare_datasource(before: &Snapshot, after: &Snapshot, f: &mut Found) {
    let uid = &before.uids.datasource;
    let kind = PartKind::Datasource;
    let Some((b, a)) = f.pair(kind, uid, &before.datasource, &after.datasource) else {
        return;
    };
    for (field, x, y) in [
        ("name", &b.name, &a.name),
        ("type", &b.kind, &a.kind),
        ("url", &b.url, &a.url),
    ] {
        if x != y {
            f.change(kind, uid, format!("{field} {x:?} -> {y:?}"));
        }
    }
    f.details.push(format!(
        "datasource {uid}: {} ({}) at {}",
        a.name, a.kind, a.url
    ));
}

fn compare_folder(before: &Snapshot, after: &Snapshot, f: &mut Found) {
    let uid = &before.uids.folder;
    let kind = PartKind::Folder;
    let Some((b, a)) = f.pair(kind, uid, &before.folder, &after.folder) else {
        return;
    };
    if b.title != a.title {
        f.change(kind, uid, format!("title {:?} -> {:?}", b.title, a.title));
    }
    f.details.push(format!("folder {uid}: {:?}", a.title));
}

fn compare_db_file(before: &Snapshot, after: &Snapshot, f: &mut Found) {
    let db = || Part::object(PartKind::GrafanaDb, DATA_DIR);
    match (&before.db_file, &after.db_file) {
        (DbFile::NotChecked, DbFile::NotChecked) => return,
        (DbFile::Present { .. }, DbFile::Missing { .. }) => f.lost.push(db()),
        // A seed that never took must not pass as "survived".
        (DbFile::Missing { .. }, _) => f.lost.push(db().missing_before()),
        _ => {}
    }
    f.details.push(format!(
        "grafana.db {} -> {}",
        before.db_file, after.db_file
    ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grafana::api::Health;
    use crate::grafana::seed::Uids;
    use crate::grafana::snapshot::{DashboardState, DatasourceState, FolderState};
    use serde_json::json;

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
                parts: vec![Part::object(PartKind::GrafanaDb, "/var/lib/grafana")]
            }
        );
    }

    #[test]
    fn compare_never_passes_a_seed_that_was_missing_before() {
        let s = snapshot_with(None, DbFile::NotChecked);
        let j = compare(&s, &s);
        assert!(
            matches!(&j.verdict, Verdict::Lost { parts } if parts[0].missing_before),
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
                parts: vec![Part::object(PartKind::Folder, "e2e-gfolder-a")]
            }
        );
        assert!(
            j.details
                .iter()
                .any(|d| d == "also changed: dashboard e2e-gdash-a: version 1 -> 2"),
            "{:?}",
            j.details
        );
    }
}
