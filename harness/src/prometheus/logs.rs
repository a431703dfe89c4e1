//! What Prometheus logs when its storage goes wrong, turned into typed
//! [`Reason`]s for the expectation table.
//!
//! Matching is on the message text, not on the log format, so the same
//! rules read the logfmt of 2.x (`level=error ts=... err="..."`), the slog
//! output of 3.x (`time=... level=ERROR source=... err="..."`) and the
//! older 2.x wording (`Opening storage failed open DB in ...`). Every rule
//! is tested against lines copied from real reports (see the tests).

use crate::vocab::Reason;

/// The storage failures a Prometheus log shows, in order of first
/// appearance, each once:
/// - [`Reason::PrometheusLockHeld`]: another process holds the TSDB lock
///   (`lock DB directory: resource temporarily unavailable`; before 2.3
///   `Locked by other process`). Not for `no locks available`, which is a
///   filesystem without locking (NFSv3 without lockd), not a second writer.
/// - [`Reason::PrometheusPermissionDenied`]: `permission denied` on the data
///   dir (`lock`, `queries.active`, WAL, a block, opening storage).
/// - [`Reason::PrometheusCorruption`]: WAL/chunk corruption and repair, or
///   opening storage failed on broken files (checksums, magic numbers,
///   truncated `meta.json`).
/// - [`Reason::PrometheusDiskFull`]: `no space left on device` (a WAL
///   write, a head chunk, a block written while the volume is full).
pub fn classify_log(text: &str) -> Vec<Reason> {
    let mut found = Vec::new();
    for line in text.lines() {
        let l = line.to_ascii_lowercase();
        for reason in classify_line(&l) {
            if !found.contains(&reason) {
                found.push(reason);
            }
        }
    }
    found
}

/// Whether the log says a lock file left by a previous run was replaced:
/// the previous process did not shut down cleanly (SIGKILL, OOM kill, node
/// loss). Informational, not a failure, so it is not a [`Reason`]; the
/// `prometheus_tsdb_clean_start` gauge (0) says the same thing on `/metrics`.
pub fn unclean_stop_logged(text: &str) -> bool {
    text.lines().any(|l| {
        l.contains("A lockfile from a previous execution already existed. It was replaced")
    })
}

fn classify_line(l: &str) -> Vec<Reason> {
    let mut out = Vec::new();
    if l.contains("no space left on device") {
        out.push(Reason::PrometheusDiskFull);
    }
    if l.contains("lock db directory: resource temporarily unavailable")
        || l.contains("locked by other process")
    {
        out.push(Reason::PrometheusLockHeld);
    }
    if l.contains("permission denied")
        && [
            "opening storage failed",
            "lock db directory",
            "queries.active",
            "open db in",
            "/lock",
            "/wal",
            "chunks_head",
            "meta.json",
        ]
        .iter()
        .any(|k| l.contains(k))
    {
        out.push(Reason::PrometheusPermissionDenied);
    }
    let storage_failed = l.contains("opening storage failed");
    if l.contains("corrupt")
        || l.contains("attempting repair")
        || (storage_failed
            && [
                "unexpected end of json input",
                "invalid magic number",
                "checksum",
                "segments are not sequential",
                "invalid record type",
            ]
            .iter()
            .any(|k| l.contains(k)))
    {
        out.push(Reason::PrometheusCorruption);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    use Reason::{
        PrometheusCorruption as Corruption, PrometheusLockHeld as LockHeld,
        PrometheusPermissionDenied as Permission,
    };

    #[rstest]
    // helm/charts#22737 (Prometheus 2.x logfmt, err first).
    #[case::lock_held_helm_charts_22737(
        r#"level=error ts=2020-06-10T13:29:09.370Z caller=main.go:740 err="opening storage failed: lock DB directory: resource temporarily unavailable""#,
        &[LockHeld]
    )]
    // NascentCore/3k#181 (2.4x logfmt).
    #[case::lock_held_nascentcore_3k_181(
        r#"ts=2023-10-25T06:57:59.529Z caller=main.go:1164 level=error err="opening storage failed: lock DB directory: resource temporarily unavailable""#,
        &[LockHeld]
    )]
    // Captured from local/prometheus-debian:2.42 (a second container on the
    // same bind-mounted dir, as tier 1's lock test does), 2026-11-22.
    #[case::lock_held_stand_in_2_42(
        r#"ts=2026-11-22T01:56:43.884Z caller=main.go:1127 level=error err="opening storage failed: lock DB directory: resource temporarily unavailable""#,
        &[LockHeld]
    )]
    // prometheus#8576 (2.2: the lock error's older wording; the line as the issue title quotes it).
    #[case::lock_held_old_wording_prometheus_8576(
        r#"err="Opening storage failed open DB in /var/lib/prometheus/: Locked by other process""#,
        &[LockHeld]
    )]
    // prometheus/prometheus#4805: hostPath not owned by 65534 (as the issue quotes it).
    #[case::permission_lock_prometheus_4805(
        r#" err="opening storage failed: lock DB directory: open /prometheus/lock: permission denied""#,
        &[Permission]
    )]
    // helm/charts#19105: the chart's /data dir (as the issue title quotes it).
    #[case::permission_lock_helm_charts_19105(
        r#"err="opening storage failed: lock DB directory: open /data/lock: permission denied""#,
        &[Permission]
    )]
    // prometheus/prometheus#5976 and #9704: the query log is opened before the TSDB.
    #[case::permission_queries_active_prometheus_9704(
        "ts=2021-11-09T08:04:28.858Z caller=query_logger.go:87 level=error component=activeQueryTracker msg=\"Error opening query log file\" file=/prometheus/queries.active err=\"open /prometheus/queries.active: permission denied\"\npanic: Unable to create mmap-ed active query log\n\ngoroutine 1 [running]:",
        &[Permission]
    )]
    // Captured from local/prometheus-debian:2.42 on a root-owned 0755 bind
    // mount, as tier 1's permission test does, 2026-11-22.
    #[case::permission_queries_active_stand_in_2_42(
        "ts=2026-11-22T01:56:49.328Z caller=query_logger.go:91 level=error component=activeQueryTracker msg=\"Error opening query log file\" file=/prometheus/queries.active err=\"open /prometheus/queries.active: permission denied\"\npanic: Unable to create mmap-ed active query log\n\ngoroutine 1 [running]:\ngithub.com/prometheus/prometheus/promql.NewActiveQueryTracker({0x7ffc60a41f42, 0xb}, 0x14, {0x24cdbc0, 0xc00040bea0})",
        &[Permission]
    )]
    // kadalu/kadalu#187: 2.x before the lock-directory wording.
    #[case::permission_open_db_kadalu_187(
        r#"level=error ts=2020-02-24T05:44:15.863385564Z caller=main.go:582 err="Opening storage failed open DB in /var/lib/prometheus/: open /var/lib/prometheus/360366309: permission denied""#,
        &[Permission]
    )]
    // prometheus#13152 (3.4.2 slog): WAL repair after a crash.
    #[case::corruption_wal_repair_prometheus_13152(
        "time=2025-07-03T07:51:31.301Z level=WARN source=db.go:1018 msg=\"Encountered WAL read error, attempting repair\" component=tsdb err=\"read records: corruption in segment data/wal/00000619 at 525634: unexpected full record\"\ntime=2025-07-03T07:51:31.301Z level=WARN source=wlog.go:413 msg=\"Starting corruption repair\" component=tsdb segment=619 offset=525634\ntime=2025-07-03T07:51:31.301Z level=WARN source=wlog.go:421 msg=\"Deleting all segments newer than corrupted segment\" component=tsdb segment=619",
        &[Corruption]
    )]
    // prometheus#4705: a WAL the repair could not handle.
    #[case::corruption_open_failed_prometheus_4705(
        r#"level=error ts=2018-10-07T02:39:01.980632051Z caller=main.go:617 err="opening storage failed: read WAL: repair corrupted WAL: cannot handle error: invalid record type 255""#,
        &[Corruption]
    )]
    // prometheus#4112: an empty meta.json (a block dir half written when the node died).
    #[case::corruption_truncated_meta_json_prometheus_4112(
        r#"level=error ts=2018-04-25T08:57:09.900515419Z caller=main.go:593 err="Opening storage failed unexpected end of JSON input""#,
        &[Corruption]
    )]
    // prometheus#7409: checkpoint corruption found by compaction.
    #[case::corruption_checkpoint_prometheus_7409(
        r#"level=error ts=2020-06-05T17:01:06.947Z caller=db.go:609 component=tsdb msg="compaction failed" err="reload blocks: head truncate failed: create checkpoint: read segments: corruption in segment /prometheus/wal/00000136 at 32768: unexpected first record, dropping buffer""#,
        &[Corruption]
    )]
    // prometheus#13390: NFS without locking. Not a second writer: no reason.
    #[case::nfs_no_locks_is_not_lock_held_prometheus_13390(
        r#"caller=main.go:1166 level=error err="opening storage failed: lock DB directory: no locks available""#,
        &[]
    )]
    // apecloud/kubeblocks#2003: a full volume is neither lock nor permission.
    #[case::no_space_is_disk_full_kubeblocks_2003(
        r#"err="opening storage failed: lock DB directory: open /data/lock: no space left on device""#,
        &[Reason::PrometheusDiskFull]
    )]
    // Captured from local/prometheus-debian:2.53 on a full csi-rwo volume
    // (volume-full, kind 1.35, 2026-12-06): the append refused, then the panic.
    #[case::no_space_append_stand_in_2_53(
        r#"HTTP 500: write to WAL: log samples: write /prometheus/wal/00000001: no space left on device"#,
        &[Reason::PrometheusDiskFull]
    )]
    #[case::no_space_panic_stand_in_2_53(
        r#"panic: preallocate: no space left on device"#,
        &[Reason::PrometheusDiskFull]
    )]
    // prometheus/prometheus#7627: appends on a running server whose disk is full.
    #[case::no_space_append_prometheus_7627(
        r#"level=error msg="append failed" err="write to WAL: log series: write /data/wal/00001900: no space left on device""#,
        &[Reason::PrometheusDiskFull]
    )]
    // Captured from the stand-in's normal start in tier 1: nothing to report.
    #[case::clean_start_stand_in_2_42(
        "ts=2026-11-22T01:50:33.349Z caller=head.go:722 level=info component=tsdb msg=\"WAL replay completed\" checkpoint_replay_duration=20.181µs wal_replay_duration=374.956µs wbl_replay_duration=247ns total_replay_duration=416.79µs\nts=2026-11-22T01:50:33.351Z caller=main.go:973 level=info msg=\"Server is ready to receive web requests.\"",
        &[]
    )]
    fn classifies_real_log_lines(#[case] log: &str, #[case] want: &[Reason]) {
        assert_eq!(classify_log(log), want);
    }

    #[test]
    fn reasons_come_once_in_order_of_first_appearance() {
        let log = "err=\"opening storage failed: read WAL: repair corrupted WAL: cannot handle error\"\n\
                   err=\"opening storage failed: lock DB directory: resource temporarily unavailable\"\n\
                   msg=\"Starting corruption repair\" segment=1";
        assert_eq!(classify_log(log), [Corruption, LockHeld]);
    }

    #[test]
    fn the_lockfile_replaced_line_signals_an_unclean_stop() {
        // prometheus-community/helm-charts#2169 (tsdb/tsdbutil/dir_locker.go).
        let line = r#"ts=2022-08-07T18:50:50.001Z caller=dir_locker.go:77 level=warn component=tsdb msg="A lockfile from a previous execution already existed. It was replaced" file=/prometheus/lock"#;
        assert!(unclean_stop_logged(line));
        // Captured from local/prometheus-debian:2.42 after `docker kill -s KILL` and a start, 2026-11-22.
        let stand_in = r#"ts=2026-11-22T01:56:45.619Z caller=dir_locker.go:77 level=warn component=tsdb msg="A lockfile from a previous execution already existed. It was replaced" file=/prometheus/lock"#;
        assert!(unclean_stop_logged(stand_in));
        assert!(
            classify_log(line).is_empty(),
            "informational, not a failure"
        );
        assert!(!unclean_stop_logged(
            r#"ts=2026-11-22T01:50:33.350Z caller=main.go:1012 level=info msg="TSDB started""#
        ));
    }
}
