//! thanos-compacting: Prometheus compacts before anything is shipped, and
//! what that leaves where. The sidecar ships only level-1 blocks
//! (pkg/shipper/shipper.go), so whatever Prometheus merged into a block of
//! a higher level before the store was reachable stays on the pod's
//! volume only; this module waits for the compaction, says which seeded
//! hours are then only local, and checks the bucket never holds a
//! compacted block.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ShippedBlock;
use crate::error::Result;
use crate::prometheus::{BlockInfo, PrometheusProbe};
use crate::wait::{Check, poll};

/// How long Prometheus gets to compact the seeded blocks: its TSDB first
/// tries a minute after it opens (tsdb/db.go `run`), then every minute.
const COMPACT_TIMEOUT: Duration = Duration::from_secs(240);
/// How long the block listing must stay the same to count as compacted:
/// one compaction merges level by level, reloading the blocks after each.
const SETTLED_FOR: Duration = Duration::from_secs(15);

/// Wait until Prometheus has compacted: some local block is of level > 1
/// and the listing has not changed for [`SETTLED_FOR`]. Returns it.
///
/// # Errors
/// [`crate::Error::Timeout`] with the last listing's levels.
pub(crate) async fn wait_compacted(probe: &PrometheusProbe<'_>) -> Result<Vec<BlockInfo>> {
    let seen: Mutex<Option<(Vec<String>, Instant)>> = Mutex::new(None);
    poll(
        "Prometheus to compact the seeded blocks",
        COMPACT_TIMEOUT,
        Duration::from_secs(3),
        || async {
            let blocks = match probe.blocks_from_meta_json().await {
                Ok(b) => b,
                Err(e) => return Check::NotYet(format!("blocks not listable: {e}")),
            };
            let ids: Vec<String> = blocks.iter().map(|b| b.ulid.clone()).collect();
            let mut seen = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let since = match &*seen {
                Some((prev, since)) if *prev == ids => *since,
                _ => {
                    *seen = Some((ids, Instant::now()));
                    Instant::now()
                }
            };
            let levels = levels(&blocks);
            match (
                blocks.iter().any(|b| b.level > 1),
                since.elapsed() >= SETTLED_FOR,
            ) {
                (true, true) => Check::Ready(blocks),
                (true, false) => Check::NotYet(format!("compacting: {levels}")),
                (false, _) => Check::NotYet(format!("not compacted yet: {levels}")),
            }
        },
    )
    .await
}

/// `12 blocks: level 1 x 11, level 3 x 1`.
pub(crate) fn levels(blocks: &[BlockInfo]) -> String {
    let mut by_level = std::collections::BTreeMap::<u32, usize>::new();
    for b in blocks {
        *by_level.entry(b.level).or_default() += 1;
    }
    let each: Vec<String> = by_level
        .iter()
        .map(|(l, n)| format!("level {l} x {n}"))
        .collect();
    format!("{} blocks: {}", blocks.len(), each.join(", "))
}

/// What of `local` the bucket does not hold for `replica`: the local
/// blocks whose time range no shipped block of the replica covers, as
/// `N h in M compacted block(s) only on the pod's volume`.
pub(crate) fn only_local(replica: &str, local: &[BlockInfo], bucket: &[ShippedBlock]) -> String {
    let shipped: Vec<&ShippedBlock> = bucket.iter().filter(|b| b.replica == replica).collect();
    let unshipped: Vec<&BlockInfo> = local
        .iter()
        .filter(|l| {
            !shipped
                .iter()
                .any(|s| s.min_time <= l.min_time && l.max_time <= s.max_time)
        })
        .collect();
    let ms: i64 = unshipped.iter().map(|b| b.max_time - b.min_time).sum();
    let compacted = unshipped.iter().filter(|b| b.level > 1).count();
    #[allow(clippy::cast_precision_loss)] // hours of blocks: far below 2^52 ms
    let hours = ms as f64 / 3_600_000.0;
    format!(
        "{hours:.1} h in {} block(s) ({compacted} compacted) only on the pod's volume",
        unshipped.len()
    )
}

/// `Err` naming every compacted block of `replica` in the bucket: the
/// sidecar ships only level-1 blocks unless --shipper.upload-compacted,
/// which the setup does not set.
pub(crate) fn no_compacted_shipped(
    replica: &str,
    bucket: &[ShippedBlock],
) -> std::result::Result<(), String> {
    let compacted: Vec<String> = bucket
        .iter()
        .filter(|b| b.replica == replica && b.level > 1)
        .map(|b| format!("{} (level {})", b.ulid, b.level))
        .collect();
    if compacted.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the sidecar shipped compacted block(s) of {replica} without \
             --shipper.upload-compacted: {}",
            compacted.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn local(ulid: &str, from_h: i64, to_h: i64, level: u32) -> BlockInfo {
        BlockInfo {
            ulid: ulid.into(),
            min_time: from_h * H,
            max_time: to_h * H,
            num_samples: 1,
            level,
            sources: vec![ulid.into()],
        }
    }

    fn shipped(ulid: &str, from_h: i64, to_h: i64, level: u32, replica: &str) -> ShippedBlock {
        ShippedBlock {
            ulid: ulid.into(),
            min_time: from_h * H,
            max_time: to_h * H,
            level,
            replica: replica.into(),
        }
    }

    #[test]
    fn the_hours_only_compacted_locally_are_counted() {
        let local = [
            local("C18", 0, 18, 3),
            local("C6", 18, 22, 2),
            local("N", 22, 24, 1),
        ];
        let bucket = [
            shipped("N", 22, 24, 1, "prometheus-0"),
            // Another replica's block of the same hours does not count.
            shipped("X", 0, 18, 1, "prometheus-1"),
        ];
        assert_eq!(
            levels(&local),
            "3 blocks: level 1 x 1, level 2 x 1, level 3 x 1"
        );
        assert_eq!(
            only_local("prometheus-0", &local, &bucket),
            "22.0 h in 2 block(s) (2 compacted) only on the pod's volume"
        );
        assert_eq!(
            only_local("prometheus-0", &local[2..], &bucket),
            "0.0 h in 0 block(s) (0 compacted) only on the pod's volume"
        );
    }

    /// The negative control: a compacted block in the bucket is a failure
    /// that names it.
    #[test]
    fn a_compacted_block_in_the_bucket_is_named() {
        let ok = [
            shipped("N", 22, 24, 1, "prometheus-0"),
            shipped("O", 0, 18, 3, "other"),
        ];
        assert_eq!(no_compacted_shipped("prometheus-0", &ok), Ok(()));
        let bad = [shipped("C", 0, 18, 3, "prometheus-0")];
        assert_eq!(
            no_compacted_shipped("prometheus-0", &bad),
            Err(
                "the sidecar shipped compacted block(s) of prometheus-0 without \
                 --shipper.upload-compacted: C (level 3)"
                    .to_owned()
            )
        );
    }
}
