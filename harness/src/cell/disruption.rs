//! Disrupting a seeded cell and waiting until both apps settle: the two
//! stages between the before snapshot and the judgement.

use std::time::Instant;

use super::deploy::{Before, Deployed};
use super::pipeline::Pipeline;
use super::settle::{Settled, mark_recovery, settle};
use crate::disrupt::{self, Applied, NodeOps, Restartable, Target};
use crate::error::{Result, chain};
use crate::prometheus::{PrometheusProbe, WalMark};
use crate::timeline::Mark;
use crate::vocab::{App, Disruption, Provider};
use crate::workload::{GRAFANA, Kind, PROMETHEUS, Workload};

/// What the disruption did to each app.
pub(super) struct Disrupted {
    pub(super) prometheus: Applied,
    /// `None` when Grafana is not run (E2E_APPS).
    pub(super) grafana: Option<Applied>,
}

/// How each app settled, and whether the disruption was undone after.
pub(super) struct SettledApps {
    pub(super) prometheus: Settled,
    /// `None` when Grafana is not run.
    pub(super) grafana: Option<Settled>,
    /// Undoing the disruption (uncordon, start the node again...): the
    /// cell fails on an error here, after it has judged.
    pub(super) restored: Result<()>,
}

impl Pipeline<'_> {
    /// What a disruption acts on: one app's workload in this cell.
    fn target<'s>(
        &'s self,
        w: Workload,
        kind: Kind,
        wal_mark: Option<&'s WalMark>,
        prometheus: Option<&'s PrometheusProbe<'s>>,
    ) -> Target<'s> {
        let images = self.res.images();
        Target {
            client: self.client().clone(),
            namespace: &self.ns,
            workload: w,
            kind,
            setup: self.cell.variant.setup(),
            nodes: match self.cluster.provider() {
                Provider::Existing => None,
                _ => Some(self.cluster.info() as &dyn NodeOps),
            },
            nfs: self.nfs.as_deref().map(|n| n as &dyn Restartable),
            upgrade_image: Some(match w.app {
                App::Prometheus => &images.prometheus,
                App::Grafana => &images.grafana,
            }),
            wal_mark,
            prometheus,
            progress: Some(self.progress),
        }
    }

    /// Bring the head up to the disruption and apply it: to Prometheus,
    /// and to Grafana as the disruption says (pod-level ones hit both;
    /// node-level ones act on Prometheus's node or the NFS server, and
    /// Grafana is a bystander that is affected only when it shares them;
    /// one done to Prometheus's data alone leaves Grafana be).
    pub(super) async fn disrupt(
        &mut self,
        deployed: &Deployed,
        before: &mut Before,
    ) -> Result<Disrupted> {
        let d = self.cell.disruption;
        // wal-tail-torn tears the first WAL record after this mark: the
        // top-up's, so the samples lost are exactly those it writes.
        let wal_mark = match d {
            Disruption::WalTailTorn => Some(self.wal_mark(before).await?),
            _ => None,
        };
        self.top_up_head(before).await?;
        self.progress.step(format!("disrupting: {d}"));
        // volume-full writes to the running Prometheus while its volume is full.
        let connected = match d {
            Disruption::VolumeFull => Some(self.connect(&before.prom_pod, &self.prometheus).await?),
            _ => None,
        };
        let probe = connected
            .as_ref()
            .map(|(exec, fwd)| PrometheusProbe::new(fwd.url(), exec));
        let prom = self.target(
            self.prometheus,
            deployed.prom_kind,
            wal_mark.as_ref(),
            probe.as_ref(),
        );
        let graf = self.target(GRAFANA, Kind::Deployment, None, None);
        let prometheus = disrupt::apply(d, &prom).await?;
        let grafana = match (self.runs_grafana(), d.is_node_level(), d.prometheus_only()) {
            (false, _, _) => Ok(None),
            (true, _, true) => disrupt::bystander(d, &graf, None, prometheus.at)
                .await
                .map(Some),
            (true, true, false) => {
                disrupt::bystander(d, &graf, prometheus.node.as_deref(), prometheus.at)
                    .await
                    .map(Some)
            }
            (true, false, false) => disrupt::apply(d, &graf).await.map(Some),
        };
        let grafana = match grafana {
            Ok(a) => a,
            Err(e) => {
                // Never leave a node cordoned or stopped behind.
                if let Err(re) = disrupt::restore(&prometheus, &prom).await {
                    self.progress
                        .step(format!("restore after a failed disruption: {}", chain(&re)));
                }
                return Err(e);
            }
        };
        self.figures = prometheus.figures.clone();
        for step in prometheus
            .steps
            .iter()
            .chain(grafana.iter().flat_map(|a| &a.steps))
        {
            self.progress.step(step);
        }
        Ok(Disrupted {
            prometheus,
            grafana,
        })
    }

    /// Wait until both apps settle (bounded, on the timeline's watch),
    /// mark the disruption and the recoveries on the timeline, and undo
    /// the disruption.
    pub(super) async fn settle_apps(
        &mut self,
        deployed: &Deployed,
        disrupted: &Disrupted,
    ) -> SettledApps {
        self.progress.step("waiting for the workloads to settle");
        let watcher = self.watcher.as_ref();
        let client = self.client();
        let ns = self.ns.as_str();
        let grafana = async {
            match &disrupted.grafana {
                Some(a) => Some(settle(client, ns, GRAFANA, Kind::Deployment, 1, a, watcher).await),
                None => None,
            }
        };
        let p = &disrupted.prometheus;
        let prometheus = settle(
            client,
            ns,
            self.prometheus,
            deployed.prom_kind,
            deployed.prom_replicas,
            p,
            watcher,
        );
        let (prometheus, grafana) = tokio::join!(prometheus, grafana);
        let settled_in = Instant::now().duration_since(p.at);
        if let Some(w) = watcher {
            w.mark(p.at, Mark::Disruption, p.disruption.to_string());
            for (at, step) in &p.marks {
                w.mark(*at, Mark::Step, step.clone());
            }
            mark_recovery(w, PROMETHEUS.app, p, &prometheus);
            if let (Some(a), Some(s)) = (&disrupted.grafana, &grafana) {
                mark_recovery(w, GRAFANA.app, a, s);
            }
        }
        let restored = disrupt::restore(
            p,
            &self.target(self.prometheus, deployed.prom_kind, None, None),
        )
        .await;
        self.timings.settle = Some(settled_in.as_secs_f64());
        self.timings.waits = Some(self.timings.waits.unwrap_or(0.0) + settled_in.as_secs_f64());
        if let Settled::Recovered {
            seen_after_ready: Some(d),
            ..
        } = &prometheus
        {
            self.timings.detection = Some(d.as_secs_f64());
        }
        self.progress.step(format!(
            "prometheus: {prometheus}; grafana: {}",
            grafana
                .as_ref()
                .map_or_else(|| "not run".to_owned(), ToString::to_string)
        ));
        SettledApps {
            prometheus,
            grafana,
            restored,
        }
    }
}
