//! Grafana's storage failures in its log, typed as [`Reason`]s for the
//! expectation table.

use std::collections::BTreeSet;

use crate::grafana::facts::DATA_DIR;
use crate::vocab::Reason;

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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // Log lines below are quoted from the Grafana and chart issues that report
    // each failure; each case names its source.
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
}
