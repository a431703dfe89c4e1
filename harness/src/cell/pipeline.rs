//! The cell's pipeline: deploy, seed, disrupt, settle, judge, report.

use std::time::Duration;

use kube::Client;

use super::artifacts::artifacts;
use super::placement;
use super::settle::{Settled, mark_recovery, settle};
use crate::cluster::ClusterGuard;
use crate::disrupt::{self, NodeOps, Restartable, Target};
use crate::error::{Result, chain};
use crate::expect::{Observation, Observed};
use crate::grafana;
use crate::manifest;
use crate::nfs::SharedNfs;
use crate::progress::Progress;
use crate::prometheus as prom;
use crate::prometheus::History;
use crate::report::{CellResult, Timings, collect_artifacts, write_timeline_svg};
use crate::resources::Resources;
use crate::timeline::{self, Mark, TimelineWatcher};
use crate::vocab::{App, Cell, Judgement, Reason};
use crate::workload::{GRAFANA, Kind, PROMETHEUS, Workload};

/// How long a freshly deployed workload gets to become Ready (image pulls
/// are preloaded; volume binding and provisioning take the rest).
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long Grafana gets to answer healthy again after recovering.
pub const GRAFANA_AFTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Run one cell and record its result in the suite's report.
///
/// # Errors
/// Never for an observation that contradicts the table: that is a failed
/// [`CellResult`]. `Err` only when recording the result itself fails.
pub async fn run(res: &Resources, cluster: &ClusterGuard, cell: Cell) -> Result<CellResult> {
    let progress = Progress::new(cell.short());
    // The cell's own time starts once the run's cluster is there.
    let started = std::time::Instant::now();
    // None only where the cluster's version could not be read.
    let version = cluster.version().map(|m| m.to_string());
    let ns = cluster
        .create_namespace(&format!("{}-{}", cell.variant, cell.disruption))
        .await?;
    progress.step(format!("namespace {ns}"));
    let mut pipeline = Pipeline {
        res,
        cluster,
        cell,
        ns: ns.clone(),
        progress: &progress,
        nfs: None,
        timeline: None,
        node: None,
        password: String::new(),
        applied: Vec::new(),
        logs: Vec::new(),
        timings: Timings::default(),
        history: None,
    };
    let result = match pipeline.run().await {
        Ok(judged) => CellResult::new(cell, version.as_deref()).judge(
            judged.observation,
            judged.prometheus_judgement.as_ref(),
            judged.grafana_judgement.as_ref(),
        ),
        Err(e) => CellResult::new(cell, version.as_deref()).error(chain(&e)),
    };
    let mut result = result.with_steps(&progress);
    let timeline = pipeline.timeline.take();
    let findings = timeline
        .as_ref()
        .map(|t| timeline::findings(t, &pipeline.logs, &log_classifier))
        .unwrap_or_default();
    result = result.with_findings(&findings);
    if !result.status.passed() {
        cluster.mark_failed();
        let dir = res.report.artifacts_dir(cell);
        let extras = artifacts(
            cell,
            &pipeline.ns,
            pipeline.node.clone(),
            pipeline.nfs.clone(),
            cluster,
        );
        let refs: Vec<&dyn crate::report::Artifact> = extras.iter().map(|a| a.as_ref()).collect();
        match collect_artifacts(cluster.client(), &ns, &dir, timeline.as_ref(), &refs).await {
            Ok(_) => result = result.with_artifacts(res.report.dir(), &dir),
            Err(e) => progress.step(format!("could not collect artifacts: {}", chain(&e))),
        }
    }
    if let Some(t) = timeline
        .as_ref()
        .filter(|_| res.config.timelines.wanted(result.status.passed()))
    {
        let dir = res.report.timeline_dir(cell, result.status.passed());
        match write_timeline_svg(&dir, t, &findings, &cell.to_string()) {
            Ok(file) => result = result.with_timeline_svg(res.report.dir(), &file),
            Err(e) => progress.step(format!("could not draw the timeline: {}", chain(&e))),
        }
    }
    pipeline.cleanup(&result).await;
    pipeline.timings.total = Some(started.elapsed().as_secs_f64());
    let result = result.with_timings(pipeline.timings.clone());
    res.report.record(&result)?;
    Ok(result)
}

/// Prometheus's and Grafana's log classifiers, for the timeline.
pub(super) fn log_classifier(text: &str) -> Vec<Reason> {
    let mut r = prom::classify_log(text);
    r.extend(grafana::classify_log(text));
    r
}

/// One cell as it runs: what it has made and seen so far, so that the
/// steps can share it and failure artifacts and cleanup can find it.
pub(super) struct Pipeline<'a> {
    pub(super) res: &'a Resources,
    pub(super) cluster: &'a ClusterGuard,
    pub(super) cell: Cell,
    pub(super) ns: String,
    pub(super) progress: &'a Progress,
    pub(super) nfs: Option<std::sync::Arc<SharedNfs>>,
    pub(super) timeline: Option<timeline::Timeline>,
    pub(super) node: Option<String>,
    pub(super) password: String,
    pub(super) applied: Vec<manifest::Manifest>,
    pub(super) logs: Vec<timeline::PodLog>,
    pub(super) timings: Timings,
    /// The Prometheus history the seed ConfigMap holds, fixed at deploy
    /// time (History::new depends on the clock).
    pub(super) history: Option<History>,
}

/// What a cell saw, and the judgements it rests on.
pub(super) struct Judged {
    pub(super) observation: Observation,
    /// `None` when no Prometheus pod became Ready to read from.
    pub(super) prometheus_judgement: Option<Judgement>,
    /// `None` when Grafana was not run or no pod became Ready.
    pub(super) grafana_judgement: Option<Judgement>,
}

/// What a cell seeded and saw before the disruption, per app.
pub(super) struct Before {
    /// The Prometheus pod that was seeded (a StatefulSet keeps the name).
    pub(super) prom_pod: String,
    pub(super) prometheus: prom::Snapshot,
    /// `None` when the run leaves Grafana out (E2E_APPS).
    pub(super) grafana: Option<grafana::Snapshot>,
    pub(super) password: String,
}

impl Pipeline<'_> {
    pub(super) fn client(&self) -> &Client {
        self.cluster.client()
    }

    /// Whether this run deploys and judges Grafana (E2E_APPS).
    pub(super) fn runs_grafana(&self) -> bool {
        self.res.config.apps.contains(&App::Grafana)
    }

    /// Why Grafana is not run, for the report: `E2E_APPS=prometheus`.
    pub(super) fn grafana_not_run(&self) -> Observed {
        Observed::not_run(self.res.config.apps_setting())
    }

    pub(super) async fn run<'s>(&'s mut self) -> Result<Judged> {
        let phase = std::time::Instant::now();
        let rendered = self.deploy().await?;
        self.timings.deploy = Some(phase.elapsed().as_secs_f64());
        let prom_kind = match rendered.prometheus() {
            manifest::Workload::StatefulSet(_) => Kind::StatefulSet,
            manifest::Workload::Deployment(_) => Kind::Deployment,
        };
        let prom_replicas = usize::try_from(rendered.prometheus().replicas()).unwrap_or(1);
        let phase = std::time::Instant::now();
        let mut before = self.seed(prom_replicas, self.password.clone()).await?;
        self.timings.seed = Some(phase.elapsed().as_secs_f64());

        let watcher = TimelineWatcher::new(self.client().clone(), self.ns.clone()).start();
        watcher.synced().await;
        let d = self.cell.disruption;
        self.top_up_head(&mut before).await?;
        self.progress.step(format!("disrupting: {d}"));
        let nfs_restart: Option<&dyn Restartable> =
            self.nfs.as_deref().map(|n| n as &dyn Restartable);
        let nodes: Option<&dyn NodeOps> = match self.cluster.provider() {
            crate::vocab::Provider::Existing => None,
            _ => Some(self.cluster.info() as &dyn NodeOps),
        };
        let images = self.res.images();
        let target = |w: Workload, kind: Kind, image: &'s str| Target {
            client: self.client().clone(),
            namespace: &self.ns,
            workload: w,
            kind,
            nodes,
            nfs: nfs_restart,
            upgrade_image: Some(image),
        };
        let prom_target = target(PROMETHEUS, prom_kind, &images.prometheus);
        let graf_target = target(GRAFANA, Kind::Deployment, &images.grafana);
        let phase = std::time::Instant::now();
        let applied_p = disrupt::apply(d, &prom_target).await?;
        // Pod-level disruptions hit both apps; node-level ones act on
        // Prometheus's node (or the NFS server), and Grafana is recorded as
        // a bystander that is affected only when it shares that node or the
        // server; one done to Prometheus's data alone leaves Grafana be.
        let applied_g = match (self.runs_grafana(), d.is_node_level(), d.prometheus_only()) {
            (false, _, _) => Ok(None),
            (true, _, true) => disrupt::bystander(d, &graf_target, None, applied_p.at)
                .await
                .map(Some),
            (true, true, false) => {
                disrupt::bystander(d, &graf_target, applied_p.node.as_deref(), applied_p.at)
                    .await
                    .map(Some)
            }
            (true, false, false) => disrupt::apply(d, &graf_target).await.map(Some),
        };
        let applied_g = match applied_g {
            Ok(a) => a,
            Err(e) => {
                // Never leave a node cordoned or stopped behind.
                if let Err(re) = disrupt::restore(&applied_p, &prom_target).await {
                    self.progress
                        .step(format!("restore after a failed disruption: {}", chain(&re)));
                }
                return Err(e);
            }
        };
        for step in applied_p
            .steps
            .iter()
            .chain(applied_g.iter().flat_map(|a| &a.steps))
        {
            self.progress.step(step);
        }

        self.progress.step("waiting for the workloads to settle");
        let settle_grafana = async {
            match &applied_g {
                Some(a) => {
                    let w = Some(&watcher);
                    Some(settle(self.client(), &self.ns, GRAFANA, Kind::Deployment, 1, a, w).await)
                }
                None => None,
            }
        };
        let (settle_p, settle_g) = tokio::join!(
            settle(
                self.client(),
                &self.ns,
                PROMETHEUS,
                prom_kind,
                prom_replicas,
                &applied_p,
                Some(&watcher),
            ),
            settle_grafana,
        );
        let settled_in = phase.elapsed();
        watcher.mark(applied_p.at, Mark::Disruption, d.to_string());
        mark_recovery(&watcher, PROMETHEUS.app, &applied_p, &settle_p);
        if let (Some(a), Some(s)) = (&applied_g, &settle_g) {
            mark_recovery(&watcher, GRAFANA.app, a, s);
        }
        let restore = disrupt::restore(&applied_p, &prom_target).await;
        self.timings.settle = Some(settled_in.as_secs_f64());
        self.timings.waits = Some(self.timings.waits.unwrap_or(0.0) + settled_in.as_secs_f64());
        if let Settled::Recovered {
            seen_after_ready: Some(d),
            ..
        } = &settle_p
        {
            self.timings.detection = Some(d.as_secs_f64());
        }
        self.progress.step(format!(
            "prometheus: {settle_p}; grafana: {}",
            settle_g
                .as_ref()
                .map_or_else(|| "not run".to_owned(), ToString::to_string)
        ));

        let phase = std::time::Instant::now();
        let prometheus_judgement = self
            .judge_prometheus(&before, &settle_p, &applied_p, prom_kind)
            .await;
        let grafana_judgement = match (&settle_g, &applied_g) {
            (Some(settled), Some(applied)) => self.judge_grafana(&before, settled, applied).await,
            _ => None,
        };
        self.timings.judge = Some(phase.elapsed().as_secs_f64());
        let timeline = watcher.stop().await;
        for (app, a) in [
            (PROMETHEUS.app, Some(&applied_p)),
            (GRAFANA.app, applied_g.as_ref()),
        ] {
            let Some(a) = a.filter(|a| a.affected && a.replaces_pod()) else {
                continue;
            };
            if let Some(line) =
                placement::describe(&timeline.only(app.id()), &a.old_pod, a.node.as_deref())
            {
                self.progress.step(format!("{app} {line}"));
            }
        }
        if prom_kind == Kind::Deployment && d.unblocks() {
            let state = placement::rollout_state(self.client(), &self.ns, PROMETHEUS.name).await;
            self.progress.step(format!("prometheus {state}"));
        }
        let logs = timeline::collect_logs(self.client(), &self.ns, &timeline).await;
        let reasons = |app: App| {
            let mut r =
                timeline::classify_with_logs(&timeline.only(app.id()), &logs, &log_classifier);
            if d.unblocks() {
                // The deadline this cell provokes on purpose is its
                // precondition (it stays in the findings), not its outcome:
                // the table asks whether the data reads back afterwards.
                r.retain(|r| *r != Reason::ProgressDeadlineExceeded);
            }
            r
        };
        let observation = Observation {
            prometheus: Observed::new(prometheus_judgement.as_ref(), reasons(PROMETHEUS.app), true),
            grafana: match &applied_g {
                Some(a) => {
                    Observed::new(grafana_judgement.as_ref(), reasons(GRAFANA.app), a.affected)
                }
                None => self.grafana_not_run(),
            },
        };
        self.timeline = Some(timeline);
        self.logs = logs;
        restore?;
        Ok(Judged {
            observation,
            prometheus_judgement,
            grafana_judgement,
        })
    }

    /// Delete the namespace and the cell's cluster-scoped objects, unless
    /// the cell failed and E2E_KEEP says keep.
    pub(super) async fn cleanup(&self, result: &CellResult) {
        if self.res.config.keep.keep(!result.status.passed()) {
            self.progress
                .step(format!("keeping namespace {} (E2E_KEEP)", self.ns));
            return;
        }
        // The namespace last: PVs and StorageClasses outlive it otherwise.
        let ordered = self
            .applied
            .iter()
            .filter(|m| m.object.is_cluster_scoped())
            .rev();
        if let Err(e) = manifest::apply::delete_all(self.client(), ordered).await {
            self.progress.step(format!("cleanup: {}", chain(&e)));
        }
    }
}
