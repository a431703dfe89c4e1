//! Deploying a cell's variant and seeding its apps before the disruption.

use kube::Client;

use super::pipeline::{DEPLOY_TIMEOUT, Pipeline};
use crate::apps::{self, Companion};
use crate::error::Result;
use crate::exec::PodExec;
use crate::forward::PortForward;
use crate::manifest::{self, Params};
use crate::prometheus::{DATA_DIR, DENSE_METRIC, History, PrometheusProbe, WalMark, prestart};
use crate::vocab::{Disruption, Setup, Variant};
use crate::workload::{self, Kind, PROMETHEUS, Workload};

/// What the deploy stage left running, for the stages after it.
pub(super) struct Deployed {
    /// How Prometheus is run (a StatefulSet keeps its pod's name).
    pub(super) prom_kind: Kind,
    pub(super) prom_replicas: usize,
    /// The history the seed ConfigMap holds, fixed at deploy time
    /// (History::new depends on the clock).
    pub(super) history: History,
}

/// What a cell seeded and saw before the disruption, per app.
pub(super) struct Before {
    /// The Prometheus pod that was seeded (a StatefulSet keeps the name).
    pub(super) prom_pod: String,
    pub(super) prometheus: crate::prometheus::Snapshot,
    /// Each companion as seeded, in the order of `Pipeline::companions`.
    pub(super) companions: Vec<Box<dyn apps::Before>>,
    /// The Thanos sidecar setup: the bucket once the seeded blocks were
    /// shipped (`None` in the other setups).
    pub(super) shipped: Option<Vec<crate::thanos::ShippedBlock>>,
}

impl Pipeline<'_> {
    /// Prepare storage outside the cluster, render the variant, apply it
    /// with its seed, and wait until its apps are Ready.
    pub(super) async fn deploy(&mut self) -> Result<Deployed> {
        let cfg = &self.res.config;
        let mut images = self.res.images().clone();
        if self.cell.disruption == Disruption::ImageUpgrade {
            for app in apps::ALL {
                app.start_on_previous(&mut images);
            }
        }
        let mut params = Params::new(&self.ns, images);
        if let Some(class) = &cfg.storage_class {
            params = params.with_storage_class(class);
        }
        self.node = self.pick_node().await?;
        if let Some(node) = &self.node {
            params = params.with_node(node);
        }
        if self.cell.variant.uses_nfs() {
            let nfs = self.res.nfs(self.cluster).await?;
            if self.cell.variant == Variant::NfsStatic {
                // The static PVs point at NFS_PATH/<namespace>/{prometheus,grafana}.
                for app in apps::ALL.iter().map(|a| a.app()) {
                    nfs.create_dir(&format!("{}/{app}", self.ns), 0, 0, 0o777)
                        .await?;
                }
            }
            params = params.with_nfs(nfs.address(), nfs.export_path());
            self.nfs = Some(nfs);
        }
        self.companions = self.companions(&params);
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
            self.res
                .ensure_addon(self.cluster, &rendered, addon)
                .await?;
        }
        let mut objects = rendered.objects_for(&cfg.apps);
        if let Some(pool) = &self.pool {
            self.progress.step(format!(
                "on node pool {} ({}): its workers are this cell's alone",
                pool.name,
                pool.nodes.join(", ")
            ));
            manifest::confine(&mut objects, &pool.name);
        }
        let history = History::new(self.ns.clone());
        self.with_seed(&mut objects, &history).await?;
        self.progress
            .step(format!("applying {} objects", objects.len()));
        manifest::apply::apply_all(self.client(), &objects).await?;
        self.applied = objects;
        let replicas = usize::try_from(rendered.prometheus().replicas()).unwrap_or(1);
        self.wait_ready(replicas).await?;
        Ok(Deployed {
            prom_kind: rendered.prometheus().kind(),
            prom_replicas: replicas,
            history,
        })
    }

    /// The apps this cell runs beside Prometheus: where a new companion
    /// app is added (crate::apps).
    fn companions(&self, params: &Params) -> Vec<Box<dyn Companion>> {
        let mut out: Vec<Box<dyn Companion>> = Vec::new();
        if self.runs_grafana() {
            out.push(Box::new(apps::GrafanaCompanion {
                password: params.grafana_password.clone(),
            }));
        }
        out
    }

    /// The worker node-local data is pinned to: one that can take pods
    /// now, spread over the cell's workers (its node pool's, else those
    /// outside every pool) by the namespace's name.
    async fn pick_node(&self) -> Result<Option<String>> {
        let schedulable = crate::cluster::schedulable_nodes(self.client()).await?;
        let candidates: Vec<String> = match &self.pool {
            Some(p) => p.nodes.clone(),
            None => self
                .cluster
                .shared_workers()
                .iter()
                .map(|n| n.name.clone())
                .collect(),
        };
        let workers: Vec<String> = candidates
            .into_iter()
            .filter(|n| schedulable.contains(n))
            .collect();
        Ok(workers
            .get(hash(&self.ns) % workers.len().max(1))
            .cloned()
            .or_else(|| schedulable.first().cloned()))
    }

    /// Wait until Prometheus's `replicas` and each companion are Ready.
    async fn wait_ready(&mut self, replicas: usize) -> Result<()> {
        let (client, ns) = (self.client(), self.ns.as_str());
        let companions = futures::future::try_join_all(self.companions.iter().map(|c| {
            let w = c.facts().workload();
            async move { workload::wait_ready(client, ns, &w, 1, &[], DEPLOY_TIMEOUT).await }
        }));
        let names: Vec<String> = std::iter::once("prometheus".to_owned())
            .chain(self.companions.iter().map(|c| c.facts().app().to_string()))
            .collect();
        self.progress.step(format!(
            "waiting for {} to be Ready{}",
            names.join(" and "),
            match self.not_run_apps() {
                n if n.is_empty() => String::new(),
                n => format!(" ({})", n.trim_start_matches("; ")),
            }
        ));
        let waited = std::time::Instant::now();
        let both = async {
            tokio::join!(
                workload::wait_ready(
                    self.client(),
                    &self.ns,
                    &self.prometheus,
                    replicas,
                    &[],
                    DEPLOY_TIMEOUT
                ),
                companions,
            )
        };
        // The operator's refusal of the resource, said at once rather than
        // as a wait for pods that will never come.
        let refused = async {
            match self.cell.variant.setup() {
                Setup::Operator => {
                    crate::operator::rejected(self.client(), &self.ns, DEPLOY_TIMEOUT).await
                }
                _ => std::future::pending().await,
            }
        };
        let waits = tokio::select! {
            w = both => w,
            said = refused => {
                return Err(crate::operator::rejection_error(
                    &self.ns,
                    &self.cell.variant.to_string(),
                    &said,
                ));
            }
        };
        self.timings.waits = Some(waited.elapsed().as_secs_f64());
        let (p, c) = waits;
        p?;
        c.map(|_| ())
    }

    /// Make Prometheus start on its seeded history: create the seed
    /// ConfigMap and add the init container that writes it as blocks
    /// (seed::prestart) to the Prometheus workload (the plain setup's
    /// Deployment or StatefulSet named `prometheus`, or the operator
    /// setup's resource of that name).
    pub(super) async fn with_seed(
        &self,
        objects: &mut [manifest::Manifest],
        history: &History,
    ) -> Result<()> {
        let setup = self.cell.variant.setup();
        let target = objects
            .iter_mut()
            .filter(|m| m.object.name() == crate::manifest::PROMETHEUS)
            .find_map(|m| match (&mut m.object, setup) {
                (manifest::Object::Prometheus(p), Setup::Operator) => Some(Seeded::Resource(p)),
                (o, Setup::Plain | Setup::Thanos)
                    if matches!(o.kind(), "Deployment" | "StatefulSet") =>
                {
                    o.pod_spec_mut().map(Seeded::Pod)
                }
                _ => None,
            })
            .ok_or_else(|| crate::Error::Cannot {
                action: format!("seed Prometheus in the {} variant", self.cell.variant),
                why: format!(
                    "its manifests define no {} named \"prometheus\" (the harness finds \
                     Prometheus by that name: manifests/README.md)",
                    match setup {
                        Setup::Plain | Setup::Thanos => "Deployment or StatefulSet",
                        Setup::Operator => "Prometheus resource",
                    }
                ),
            })?;
        match target {
            Seeded::Pod(spec) => {
                prestart::add_init_container(spec, PROMETHEUS.container, DATA_DIR)?
            }
            Seeded::Resource(p) => crate::operator::add_init_container(p)?,
        }
        prestart::create_configmap(self.client(), &self.ns, history).await
    }

    /// Exec into `pod`'s main container and forward its HTTP port to
    /// 127.0.0.1: how every probe reaches a pod.
    pub(super) async fn connect(&self, pod: &str, w: &Workload) -> Result<(PodExec, PortForward)> {
        self.cx().connect(pod, w).await
    }

    /// Seed Prometheus and each companion and snapshot them before the
    /// disruption.
    pub(super) async fn seed(&self, deployed: &Deployed) -> Result<Before> {
        let prom_pod = ready_pod(self.client(), &self.ns, &self.prometheus).await?;
        let (exec, fwd) = self.connect(&prom_pod, &self.prometheus).await?;
        let probe = PrometheusProbe::new(fwd.url(), &exec);
        let history = &deployed.history;
        let seeded = prestart::confirm(self.client(), &self.ns, &prom_pod, &probe, history).await?;
        prestart::delete_configmap(self.client(), &self.ns).await?;
        self.progress
            .step(format!("{seeded} (written before start)"));
        // The head: minutes of samples written through the remote-write
        // receiver (no wait for a first self-scrape), brought up to the
        // disruption again right before it (top_up_head).
        let prometheus = probe.snapshot_dense(history).await?;
        self.progress.step(format!(
            "head: {} of {DENSE_METRIC}",
            head_counted(&prometheus)
        ));
        if deployed.prom_replicas > 1 {
            self.progress.step(format!(
                "{} Prometheus replicas: the first one is seeded and judged",
                deployed.prom_replicas
            ));
        }

        let shipped = self.wait_shipped(&prom_pod, &prometheus).await?;
        let cx = self.cx();
        let mut companions = Vec::new();
        for c in &self.companions {
            let pod = ready_pod(self.client(), &self.ns, &c.facts().workload()).await?;
            companions.push(c.seed(&cx, &pod).await?);
        }
        Ok(Before {
            prom_pod,
            prometheus,
            companions,
            shipped,
        })
    }

    /// In the Thanos sidecar setup, wait until the sidecar of the seeded
    /// pod has shipped the seeded blocks, and keep the bucket as it was.
    /// thanos-compacting first waits for Prometheus to compact them and
    /// only then starts the store, so the sidecar ships what compaction
    /// left at level 1; the hours only on the pod's volume are said.
    async fn wait_shipped(
        &self,
        pod: &str,
        seeded: &crate::prometheus::Snapshot,
    ) -> Result<Option<Vec<crate::thanos::ShippedBlock>>> {
        if self.cell.variant.setup() != Setup::Thanos {
            return Ok(None);
        }
        let compacted = match self.cell.variant {
            Variant::ThanosCompacting => Some(self.compact_then_start_store(pod).await?),
            _ => None,
        };
        let local = compacted.as_deref().unwrap_or(&seeded.blocks);
        let sidecar = PodExec::new(self.client().clone(), &self.ns, pod, crate::thanos::SIDECAR);
        self.progress.step(format!(
            "waiting for the Thanos sidecar of {pod} to ship the seeded blocks of level 1"
        ));
        let bucket = crate::thanos::wait_shipped(&sidecar, pod, local).await?;
        let mine = bucket.iter().filter(|b| b.replica == pod).count();
        self.progress.step(format!(
            "bucket: {mine} blocks shipped by {pod} ({} in all)",
            bucket.len()
        ));
        if let Some(local) = &compacted {
            self.progress
                .step(crate::thanos::only_local(pod, local, &bucket));
        }
        Ok(Some(bucket))
    }

    /// thanos-compacting: the store was deployed stopped; wait until
    /// Prometheus has compacted the seeded blocks, then start the store.
    /// Returns the local blocks as compaction left them.
    async fn compact_then_start_store(
        &self,
        pod: &str,
    ) -> Result<Vec<crate::prometheus::BlockInfo>> {
        let (exec, fwd) = self.connect(pod, &self.prometheus).await?;
        let probe = PrometheusProbe::new(fwd.url(), &exec);
        self.progress.step(
            "the S3 store is stopped (replicas 0): waiting for Prometheus to compact the seeded \
             blocks",
        );
        let local = crate::thanos::wait_compacted(&probe).await?;
        self.progress.step(format!(
            "Prometheus compacted: {}",
            crate::thanos::levels(&local)
        ));
        let store = crate::thanos::STORE;
        crate::disrupt::scale(&self.target(store, Kind::Deployment, None, None), 1).await?;
        workload::wait_ready(self.client(), &self.ns, &store, 1, &[], DEPLOY_TIMEOUT).await?;
        self.progress.step("started the S3 store");
        Ok(local)
    }

    /// Bring the before snapshot's head up to now, right before the
    /// disruption, so the window the judgement counts ends within a second
    /// of it: a lost WAL tail is counted, not missed.
    pub(super) async fn top_up_head(&self, before: &mut Before) -> Result<()> {
        let (exec, fwd) = self.connect(&before.prom_pod, &self.prometheus).await?;
        let probe = PrometheusProbe::new(fwd.url(), &exec);
        let written = probe.top_up_head(&mut before.prometheus).await?;
        self.progress.step(format!(
            "head: {written} more samples; judged: {}",
            head_counted(&before.prometheus)
        ));
        Ok(())
    }

    /// Where the seeded Prometheus's WAL ends now (wal-tail-torn's mark).
    pub(super) async fn wal_mark(&self, before: &Before) -> Result<WalMark> {
        let (exec, fwd) = self.connect(&before.prom_pod, &self.prometheus).await?;
        let mark = PrometheusProbe::new(fwd.url(), &exec).wal_mark().await?;
        self.progress
            .step(format!("WAL marked before the top-up: {mark}"));
        Ok(mark)
    }
}

/// Where the seed's init container goes.
enum Seeded<'a> {
    /// A pod template of the project's manifests.
    Pod(&'a mut k8s_openapi::api::core::v1::PodSpec),
    /// prometheus-operator's resource.
    Resource(&'a mut crate::manifest::prometheus_resource::PrometheusResource),
}

/// `N samples over [from, to] ms (span)`: what a snapshot's head count covers.
fn head_counted(s: &crate::prometheus::Snapshot) -> String {
    match &s.head.count {
        Some(c) => format!(
            "{} over {}",
            c.samples
                .map_or_else(|| "no count".to_owned(), |n| format!("{n} samples")),
            c.window()
        ),
        None => "no head count".to_owned(),
    }
}

fn hash(s: &str) -> usize {
    s.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    })
}

/// A Ready pod of `w` in `ns`, to seed: waited for, not listed once (see
/// [`workload::wait_any_ready`]: readiness can flap right after a start).
async fn ready_pod(client: &Client, ns: &str, w: &Workload) -> Result<String> {
    workload::wait_any_ready(client, ns, w, READY_AGAIN_TIMEOUT).await
}

/// How long the seed waits for a pod that a wait just saw Ready to be
/// Ready again (a flap lasts about a second; 60 s leaves room for a slow
/// probe on a busy machine).
const READY_AGAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
