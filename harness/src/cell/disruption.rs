//! Disrupting a seeded cell and waiting until its apps settle: the two
//! stages between the before snapshot and the judgement.

use std::time::Instant;

use super::deploy::{Before, Deployed};
use super::pipeline::Pipeline;
use super::settle::{Settled, mark_recovery, settle};
use crate::disrupt::{self, Applied, NodeOps, Restartable, Target};
use crate::error::{Result, chain};
use crate::prometheus::{PrometheusProbe, WalMark};
use crate::timeline::Mark;
use crate::vocab::{Disruption, Provider};
use crate::workload::{Kind, PROMETHEUS, Workload};

/// What the disruption did to each app.
pub(super) struct Disrupted {
    pub(super) prometheus: Applied,
    /// Each companion, in the order of `Pipeline::companions`.
    pub(super) companions: Vec<Applied>,
}

/// How each app settled, and whether the disruption was undone after.
pub(super) struct SettledApps {
    pub(super) prometheus: Settled,
    /// Each companion, in the order of `Pipeline::companions`.
    pub(super) companions: Vec<Settled>,
    /// Undoing the disruption (uncordon, start the node again...): the
    /// cell fails on an error here, after it has judged.
    pub(super) restored: Result<()>,
}

impl Pipeline<'_> {
    /// What a disruption acts on: one app's workload in this cell.
    pub(super) fn target<'s>(
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
            upgrade_image: Some(crate::apps::facts(w.app).upgrade_image(images)),
            wal_mark,
            prometheus,
            progress: Some(self.progress),
        }
    }

    /// Bring the head up to the disruption and apply it: to Prometheus,
    /// and to each companion as the disruption says (pod-level ones hit
    /// every app; node-level ones act on Prometheus's node or the NFS
    /// server, and a companion is a bystander that is affected only when it
    /// shares them; one done to Prometheus's data alone leaves the
    /// companions be).
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
        let prometheus = disrupt::apply(d, &prom).await?;
        let mut companions = Vec::new();
        for c in &self.companions {
            let f = c.facts();
            let t = self.target(f.workload(), f.kind(), None, None);
            let applied = match (d.is_node_level(), d.prometheus_only()) {
                (_, true) => disrupt::bystander(d, &t, None, prometheus.at).await,
                (true, false) => {
                    disrupt::bystander(d, &t, prometheus.node.as_deref(), prometheus.at).await
                }
                (false, false) => disrupt::apply(d, &t).await,
            };
            match applied {
                Ok(a) => companions.push(a),
                Err(e) => {
                    // Never leave a node cordoned or stopped behind.
                    if let Err(re) = disrupt::restore(&prometheus, &prom).await {
                        self.progress
                            .step(format!("restore after a failed disruption: {}", chain(&re)));
                    }
                    return Err(e);
                }
            }
        }
        self.figures = prometheus.figures.clone();
        for step in prometheus
            .steps
            .iter()
            .chain(companions.iter().flat_map(|a| &a.steps))
        {
            self.progress.step(step);
        }
        Ok(Disrupted {
            prometheus,
            companions,
        })
    }

    /// Wait until every app settles (bounded, on the timeline's watch),
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
        let companions =
            futures::future::join_all(self.companions.iter().zip(&disrupted.companions).map(
                |(c, a)| {
                    let f = c.facts();
                    settle(client, ns, f.workload(), f.kind(), 1, a, watcher)
                },
            ));
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
        let (prometheus, companions) = tokio::join!(prometheus, companions);
        let settled_in = Instant::now().duration_since(p.at);
        if let Some(w) = watcher {
            w.mark(p.at, Mark::Disruption, p.disruption.to_string());
            for (at, step) in &p.marks {
                w.mark(*at, Mark::Step, step.clone());
            }
            mark_recovery(w, PROMETHEUS.app, p, &prometheus);
            for ((c, a), s) in self
                .companions
                .iter()
                .zip(&disrupted.companions)
                .zip(&companions)
            {
                mark_recovery(w, c.facts().app(), a, s);
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
        let others: String = self
            .companions
            .iter()
            .zip(&companions)
            .map(|(c, s)| format!("; {}: {s}", c.facts().app()))
            .collect();
        self.progress.step(format!(
            "prometheus: {prometheus}{others}{}",
            self.not_run_apps()
        ));
        SettledApps {
            prometheus,
            companions,
            restored,
        }
    }
}
