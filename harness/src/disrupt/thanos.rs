//! The Thanos sidecar setup's own disruption, store-restart: the object
//! store stopped while a block is due to ship, and started again. What is
//! observed is the shipper: a failed attempt while the store is away (its
//! own warning), then the block shipped once the store is back; the cell's
//! bucket check then says whether anything shipped before went missing or
//! arrived twice.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::target::{Applied, Target};
use crate::error::{Error, Result};
use crate::exec::{Exec, PodExec};
use crate::thanos::STORE;
use crate::wait::{Check, poll};
use crate::workload::{self, Kind};

/// How long each step gets: the shipper tries every 30 s, a stopped store
/// is gone in seconds and back within its image's start.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Scale the store to `replicas`.
pub(super) async fn scale_store(t: &Target<'_>, replicas: i32) -> Result<()> {
    super::data::scale(&t.other(STORE, Kind::Deployment), replicas).await
}

/// store-restart: stop the store, write a block into the seeded
/// Prometheus's TSDB (so one is due), wait until the sidecar has tried and
/// failed to ship it, start the store, and wait until the block is in the
/// bucket.
pub(super) async fn store_restart(t: &Target<'_>, a: &mut Applied) -> Result<()> {
    let name = a.old_pod.clone();
    let prometheus = PodExec::new(t.client.clone(), t.namespace, &name, t.workload.container);
    let sidecar = PodExec::new(t.client.clone(), t.namespace, &name, crate::thanos::SIDECAR);
    let warned_before = shipper_warnings(t, &name).await?;
    a.at = Instant::now();
    scale_store(t, 0).await?;
    a.store_stopped = true;
    workload::watch_pods(
        &t.client,
        t.namespace,
        &STORE,
        "the S3 store to have no pod",
        STEP_TIMEOUT,
        |pods| pods.is_empty().then_some(()),
    )
    .await?;
    a.steps
        .push("scaled the S3 store to 0: the bucket is unreachable".into());
    a.marks.push((Instant::now(), "store down".into()));
    let due = write_due_block(&prometheus, t.namespace).await?;
    a.steps.push(format!(
        "wrote block {due} into {name}'s TSDB while the store is down"
    ));
    t.say("waiting for the sidecar to fail to ship it");
    let warning = poll(
        &format!("the sidecar of {name} to fail to ship while the store is down"),
        STEP_TIMEOUT,
        Duration::from_secs(2),
        || async {
            match shipper_warnings(t, &name).await {
                Ok(w) if w.len() > warned_before.len() => {
                    Check::Ready(w.last().cloned().unwrap_or_default())
                }
                Ok(w) => Check::NotYet(format!(
                    "{} shipper warnings, as before the store stopped",
                    w.len()
                )),
                Err(e) => Check::NotYet(format!("sidecar log not readable: {e}")),
            }
        },
    )
    .await?;
    a.steps
        .push(format!("the sidecar failed to ship: {warning}"));
    a.marks.push((Instant::now(), "shipping failed".into()));
    scale_store(t, 1).await?;
    workload::wait_ready(&t.client, t.namespace, &STORE, 1, &[], STEP_TIMEOUT).await?;
    a.store_stopped = false;
    a.steps.push(format!(
        "the S3 store Ready again {:.1}s after it was stopped",
        a.at.elapsed().as_secs_f64()
    ));
    a.marks.push((Instant::now(), "store back".into()));
    t.say("waiting for the due block to reach the bucket");
    crate::thanos::wait_listed(&sidecar, &name, &[due.as_str()], STEP_TIMEOUT).await?;
    a.steps.push(format!(
        "block {due} in the bucket {:.1}s after the store was stopped",
        a.at.elapsed().as_secs_f64()
    ));
    a.marks.push((Instant::now(), "due block shipped".into()));
    Ok(())
}

/// The sidecar's warnings about a failed shipper sync (`level=warn` with
/// the `uploaded=` count: cmd/thanos/sidecar.go logs each failed Sync so).
async fn shipper_warnings(t: &Target<'_>, pod: &str) -> Result<Vec<String>> {
    let params = LogParams {
        container: Some(crate::thanos::SIDECAR.into()),
        ..LogParams::default()
    };
    let logs = Api::<Pod>::namespaced(t.client.clone(), t.namespace)
        .logs(pod, &params)
        .await
        .map_err(|e| Error::kube(format!("read the sidecar log of {}/{pod}", t.namespace), e))?;
    Ok(shipper_failures(&logs))
}

/// The failed-sync lines of a sidecar log.
fn shipper_failures(logs: &str) -> Vec<String> {
    logs.lines()
        .filter(|l| l.contains("level=warn") && l.contains(" uploaded="))
        .map(str::to_owned)
        .collect()
}

/// Write one 1-hour block of the series `storage_e2e_due` 30 h back (older
/// than the seeded history, so no judged range changes) into the TSDB
/// with promtool, as the seed does; returns its ULID (the folder that was
/// not there before).
async fn write_due_block(prometheus: &PodExec, ns: &str) -> Result<String> {
    let script = format!(
        "set -e; ls /prometheus > /tmp/before; now=$(date +%s); \
         start=$(( (now - 30*3600) / 7200 * 7200 )); t=$start; : > /tmp/due.om; \
         while [ $t -lt $((start + 3600)) ]; do \
           echo \"storage_e2e_due{{run=\\\"{ns}\\\"}} 1 $t\" >> /tmp/due.om; t=$((t + 60)); done; \
         echo '# EOF' >> /tmp/due.om; \
         promtool tsdb create-blocks-from openmetrics /tmp/due.om /prometheus > /dev/null; \
         ls /prometheus | grep -vxF -f /tmp/before | grep -E '^[0-9A-Z]{{26}}$'"
    );
    let out = prometheus.exec(&["sh", "-c", &script], None).await?;
    let ulid = out.stdout.trim();
    if !out.success() || ulid.len() != 26 {
        return Err(Error::Command {
            command: format!("sh -c {script:?} in {}", prometheus.target()),
            status: format!("exit {:?}", out.code),
            stderr: format!("{}{}", out.stderr, out.stdout),
        });
    }
    Ok(ulid.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the v0.42.5 sidecar logs a failed sync and a good one.
    #[test]
    fn a_failed_sync_is_told_from_the_rest() {
        let logs = "ts=1 level=info caller=shipper.go:479 msg=\"upload new block\" id=01KA\n\
ts=2 level=warn caller=sidecar.go:483 err=\"check exists: Head \\\"http://s3.e2e-a.svc:7070/thanos/01KB/meta.json\\\": dial tcp: connection refused\" uploaded=0\n";
        let failed = shipper_failures(logs);
        assert_eq!(failed.len(), 1);
        assert!(failed[0].contains("connection refused"));
    }
}
