//! The bucket, read through the S3 API by the sidecar's own Thanos binary
//! (`thanos tools bucket ls` with the sidecar's objstore config, exec'd in
//! its container): which blocks were shipped before the disruption, and
//! whether each is still there, once, after it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::prometheus::BlockInfo;
use crate::wait::{Check, poll};

/// The sidecar container of the setup's StatefulSet (manifests/base-thanos).
pub(crate) const SIDECAR: &str = "thanos-sidecar";
/// The objstore config it mounts.
const OBJSTORE: &str = "/etc/thanos/objstore.yaml";
/// One line per block: ULID, min and max time (ms), compaction level and
/// the block's `replica` external label (a Go template over Thanos's
/// block meta, cmd/thanos/tools_bucket.go `ls -o <template>`).
const LINE: &str = r#"{{.ULID}} {{.MinTime}} {{.MaxTime}} {{.Compaction.Level}} {{index .Thanos.Labels "replica"}}"#;
/// How long the seeded blocks get to reach the bucket: the shipper runs
/// every 30 s once the sidecar has Prometheus's external labels.
const SHIP_TIMEOUT: Duration = Duration::from_secs(180);

/// One block in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShippedBlock {
    pub(crate) ulid: String,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) level: u32,
    /// The `replica` external label: which Prometheus shipped it.
    pub(crate) replica: String,
}

/// The blocks `thanos tools bucket ls -o <LINE>` printed.
///
/// # Errors
/// [`Error::Parse`] naming a line that is not five fields.
pub(crate) fn parse_ls(out: &str) -> Result<Vec<ShippedBlock>> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let bad = || Error::Parse {
                what: "thanos tools bucket ls".into(),
                message: format!("expected `ulid min max level replica`, got {l:?}"),
            };
            let [ulid, min, max, level, replica] = f[..] else {
                return Err(bad());
            };
            Ok(ShippedBlock {
                ulid: ulid.to_owned(),
                min_time: min.parse().map_err(|_| bad())?,
                max_time: max.parse().map_err(|_| bad())?,
                level: level.parse().map_err(|_| bad())?,
                replica: replica.to_owned(),
            })
        })
        .collect()
}

/// Every block in the bucket, listed from inside `sidecar` (an exec into
/// the setup's sidecar container).
///
/// # Errors
/// The exec's error, or [`Error::Command`] when the listing fails.
pub(crate) async fn list(sidecar: &dyn Exec) -> Result<Vec<ShippedBlock>> {
    let objstore = format!("--objstore.config-file={OBJSTORE}");
    let argv = ["thanos", "tools", "bucket", "ls", &objstore, "-o", LINE];
    let out = sidecar.exec(&argv, None).await?;
    if !out.success() {
        return Err(Error::Command {
            command: format!("{} in {}", argv.join(" "), sidecar.target()),
            status: format!("exit {:?}", out.code),
            stderr: out.stderr,
        });
    }
    parse_ls(&out.stdout)
}

/// Wait until every level-1 block of `local` (the seeded Prometheus's
/// TSDB) is in the bucket, shipped by `replica`; returns the bucket then.
/// The sidecar ships only uncompacted blocks (Thanos docs, sidecar), so a
/// compacted local block is not waited for.
///
/// # Errors
/// As [`wait_listed`].
pub(crate) async fn wait_shipped(
    sidecar: &dyn Exec,
    replica: &str,
    local: &[BlockInfo],
) -> Result<Vec<ShippedBlock>> {
    let due: Vec<&str> = local
        .iter()
        .filter(|b| b.level == 1)
        .map(|b| b.ulid.as_str())
        .collect();
    wait_listed(sidecar, replica, &due, SHIP_TIMEOUT).await
}

/// Wait until the blocks `due` are in the bucket, shipped by `replica`;
/// returns the bucket then.
///
/// # Errors
/// [`Error::Timeout`] naming the blocks still missing (or why the bucket
/// could not be listed).
pub(crate) async fn wait_listed(
    sidecar: &dyn Exec,
    replica: &str,
    due: &[&str],
    timeout: Duration,
) -> Result<Vec<ShippedBlock>> {
    poll(
        &format!("the sidecar of {replica} to ship {} block(s)", due.len()),
        timeout,
        Duration::from_secs(3),
        || async {
            let bucket = match list(sidecar).await {
                Ok(b) => b,
                Err(e) => return Check::NotYet(format!("bucket not listable yet: {e}")),
            };
            let missing: Vec<&str> = due
                .iter()
                .copied()
                .filter(|u| !bucket.iter().any(|b| b.ulid == *u && b.replica == replica))
                .collect();
            if missing.is_empty() {
                Check::Ready(bucket)
            } else {
                Check::NotYet(format!(
                    "{} of {} blocks not in the bucket yet: {}",
                    missing.len(),
                    due.len(),
                    missing.join(", ")
                ))
            }
        },
    )
    .await
}

/// The bucket after the disruption against before: `Ok` with a summary
/// when every block of `replica` shipped before is still there and no
/// time range of it is there twice (the shipper re-uploading what it had
/// shipped, under a new id); `Err` saying which blocks are missing or
/// doubled.
pub(crate) fn compare(
    replica: &str,
    before: &[ShippedBlock],
    after: &[ShippedBlock],
) -> std::result::Result<String, String> {
    let mine = |bs: &[ShippedBlock]| -> Vec<ShippedBlock> {
        bs.iter()
            .filter(|b| b.replica == replica)
            .cloned()
            .collect()
    };
    let (before, after) = (mine(before), mine(after));
    let missing: Vec<&str> = before
        .iter()
        .filter(|b| !after.iter().any(|a| a.ulid == b.ulid))
        .map(|b| b.ulid.as_str())
        .collect();
    let mut ranges: BTreeMap<(i64, i64, u32), Vec<&str>> = BTreeMap::new();
    for b in &after {
        ranges
            .entry((b.min_time, b.max_time, b.level))
            .or_default()
            .push(&b.ulid);
    }
    let twice: Vec<String> = ranges
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|((min, max, _), ids)| format!("[{min}, {max}) as {}", ids.join(" and ")))
        .collect();
    if missing.is_empty() && twice.is_empty() {
        return Ok(format!(
            "the bucket kept every block {replica} had shipped ({} before the disruption, {} \
             after, none twice)",
            before.len(),
            after.len()
        ));
    }
    let mut why = Vec::new();
    if !missing.is_empty() {
        why.push(format!(
            "{} of the {} blocks {replica} had shipped are gone from the bucket: {}",
            missing.len(),
            before.len(),
            missing.join(", ")
        ));
    }
    if !twice.is_empty() {
        why.push(format!("shipped twice: {}", twice.join("; ")));
    }
    Err(why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ulid: &str, min: i64, replica: &str) -> ShippedBlock {
        ShippedBlock {
            ulid: ulid.into(),
            min_time: min,
            max_time: min + 7_200_000,
            level: 1,
            replica: replica.into(),
        }
    }

    #[test]
    fn the_listing_is_read_line_by_line() {
        let out = "01KA 1000 7201000 1 prometheus-0\n\n01KB 7201000 14401000 1 prometheus-1\n";
        let b = parse_ls(out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            b,
            vec![
                block("01KA", 1000, "prometheus-0"),
                block("01KB", 7_201_000, "prometheus-1")
            ]
        );
        assert!(parse_ls("01KA 1000 x 1 prometheus-0").is_err());
        // A block without the replica label prints `<no value>`: two words.
        assert!(parse_ls("01KA 1000 2000 1 <no value>").is_err());
    }

    #[test]
    fn a_kept_bucket_passes_and_names_its_figures() {
        let before = vec![
            block("A", 0, "prometheus-0"),
            block("B", 7_200_000, "prometheus-0"),
        ];
        let mut after = before.clone();
        after.push(block("C", 0, "prometheus-1"));
        let said = compare("prometheus-0", &before, &after).unwrap_or_else(|e| panic!("{e}"));
        assert!(said.contains("2 before the disruption, 2 after"), "{said}");
    }

    /// The negative controls: a block gone, or one range shipped again
    /// under a new id, fails the check.
    #[test]
    fn a_lost_or_doubled_block_fails() {
        let before = vec![
            block("A", 0, "prometheus-0"),
            block("B", 7_200_000, "prometheus-0"),
        ];
        let lost = vec![block("A", 0, "prometheus-0")];
        let err = compare("prometheus-0", &before, &lost).unwrap_err();
        assert!(
            err.contains("1 of the 2 blocks") && err.contains('B'),
            "{err}"
        );
        let mut doubled = before.clone();
        doubled.push(block("A2", 0, "prometheus-0"));
        let err = compare("prometheus-0", &before, &doubled).unwrap_err();
        assert!(
            err.contains("shipped twice") && err.contains("A and A2"),
            "{err}"
        );
    }
}
