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
//! container user cannot write, named by the log classifiers, and data
//! damaged on disk (a torn or emptied WAL segment, an unreadable block),
//! each with a mutant check: a deliberately weakened judge run on the same
//! damaged data, to show the full judgement is what catches the damage.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use harness::prometheus::{
    DATA_DIR, DENSE_SPAN, History, Read, Seeded, Snapshot, await_queryable, classify_log, compare,
    seed_blocks, unclean_stop_logged, write_blocks,
};
use harness::vocab::{Judgement, PartKind, Reason, Verdict};
use rstest::rstest;

use crate::prom_support::{
    BindDir, EXIT_TIMEOUT, NamedVolume, Prom, Storage, start_ready, weakened,
};

/// Outer backstop per test; the waits inside have their own named timeouts.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// After a restart the TSDB opens every block in the data dir before it is
/// ready, so the seed must be queryable at once; a few seconds of slack.
const QUERYABLE_AFTER_RESTART: Duration = Duration::from_secs(20);
/// The flag that turns the TSDB lock file off (used by the Thanos seed manifest).
const NO_LOCKFILE: &str = "--storage.tsdb.no-lockfile";
/// The flag the dense head needs (manifests/base sets it too).
const REMOTE_WRITE: &str = "--web.enable-remote-write-receiver";

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
            let written = write_blocks(prom.exec(), &history, DATA_DIR).await?;
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
    let before = before_snapshot(&prom, &history).await?;
    Ok((prom, before))
}

/// Start Prometheus on `storage` and restart it twice, each run with a
/// scrape of its own, then seed a day of history and take the before
/// snapshot in the third run: the head spans three WAL segments, one per
/// run (the first also holds the records that create every self-scrape
/// series; later runs only append to them).
///
/// The blocks come last, through the block reload, because with blocks in
/// the data dir every start makes the TSDB compact an empty head range and
/// checkpoint the WAL into new segments (2.42: it starts the head at the
/// newest block's end, hours ago), which would leave no segment per run.
async fn seeded_three_runs(storage: &Storage) -> Result<(Prom, Snapshot)> {
    let prom = start_ready(storage, &[]).await?;
    prom.await_next_scrape().await?;
    for _ in 0..2 {
        prom.restart().await?;
        prom.await_next_scrape().await?;
    }
    let history = History::new(prom.name());
    seed_blocks(&prom.probe().await?, &history).await?;
    let before = before_snapshot(&prom, &history).await?;
    Ok((prom, before))
}

/// The before snapshot, which must see the whole seed.
async fn before_snapshot(prom: &Prom, history: &History) -> Result<Snapshot> {
    let before = prom.probe().await?.snapshot(history).await?;
    ensure!(
        before.marker_count == Some(history.samples()),
        "the before snapshot does not see the whole seed: {:?} of {}",
        before.marker_count,
        history.samples()
    );
    Ok(before)
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
        replaced.verdict.lost_kinds() == Some(vec![PartKind::Blocks, PartKind::HeadWal]),
        "recreation: {replaced:#?}"
    );
    ensure!(
        after.blocks.is_empty() && after.marker_count.is_none(),
        "{after:#?}"
    );
    Ok(())
}

/// The dense head through Prometheus's real remote-write receiver, and
/// wal-tail-torn's cut on its data dir: five minutes of samples, one per
/// second, are accepted and counted; the top-up after the next scrape adds
/// the seconds since; after a graceful stop, tearing the first WAL record
/// written after the mark taken before the top-up (the script tier 2 runs
/// on a node) loses the top-up's samples and only those: lost head/wal
/// with both counts (exactly the top-up lost), blocks whole.
#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dense_head_is_counted_and_a_torn_wal_loses_its_tail() -> Result<()> {
    let dir = BindDir::writable()?;
    let prom = start_ready(&dir.storage(), &[REMOTE_WRITE]).await?;
    let history = History::new(prom.name());
    seed_blocks(&prom.probe().await?, &history).await?;
    let mut before = prom.probe().await?.snapshot_dense(&history).await?;
    let count = |s: &Snapshot| s.head.count.as_ref().and_then(|c| c.samples);
    let dense = count(&before);
    let span = DENSE_SPAN.as_secs();
    ensure!(
        dense.is_some_and(|n| n + 1 >= span && n <= span + 1),
        "five minutes at one sample per second, counted: {dense:?}"
    );
    prom.await_next_scrape().await?;
    let mark = prom.probe().await?.wal_mark().await?;
    let gained = prom.probe().await?.top_up_head(&mut before).await?;
    ensure!(
        gained >= 1 && count(&before) == dense.map(|n| n + gained),
        "the top-up after a scrape adds the seconds since: {dense:?} + {gained} = {:?}",
        count(&before)
    );
    let at = Instant::now();
    prom.stop().await?;
    dir.run_as_root(&harness::prometheus::cut_after_mark_script(DATA_DIR, &mark))
        .await?;
    prom.start_again().await?;
    let (judgement, after) = judge(&prom, &before, at).await?;
    prom.rm().await?;
    dir.cleanup().await?;

    ensure!(
        judgement.verdict.lost_kinds() == lost(PartKind::HeadWal),
        "only the head's tail is lost: {judgement:#?}"
    );
    let (Some(had), has) = (count(&before), count(&after).unwrap_or(0)) else {
        anyhow::bail!("no count before: {before:#?}");
    };
    ensure!(
        has + gained == had,
        "the top-up's {gained} samples lost, no more: {had} samples before, {has} after"
    );
    let Verdict::Lost { parts } = &judgement.verdict else {
        anyhow::bail!("{judgement:#?}");
    };
    let evidence = parts[0].evidence.clone().unwrap_or_default();
    ensure!(
        evidence.contains(&format!("{had} samples before, {has} after"))
            && evidence.contains(&format!("({} lost)", had - has)),
        "the lost part carries both counts: {evidence}"
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
#[case::blocks_removed(Remove::Blocks, PartKind::Blocks)]
#[case::wal_removed(Remove::Head, PartKind::HeadWal)]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_names_the_part_that_is_missing(
    #[case] what: Remove,
    #[case] lost: PartKind,
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
        judgement.verdict.lost_kinds() == Some(vec![lost]),
        "{judgement:#?}"
    );
    Ok(())
}

/// What a test damages in the data dir while Prometheus is stopped. The
/// scripts run as root on the bind-mounted dir ([`BindDir::run_as_root`])
/// with the tools both images have (sh, ls, grep, sort, stat, od, dd).
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Tear the newest WAL segment 10 bytes in, inside its first record (a
    /// write that never reached the disk): Prometheus repairs the segment
    /// on start, dropping everything after the tear, and logs the repair.
    NewestWalSegmentTorn,
    /// Empty the WAL segment before the newest one, the second run's (and
    /// remove the m-mapped head chunks, which would still hold its samples
    /// had a chunk been cut at a 2 h boundary during the test): Prometheus
    /// replays the other segments around it without a word, and the newest
    /// sample is still there.
    EarlierWalSegmentEmptied,
    /// Cut the chunk file of one seeded block to half its size: the block
    /// opens (its header and index are whole), reading its later chunks fails.
    BlockChunksTruncated,
    /// Change one byte of the first series entry in one seeded block's
    /// index (format v2: the series section's offset is the second entry
    /// of the 52-byte table of contents at the end, entries start 16-byte
    /// aligned with a uvarint length): the block opens, reading the series
    /// fails its checksum.
    BlockIndexCorrupted,
}

/// The first (oldest ULID) block dir in the data dir, into `$b`: a dir
/// with a `meta.json` and a 26-character name (never a `.tmp-for-*` dir).
const FIRST_BLOCK: &str = r#"b=$(for d in /prometheus/*/; do n=$(basename "$d"); [ -f "$d/meta.json" ] && [ ${#n} -eq 26 ] && echo "$d"; done | sort | head -n 1)
[ -n "$b" ] || { echo "no block in /prometheus" >&2; exit 1; }
"#;

impl Damage {
    fn script(self) -> String {
        let script = match self {
            Self::NewestWalSegmentTorn => {
                r#"cd /prometheus/wal
f=$(ls | grep -E '^[0-9]{8}$' | sort | tail -n 1)
[ -n "$f" ] || { echo "no WAL segment" >&2; exit 1; }
dd if=/dev/null of="$f" bs=1 seek=10
"#
            }
            Self::EarlierWalSegmentEmptied => {
                r#"cd /prometheus/wal
set -- $(ls | grep -E '^[0-9]{8}$' | sort)
[ $# -ge 3 ] || { echo "want a WAL segment per run (3 or more), found: $*" >&2; exit 1; }
eval "f=\${$(($# - 1))}"
: > "$f"
rm -f /prometheus/chunks_head/*
"#
            }
            Self::BlockChunksTruncated => {
                r#"f="${b}chunks/000001"
dd if=/dev/null of="$f" bs=1 seek=$(( $(stat -c %s "$f") / 2 ))
"#
            }
            Self::BlockIndexCorrupted => {
                r#"f="${b}index"
size=$(stat -c %s "$f")
off=0
for byte in $(od -A n -t u1 -j $((size - 44)) -N 8 "$f"); do off=$((off * 256 + byte)); done
off=$(( (off + 15) / 16 * 16 + 1 ))
old=$(od -A n -t u1 -j $off -N 1 "$f" | tr -d ' ')
printf "\\$(printf '%03o' $(( (old + 1) % 256 )))" | dd of="$f" bs=1 seek=$off conv=notrunc
"#
            }
        };
        let block = match self {
            Self::BlockChunksTruncated | Self::BlockIndexCorrupted => FIRST_BLOCK,
            Self::NewestWalSegmentTorn | Self::EarlierWalSegmentEmptied => "",
        };
        format!("set -e\n{block}{script}")
    }
}

/// [`Verdict::lost_kinds`] of a loss of `part` alone (whatever the evidence).
fn lost(part: PartKind) -> Option<Vec<PartKind>> {
    Some(vec![part])
}

/// Stop Prometheus, apply `damage` to `dir`, start it again, and judge.
async fn damage_and_judge(
    prom: &Prom,
    dir: &BindDir,
    before: &Snapshot,
    damage: Damage,
) -> Result<(Judgement, Snapshot)> {
    let at = Instant::now();
    prom.stop().await?;
    dir.run_as_root(&damage.script())
        .await
        .with_context(|| format!("damaging the data dir: {damage:?}"))?;
    prom.start_again().await?;
    judge(prom, before, at).await
}

/// Part of the head damaged on disk must be judged lost, with the head
/// series' sample counts before and after as evidence. The mutant check:
/// the one-exact-sample head check (what the judgement was before counting)
/// on the same data says `one_sample_says`; for a segment replayed around
/// it says survived, so only the count catches that loss (and Prometheus
/// logs nothing about it, `logged`).
#[rstest]
#[case::newest_wal_segment_torn(
    Damage::NewestWalSegmentTorn,
    lost(PartKind::HeadWal),
    &[Reason::PrometheusCorruption]
)]
#[case::earlier_wal_segment_emptied(Damage::EarlierWalSegmentEmptied, None, &[])]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_head_is_lost_with_both_counts(
    #[case] damage: Damage,
    #[case] one_sample_says: Option<Vec<PartKind>>,
    #[case] logged: &[Reason],
) -> Result<()> {
    let dir = BindDir::writable()?;
    let (prom, before) = seeded_three_runs(&dir.storage()).await?;
    let (judgement, after) = damage_and_judge(&prom, &dir, &before, damage).await?;
    let logs = prom.logs().await?;
    prom.rm().await?;
    dir.cleanup().await?;

    ensure!(
        judgement.verdict.lost_kinds() == lost(PartKind::HeadWal),
        "{judgement:#?}"
    );
    let count = |s: &Snapshot| s.head.count.as_ref().and_then(|c| c.samples);
    let (had, has) = (count(&before), count(&after));
    let (Some(had), Some(has)) = (had, has) else {
        anyhow::bail!("both counts must be there: before {had:?}, after {has:?}");
    };
    ensure!(has < had, "{had} samples before, {has} after");
    let (before_count, after_count) = (
        format!("}}: {had} samples before"),
        format!(" before, {has} after over ["),
    );
    ensure!(
        judgement.details.iter().any(|d| {
            d.starts_with("head/wal: scrape_duration_seconds{")
                && d.contains(&before_count)
                && d.contains(&after_count)
        }),
        "no detail with {before_count:?} and {after_count:?}: {judgement:#?}"
    );
    let weak = weakened::compare_one_exact_head_sample(&before, &after);
    ensure!(
        weak.verdict.lost_kinds() == one_sample_says
            && (one_sample_says.is_some() || weak.verdict == Verdict::Survived),
        "the one-exact-sample head check should say {one_sample_says:?}: {weak:#?}"
    );
    let reasons = classify_log(&logs);
    ensure!(reasons == logged, "{reasons:?} from:\n{logs}");
    Ok(())
}

/// A seeded block that is there but cannot be read must be a verdict --
/// lost blocks with Prometheus's error as evidence -- not a harness error
/// (before, the probe returned the query error as an Err and the cell
/// ended without a verdict: every read error recorded here was one).
///
/// The mutant check: a judge ignoring query errors on the same data says
/// survived wherever Prometheus refused the whole-history count. Where it
/// answered the count instead -- 2.42 merges the blocks' answers and drops
/// one block's chunk error, returning a short count (2.53 reports the
/// error) -- the count check alone already says lost.
#[rstest]
#[case::chunks_truncated(Damage::BlockChunksTruncated)]
#[case::index_corrupted(Damage::BlockIndexCorrupted)]
#[timeout(TEST_TIMEOUT)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_block_is_lost_with_the_query_error(#[case] damage: Damage) -> Result<()> {
    let dir = BindDir::writable()?;
    let (prom, before) = seeded(&dir.storage(), Seeding::Restart).await?;
    let (judgement, after) = damage_and_judge(&prom, &dir, &before, damage).await?;
    prom.rm().await?;
    dir.cleanup().await?;

    ensure!(
        judgement.verdict.lost_kinds() == lost(PartKind::Blocks),
        "{judgement:#?}"
    );
    ensure!(
        !after.read_errors.is_empty()
            && after
                .read_errors
                .iter()
                .all(|e| e.read.part() == PartKind::Blocks),
        "the block reads should be refused, and only they: {:#?}",
        after.read_errors
    );
    for e in &after.read_errors {
        let evidence = format!("blocks: unreadable: {e}");
        ensure!(
            judgement.details.contains(&evidence),
            "no detail {evidence:?}: {judgement:#?}"
        );
    }
    let weak = weakened::compare_ignoring_read_errors(&before, &after);
    let count_refused = after
        .read_errors
        .iter()
        .any(|e| e.read == Read::MarkerCount);
    if count_refused {
        ensure!(
            weak.verdict == Verdict::Survived,
            "a judge ignoring query errors should say survived: {weak:#?}"
        );
    } else {
        ensure!(
            after.marker_count < Some(before.history.samples())
                && weak.verdict.lost_kinds() == lost(PartKind::Blocks),
            "a count Prometheus answered must be short: {after:#?}"
        );
    }
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
