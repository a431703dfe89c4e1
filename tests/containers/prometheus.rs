//! Prometheus in real containers: the seed, snapshot and judgement every
//! e2e cell uses, proven on the storage analogues Docker offers:
//!
//! | here | in Kubernetes |
//! |---|---|
//! | bind-mounted host dir | hostPath / local PV |
//! | named volume | a PVC |
//! | the container's own `/prometheus` | emptyDir: survives a container restart, not a pod replacement |
//!
//! plus the lock-file contention of a second instance and a data dir the
//! container user cannot write, named by the log classifiers.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use harness::expect::Reason;
use harness::probe::prometheus::{
    DEFAULT_DATA_DIR, Snapshot, classify_log, compare, part, unclean_stop_logged,
};
use harness::probe::{Judgement, Verdict};
use harness::seed::prometheus::{History, Seeded, await_queryable, seed_blocks, write_blocks};
use rstest::rstest;

use crate::prom_support::{BindDir, EXIT_TIMEOUT, NamedVolume, Prom, Storage, start_ready};

/// Outer backstop per test; the waits inside have their own named timeouts.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// After a restart the TSDB opens every block in the data dir before it is
/// ready, so the seed must be queryable at once; a few seconds of slack.
const QUERYABLE_AFTER_RESTART: Duration = Duration::from_secs(20);
/// The flag that turns the TSDB lock file off (used by the Thanos seed manifest).
const NO_LOCKFILE: &str = "--storage.tsdb.no-lockfile";

/// How the seeded blocks become queryable.
#[derive(Debug, Clone, Copy)]
enum Seeding {
    /// Wait for the next block reload: what tier 2 does, no restart.
    Reload,
    /// Restart Prometheus (SIGTERM + start): the TSDB opens the blocks at
    /// once, which is quicker than the reload.
    Restart,
}

/// What happens to the container.
#[derive(Debug, Clone, Copy)]
enum Disrupt {
    /// `docker kill -s KILL`, then start the same container.
    Sigkill,
    /// `docker stop` (SIGTERM), then start the same container.
    Sigterm,
    /// Stop (SIGTERM) and remove the container, start a new one on the same storage.
    Recreate,
}

/// Start Prometheus on `storage`, seed a day of history, and take the
/// before snapshot.
async fn seeded(storage: &Storage, how: Seeding) -> Result<(Prom, Snapshot)> {
    let prom = start_ready(storage, &[]).await?;
    let history = History::new(prom.name());
    match how {
        Seeding::Reload => {
            seed_blocks(&prom.probe().await?, &history).await?;
        }
        Seeding::Restart => {
            let started = Instant::now();
            let written = write_blocks(prom.exec(), &history, DEFAULT_DATA_DIR).await?;
            prom.stop().await?;
            prom.start_again().await?;
            let probe = prom.probe().await?;
            probe.wait_ready(Instant::now()).await?;
            await_queryable(&probe, &history, QUERYABLE_AFTER_RESTART).await?;
            let seeded = Seeded {
                history: history.clone(),
                blocks: written.blocks,
                written_in: written.took,
                queryable_in: started.elapsed(),
            };
            eprintln!("{seeded} (restart)");
        }
    }
    let before = prom.probe().await?.snapshot(&history).await?;
    ensure!(
        before.marker_count == Some(history.samples()),
        "the before snapshot does not see the whole seed: {:?} of {}",
        before.marker_count,
        history.samples()
    );
    Ok((prom, before))
}

/// Apply `how`; returns the container to probe afterwards and the moment
/// of the disruption (recovery time is measured from it).
async fn disrupt(prom: Prom, storage: &Storage, how: Disrupt) -> Result<(Prom, Instant)> {
    let at = Instant::now();
    match how {
        Disrupt::Sigkill => {
            prom.kill().await?;
            prom.start_again().await?;
            Ok((prom, at))
        }
        Disrupt::Sigterm => {
            let code = prom.stop().await?;
            ensure!(
                code == Some(0),
                "SIGTERM should stop Prometheus cleanly, exit code {code:?}"
            );
            prom.start_again().await?;
            Ok((prom, at))
        }
        Disrupt::Recreate => {
            prom.stop().await?;
            prom.rm().await?;
            Ok((Prom::start(storage, &[]).await?, at))
        }
    }
}

/// Wait for ready (the recovery time), snapshot again, judge, print.
async fn judge(prom: &Prom, before: &Snapshot, at: Instant) -> Result<(Judgement, Snapshot)> {
    let probe = prom.probe().await?;
    let recovery = probe.wait_ready(at).await?;
    let after = probe.snapshot_after(before).await?;
    let judgement = compare(before, &after, Some(recovery));
    eprintln!(
        "{}: {:?}, recovery {:.1}s\n  {}",
        prom.name(),
        judgement.verdict,
        recovery.as_secs_f64(),
        judgement.details.join("\n  ")
    );
    Ok((judgement, after))
}

#[rstest]
#[case::sigkill(Disrupt::Sigkill)]
#[case::sigterm(Disrupt::Sigterm)]
#[case::recreate(Disrupt::Recreate)]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_mounted_data_dir_survives(#[case] how: Disrupt) -> Result<()> {
    let dir = BindDir::writable()?;
    let (prom, before) = seeded(&dir.storage(), Seeding::Restart).await?;
    let (prom, at) = disrupt(prom, &dir.storage(), how).await?;
    let (judgement, after) = judge(&prom, &before, at).await?;
    let logs = prom.logs().await?;
    prom.rm().await?;
    dir.cleanup().await?;

    ensure!(judgement.verdict == Verdict::Survived, "{judgement:#?}");
    ensure!(judgement.recovery.is_some());
    match how {
        Disrupt::Sigkill => {
            ensure!(
                after.clean_start == Some(0),
                "after SIGKILL the lock file must be found and replaced (clean_start 0), got {:?}",
                after.clean_start
            );
            ensure!(
                unclean_stop_logged(&logs),
                "no lock-file-replaced line in:\n{logs}"
            );
        }
        Disrupt::Sigterm | Disrupt::Recreate => {
            ensure!(
                after.clean_start == Some(1),
                "after a graceful stop the start must be clean (clean_start 1), got {:?}",
                after.clean_start
            );
            ensure!(
                !unclean_stop_logged(&logs),
                "a graceful stop left its lock file:\n{logs}"
            );
        }
    }
    Ok(())
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_volume_survives_recreation() -> Result<()> {
    let volume = NamedVolume::create().await?;
    let (prom, before) = seeded(&volume.storage(), Seeding::Reload).await?;
    let (prom, at) = disrupt(prom, &volume.storage(), Disrupt::Recreate).await?;
    let (judgement, after) = judge(&prom, &before, at).await?;
    prom.rm().await?;
    volume.rm().await?;

    ensure!(judgement.verdict == Verdict::Survived, "{judgement:#?}");
    ensure!(
        after.data_dir_owner == "65534:65534",
        "owner {}",
        after.data_dir_owner
    );
    Ok(())
}

/// The negative control: the harness must say "lost" when the data is gone.
/// Killing and restarting the same container keeps its filesystem (as an
/// emptyDir survives a container restart); replacing the container loses
/// the blocks and the head (as an emptyDir does with its pod).
#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_filesystem_survives_a_restart_but_not_recreation() -> Result<()> {
    let storage = Storage::ContainerFs;
    let (prom, before) = seeded(&storage, Seeding::Reload).await?;
    let (prom, at) = disrupt(prom, &storage, Disrupt::Sigkill).await?;
    let (restarted, _) = judge(&prom, &before, at).await?;
    let (prom, at) = disrupt(prom, &storage, Disrupt::Recreate).await?;
    let (replaced, after) = judge(&prom, &before, at).await?;
    prom.rm().await?;

    ensure!(
        restarted.verdict == Verdict::Survived,
        "restart: {restarted:#?}"
    );
    ensure!(
        replaced.verdict
            == Verdict::Lost {
                parts: vec![part::BLOCKS.into(), part::HEAD.into()]
            },
        "recreation: {replaced:#?}"
    );
    ensure!(
        after.blocks.is_empty() && after.marker_count.is_none(),
        "{after:#?}"
    );
    Ok(())
}

/// What a test removes from the data dir while Prometheus is stopped.
#[derive(Debug, Clone, Copy)]
enum Remove {
    /// Every block directory (the seeded history).
    Blocks,
    /// `wal/` and `chunks_head/` (the head).
    Head,
}

/// compare() must fail, naming the right part, when seeded data is missing.
#[rstest]
#[case::blocks_removed(Remove::Blocks, part::BLOCKS)]
#[case::wal_removed(Remove::Head, part::HEAD)]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_names_the_part_that_is_missing(
    #[case] what: Remove,
    #[case] lost: &str,
) -> Result<()> {
    let dir = BindDir::writable()?;
    let (prom, before) = seeded(&dir.storage(), Seeding::Restart).await?;
    let at = Instant::now();
    prom.stop().await?;
    dir.run_as_root(match what {
        Remove::Blocks => {
            r#"for d in /prometheus/*/; do [ -f "$d/meta.json" ] && rm -rf "$d"; done; true"#
        }
        Remove::Head => "rm -rf /prometheus/wal /prometheus/chunks_head",
    })
    .await?;
    prom.start_again().await?;
    let (judgement, _) = judge(&prom, &before, at).await?;
    prom.rm().await?;
    dir.cleanup().await?;

    ensure!(
        judgement.verdict
            == Verdict::Lost {
                parts: vec![lost.to_owned()]
            },
        "{judgement:#?}"
    );
    Ok(())
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_instance_on_the_same_dir_fails_on_the_lock() -> Result<()> {
    let dir = BindDir::writable()?;
    let first = start_ready(&dir.storage(), &[]).await?;
    let second = Prom::start(&dir.storage(), &[]).await?;
    let code = second.wait_exited(EXIT_TIMEOUT).await?;
    let logs = second.logs().await?;
    let first_still_ready = first.probe().await?.wait_ready(Instant::now()).await;
    second.rm().await?;
    first.rm().await?;
    dir.cleanup().await?;

    let reasons = classify_log(&logs);
    eprintln!(
        "second instance exited {code:?}; classified {reasons:?} from: {}",
        logs.lines()
            .find(|l| l.contains("opening storage failed"))
            .unwrap_or("(no such line)")
    );
    ensure!(
        code.is_some_and(|c| c != 0),
        "the second instance should fail, exit code {code:?}"
    );
    ensure!(
        reasons.contains(&Reason::PrometheusLockHeld),
        "{reasons:?} from:\n{logs}"
    );
    first_still_ready?;
    Ok(())
}

/// The documented danger: without the lock file nothing stops two writers
/// on one data dir.
#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lockfile_lets_two_instances_share_the_dir() -> Result<()> {
    let dir = BindDir::writable()?;
    let first = start_ready(&dir.storage(), &[NO_LOCKFILE]).await?;
    let second = start_ready(&dir.storage(), &[NO_LOCKFILE]).await?;
    let clean_start = (
        first.probe().await?.clean_start().await?,
        second.probe().await?.clean_start().await?,
    );
    let logs = second.logs().await?;
    second.rm().await?;
    first.rm().await?;
    dir.cleanup().await?;

    ensure!(
        clean_start == (Some(-1), Some(-1)),
        "both should run with the lock file disabled (clean_start -1), got {clean_start:?}"
    );
    ensure!(classify_log(&logs).is_empty(), "{logs}");
    Ok(())
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_data_dir_is_named_permission_denied() -> Result<()> {
    let dir = BindDir::unwritable()?;
    let prom = Prom::start(&dir.storage(), &[]).await?;
    let code = prom.wait_exited(EXIT_TIMEOUT).await?;
    let logs = prom.logs().await?;
    prom.rm().await?;
    dir.cleanup().await?;

    let reasons = classify_log(&logs);
    eprintln!(
        "exited {code:?}; classified {reasons:?} from: {}",
        logs.lines()
            .find(|l| l.contains("permission denied"))
            .unwrap_or("(no such line)")
    );
    ensure!(
        code.is_some_and(|c| c != 0),
        "Prometheus should fail, exit code {code:?}"
    );
    ensure!(
        reasons == [Reason::PrometheusPermissionDenied],
        "{reasons:?} from:\n{logs}"
    );
    Ok(())
}
