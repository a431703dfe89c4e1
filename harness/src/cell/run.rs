//! The cell, start to finish. Each stage returns the value the next one
//! takes: `Deployed` → `Before` → `Disrupted` → `SettledApps` → `Judged`;
//! the verdict is decided in the cell (verdict.rs), and the report only
//! stores the result.

use std::time::Instant;

use super::artifacts::artifacts;
use super::judge::{Judged, all_findings, findings_by_app};
use super::pipeline::{CELL_TIMEOUT, Pipeline};
use super::verdict;
use crate::cluster::ClusterGuard;
use crate::error::{Error, Result, chain};
use crate::manifest;
use crate::progress::Progress;
use crate::report::{CellResult, Status, collect_artifacts, write_timeline_svg};
use crate::resources::Resources;
use crate::timeline::{Finding, Timeline, TimelineWatcher};
use crate::vocab::Cell;

/// Run one cell, record its result in the suite's report and return it;
/// with a `pool`, on that node pool's workers. Never fails: an observation
/// that contradicts the table, an error in a stage, the backstop and a
/// report that cannot be written all end as a failed [`CellResult`].
pub async fn run(
    res: &Resources,
    cluster: &ClusterGuard,
    cell: Cell,
    pool: Option<&crate::cluster::Pool>,
) -> CellResult {
    let progress = Progress::new(cell.short());
    // The cell's own time starts once the run's cluster is there.
    let started = Instant::now();
    // None only where the cluster's version could not be read.
    let version = cluster.version().map(|m| m.to_string());
    let mut pipeline = Pipeline::new(res, cluster, cell, pool, &progress);
    let ran = tokio::time::timeout(CELL_TIMEOUT, pipeline.run())
        .await
        .unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: format!("cell {cell} to be judged (the outer backstop)"),
                waited: CELL_TIMEOUT,
                last_seen: progress.lines().last().cloned().unwrap_or_default(),
            })
        });
    let (result, timeline, findings) = match ran {
        Ok(j) => (
            verdict::judged(
                cell,
                res.config.expect_opposite,
                version.as_deref(),
                j.observation,
                j.prometheus.as_ref(),
                j.grafana.as_ref(),
                j.original,
            ),
            Some(j.timeline),
            j.findings,
        ),
        Err(e) => {
            // The watch, when the cell got that far: what it recorded is
            // the failure's evidence (no logs: the artifacts hold them).
            let timeline = match pipeline.watcher.take() {
                Some(w) => Some(w.stop().await),
                None => None,
            };
            let findings = timeline
                .as_ref()
                .map(|t| all_findings(findings_by_app(t, &[])))
                .unwrap_or_default();
            (
                verdict::failed(cell, version.as_deref(), chain(&e)),
                timeline,
                findings,
            )
        }
    };
    let result = result.with_findings(&findings);
    pipeline.finish(result, timeline, &findings, started).await
}

impl Pipeline<'_> {
    /// The stages, in order, each taking what the one before returned.
    async fn run(&mut self) -> Result<Judged> {
        let c = self.cell;
        self.ns = self
            .cluster
            .create_namespace(&format!("{}-{}", c.variant, c.disruption))
            .await?;
        self.progress.step(format!("namespace {}", self.ns));
        let phase = Instant::now();
        let deployed = self.deploy().await?;
        self.timings.deploy = Some(phase.elapsed().as_secs_f64());
        let phase = Instant::now();
        let mut before = self.seed(&deployed).await?;
        self.timings.seed = Some(phase.elapsed().as_secs_f64());
        self.watch().await;
        let disrupted = self.disrupt(&deployed, &mut before).await?;
        let settled = self.settle_apps(&deployed, &disrupted).await;
        let judged = self.judge(&deployed, &before, &disrupted, &settled).await?;
        // Judged first, then a failed restore fails the cell: what was
        // seen is kept in the steps, and the suite heals the nodes.
        settled.restored?;
        Ok(judged)
    }

    /// Start the namespace's watch and wait until it has listed what is
    /// there, so the disruption is on its timeline.
    async fn watch(&mut self) {
        let watcher = TimelineWatcher::new(self.client().clone(), self.ns.clone()).start();
        watcher.synced().await;
        self.watcher = Some(watcher);
    }

    /// The end of every cell: failure artifacts (when it failed), its
    /// timeline picture (per E2E_TIMELINES), cleanup (per E2E_KEEP), its
    /// timings, and its row in the report.
    async fn finish(
        mut self,
        mut result: CellResult,
        timeline: Option<Timeline>,
        findings: &[Finding],
        started: Instant,
    ) -> CellResult {
        let passed = result.status.passed();
        if !passed {
            self.cluster.mark_failed();
            result = self.collect_artifacts(result, timeline.as_ref()).await;
        }
        if let Some(t) = timeline
            .as_ref()
            .filter(|_| self.res.config.timelines.wanted(passed))
        {
            let dir = self.res.report.timeline_dir(self.cell, passed);
            match write_timeline_svg(&dir, t, findings, &self.cell.to_string()) {
                Ok(file) => result = result.with_timeline_svg(self.res.report.dir(), &file),
                Err(e) => self
                    .progress
                    .step(format!("could not draw the timeline: {}", chain(&e))),
            }
        }
        self.cleanup(passed).await;
        self.timings.total = Some(Instant::now().duration_since(started).as_secs_f64());
        // The steps last: artifacts and cleanup say what they did too.
        let mut result = result
            .with_timings(self.timings.clone())
            .with_volume(std::mem::take(&mut self.figures))
            .with_steps(self.progress);
        if let Err(e) = self.res.report.record(&result) {
            let failure = format!(
                "could not record cell {} in the report: {}",
                self.cell,
                chain(&e)
            );
            eprintln!("storage-e2e: {failure}");
            result.status = Status::Failed { failure };
        }
        result
    }

    /// The failure artifacts of a failed cell, into the report's folder
    /// for it (nothing when its namespace was never created).
    async fn collect_artifacts(
        &self,
        result: CellResult,
        timeline: Option<&Timeline>,
    ) -> CellResult {
        if self.ns.is_empty() {
            return result;
        }
        let dir = self.res.report.artifacts_dir(self.cell);
        let extras = artifacts(
            self.cell,
            &self.ns,
            self.node.clone(),
            self.nfs.clone(),
            self.cluster,
        );
        let refs: Vec<&dyn crate::report::Artifact> = extras.iter().map(|a| a.as_ref()).collect();
        match collect_artifacts(self.client(), &self.ns, &dir, timeline, &refs).await {
            Ok(_) => result.with_artifacts(self.res.report.dir(), &dir),
            Err(e) => {
                self.progress
                    .step(format!("could not collect artifacts: {}", chain(&e)));
                result
            }
        }
    }

    /// Delete the namespace and the cell's cluster-scoped objects, unless
    /// the cell failed and E2E_KEEP says keep.
    async fn cleanup(&self, passed: bool) {
        if self.ns.is_empty() {
            return;
        }
        if self.res.config.keep.keep(!passed) {
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
