//! One cell of the matrix, start to finish: deploy the variant in its own
//! namespace, seed Prometheus and Grafana, snapshot, disrupt, wait (watch
//! based, bounded), snapshot again, classify what the cluster did, and judge
//! the observation against the expectation table. Every step is a piece
//! that tier 0 or tier 1 exercises for real; this module only composes them.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::{Client, ResourceExt as _};

use crate::cluster::ClusterGuard;
use crate::disrupt::{self, Applied, Disruption, NodeOps, Restartable, Target};
use crate::error::{Error, Result};
use crate::exec::PodExec;
use crate::expect::{App, Cell, Observation, Observed, Reason};
use crate::forward::PortForward;
use crate::manifest::{self, Params, Rendered};
use crate::probe::Judgement;
use crate::probe::grafana::{self, GrafanaClient, SeedSpec};
use crate::probe::prometheus::{self as prom, DEFAULT_DATA_DIR, PrometheusProbe};
use crate::progress::Progress;
use crate::report::{CellResult, TextArtifact, Timings, collect_artifacts, write_timeline_svg};
use crate::seed::prestart;
use crate::seed::prometheus::History;
use crate::suite::{SharedNfs, Suite};
use crate::timeline::{self, Mark, TimelineHandle, TimelineWatcher};
use crate::variant::Variant;
use crate::workload::{self, GRAFANA, Kind, PROMETHEUS, Workload};

/// How long a freshly deployed workload gets to become Ready (image pulls
/// are preloaded; volume binding and provisioning take the rest).
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a disrupted workload gets to settle: recovered, visibly stuck,
/// or not coming back. Longer than the manifests' progressDeadlineSeconds
/// (120 s) so a stuck rollout is reported by its Deployment condition, and
/// than the node-stop eviction path (node NotReady after ~50 s, then the
/// pods' 10 s tolerations).
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(240);
/// How long Grafana gets to answer healthy again after recovering.
pub const GRAFANA_AFTER_TIMEOUT: Duration = Duration::from_secs(60);

/// Run one cell and record its result in the suite's report.
///
/// # Errors
/// Never for an observation that contradicts the table: that is a failed
/// [`CellResult`]. `Err` only when recording the result itself fails.
pub async fn run(suite: &Suite, cell: Cell) -> Result<CellResult> {
    let progress = Progress::new(cell.short());
    let cluster = suite.cluster().await?;
    // The cell's own time starts once the run's cluster is there.
    let started = std::time::Instant::now();
    let version = cluster
        .version()
        .map_or_else(|| "unknown".to_owned(), |m| m.to_string());
    let ns = cluster
        .create_namespace(&format!("{}-{}", cell.variant, cell.disruption))
        .await?;
    progress.step(format!("namespace {ns}"));
    let mut ctx = Ctx {
        suite,
        cluster: &cluster,
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
    let result = match ctx.run().await {
        Ok((observation, pj, gj)) => {
            CellResult::new(cell, &version).judge(observation, pj.as_ref(), gj.as_ref())
        }
        Err(e) => CellResult::new(cell, &version).error(&e),
    };
    let mut result = result.with_steps(&progress);
    let timeline = ctx.timeline.take();
    let findings = timeline
        .as_ref()
        .map(|t| timeline::findings(t, &ctx.logs, &log_classifier))
        .unwrap_or_default();
    result = result.with_findings(&findings);
    if !result.passed {
        cluster.mark_failed();
        let dir = suite.report.artifacts_dir(cell);
        let extras = artifacts(&ctx, &cluster);
        let refs: Vec<&dyn crate::report::Artifact> = extras.iter().map(|a| a.as_ref()).collect();
        match collect_artifacts(cluster.client(), &ns, &dir, timeline.as_ref(), &refs).await {
            Ok(_) => result = result.with_artifacts(&suite.report, &dir),
            Err(e) => progress.step(format!("could not collect artifacts: {e}")),
        }
    }
    if let Some(t) = timeline
        .as_ref()
        .filter(|_| suite.config.timelines.wanted(result.passed))
    {
        let dir = suite.report.timeline_dir(cell, result.passed);
        match write_timeline_svg(&dir, t, &findings, &cell.to_string()) {
            Ok(file) => result = result.with_timeline_svg(&suite.report, &file),
            Err(e) => progress.step(format!("could not draw the timeline: {e}")),
        }
    }
    ctx.cleanup(&result).await;
    ctx.timings.total = Some(started.elapsed().as_secs_f64());
    let result = result.with_timings(ctx.timings.clone());
    suite.report.record(&result)?;
    Ok(result)
}

/// Prometheus's and Grafana's log classifiers, for the timeline.
fn log_classifier(text: &str) -> Vec<Reason> {
    let mut r = prom::classify_log(text);
    r.extend(grafana::classify_log(text));
    r
}

struct Ctx<'a> {
    suite: &'a Suite,
    cluster: &'a ClusterGuard,
    cell: Cell,
    ns: String,
    progress: &'a Progress,
    nfs: Option<std::sync::Arc<SharedNfs>>,
    timeline: Option<timeline::Timeline>,
    node: Option<String>,
    password: String,
    applied: Vec<manifest::Manifest>,
    logs: Vec<(String, String)>,
    timings: Timings,
    /// The Prometheus history the seed ConfigMap holds, fixed at deploy
    /// time (History::new depends on the clock).
    history: Option<History>,
}

/// What a cell seeded and saw before the disruption, per app.
struct Before {
    /// The Prometheus pod that was seeded (a StatefulSet keeps the name).
    prom_pod: String,
    prometheus: prom::Snapshot,
    /// `None` when the run leaves Grafana out (E2E_APPS).
    grafana: Option<grafana::Snapshot>,
    password: String,
}

impl Ctx<'_> {
    fn client(&self) -> &Client {
        self.cluster.client()
    }

    /// Whether this run deploys and judges Grafana (E2E_APPS).
    fn runs_grafana(&self) -> bool {
        self.suite.config.apps.contains(&App::Grafana)
    }

    /// Why Grafana is not run, for the report: `E2E_APPS=prometheus`.
    fn grafana_not_run(&self) -> Observed {
        Observed::not_run(self.suite.config.apps_setting())
    }

    async fn run<'s>(&'s mut self) -> Result<(Observation, Option<Judgement>, Option<Judgement>)> {
        let phase = std::time::Instant::now();
        let rendered = self.deploy().await?;
        self.timings.deploy = Some(phase.elapsed().as_secs_f64());
        let prom_kind = match rendered.prometheus() {
            manifest::Workload::StatefulSet(_) => Kind::StatefulSet,
            manifest::Workload::Deployment(_) => Kind::Deployment,
        };
        let prom_replicas = usize::try_from(rendered.prometheus().replicas()).unwrap_or(1);
        let phase = std::time::Instant::now();
        let before = self.seed(prom_replicas, self.password.clone()).await?;
        self.timings.seed = Some(phase.elapsed().as_secs_f64());

        let watcher = TimelineWatcher::new(self.client().clone(), self.ns.clone()).start();
        watcher.synced().await;
        let d = self.cell.disruption;
        self.progress.step(format!("disrupting: {d}"));
        let nfs_restart: Option<&dyn Restartable> =
            self.nfs.as_deref().map(|n| n as &dyn Restartable);
        let nodes: Option<&dyn NodeOps> = match self.cluster.provider() {
            crate::cluster::Provider::Existing => None,
            _ => Some(self.cluster.info() as &dyn NodeOps),
        };
        let images = self.suite.images();
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
        // server.
        let applied_g = match (self.runs_grafana(), d.is_node_level()) {
            (false, _) => Ok(None),
            (true, true) => {
                disrupt::bystander(d, &graf_target, applied_p.node.as_deref(), applied_p.at)
                    .await
                    .map(Some)
            }
            (true, false) => disrupt::apply(d, &graf_target).await.map(Some),
        };
        let applied_g = match applied_g {
            Ok(a) => a,
            Err(e) => {
                // Never leave a node cordoned or stopped behind.
                if let Err(re) = disrupt::restore(&applied_p, &prom_target).await {
                    self.progress
                        .step(format!("restore after a failed disruption: {re}"));
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
        let pj = self
            .judge_prometheus(&before, &settle_p, &applied_p, prom_kind)
            .await;
        let gj = match (&settle_g, &applied_g) {
            (Some(settled), Some(applied)) => self.judge_grafana(&before, settled, applied).await,
            _ => None,
        };
        self.timings.judge = Some(phase.elapsed().as_secs_f64());
        let timeline = watcher.stop().await;
        let logs = timeline::collect_logs(self.client(), &self.ns, &timeline).await;
        let reasons = |app: &str| {
            let mut r = timeline::classify_with_logs(&timeline.only(app), &logs, &log_classifier);
            if d == Disruption::StuckRolloutUnblock {
                // The deadline this cell provokes on purpose is its
                // precondition (it stays in the findings), not its outcome:
                // the table asks whether the data reads back afterwards.
                r.retain(|r| *r != Reason::ProgressDeadlineExceeded);
            }
            r
        };
        let observation = Observation {
            prometheus: Observed::new(pj.as_ref(), reasons(PROMETHEUS.app), true),
            grafana: match &applied_g {
                Some(a) => Observed::new(gj.as_ref(), reasons(GRAFANA.app), a.affected),
                None => self.grafana_not_run(),
            },
        };
        self.timeline = Some(timeline);
        self.logs = logs;
        restore?;
        Ok((observation, pj, gj))
    }

    /// Prepare storage outside the cluster, render the variant, apply it,
    /// and wait until both apps are Ready.
    async fn deploy(&mut self) -> Result<Rendered> {
        let cfg = &self.suite.config;
        let mut images = self.suite.images().clone();
        if self.cell.disruption == Disruption::ImageUpgrade {
            images.prometheus = images.prometheus_previous.clone();
            images.grafana = images.grafana_previous.clone();
        }
        let mut params = Params::new(&self.ns, images);
        if let Some(class) = &cfg.storage_class {
            params = params.with_storage_class(class);
        }
        // Pin node-local data to a worker that can take pods now.
        let schedulable = workload::schedulable_nodes(self.client()).await?;
        let workers: Vec<String> = self
            .cluster
            .workers()
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| schedulable.contains(n))
            .collect();
        let node = workers
            .get(hash(&self.ns) % workers.len().max(1))
            .cloned()
            .or_else(|| schedulable.first().cloned());
        if let Some(node) = &node {
            params = params.with_node(node);
        }
        self.node = node.clone();
        if self.cell.variant.uses_nfs() {
            let nfs = self.suite.nfs(self.cluster).await?;
            if self.cell.variant == Variant::NfsStatic {
                // The static PVs point at NFS_PATH/<namespace>/{prometheus,grafana}.
                for app in [PROMETHEUS.app, GRAFANA.app] {
                    nfs.create_dir(&format!("{}/{app}", self.ns), 0, 0, 0o777)
                        .await?;
                }
            }
            params = params.with_nfs(nfs.address(), nfs.export_path());
            self.nfs = Some(nfs);
        }
        self.password = params.grafana_password.clone();
        let rendered = manifest::render(&cfg.manifests_dir, self.cell.variant, &params)?;
        // A local PV's directory must exist on its node before the pod starts.
        let local_dirs: Vec<String> = rendered
            .pvs()
            .iter()
            .filter_map(|pv| Some(pv.spec.as_ref()?.local.as_ref()?.path.clone()))
            .collect();
        if let (Some(node), false) = (&self.node, local_dirs.is_empty()) {
            let mut argv = vec!["mkdir", "-p"];
            argv.extend(local_dirs.iter().map(String::as_str));
            self.cluster.node_exec(node, &argv).await?;
        }
        for (addon, _) in rendered.addons() {
            self.progress
                .step(format!("installing addon {addon} (once per run)"));
            self.suite
                .ensure_addon(self.cluster, &rendered, addon)
                .await?;
        }
        let mut objects = rendered.objects_for(&cfg.apps);
        let history = History::new(self.ns.clone());
        self.with_seed(&mut objects, rendered.prometheus().name(), &history)
            .await?;
        self.history = Some(history);
        self.progress
            .step(format!("applying {} objects", objects.len()));
        manifest::apply::apply_all(self.client(), &objects).await?;
        self.applied = objects;
        let replicas = usize::try_from(rendered.prometheus().replicas()).unwrap_or(1);
        let grafana = async {
            if self.runs_grafana() {
                workload::wait_ready(self.client(), &self.ns, &GRAFANA, 1, &[], DEPLOY_TIMEOUT)
                    .await
                    .map(|_| ())
            } else {
                Ok(())
            }
        };
        self.progress.step(if self.runs_grafana() {
            "waiting for prometheus and grafana to be Ready"
        } else {
            "waiting for prometheus to be Ready (grafana not run: E2E_APPS)"
        });
        let waited = std::time::Instant::now();
        let (p, g) = tokio::join!(
            workload::wait_ready(
                self.client(),
                &self.ns,
                &PROMETHEUS,
                replicas,
                &[],
                DEPLOY_TIMEOUT
            ),
            grafana,
        );
        self.timings.waits = Some(waited.elapsed().as_secs_f64());
        p?;
        g?;
        Ok(rendered)
    }

    /// Make Prometheus start on its seeded history: create the seed
    /// ConfigMap and add the init container that writes it as blocks
    /// (seed::prestart) to the Prometheus workload named `workload`.
    async fn with_seed(
        &self,
        objects: &mut [manifest::Manifest],
        workload: &str,
        history: &History,
    ) -> Result<()> {
        let spec = objects
            .iter_mut()
            .filter(|m| matches!(m.object.kind(), "Deployment" | "StatefulSet"))
            .filter(|m| m.object.name() == workload)
            .find_map(|m| m.object.pod_spec_mut())
            .ok_or_else(|| crate::Error::Parse {
                what: format!("the rendered {} variant", self.cell.variant),
                message: format!("no Prometheus workload {workload:?} to seed"),
            })?;
        prestart::add_init_container(spec, PROMETHEUS.container, DEFAULT_DATA_DIR)?;
        prestart::create_configmap(self.client(), &self.ns, history).await
    }

    /// Exec into `pod`'s main container and forward its HTTP port to
    /// 127.0.0.1: how every probe reaches a pod.
    async fn connect(&self, pod: &str, w: &Workload) -> Result<(PodExec, PortForward)> {
        let exec = PodExec::new(self.client().clone(), &self.ns, pod, w.container);
        let fwd = PortForward::start(
            Api::namespaced(self.client().clone(), &self.ns),
            pod,
            w.port,
        )
        .await?;
        Ok((exec, fwd))
    }

    /// Seed both apps and snapshot them before the disruption.
    async fn seed(&mut self, prom_replicas: usize, password: String) -> Result<Before> {
        let prom_pod = ready_pod(self.client(), &self.ns, &PROMETHEUS).await?;
        let (exec, fwd) = self.connect(&prom_pod, &PROMETHEUS).await?;
        let probe = PrometheusProbe::new(fwd.url(), &exec);
        let history = self
            .history
            .clone()
            .ok_or_else(|| crate::Error::WaitFailed {
                what: "the seeded Prometheus history".into(),
                reason: "deploy did not record one".into(),
            })?;
        let seeded =
            prestart::confirm(self.client(), &self.ns, &prom_pod, &probe, &history).await?;
        prestart::delete_configmap(self.client(), &self.ns).await?;
        self.progress
            .step(format!("{seeded} (written before start)"));
        // Prometheus's first self-scrape is a wait on Prometheus, not on
        // the harness: timed apart for the overhead figure.
        let scrape = std::time::Instant::now();
        let sample = probe.await_head_sample().await?;
        let waited = scrape.elapsed().as_secs_f64();
        self.timings.waits = Some(self.timings.waits.unwrap_or(0.0) + waited);
        let prometheus = probe.snapshot_from(&history, sample).await?;
        if prom_replicas > 1 {
            self.progress.step(format!(
                "{prom_replicas} Prometheus replicas: the first one is seeded and judged"
            ));
        }

        if !self.runs_grafana() {
            return Ok(Before {
                prom_pod,
                prometheus,
                grafana: None,
                password,
            });
        }
        let graf_pod = ready_pod(self.client(), &self.ns, &GRAFANA).await?;
        let (gexec, gfwd) = self.connect(&graf_pod, &GRAFANA).await?;
        let client = GrafanaClient::new(gfwd.url(), password.clone())?;
        client.wait_healthy(grafana::HEALTH_TIMEOUT).await?;
        // The datasource points at the in-cluster Service, as a user's would.
        let spec = SeedSpec::unique(format!(
            "http://prometheus.{}.svc:{}",
            self.ns, PROMETHEUS.port
        ));
        self.progress.step(format!(
            "seeding Grafana dashboard {}",
            spec.uids().dashboard
        ));
        let seeded = client.seed(&spec).await?;
        let grafana = client.snapshot(&seeded.uids(), Some(&gexec)).await?;
        Ok(Before {
            prom_pod,
            prometheus,
            grafana: Some(grafana),
            password,
        })
    }

    async fn judge_prometheus(
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
                    .step(format!("prometheus could not be judged: {e}"))
            })
            .ok()
    }

    async fn judge_grafana(
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
                    .step(format!("grafana could not be judged: {e}"))
            })
            .ok()
    }

    /// Delete the namespace and the cell's cluster-scoped objects, unless
    /// the cell failed and E2E_KEEP says keep.
    async fn cleanup(&self, result: &CellResult) {
        if self.suite.config.keep.keep(!result.passed) {
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
            self.progress.step(format!("cleanup: {e}"));
        }
    }
}

/// `kind export logs` (k3d: node container logs) into `node-logs/`.
struct NodeLogs<'c>(&'c ClusterGuard);

#[async_trait::async_trait]
impl crate::report::Artifact for NodeLogs<'_> {
    fn name(&self) -> String {
        "node-logs".into()
    }

    async fn collect(&self, dir: &std::path::Path) -> Result<()> {
        self.0.export_logs(&dir.join("node-logs")).await
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

/// Failure artifacts from outside the API: node directory listings, the NFS
/// export listing, the cluster's node logs.
fn artifacts<'c>(
    ctx: &Ctx<'_>,
    cluster: &'c ClusterGuard,
) -> Vec<Box<dyn crate::report::Artifact + 'c>> {
    let mut out: Vec<Box<dyn crate::report::Artifact + 'c>> = vec![Box::new(NodeLogs(cluster))];
    if let Some(node) = ctx.node.clone() {
        let ns = ctx.ns.clone();
        out.push(Box::new(TextArtifact::new(format!("node-dirs-{node}.txt"), move || {
            let node = node.clone();
            let ns = ns.clone();
            async move {
                let script = format!(
                    "ls -lnR {dir}/{ns} /var/local-path-provisioner /var/lib/rancher/k3s/storage 2>&1 | head -n 400",
                    dir = manifest::HOST_DIR
                );
                cluster.node_exec(&node, &["sh", "-c", &script]).await.map(|o| o.stdout)
            }
        })));
    }
    if let Some(nfs) = ctx.nfs.clone() {
        let ns = ctx.ns.clone();
        out.push(Box::new(TextArtifact::new("nfs-export.txt", move || {
            let nfs = nfs.clone();
            let ns = ns.clone();
            async move {
                let root = nfs.listing("").await?;
                let cell = nfs.listing(&ns).await.unwrap_or_else(|e| e.to_string());
                Ok(format!(
                    "{}:\n{root}\n\n{}/{ns}:\n{cell}\n",
                    nfs.export_path(),
                    nfs.export_path()
                ))
            }
        })));
    }
    out
}

fn hash(s: &str) -> usize {
    s.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    })
}

async fn ready_pod(client: &Client, ns: &str, w: &Workload) -> Result<String> {
    workload::pods(client, ns, w)
        .await?
        .iter()
        .find(|p| workload::is_ready(p))
        .map(|p| p.name_any())
        .ok_or_else(|| Error::WaitFailed {
            what: format!("a ready {} pod in {ns}", w.name),
            reason: "none is Ready".into(),
        })
}

/// Why the disrupted workload cannot come back while the node the
/// disruption took away stays away, once the timeline `t` (this app's
/// entries) shows it after `since_ms`: the terminal states of node-level
/// cells on node-bound storage, so the cell need not sit out the settle
/// timeout to call them pending.
///
/// - The scheduler refused a replacement because its volume or its
///   nodeSelector binds it to that node (NodeAffinityConflict, or
///   Unschedulable "didn't match Pod's node affinity/selector"). Nothing
///   changes that while the node is cordoned or stopped, and the cell keeps
///   it so until it ends.
/// - After node-stop only: the scheduler refused it because the old pod,
///   stranded on the stopped node, still holds its ReadWriteOncePod claim.
///   After reschedule-other-node the same refusal is transient: the old pod
///   finishes terminating on its working node, and the scheduler's next
///   answer is the node affinity (seen on kind 1.35, rwop/reschedule-other-node).
/// - A StatefulSet's pod on the stopped node is marked for deletion after
///   NodeNotReady but can never finish terminating, and the controller
///   creates no replacement until it has (kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod/).
pub(crate) fn held_by_node(
    t: &timeline::Timeline,
    since_ms: u64,
    old_pod: &str,
    node: &str,
    kind: Kind,
    disruption: Disruption,
) -> Option<Reason> {
    let after = || t.entries.iter().filter(|e| e.at_ms >= since_ms);
    let stranded_claim = disruption == Disruption::NodeStop;
    let refused = after().find_map(|e| match &e.record {
        timeline::Record::Event(ev) if ev.reason == "FailedScheduling" => {
            match timeline::classify_event(&ev.reason, &ev.message)? {
                Reason::NodeAffinityConflict => Some(Reason::NodeAffinityConflict),
                Reason::RwopRejected if stranded_claim => Some(Reason::RwopRejected),
                Reason::Unschedulable if ev.message.contains(NODE_SELECTOR_MISMATCH) => {
                    Some(Reason::Unschedulable)
                }
                _ => None,
            }
        }
        _ => None,
    });
    if refused.is_some() || kind != Kind::StatefulSet {
        return refused;
    }
    let not_ready = t
        .entries
        .iter()
        .any(|e| matches!(&e.record, timeline::Record::Event(ev) if ev.reason == "NodeNotReady"));
    let stranded = after().any(|e| {
        matches!(&e.record, timeline::Record::Pod(p)
            if p.name == old_pod && p.terminating && !p.deleted && p.node.as_deref() == Some(node))
    });
    (not_ready && stranded).then_some(Reason::NodeNotReady)
}

/// The scheduler's words for a pod whose nodeSelector or node affinity
/// names no node it may use (NodeAffinity plugin, ErrReasonPod).
const NODE_SELECTOR_MISMATCH: &str = "didn't match Pod's node affinity/selector";

/// How a disrupted workload ended up.
#[derive(Debug, Clone)]
pub enum Settled {
    /// Back to full strength with the pods the disruption asked for.
    Recovered {
        /// A Ready pod to read the data from.
        pod: String,
        /// Disruption to recovered.
        after: Duration,
        /// How long after that pod's Ready time (the API's lastTransitionTime,
        /// truncated to the second) the watch showed the harness: the
        /// detection latency, overstated by at most one second.
        seen_after_ready: Option<Duration>,
    },
    /// The Deployment reported ProgressDeadlineExceeded; the old pod may still serve.
    Stuck {
        /// A Ready pod still serving, if any.
        serving: Option<String>,
    },
    /// It cannot come back while the disrupted node stays away
    /// ([`held_by_node`]): a terminal state, seen without waiting out the
    /// settle timeout.
    HeldByNode {
        /// Why, as the timeline showed it.
        reason: Reason,
        /// The node.
        node: String,
        /// Disruption to seen.
        after: Duration,
    },
    /// Neither within the settle timeout.
    NotRecovered {
        /// A Ready pod still serving, if any.
        serving: Option<String>,
        /// What the pods looked like last.
        last_seen: String,
    },
}

impl Settled {
    /// The pod to read data from, when one serves.
    pub fn serving_pod(&self) -> Option<&str> {
        match self {
            Self::Recovered { pod, .. } => Some(pod),
            Self::Stuck { serving } | Self::NotRecovered { serving, .. } => serving.as_deref(),
            Self::HeldByNode { .. } => None,
        }
    }
}

impl std::fmt::Display for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recovered {
                pod,
                after,
                seen_after_ready,
            } => {
                write!(f, "recovered in {:.1}s ({pod}", after.as_secs_f64())?;
                if let Some(d) = seen_after_ready {
                    write!(f, ", seen {:.2}s after its Ready time", d.as_secs_f64())?;
                }
                f.write_str(")")
            }
            Self::Stuck { serving } => write!(
                f,
                "rollout stuck (ProgressDeadlineExceeded), serving: {}",
                serving.as_deref().unwrap_or("none")
            ),
            Self::HeldByNode {
                reason,
                node,
                after,
            } => write!(
                f,
                "cannot come back while {node} is away ({reason}), seen after {:.1}s",
                after.as_secs_f64()
            ),
            Self::NotRecovered { last_seen, .. } => write!(f, "not recovered: {last_seen}"),
        }
    }
}

/// Mark on the timeline when a disrupted app recovered (a bystander that
/// merely stayed Ready gets no mark), for its picture.
fn mark_recovery(watcher: &TimelineHandle, app: &str, applied: &Applied, settled: &Settled) {
    if let (true, Settled::Recovered { after, .. }) = (applied.affected, settled)
        && let Some(at) = applied.at.checked_add(*after)
    {
        watcher.mark(at, Mark::Recovery, app);
    }
}

/// Wait until the disrupted workload recovers, gets visibly stuck, or the
/// settle timeout passes. Recovered means: the wanted number of Ready pods,
/// none terminating, and the disruption's effect visible (a container
/// restart for container-kill, the old pod replaced for pod-replacing ones).
async fn settle(
    client: &Client,
    ns: &str,
    w: Workload,
    kind: Kind,
    replicas: usize,
    a: &Applied,
    watcher: Option<&TimelineHandle>,
) -> Settled {
    let what = format!("{} to recover from {}", w.name, a.disruption);
    let recovered = workload::watch_pods(client, ns, &w, &what, SETTLE_TIMEOUT, |pods| {
        let name = recovered_pod(pods.values(), w, replicas, a)?;
        let ready = pods.get(&name).and_then(workload::ready_since);
        Some((name, ready))
    });
    let stuck = async {
        // For stuck-rollout-unblock the stuck state is the starting point the
        // cell provokes, not its outcome: only recovery counts.
        if kind != Kind::Deployment || a.disruption == Disruption::StuckRolloutUnblock {
            return std::future::pending::<()>().await;
        }
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        let seen = crate::wait::watch_object(
            api,
            w.name,
            &format!("deployment {} to report ProgressDeadlineExceeded", w.name),
            SETTLE_TIMEOUT + Duration::from_secs(60),
            |d| d.filter(|d| deadline_exceeded(d)).map(|_| ()),
            |_| String::new(),
        )
        .await;
        if seen.is_err() {
            // Only a reported deadline counts; a watch error or timeout
            // leaves the verdict to the pod wait.
            std::future::pending::<()>().await;
        }
    };
    let held = async {
        let node = match (watcher, &a.node) {
            (Some(watcher), Some(node)) if a.affected && a.disruption.is_node_level() => {
                let since = watcher.offset_ms(a.at);
                let what = format!("{} held by node {node}", w.name);
                let found = watcher.wait_until(&what, SETTLE_TIMEOUT, |t| {
                    held_by_node(&t.only(w.name), since, &a.old_pod, node, kind, a.disruption)
                });
                found.await.ok().map(|reason| (reason, node.clone()))
            }
            _ => None,
        };
        match node {
            Some(found) => found,
            // Not a node-level cell, or never seen: the other branches decide.
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        r = recovered => Some(Ok(r)),
        () = stuck => None,
        (reason, node) = held => Some(Err((reason, node))),
    };
    let serving = || async {
        workload::pods(client, ns, &w).await.ok().and_then(|ps| {
            ps.iter()
                .find(|p| workload::is_ready(p))
                .map(|p| p.name_any())
        })
    };
    match outcome {
        Some(Err((reason, node))) => Settled::HeldByNode {
            reason,
            node,
            after: a.at.elapsed(),
        },
        Some(Ok(Ok((pod, ready)))) => Settled::Recovered {
            pod,
            after: a.at.elapsed(),
            seen_after_ready: ready.and_then(|t| {
                let ms = k8s_openapi::jiff::Timestamp::now().as_millisecond() - t.as_millisecond();
                u64::try_from(ms).ok().map(Duration::from_millis)
            }),
        },
        Some(Ok(Err(e))) => Settled::NotRecovered {
            serving: serving().await,
            last_seen: e.to_string(),
        },
        None => Settled::Stuck {
            serving: serving().await,
        },
    }
}

fn deadline_exceeded(d: &Deployment) -> bool {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "Progressing"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
            })
        })
}

/// The recovery rule of [`settle`], pure so tier 0 can test it.
fn recovered_pod<'p>(
    pods: impl Iterator<Item = &'p Pod>,
    w: Workload,
    replicas: usize,
    a: &Applied,
) -> Option<String> {
    let live: Vec<&Pod> = pods
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    let replaced = |p: &&Pod| !a.old_uids.contains(&uid(p));
    let ready: Vec<&Pod> = live
        .iter()
        .copied()
        .filter(|p| workload::is_ready(p))
        .collect();
    let ok = match a.disruption {
        _ if !a.affected => ready.len() == replicas,
        Disruption::ContainerKill => {
            ready.len() == replicas
                && live.iter().any(|p| {
                    p.name_any() == a.old_pod
                        && workload::restarts(p, w.container) > a.restarts_before
                })
        }
        Disruption::NfsRestart => ready.len() == replicas,
        Disruption::RolloutRestart | Disruption::RolloutRecreate | Disruption::ImageUpgrade => {
            live.len() == replicas && ready.len() == replicas && ready.iter().all(replaced)
        }
        // After the workaround, either ReplicaSet's pod may win the volume
        // (the old one recreates its pod at once): recovered is "a pod
        // other than the deleted one serves", whichever it is.
        Disruption::StuckRolloutUnblock => ready.len() >= replicas && ready.iter().all(replaced),
        Disruption::PodDelete
        | Disruption::PodForceDelete
        | Disruption::RescheduleOtherNode
        | Disruption::NodeStop => {
            live.len() == replicas
                && ready.len() == replicas
                && !ready.iter().any(|p| uid(p) == a.old_uid)
        }
    };
    ok.then(|| {
        ready
            .iter()
            .find(|p| replaced(p))
            .or(ready.first())
            .map(|p| p.name_any())
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    //! The recovery rule, on pods in the shape `kubectl get pod -o json`
    //! prints (fields from the Pod API reference).
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, ready: bool, restarts: i32, terminating: bool) -> Pod {
        let mut meta = json!({"name": name, "uid": uid, "namespace": "e2e-x"});
        if terminating {
            meta["deletionTimestamp"] = json!("2026-11-22T01:00:00Z");
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "prometheus"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{"name": "prometheus", "ready": ready, "restartCount": restarts,
                                       "image": "i", "imageID": ""}]
            }
        }))
        .unwrap()
    }

    fn applied(d: Disruption, affected: bool) -> Applied {
        let pods = [pod("prometheus-a", "uid-a", true, 0, false)];
        let mut a = disrupt::tests_support::applied(d, &pods[0]);
        a.affected = affected;
        a
    }

    fn rule(d: Disruption, pods: &[Pod]) -> Option<String> {
        recovered_pod(pods.iter(), PROMETHEUS, 1, &applied(d, true))
    }

    #[test]
    fn a_deleted_pod_counts_as_recovered_only_once_replaced() {
        let old = pod("prometheus-a", "uid-a", true, 0, false);
        let old_going = pod("prometheus-a", "uid-a", true, 0, true);
        let new_starting = pod("prometheus-b", "uid-b", false, 0, false);
        let new_ready = pod("prometheus-b", "uid-b", true, 0, false);
        assert_eq!(
            rule(Disruption::PodDelete, std::slice::from_ref(&old)),
            None
        );
        assert_eq!(
            rule(Disruption::PodDelete, &[old_going.clone(), new_starting]),
            None
        );
        assert_eq!(
            rule(Disruption::PodDelete, &[old_going, new_ready.clone()]).as_deref(),
            Some("prometheus-b")
        );
        // A StatefulSet's replacement keeps the name: the uid tells them apart.
        let same_name = pod("prometheus-a", "uid-c", true, 0, false);
        assert_eq!(
            rule(Disruption::NodeStop, &[same_name]).as_deref(),
            Some("prometheus-a")
        );
        // A rollout that never replaced the old pod is not recovered.
        assert_eq!(rule(Disruption::RolloutRestart, &[old]), None);
        assert_eq!(
            rule(Disruption::RolloutRestart, &[new_ready]).as_deref(),
            Some("prometheus-b")
        );
    }

    #[test]
    fn after_the_unblock_workaround_any_pod_but_the_deleted_one_may_serve() {
        let recreated_by_old_rs = pod("prometheus-old-2", "uid-c", true, 0, false);
        let new_crash_looping = pod("prometheus-new", "uid-b", false, 4, false);
        let deleted = pod("prometheus-a", "uid-a", true, 0, true);
        assert_eq!(
            rule(
                Disruption::StuckRolloutUnblock,
                &[recreated_by_old_rs, new_crash_looping.clone()]
            )
            .as_deref(),
            Some("prometheus-old-2")
        );
        assert_eq!(
            rule(
                Disruption::StuckRolloutUnblock,
                &[deleted, new_crash_looping]
            ),
            None
        );
    }

    #[test]
    fn a_killed_container_counts_once_it_restarted_and_is_ready() {
        let before = pod("prometheus-a", "uid-a", true, 0, false);
        let restarting = pod("prometheus-a", "uid-a", false, 1, false);
        let back = pod("prometheus-a", "uid-a", true, 1, false);
        assert_eq!(rule(Disruption::ContainerKill, &[before]), None);
        assert_eq!(rule(Disruption::ContainerKill, &[restarting]), None);
        assert_eq!(
            rule(Disruption::ContainerKill, &[back]).as_deref(),
            Some("prometheus-a")
        );
    }

    #[test]
    fn a_bystander_only_needs_to_stay_ready() {
        let same = pod("prometheus-a", "uid-a", true, 0, false);
        let a = applied(Disruption::NodeStop, false);
        assert_eq!(
            recovered_pod([same].iter(), PROMETHEUS, 1, &a).as_deref(),
            Some("prometheus-a")
        );
    }

    #[test]
    fn settled_states_read_well_in_progress_lines() {
        let s = Settled::Stuck {
            serving: Some("prometheus-a".into()),
        };
        assert_eq!(
            s.to_string(),
            "rollout stuck (ProgressDeadlineExceeded), serving: prometheus-a"
        );
        assert_eq!(s.serving_pod(), Some("prometheus-a"));
        let n = Settled::NotRecovered {
            serving: None,
            last_seen: "timed out".into(),
        };
        assert_eq!(n.serving_pod(), None);
        let h = Settled::HeldByNode {
            reason: Reason::NodeAffinityConflict,
            node: "w1".into(),
            after: Duration::from_millis(12_340),
        };
        assert_eq!(
            h.to_string(),
            "cannot come back while w1 is away (node-affinity-conflict), seen after 12.3s"
        );
        assert_eq!(h.serving_pod(), None);
    }

    fn event_at(at_ms: u64, object: &str, reason: &str, message: &str) -> timeline::Entry {
        timeline::Entry {
            at_ms,
            record: timeline::Record::Event(timeline::EventRecord {
                name: format!("{object}.{at_ms}"),
                object_kind: "Pod".into(),
                object_name: object.into(),
                type_: "Warning".into(),
                reason: reason.into(),
                message: message.into(),
                count: 1,
                source: "default-scheduler".into(),
            }),
        }
    }

    fn pod_at(at_ms: u64, name: &str, node: &str, terminating: bool) -> timeline::Entry {
        timeline::Entry {
            at_ms,
            record: timeline::Record::Pod(timeline::PodRecord {
                name: name.into(),
                node: Some(node.into()),
                phase: "Running".into(),
                ready: false,
                terminating,
                deleted: false,
                unschedulable: None,
                containers: Vec::new(),
            }),
        }
    }

    /// Scheduler messages as kube-scheduler 1.35 words them.
    const LOCAL_PATH_REFUSED: &str = "0/3 nodes are available: 1 node(s) had untolerated taint(s), \
        1 node(s) had volume node affinity conflict, 1 node(s) were unschedulable. preemption: 0/3 \
        nodes are available: 3 Preemption is not helpful for scheduling.";
    const SELECTOR_REFUSED: &str = "0/3 nodes are available: 1 node(s) didn't match Pod's node \
        affinity/selector, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable.";
    const NO_ROOM: &str = "0/3 nodes are available: 3 Insufficient memory.";

    #[test]
    fn a_replacement_bound_to_the_missing_node_is_held_once_the_scheduler_says_so() {
        let held = |entries: Vec<timeline::Entry>, kind| {
            let t = timeline::Timeline { entries };
            held_by_node(
                &t,
                1_000,
                "prometheus-a",
                "w1",
                kind,
                Disruption::RescheduleOtherNode,
            )
        };
        let refused = |msg| vec![event_at(2_000, "prometheus-b", "FailedScheduling", msg)];
        assert_eq!(
            held(refused(LOCAL_PATH_REFUSED), Kind::Deployment),
            Some(Reason::NodeAffinityConflict)
        );
        assert_eq!(
            held(refused(SELECTOR_REFUSED), Kind::Deployment),
            Some(Reason::Unschedulable)
        );
        // Not bound to the node: room may come, so the settle wait decides.
        assert_eq!(held(refused(NO_ROOM), Kind::Deployment), None);
        // Seen before the disruption: the first deploy's, not the replacement's.
        let early = vec![event_at(
            500,
            "prometheus-b",
            "FailedScheduling",
            LOCAL_PATH_REFUSED,
        )];
        assert_eq!(held(early, Kind::Deployment), None);
    }

    /// kube-scheduler 1.35's refusal while the old pod still holds the claim
    /// (recorded by rwop/reschedule-other-node on kind 1.35).
    const RWOP_REFUSED: &str = "0/3 nodes are available: 1 node(s) had untolerated taint(s), 1 \
        node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already \
        in-use by another pod, 1 node(s) were unschedulable.";

    #[test]
    fn a_readwriteoncepod_refusal_is_final_only_while_the_old_pod_is_stranded() {
        let t = |entries| timeline::Timeline { entries };
        let rwop = event_at(2_000, "prometheus-b", "FailedScheduling", RWOP_REFUSED);
        let affinity = event_at(
            3_000,
            "prometheus-b",
            "FailedScheduling",
            LOCAL_PATH_REFUSED,
        );
        let held = |t: &timeline::Timeline, d| {
            held_by_node(t, 1_000, "prometheus-a", "w1", Kind::Deployment, d)
        };
        // Cordoned: the old pod leaves its working node, then the PV decides.
        let early = t(vec![rwop.clone()]);
        assert_eq!(held(&early, Disruption::RescheduleOtherNode), None);
        let later = t(vec![rwop.clone(), affinity]);
        assert_eq!(
            held(&later, Disruption::RescheduleOtherNode),
            Some(Reason::NodeAffinityConflict)
        );
        // Stopped: the old pod never leaves the API, so the claim stays taken.
        assert_eq!(
            held(&early, Disruption::NodeStop),
            Some(Reason::RwopRejected)
        );
    }

    #[test]
    fn a_statefulset_pod_stranded_on_the_stopped_node_is_held() {
        let held = |entries, kind| {
            let t = timeline::Timeline { entries };
            held_by_node(&t, 1_000, "prometheus-0", "w1", kind, Disruption::NodeStop)
        };
        let not_ready = event_at(1_500, "prometheus-0", "NodeNotReady", "Node is not ready");
        let stranded = pod_at(2_000, "prometheus-0", "w1", true);
        let both = vec![not_ready.clone(), stranded.clone()];
        assert_eq!(
            held(both.clone(), Kind::StatefulSet),
            Some(Reason::NodeNotReady)
        );
        // A Deployment's pod is replaced instead: only the scheduler decides.
        assert_eq!(held(both, Kind::Deployment), None);
        // Terminating on a node that works finishes by itself.
        let elsewhere = vec![not_ready, pod_at(2_000, "prometheus-0", "w2", true)];
        assert_eq!(held(elsewhere, Kind::StatefulSet), None);
        assert_eq!(held(vec![stranded], Kind::StatefulSet), None);
    }
}

#[cfg(test)]
mod contract_tests {
    //! Contract test of `settle` against a stub API server (wiremock)
    //! speaking list + watch for pods and Deployments, in the shapes of the
    //! Kubernetes API reference: the seed article's stuck rollout must come
    //! out as `Settled::Stuck` with the old pod still serving.
    use super::*;
    use crate::stub_api::{client, list_and_watch};
    use serde_json::json;
    use wiremock::MockServer;

    const NS: &str = "e2e-cell";

    fn pod(name: &str, uid: &str, ready: bool, restarts: i32) -> serde_json::Value {
        json!({
            "metadata": {"name": name, "namespace": NS, "uid": uid, "resourceVersion": "7",
                          "labels": {"app.kubernetes.io/name": "prometheus"}},
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "prometheus"}]},
            "status": {"phase": "Running",
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                       "containerStatuses": [{"name": "prometheus", "ready": ready, "restartCount": restarts,
                                              "image": "i", "imageID": "",
                                              "state": if ready { json!({"running": {}}) } else { json!({"waiting": {"reason": "CrashLoopBackOff"}}) }}]}
        })
    }

    #[tokio::test]
    async fn contract_a_stuck_rollout_settles_as_stuck_with_the_old_pod_serving() {
        let server = MockServer::start().await;
        let pods = vec![
            pod("prometheus-old", "uid-old", true, 0),
            pod("prometheus-new", "uid-new", false, 5),
        ];
        list_and_watch(
            &server,
            &format!("/api/v1/namespaces/{NS}/pods"),
            "PodList",
            pods,
            &[],
        )
        .await;
        let deployment = json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "prometheus", "namespace": NS, "resourceVersion": "8"},
            "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                        "message": "ReplicaSet \"prometheus-new\" has timed out progressing."}]}
        });
        list_and_watch(
            &server,
            &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
            "DeploymentList",
            vec![],
            &[json!({"type": "MODIFIED", "object": deployment})],
        )
        .await;
        let client = client(&server);
        let old: Pod =
            serde_json::from_value(pod("prometheus-old", "uid-old", true, 0)).expect("pod");
        let a = disrupt::tests_support::applied(Disruption::RolloutRestart, &old);

        let settled = tokio::time::timeout(
            Duration::from_secs(20),
            settle(&client, NS, PROMETHEUS, Kind::Deployment, 1, &a, None),
        )
        .await
        .expect("settle follows the watches");
        match settled {
            Settled::Stuck { serving } => assert_eq!(serving.as_deref(), Some("prometheus-old")),
            other => panic!("expected Stuck, got {other}"),
        }
    }
}
