//! Reading both apps back after the disruption and judging what survived.

use std::time::Duration;

use kube::{Client, ResourceExt as _};

use super::pipeline::{Before, GRAFANA_AFTER_TIMEOUT, Pipeline};
use super::settle::Settled;
use crate::disrupt::Applied;
use crate::error::{Error, Result, chain};
use crate::grafana::GrafanaClient;
use crate::prometheus::{self as prom, PrometheusProbe};
use crate::vocab::{Disruption, Judgement};
use crate::workload::{self, GRAFANA, Kind, PROMETHEUS, Workload};

impl Pipeline<'_> {
    pub(super) async fn judge_prometheus(
        &self,
        before: &Before,
        settled: &Settled,
        applied: &Applied,
        kind: Kind,
    ) -> Option<Judgement> {
        // Each StatefulSet replica has its own claim: judge the seeded one,
        // and only when it serves (another replica would read as lost).
        let pod = match kind {
            Kind::StatefulSet => {
                let pods = workload::pods(self.client(), &self.ns, &PROMETHEUS)
                    .await
                    .ok()?;
                pods.iter()
                    .any(|p| p.name_any() == before.prom_pod && workload::is_ready(p))
                    .then_some(before.prom_pod.as_str())?
            }
            Kind::Deployment => settled.serving_pod()?,
        };
        let result: Result<Judgement> = async {
            let (exec, fwd) = self.connect(pod, &PROMETHEUS).await?;
            let probe = PrometheusProbe::new(fwd.url(), &exec);
            let recovery = probe.wait_ready(applied.at).await?;
            if applied.disruption == Disruption::NfsRestart {
                // The pods never stopped: judge only once Prometheus has
                // written to the volume again after the server came back.
                await_head_after(&probe, applied.at).await?;
            }
            let after = probe.snapshot_after(&before.prometheus).await?;
            Ok(prom::compare(&before.prometheus, &after, Some(recovery)))
        }
        .await;
        result
            .inspect_err(|e| {
                self.progress
                    .step(format!("prometheus could not be judged: {}", chain(e)))
            })
            .ok()
    }

    pub(super) async fn judge_grafana(
        &self,
        before: &Before,
        settled: &Settled,
        applied: &Applied,
    ) -> Option<Judgement> {
        let pod = settled.serving_pod()?;
        let snapshot = before.grafana.as_ref()?;
        let result: Result<Judgement> = async {
            let (exec, fwd) = self.connect(pod, &GRAFANA).await?;
            let client = GrafanaClient::new(fwd.url(), before.password.clone())?;
            let (j, _) = client
                .judge_after(snapshot, applied.at, GRAFANA_AFTER_TIMEOUT, Some(&exec))
                .await?;
            Ok(j)
        }
        .await;
        result
            .inspect_err(|e| {
                self.progress
                    .step(format!("grafana could not be judged: {}", chain(e)))
            })
            .ok()
    }
}

/// How long Prometheus gets to append a sample after an NFS restart.
pub const WRITE_AFTER_TIMEOUT: Duration = Duration::from_secs(90);

/// Wait until the head's newest sample is newer than `since` (a scrape
/// appended after it), so a volume that stopped taking writes shows.
async fn await_head_after(probe: &PrometheusProbe<'_>, since: std::time::Instant) -> Result<()> {
    let since_ms = std::time::SystemTime::now()
        .checked_sub(since.elapsed())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    crate::wait::poll(
        "a Prometheus sample written after the NFS restart",
        WRITE_AFTER_TIMEOUT,
        Duration::from_secs(3),
        || async {
            match probe.head().await {
                Ok(h) if h.max_time.is_some_and(|t| t > since_ms) => crate::wait::Check::Ready(()),
                Ok(h) => crate::wait::Check::NotYet(format!(
                    "head max time {:?} <= {since_ms}",
                    h.max_time
                )),
                Err(e) => crate::wait::Check::NotYet(e.to_string()),
            }
        },
    )
    .await
}

pub(super) async fn ready_pod(client: &Client, ns: &str, w: &Workload) -> Result<String> {
    workload::pods(client, ns, w)
        .await?
        .iter()
        .find(|p| workload::is_ready(p))
        .map(|p| p.name_any())
        .ok_or_else(|| Error::Cannot {
            action: format!("find a ready {} pod in {ns}", w.name),
            why: "none is Ready".into(),
        })
}
