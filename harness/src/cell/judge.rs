//! Reading the apps back after the disruption and judging what survived;
//! what the cluster did, classified once per app.

use std::time::{Duration, Instant};

use kube::ResourceExt as _;

use super::deploy::{Before, Deployed};
use super::disruption::{Disrupted, SettledApps};
use super::pipeline::Pipeline;
use super::placement;
use super::settle::Settled;
use crate::apps;
use crate::disrupt::{Applied, RESTORED_PROMETHEUS};
use crate::error::{Error, Result, chain};
use crate::expect::{Observation, Observed};
use crate::prometheus::{self as prom, PrometheusProbe};
use crate::timeline::{self, Finding, PodLog, Timeline};
use crate::vocab::{App, Disruption, Judgement, Reason, Verdict};
use crate::workload::{self, Kind, PROMETHEUS, Workload};

/// What a cell saw, and the judgements it rests on: the judge stage's
/// value, from which the cell's verdict is decided (verdict.rs).
pub(super) struct Judged {
    pub(super) observation: Observation,
    /// `None` when no Prometheus pod became Ready to read from.
    pub(super) prometheus: Option<Judgement>,
    /// After snapshot-restore, whether the original Prometheus (not the
    /// judged copy) read back whole: a check beside the table's.
    pub(super) original: std::result::Result<(), String>,
    /// Grafana's: `None` when it was not run or no pod became Ready.
    pub(super) grafana: Option<Judgement>,
    /// The namespace's timeline from before the disruption to now.
    pub(super) timeline: Timeline,
    /// Every finding of both apps and of the rest of the namespace.
    pub(super) findings: Vec<Finding>,
}

/// The cell's findings, classified once: each app on its own objects and
/// its own pods' logs with its own log classifier (so one app's
/// explanation never hides the other's failure, nor its log lines count
/// for the other), and the namespace's other objects (a StatefulSet's
/// claims, say) on their own.
pub(super) fn findings_by_app(t: &Timeline, logs: &[PodLog]) -> Vec<(Option<App>, Vec<Finding>)> {
    let mut out = Vec::new();
    for a in apps::ALL {
        let w = a.workload();
        let own: Vec<PodLog> = logs
            .iter()
            .filter(|l| Timeline::names(w.name, &l.pod))
            .cloned()
            .collect();
        out.push((
            Some(w.app),
            timeline::findings(&t.only(w.name), &own, a.classify_log()),
        ));
    }
    let names: Vec<&str> = apps::ALL.iter().map(|a| a.workload().name).collect();
    let rest = t.except(&names);
    out.push((None, timeline::findings(&rest, &[], &|_| Vec::new())));
    out
}

/// Every finding of [`findings_by_app`], in one list (the report's).
pub(super) fn all_findings(by_app: Vec<(Option<App>, Vec<Finding>)>) -> Vec<Finding> {
    by_app.into_iter().flat_map(|(_, f)| f).collect()
}

/// The distinct reasons of `app`'s findings, sorted.
fn reasons_of(by_app: &[(Option<App>, Vec<Finding>)], app: App) -> Vec<Reason> {
    let mut r: Vec<Reason> = by_app
        .iter()
        .filter(|(a, _)| *a == Some(app))
        .flat_map(|(_, f)| f.iter().map(|f| f.reason))
        .collect();
    r.sort();
    r.dedup();
    r
}

impl Pipeline<'_> {
    /// Read the apps back and judge them, stop the watch, say where the
    /// new pods landed, and classify what the cluster did.
    pub(super) async fn judge(
        &mut self,
        deployed: &Deployed,
        before: &Before,
        disrupted: &Disrupted,
        settled: &SettledApps,
    ) -> Result<Judged> {
        let phase = Instant::now();
        let p = &disrupted.prometheus;
        let prometheus = self
            .judge_prometheus(before, &settled.prometheus, p, deployed.prom_kind)
            .await;
        let (prometheus, original) = match &p.restored_pod {
            Some(pod) => self.judge_restored(before, pod, prometheus, p).await,
            None => (prometheus, Ok(())),
        };
        let original = original.and(self.judge_bucket(before).await);
        let mut companions = Vec::new();
        let each = self
            .companions
            .iter()
            .zip(&before.companions)
            .zip(&settled.companions)
            .zip(&disrupted.companions);
        for (((c, b), s), a) in each {
            let app = c.facts().app();
            let judged = self.judge_companion(app, b.as_ref(), s, a).await;
            companions.push((app, a, judged));
        }
        self.timings.judge = Some(phase.elapsed().as_secs_f64());
        let watcher = self.watcher.take().ok_or_else(|| Error::Cannot {
            action: format!("judge cell {}", self.cell),
            why: "its timeline watch was never started".into(),
        })?;
        let timeline = watcher.stop().await;
        self.describe_placement(&timeline, deployed, disrupted)
            .await;
        let logs = timeline::collect_logs(self.client(), &self.ns, &timeline).await;
        let by_app = findings_by_app(&timeline, &logs);
        let d = self.cell.disruption;
        let refused = p.refused;
        let reasons = |app: App| {
            let mut r = reasons_of(&by_app, app);
            // A refusal before the volume was touched is the disruption's
            // own answer (an API error), not on the timeline.
            if let (App::Prometheus, Some(why)) = (app, refused) {
                r.push(why);
            }
            if d.unblocks() {
                // The deadline this cell provokes on purpose is its
                // precondition (it stays in the findings), not its outcome:
                // the table asks whether the data reads back afterwards.
                r.retain(|r| *r != Reason::ProgressDeadlineExceeded);
            }
            r
        };
        let grafana = companions.iter().find(|(app, _, _)| *app == App::Grafana);
        let observation = Observation {
            prometheus: Observed::new(prometheus.as_ref(), reasons(App::Prometheus), true),
            grafana: match grafana {
                Some((app, a, j)) => Observed::new(j.as_ref(), reasons(*app), a.affected),
                None => self.grafana_not_run(),
            },
        };
        let grafana = grafana.and_then(|(_, _, j)| j.clone());
        Ok(Judged {
            observation,
            prometheus,
            original,
            grafana,
            timeline,
            findings: all_findings(by_app),
        })
    }

    /// In the Thanos sidecar setup, the bucket beside Prometheus's own
    /// judgement: every block the seeded pod had shipped must still be
    /// there, once, and none of its blocks may be a compacted one (the
    /// sidecar ships only level 1): `Err` says what is not so. `Ok` in
    /// other setups.
    async fn judge_bucket(&self, before: &Before) -> std::result::Result<(), String> {
        let Some(shipped) = &before.shipped else {
            return Ok(());
        };
        let pod = &before.prom_pod;
        let sidecar =
            crate::exec::PodExec::new(self.client().clone(), &self.ns, pod, crate::thanos::SIDECAR);
        let after = crate::thanos::list(&sidecar).await.map_err(|e| {
            format!(
                "the bucket could not be listed after the disruption: {}",
                chain(&e)
            )
        })?;
        let said = crate::thanos::compare(pod, shipped, &after)
            .and_then(|s| crate::thanos::no_compacted_shipped(pod, &after).map(|()| s));
        self.progress.step(format!(
            "bucket: {}",
            match &said {
                Ok(s) | Err(s) => s,
            }
        ));
        said.map(|_| ())
    }

    /// Where each replaced app's new pods landed, and whether an unblocked
    /// rollout completed, as progress lines.
    async fn describe_placement(&self, t: &Timeline, deployed: &Deployed, disrupted: &Disrupted) {
        let apps = std::iter::once((PROMETHEUS.app, &disrupted.prometheus)).chain(
            self.companions
                .iter()
                .map(|c| c.facts().app())
                .zip(&disrupted.companions),
        );
        for (app, a) in apps {
            if !(a.affected && a.replaces_pod()) {
                continue;
            }
            if let Some(line) = placement::describe(
                &t.only(app.id()),
                &a.old_uids,
                &a.old_pod,
                a.node.as_deref(),
            ) {
                self.progress.step(format!("{app} {line}"));
            }
        }
        if deployed.prom_kind == Kind::Deployment && self.cell.disruption.unblocks() {
            let state = placement::rollout_state(self.client(), &self.ns, PROMETHEUS.name).await;
            self.progress.step(format!("prometheus {state}"));
        }
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
                let pods = workload::pods(self.client(), &self.ns, &self.prometheus)
                    .await
                    .ok()?;
                pods.iter()
                    .any(|p| p.name_any() == before.prom_pod && workload::is_ready(p))
                    .then_some(before.prom_pod.as_str())?
            }
            Kind::Deployment => settled.serving_pod()?,
        };
        self.judge_prometheus_pod(before, pod, &self.prometheus, applied)
            .await
    }

    /// Judge the Prometheus in `pod` (of workload `w`) against `before`.
    async fn judge_prometheus_pod(
        &self,
        before: &Before,
        pod: &str,
        w: &Workload,
        applied: &Applied,
    ) -> Option<Judgement> {
        let result: Result<Judgement> = async {
            let (exec, fwd) = self.connect(pod, w).await?;
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
                    .step(format!("{} could not be judged: {}", w.name, chain(e)))
            })
            .ok()
    }

    /// After snapshot-restore: judge the copy on the restored claim (the
    /// cell's Prometheus judgement) and keep the original's as a check of
    /// its own: `Err` says how the original did not read back whole.
    async fn judge_restored(
        &mut self,
        before: &Before,
        restored_pod: &str,
        original: Option<Judgement>,
        applied: &Applied,
    ) -> (Option<Judgement>, std::result::Result<(), String>) {
        let restored = self
            .judge_prometheus_pod(before, restored_pod, &RESTORED_PROMETHEUS, applied)
            .await;
        let said = original.as_ref().map_or_else(
            || "not judged: no Ready pod to read from".to_owned(),
            |j| j.verdict.to_string(),
        );
        self.figures.original_after_snapshot = Some(said.clone());
        self.progress.step(format!(
            "the original Prometheus after the snapshot: {said}"
        ));
        let whole = match original.map(|j| j.verdict) {
            Some(Verdict::Survived) => Ok(()),
            _ => Err(format!(
                "the original Prometheus did not read back whole after its volume was \
                 snapshotted: {said}"
            )),
        };
        (restored, whole)
    }

    /// Judge a companion on the pod that serves after the disruption
    /// (`None`, with the reason in the progress lines, when none serves or
    /// it could not be read).
    async fn judge_companion(
        &self,
        app: App,
        before: &dyn apps::Before,
        settled: &Settled,
        applied: &Applied,
    ) -> Option<Judgement> {
        let pod = settled.serving_pod()?;
        before
            .judge(&self.cx(), pod, applied.at)
            .await
            .inspect_err(|e| {
                self.progress
                    .step(format!("{app} could not be judged: {}", chain(e)))
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
