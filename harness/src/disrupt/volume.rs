//! Disruptions done to the volume itself while its pod runs:
//! [`volume_full`], a volume that runs out of space.
//!
//! The filler is a file the harness writes from inside the pod, into the
//! pod's own mount of the volume, as the app's user: the space it takes is
//! the space the app can no longer have. Before the cell may judge, the
//! pod must show the volume full (the negative control, [`Fill::check`]):
//! a harness that ever stopped filling would otherwise judge an untouched
//! volume and call it a survivor.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};

use super::target::{Applied, Target};
use crate::error::{Error, Result, chain};
use crate::exec::{Exec as _, PodExec};
use crate::manifest::DATA_VOLUME;
use crate::prometheus::Ticks;
use crate::workload;

/// The filler's name in the data directory.
pub const FILLER: &str = "storage-e2e-filler";
/// How long a volume is held full: twelve of the manifests' 5 s scrape
/// intervals, sixty writes of the harness's own, and a block write halfway.
pub const HOLD_FULL: Duration = Duration::from_secs(60);
/// How long Prometheus gets to accept a write again once the space is
/// back: longer than the kubelet's longest crash-loop back-off (5 min), as
/// Prometheus panics on a full disk and its container crash-loops.
pub const RECOVER_TIMEOUT: Duration = Duration::from_secs(360);
/// How long the kubelet gets to evict a pod whose emptyDir is past its
/// sizeLimit: it measures volumes every `volumeStatsAggPeriod` (1 min,
/// jittered up to 2 min: pkg/kubelet/server/stats/volume_stat_calculator.go)
/// and checks every 10 s (pkg/kubelet/kubelet.go evictionMonitoringPeriod).
pub const EVICT_TIMEOUT: Duration = Duration::from_secs(300);
/// How far past an emptyDir's sizeLimit the filler goes: the node's disk is
/// shared with everything else, so an emptyDir is never filled to ENOSPC.
const PAST_LIMIT_MIB: u64 = 64;
/// The most a filled volume may still show available to the app (df's
/// `Available`, what a non-root writer may still take): two of the WAL's
/// 32 KiB pages. (With a megabyte allowed, a first run left 132 KiB free
/// and Prometheus kept appending to its WAL for most of the hold.)
const FULL_SLACK_KIB: u64 = 64;

/// One filesystem as `df -Pk` shows it in the pod, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Df {
    size_kib: u64,
    used_kib: u64,
    avail_kib: u64,
}

impl Df {
    /// Parse POSIX `df -Pk <dir>`: a header, then `fs 1024-blocks used
    /// available capacity mountpoint` (`-P` keeps it on one line).
    pub(crate) fn parse(out: &str) -> Option<Self> {
        let line = out.lines().filter(|l| !l.trim().is_empty()).nth(1)?;
        let f: Vec<&str> = line.split_whitespace().collect();
        Some(Self {
            size_kib: f.get(1)?.parse().ok()?,
            used_kib: f.get(2)?.parse().ok()?,
            avail_kib: f.get(3)?.parse().ok()?,
        })
    }
}

impl Df {
    /// The filesystem's size.
    pub(crate) fn size_kib(self) -> u64 {
        self.size_kib
    }
}

/// `df -Pk` of `dir` in the pod.
///
/// # Errors
/// The exec's error, or a parse error naming what df printed.
pub(super) async fn df(exec: &PodExec, dir: &str) -> Result<Df> {
    let out = exec.exec_ok(&["df", "-Pk", dir], None).await?;
    Df::parse(&out.stdout).ok_or_else(|| {
        Error::parse(
            format!("df -Pk {dir} in {}", exec.target()),
            out.stdout.clone(),
        )
    })
}

impl std::fmt::Display for Df {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{} KiB size/used/available",
            self.size_kib, self.used_kib, self.avail_kib
        )
    }
}

/// How a volume is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Until the filesystem refuses (ENOSPC): a volume with a capacity of
    /// its own.
    ToEnospc,
    /// Past an emptyDir's sizeLimit (bytes) by [`PAST_LIMIT_MIB`].
    PastLimit {
        /// The volume's sizeLimit in bytes.
        limit_bytes: u64,
    },
}

impl Fill {
    /// The shell line that writes the filler at `path` and prints dd's
    /// report and exit status. To ENOSPC in two passes: megabytes, then
    /// the last few blocks (a megabyte write that no longer fits leaves
    /// up to a megabyte free, enough for minutes of WAL).
    fn script(self, path: &str) -> String {
        match self {
            Self::ToEnospc => format!(
                "dd if=/dev/zero of={path} bs=1M 2>&1; \
                 dd if=/dev/zero of={path} bs=4k oflag=append conv=notrunc 2>&1; \
                 echo \"dd exit $?\""
            ),
            Self::PastLimit { limit_bytes } => format!(
                "dd if=/dev/zero of={path} bs=1M count={} 2>&1; echo \"dd exit $?\"",
                limit_bytes.div_ceil(1 << 20) + PAST_LIMIT_MIB
            ),
        }
    }

    /// The negative control: whether the pod shows the volume filled, from
    /// the filler's size, `df` of the volume and `du -sk` of it. `Err` says
    /// what it shows instead.
    pub(crate) fn check(
        self,
        filler_bytes: u64,
        df: Df,
        du_kib: u64,
    ) -> std::result::Result<(), String> {
        if filler_bytes == 0 {
            return Err("the filler is missing or empty".into());
        }
        match self {
            Self::ToEnospc if df.used_kib < filler_bytes / 1024 => Err(format!(
                "df counts {} KiB used, less than the {filler_bytes}-byte filler: df does not see \
                 the filler on this volume",
                df.used_kib
            )),
            Self::ToEnospc if df.avail_kib > FULL_SLACK_KIB => Err(format!(
                "df still shows {} KiB available (a full volume shows at most {FULL_SLACK_KIB})",
                df.avail_kib
            )),
            Self::PastLimit { limit_bytes } if du_kib.saturating_mul(1024) <= limit_bytes => {
                Err(format!(
                    "du counts {du_kib} KiB in the volume, not past its sizeLimit of {limit_bytes} \
                     bytes"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Fill the target's data volume from inside its pod and see it full:
/// then, on a volume with a capacity of its own, hold it full while
/// writing to Prometheus (and asking it to write its head as a block), free
/// the space and wait until Prometheus accepts writes again; on an emptyDir
/// with a sizeLimit, wait for the kubelet to evict the pod.
pub(super) async fn volume_full(t: &Target<'_>, a: &mut Applied, pod: &Pod) -> Result<()> {
    let dir = t.workload.data_dir;
    let path = format!("{dir}/{FILLER}");
    let exec = PodExec::new(
        t.client.clone(),
        t.namespace,
        &a.old_pod,
        t.workload.container,
    );
    let fill = match empty_dir_limit(pod)? {
        Some(limit_bytes) => Fill::PastLimit { limit_bytes },
        None => Fill::ToEnospc,
    };
    let (_, before, du_before) = measure(&exec, dir, &path).await?;
    a.figures.df_before = Some(format!("{before}; du {du_before} KiB"));
    a.figures.filler = Some(path.clone());
    t.say(format!(
        "filling {dir} with {path} ({})",
        match fill {
            Fill::ToEnospc => "until the filesystem refuses".to_owned(),
            Fill::PastLimit { limit_bytes } => format!("past its sizeLimit of {limit_bytes} bytes"),
        }
    ));
    a.at = Instant::now();
    a.filler = Some(path.clone());
    let out = exec.exec(&["sh", "-c", &fill.script(&path)], None).await?;
    a.figures.fill_seconds = Some(a.at.elapsed().as_secs_f64());
    let dd = out
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let outcome = async {
        let (bytes, full, du_kib) = measure(&exec, dir, &path).await?;
        a.figures.filler_bytes = Some(bytes);
        a.figures.df_full = Some(full.to_string());
        fill.check(bytes, full, du_kib)
            .map_err(|why| Error::Cannot {
                action: format!("judge {} on {path}", a.disruption),
                why: format!(
                    "the volume was never filled, so the cell may not judge it: {why} (dd: {dd})"
                ),
            })?;
        a.steps.push(format!(
            "filled {dir} with {path}: {bytes} bytes in {:.1}s; df {full}; du {du_kib} KiB; dd: \
             {dd}",
            a.at.elapsed().as_secs_f64()
        ));
        a.marks.push((Instant::now(), "volume full".into()));
        match fill {
            Fill::ToEnospc => hold_full(t, a, &exec, &path).await,
            Fill::PastLimit { .. } => await_eviction(t, a).await,
        }
    }
    .await;
    // A fill that failed on the way still frees the space, the same way
    // the hold does: a failed cell leaves no full volume behind.
    if outcome.is_err() && a.filler.take().is_some() {
        match free_space(t, a, &exec, &path).await {
            Ok(how) => a
                .steps
                .push(format!("after the failure: freed {path} ({how})")),
            Err(e) => a.steps.push(format!(
                "after the failure: could not free {path}: {}",
                chain(&e)
            )),
        }
    }
    outcome
}

/// The filler's size in bytes (0 when missing), `df` of `dir` and `du -sk`
/// of it, read in the pod.
async fn measure(exec: &PodExec, dir: &str, path: &str) -> Result<(u64, Df, u64)> {
    let script = format!("stat -c %s {path} 2>/dev/null || echo 0; df -Pk {dir}; du -sk {dir}");
    let out = exec.exec_ok(&["sh", "-c", &script], None).await?;
    let text = out.stdout;
    let unreadable = || Error::parse(format!("{script:?} in {}", exec.target()), text.clone());
    let mut lines = text.lines();
    let bytes = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(unreadable)?;
    let rest: Vec<&str> = lines.collect();
    let df = Df::parse(&rest[..rest.len().min(2)].join("\n")).ok_or_else(unreadable)?;
    let du = rest
        .get(2)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(unreadable)?;
    Ok((bytes, df, du))
}

/// The sizeLimit of the pod's data volume when it is an emptyDir with one,
/// in bytes; `None` for any other volume.
///
/// # Errors
/// [`Error::Cannot`] for an emptyDir without a sizeLimit (filling it would
/// fill the node's disk) or one the harness cannot read.
fn empty_dir_limit(pod: &Pod) -> Result<Option<u64>> {
    let Some(empty_dir) = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|vs| vs.iter().find(|v| v.name == DATA_VOLUME))
        .and_then(|v| v.empty_dir.as_ref())
    else {
        return Ok(None);
    };
    let cannot = |why: String| Error::Cannot {
        action: "fill an emptyDir volume".into(),
        why,
    };
    let limit = empty_dir.size_limit.as_ref().ok_or_else(|| {
        cannot(format!(
            "its {DATA_VOLUME} volume has no sizeLimit, so filling it would fill the node's disk \
             (give it one, as manifests/storage/empty-dir does)"
        ))
    })?;
    quantity_bytes(&limit.0)
        .map(Some)
        .ok_or_else(|| cannot(format!("cannot read its sizeLimit {:?} as bytes", limit.0)))
}

/// A Kubernetes quantity of bytes (`512Mi`, `1G`, `1048576`) as bytes.
pub(crate) fn quantity_bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (n, unit) = q.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Hold the volume full for [`HOLD_FULL`], writing one sample a second to
/// Prometheus and asking it to write its head as a block halfway; then
/// free the space and time how long Prometheus takes to accept a write
/// again; then count what it kept of the samples written while full.
async fn hold_full(t: &Target<'_>, a: &mut Applied, exec: &PodExec, path: &str) -> Result<()> {
    let probe = t.prometheus.ok_or_else(|| Error::Cannot {
        action: format!("hold {}'s volume full", t.workload.name),
        why: "the cell gave the disruption no Prometheus API to write to".into(),
    })?;
    let mut ticks = Ticks::new(t.namespace);
    let mut every = tokio::time::interval(Duration::from_secs(1));
    let full_at = Instant::now();
    t.say(format!(
        "volume full: holding it {:.0}s, writing one sample a second",
        HOLD_FULL.as_secs_f64()
    ));
    while full_at.elapsed() < HOLD_FULL {
        every.tick().await;
        probe.tick(&mut ticks).await;
        if a.figures.block_write_while_full.is_none() && full_at.elapsed() >= HOLD_FULL / 2 {
            let answer = probe.write_head_block().await;
            a.figures.block_write_while_full = Some(answer.unwrap_or_else(|e| chain(&e)));
        }
    }
    a.figures.held_full_seconds = Some(full_at.elapsed().as_secs_f64());
    a.figures.accepted_while_full = Some(ticks.accepted);
    a.figures.refused_while_full = Some(ticks.refused);
    a.figures.first_refusal = ticks.first_refusal.clone();
    if let Some(p) = workload::pods(&t.client, t.namespace, &t.workload)
        .await?
        .iter()
        .find(|p| p.metadata.uid.as_deref() == Some(a.old_uid.as_str()))
    {
        a.figures.ready_while_full = Some(workload::is_ready(p));
        a.figures.restarts_while_full =
            Some(workload::restarts(p, t.workload.container) - a.restarts_before);
    }
    let how = free_space(t, a, exec, path).await?;
    a.filler = None;
    let freed = Instant::now();
    a.marks.push((freed, "space freed".into()));
    t.say(format!(
        "space freed ({how}); waiting up to {:.0}s for Prometheus to accept a write",
        RECOVER_TIMEOUT.as_secs_f64()
    ));
    let mut after = Ticks::new(&format!("{}-after", t.namespace));
    loop {
        every.tick().await;
        if probe.tick(&mut after).await {
            break;
        }
        if freed.elapsed() > RECOVER_TIMEOUT {
            return Err(Error::Timeout {
                what: format!(
                    "{} to accept a write after the space came back",
                    t.workload.name
                ),
                waited: freed.elapsed(),
                last_seen: after.last_refusal.unwrap_or_default(),
            });
        }
    }
    a.figures.recovered_after_free_seconds = Some(freed.elapsed().as_secs_f64());
    a.marks
        .push((Instant::now(), "writes accepted again".into()));
    let kept = probe.count_ticks(&ticks).await?;
    a.figures.lost_while_full = Some(ticks.written().saturating_sub(kept));
    a.steps.push(format!(
        "held full {:.0}s: {} of {} writes accepted (first refusal: {}); block write: {}; \
         freed {path} ({how}); Prometheus accepted writes again after {:.1}s; {kept} of the {} samples \
         written while full read back",
        HOLD_FULL.as_secs_f64(),
        ticks.accepted,
        ticks.written(),
        ticks.first_refusal.as_deref().unwrap_or("none"),
        a.figures.block_write_while_full.as_deref().unwrap_or("not asked"),
        freed.elapsed().as_secs_f64(),
        ticks.written(),
    ));
    Ok(())
}

/// Wait until the kubelet evicts the pod whose emptyDir the filler took
/// past its sizeLimit: the pod ends (or is gone), and the kubelet's
/// `Evicted` event on it says why. Not the pod's status: on kind 1.35 an
/// evicted pod whose container exits 0 on SIGTERM ends `Succeeded`, with
/// no reason.
async fn await_eviction(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let uid = a.old_uid.clone();
    t.say(format!(
        "emptyDir past its limit: waiting up to {:.0}s for the kubelet to evict {}",
        EVICT_TIMEOUT.as_secs_f64(),
        a.old_pod
    ));
    let ended = workload::watch_pods(
        &t.client,
        t.namespace,
        &t.workload,
        &format!("pod {} to be evicted for its emptyDir", a.old_pod),
        EVICT_TIMEOUT,
        |pods| match pods
            .values()
            .find(|p| p.metadata.uid.as_deref() == Some(uid.as_str()))
        {
            None => Some("gone".to_owned()),
            Some(p) => p
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .filter(|phase| phase == "Succeeded" || phase == "Failed"),
        },
    )
    .await?;
    let events = Api::<Event>::namespaced(t.client.clone(), t.namespace)
        .list(&ListParams::default().fields(&format!("involvedObject.uid={uid},reason=Evicted")))
        .await
        .map_err(|e| Error::kube(format!("list the events of pod {}", a.old_pod), e))?;
    let message = events
        .items
        .first()
        .and_then(|e| e.message.clone())
        .ok_or_else(|| Error::Cannot {
            action: format!("see pod {} evicted", a.old_pod),
            why: format!(
                "it ended ({ended}) but the kubelet recorded no Evicted event for it: it stopped for \
                 another reason"
            ),
        })?;
    // The filler went with the pod's emptyDir.
    a.filler = None;
    a.marks.push((Instant::now(), "evicted".into()));
    a.figures.evicted_after_seconds = Some(a.at.elapsed().as_secs_f64());
    a.figures.eviction = Some(format!("{} (pod phase: {ended})", message.trim()));
    a.steps.push(format!(
        "pod {} evicted after {:.0}s (pod phase {ended}): {}",
        a.old_pod,
        a.at.elapsed().as_secs_f64(),
        message.trim()
    ));
    Ok(())
}

/// Free the space: the filler, and what the block write left in
/// `snapshots/`. From inside the container as a user would (`kubectl
/// exec`), or, when it is not running (Prometheus crash-loops on a full
/// disk), in the pod's volume directory on its node. Returns which.
///
/// # Errors
/// The exec's error when the container does not run and the harness does
/// not own the nodes; the node command's error.
async fn free_space(t: &Target<'_>, a: &Applied, exec: &PodExec, path: &str) -> Result<String> {
    let dir = t.workload.data_dir;
    let free = format!("rm -f {path} && rm -rf {dir}/snapshots");
    let in_pod = match exec.exec_ok(&["sh", "-c", &free], None).await {
        Ok(_) => return Ok("from inside the container".into()),
        Err(e) => e,
    };
    let (Some(nodes), Some(node)) = (t.nodes, a.node.as_deref()) else {
        return Err(in_pod);
    };
    let volumes = format!("/var/lib/kubelet/pods/{}/volumes", a.old_uid);
    let script = format!(
        "f=$(find {volumes} -maxdepth 4 -name {FILLER} | head -n 1); \
         [ -n \"$f\" ] || {{ echo \"no {FILLER} under {volumes}\" >&2; exit 1; }}; \
         d=$(dirname \"$f\"); rm -f \"$f\" && rm -rf \"$d/snapshots\" && echo \"$f\""
    );
    let out = nodes.node_exec(node, &["sh", "-c", &script]).await?;
    if !out.success() {
        return Err(Error::Command {
            command: format!("[node {node}] sh -c {script:?}"),
            status: format!("exit {:?}", out.code),
            stderr: format!(
                "{}{} (after the container refused: {})",
                out.stderr,
                out.stdout,
                chain(&in_pod)
            ),
        });
    }
    Ok(format!(
        "on node {node} at {}: the container was not running",
        out.stdout.trim()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `df -Pk /prometheus` in a pod on a 2 GiB csi-rwo volume.
    fn df(avail: u64, used: u64) -> Df {
        Df::parse(&format!(
            "Filesystem     1024-blocks    Used Available Capacity Mounted on\n\
             /dev/loop3         1992552 {used} {avail}      4% /prometheus\n"
        ))
        .expect("parses")
    }

    #[test]
    fn df_reads_posix_output() {
        assert_eq!(
            df(1863884, 72284),
            Df {
                size_kib: 1992552,
                used_kib: 72284,
                avail_kib: 1863884
            }
        );
        assert_eq!(Df::parse("Filesystem 1024-blocks\n"), None);
    }

    #[test]
    fn a_volume_that_was_never_filled_may_not_be_judged() {
        let to_enospc = Fill::ToEnospc;
        // The negative control: nothing written, or written where df does
        // not count it, or space still left.
        assert!(to_enospc.check(0, df(0, 1_992_552), 1_992_552).is_err());
        let elsewhere = to_enospc.check(1 << 30, df(1_863_884, 72_284), 72_284);
        assert!(elsewhere.unwrap_err().contains("does not see the filler"));
        let room = to_enospc.check(1 << 20, df(900_000, 1_092_552), 1_092_552);
        assert!(room.unwrap_err().contains("900000 KiB available"));
        // What the first real run left: a megabyte write that did not fit.
        let megabyte_pass = to_enospc.check(2_022_703_104, df(132, 1_976_036), 1_975_520);
        assert!(megabyte_pass.unwrap_err().contains("132 KiB available"));
        assert_eq!(
            to_enospc.check(1_900_000_000, df(0, 1_992_552), 1_992_552),
            Ok(())
        );

        let past = Fill::PastLimit {
            limit_bytes: 512 << 20,
        };
        assert!(
            past.check(100 << 20, df(0, 0), 200 << 10)
                .unwrap_err()
                .contains("not past")
        );
        assert_eq!(past.check(576 << 20, df(0, 0), 600 << 10), Ok(()));
    }

    #[test]
    fn fill_scripts_stop_at_enospc_or_past_the_limit() {
        let to_enospc = Fill::ToEnospc.script("/prometheus/f");
        assert!(to_enospc.starts_with("dd if=/dev/zero of=/prometheus/f bs=1M 2>&1; "));
        assert!(to_enospc.contains("bs=4k oflag=append conv=notrunc"));
        let past = Fill::PastLimit {
            limit_bytes: 512 << 20,
        };
        assert!(past.script("/p/f").contains("count=576"));
    }

    #[test]
    fn quantities_read_as_bytes() {
        assert_eq!(quantity_bytes("512Mi"), Some(512 << 20));
        assert_eq!(quantity_bytes("1G"), Some(1_000_000_000));
        assert_eq!(quantity_bytes("4096"), Some(4096));
        assert_eq!(quantity_bytes("1.5Gi"), None);
        assert_eq!(quantity_bytes("Mi"), None);
    }
}
