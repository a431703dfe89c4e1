//! What the cells of a tier-2 run share, started lazily on first use: the
//! one cluster (with its images loaded), the one NFS server on the
//! cluster's network, the addons installed once, the report and its
//! run-level notes. The suite owns one; each cell borrows it.

use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use crate::cluster::{Cluster, ClusterGuard};
use crate::config::{Config, Images};
use crate::error::{Error, Result, chain};
use crate::host::Host;
use crate::manifest;
use crate::nfs::{NfsServer, SharedNfs};
use crate::report::Report;
use crate::vocab::{App, Disruption, Provider, Variant};

/// The run-wide resources the cells share.
pub struct Resources {
    /// The run's configuration.
    pub(crate) config: Config,
    /// What the machine can do (NFS client, cgroup version, ...).
    pub(crate) host: Host,
    /// Where results go.
    pub report: Report,
    images: std::sync::OnceLock<Images>,
    cluster: OnceCell<std::result::Result<Arc<ClusterGuard>, Arc<Error>>>,
    nfs: OnceCell<Arc<SharedNfs>>,
    addons: Mutex<Vec<String>>,
    /// Where prometheus-operator's CRDs are, once its images are made sure of.
    operator_crds: std::sync::OnceLock<std::path::PathBuf>,
    report_notes: std::sync::Mutex<Vec<String>>,
    /// When the cluster was up with its images loaded: the cells' time
    /// starts there ([`Self::finish`] notes how long they ran).
    /// With the machine's CPU time then, for the share of it the cells kept busy.
    cells_from: std::sync::OnceLock<(std::time::Instant, Option<crate::host::CpuTicks>)>,
}

impl Resources {
    /// Resources for `config` on `host`; nothing is started until a cell needs it.
    pub(crate) fn new(config: Config, host: Host) -> Self {
        let report = Report::new(config.report_dir.clone());
        Self {
            config,
            host,
            report,
            images: std::sync::OnceLock::new(),
            cluster: OnceCell::new(),
            nfs: OnceCell::new(),
            addons: Mutex::new(Vec::new()),
            operator_crds: std::sync::OnceLock::new(),
            report_notes: std::sync::Mutex::new(Vec::new()),
            cells_from: std::sync::OnceLock::new(),
        }
    }

    /// The error the run's cluster failed to start with, if it did: the
    /// run's own failure, so its exit code must be non-zero whatever the
    /// cells were marked.
    pub fn start_failure(&self) -> Option<Arc<Error>> {
        self.cluster.get().and_then(|r| r.as_ref().err().cloned())
    }

    /// The run's cluster, started (and its images loaded) on first use.
    ///
    /// # Errors
    /// [`Error::RunFailed`] with the preflight, image, cluster creation or
    /// image loading error as its source.
    pub(crate) async fn cluster(&self) -> Result<Arc<ClusterGuard>> {
        // A failed start is remembered, its error kept: every later cell
        // gets it at once instead of running preflight again.
        let started = self
            .cluster
            .get_or_init(|| async {
                let start = async {
                    // Tools first (the clearest message when Docker or kind
                    // is missing), then the images, then the cluster.
                    let path = std::env::var("PATH").unwrap_or_default();
                    for w in crate::cluster::preflight(&self.config, &path)?.warnings() {
                        eprintln!("storage-e2e preflight: {w}");
                    }
                    let images = self.choose_images().await?;
                    if self.needs_attachable_csi() {
                        crate::images::ensure_csi(&images, &crate::docker::LocalDocker).await?;
                    }
                    if self.needs_setup(crate::vocab::Setup::Thanos) {
                        crate::app_images::ensure("--thanos", "Thanos").await?;
                        crate::app_images::ensure("--s3", "the S3 store").await?;
                    }
                    if self.needs_setup(crate::vocab::Setup::Operator) {
                        let dir = crate::operator::crds_dir().await?;
                        let _ = self.operator_crds.set(dir);
                    }
                    let load = self.images_to_load(&images)?;
                    let clock = std::time::Instant::now();
                    let guard = Cluster::from_config(&self.config)
                        .with_host(self.host.clone())
                        .with_preload(load.clone())
                        .preflighted()
                        .start()
                        .await?;
                    // Making a node image with the run's images is a
                    // one-off (reused after), not the cluster's start-up.
                    let created = clock.elapsed().saturating_sub(guard.node_image_time());
                    // Cluster::start printed these; the report keeps them.
                    self.note(guard.notes().iter().cloned(), false);
                    let refs: Vec<&str> = load.iter().map(String::as_str).collect();
                    let clock = std::time::Instant::now();
                    guard.load_images(&refs).await?;
                    if let (Some(class), true) = (
                        &self.config.storage_class,
                        self.config.variants.contains(&Variant::CustomClass),
                    ) {
                        crate::storage_class::verify(guard.client(), class, self.config.provider)
                            .await?;
                    }
                    let timing = if self.config.provider == Provider::Existing {
                        format!(
                            "timing: connected to the existing cluster in {:.1}s (its nodes pull the images)",
                            created.as_secs_f64()
                        )
                    } else {
                        format!(
                            "timing: cluster up with every node Ready in {:.1}s; {} images loaded \
                             into its nodes in {:.1}s",
                            created.as_secs_f64(),
                            refs.len(),
                            clock.elapsed().as_secs_f64()
                        )
                    };
                    self.note(std::iter::once(timing), true);
                    let _ = self
                        .cells_from
                        .set((std::time::Instant::now(), crate::host::cpu_ticks()));
                    Ok::<_, Error>(Arc::new(guard))
                };
                start.await.map_err(|e| {
                    // Kept for the report once; the e2e binary prints it
                    // once at the end and the cells are marked not run.
                    let line = format!("the run's cluster did not start: {}", chain(&e));
                    self.note(std::iter::once(line), false);
                    Arc::new(e)
                })
            })
            .await;
        started
            .clone()
            .map_err(|source| Error::RunFailed { source })
    }

    /// The images cells deploy: the configured ones, or what
    /// [`crate::images::choose`] put in their place (decided once, before
    /// the cluster starts).
    pub(crate) fn images(&self) -> &Images {
        self.images.get().unwrap_or(&self.config.images)
    }

    /// Decide the run's app images ([`crate::images::choose`]) and build
    /// the init image if it must come from Debian. An existing cluster's
    /// nodes pull the configured images themselves: nothing to decide.
    async fn choose_images(&self) -> Result<Images> {
        if self.config.provider == Provider::Existing {
            // Cannot be set already: this runs once, inside the cluster's one-time start.
            let _ = self.images.set(self.config.images.clone());
            return Ok(self.config.images.clone());
        }
        let needs_init = self
            .images_to_load(&self.config.images)?
            .contains(&self.config.images.init);
        let config = self.config.clone();
        let chosen = tokio::task::spawn_blocking(move || {
            crate::images::choose(&config, needs_init, &crate::docker::LocalDocker)
        })
        .await
        .map_err(|e| Error::Cannot {
            action: "decide the run's images".into(),
            why: e.to_string(),
        })??;
        if chosen.build_init {
            crate::images::BUSYBOX.ensure(&chosen.images.init).await?;
        }
        self.note(chosen.notes.iter().cloned(), true);
        // Cannot be set already: this runs once, inside the cluster's one-time start.
        let _ = self.images.set(chosen.images.clone());
        Ok(chosen.images)
    }

    /// Whether a selected variant this run can run needs the attachable
    /// CSI driver's images (only on clusters the harness creates: the
    /// table has csi-rwo not applicable elsewhere).
    fn needs_attachable_csi(&self) -> bool {
        self.config.provider != Provider::Existing
            && self.config.variants.iter().any(|v| {
                v.uses_attachable_csi() && self.host.cannot_run(*v, self.config.provider).is_none()
            })
    }

    /// Whether a selected variant this run can run is of `setup` (its
    /// images, and the operator's CRDs, are then made sure of before the
    /// cluster starts).
    fn needs_setup(&self, setup: crate::vocab::Setup) -> bool {
        self.config
            .variants
            .iter()
            .any(|v| v.setup() == setup && self.host.cannot_run(*v, self.config.provider).is_none())
    }

    /// Keep run-level notes for the report (and print them when `print`).
    fn note(&self, lines: impl Iterator<Item = String>, print: bool) {
        let mut kept = self
            .report_notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for line in lines {
            if print {
                eprintln!("storage-e2e: {line}");
            }
            kept.push(line);
        }
        if let Err(e) = self.report.record_notes(&kept) {
            eprintln!("storage-e2e: could not record the run notes: {e}");
        }
    }

    /// Every image a run loads into its nodes: what the selected variants
    /// render to for the apps it runs (addons included), plus the previous
    /// releases when image-upgrade is selected.
    ///
    /// # Errors
    /// When a selected variant's manifests do not render: its cells could
    /// not run either, and the error names the file.
    fn images_to_load(&self, images: &Images) -> Result<Vec<String>> {
        let apps = &self.config.apps;
        let mut all = Vec::new();
        if self.config.disruptions.contains(&Disruption::ImageUpgrade) {
            all.push(images.prometheus_previous.clone());
            if apps.contains(&App::Grafana) {
                all.push(images.grafana_previous.clone());
            }
        }
        let mut params = manifest::Params::placeholder();
        params.images = images.clone();
        // Variants this host cannot run (NFS without an NFS client) are
        // skipped cell by cell; their images (csi-driver-nfs) are not
        // loaded, so a machine without them can still run the others.
        let runnable = self
            .config
            .variants
            .iter()
            .filter(|v| self.host.cannot_run(**v, self.config.provider).is_none());
        for v in runnable {
            let r = manifest::render(&self.config.manifests_dir, *v, &params)?;
            let objects = r.objects_for(apps);
            let addons = r.addons().iter().flat_map(|(_, m)| m.iter());
            for m in objects.iter().chain(addons) {
                let Some(spec) = m.object.pod_spec() else {
                    continue;
                };
                let containers = spec
                    .init_containers
                    .iter()
                    .flatten()
                    .chain(&spec.containers);
                all.extend(containers.filter_map(|c| c.image.clone()));
            }
            // The operator names these in its own pods: its resource's
            // Prometheus image and the config reloader it adds beside it.
            for m in &objects {
                if let manifest::Object::Prometheus(p) = &m.object {
                    all.extend(p.spec.image.clone());
                    all.push(images.operator_reloader.clone());
                }
            }
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// The run's NFS server on the cluster's Docker network, started on first use.
    ///
    /// # Errors
    /// When the cluster has no Docker network (an existing cluster) or the server does not serve.
    pub(crate) async fn nfs(&self, cluster: &ClusterGuard) -> Result<Arc<SharedNfs>> {
        self.nfs
            .get_or_try_init(|| async {
                let network = cluster.docker_network().ok_or_else(|| Error::NotSupported {
                    what: "an NFS server for the NFS variants".into(),
                    why: "the cluster has no Docker network the harness knows (E2E_PROVIDER=existing): the NFS variants need a kind or k3d cluster".into(),
                })?;
                let server = NfsServer::new()
                    .with_image(self.images().nfs.clone())
                    .with_network(network)
                    .with_keep(self.config.keep)
                    .start()
                    .await?;
                Ok(Arc::new(SharedNfs::new(server)))
            })
            .await
            .cloned()
    }

    /// Install an addon (e.g. csi-driver-nfs) once per run, from the
    /// objects `rendered` carries for it, and wait until it is ready.
    ///
    /// # Errors
    /// When applying its manifests or waiting for it fails.
    pub(crate) async fn ensure_addon(
        &self,
        cluster: &ClusterGuard,
        rendered: &manifest::Rendered,
        addon: &str,
    ) -> Result<()> {
        let mut done = self.addons.lock().await;
        if done.iter().any(|a| a == addon) {
            return Ok(());
        }
        let Some((_, objects)) = rendered.addons().iter().find(|(name, _)| name == addon) else {
            return Ok(());
        };
        if addon == manifest::OPERATOR_ADDON {
            // The operator's CRDs first: they are its module's, not the
            // project's manifests (operator::crds).
            let dir = self.operator_crds.get().ok_or_else(|| Error::Cannot {
                action: "install prometheus-operator".into(),
                why: "its CRDs were not made sure of before the cluster started (a harness bug)"
                    .into(),
            })?;
            let crds = crate::operator::load_crds(dir)?;
            manifest::apply::install_addon(cluster.client(), &crds).await?;
        }
        manifest::apply::install_addon(cluster.client(), objects).await?;
        done.push(addon.to_owned());
        Ok(())
    }

    /// Tear down the NFS server and the cluster, each kept per E2E_KEEP
    /// when `failed`.
    ///
    /// # Errors
    /// The first cleanup error.
    pub(crate) async fn finish(self, failed: bool) -> Result<()> {
        if let Some((from, ticks)) = self.cells_from.get() {
            let cpu = ticks
                .zip(crate::host::cpu_ticks())
                .and_then(|(a, b)| crate::host::cpu_share(a, b));
            let line = crate::report::cells_ran_note(from.elapsed(), cpu);
            self.note(std::iter::once(line), true);
        }
        let mut first_error = None;
        if let Some(nfs) = self.nfs.get()
            && let Err(e) = nfs.finish(self.config.keep.keep(failed)).await
        {
            first_error.get_or_insert(e);
        }
        if let Some(Ok(cluster)) = self.cluster.into_inner() {
            match Arc::try_unwrap(cluster) {
                Ok(guard) => {
                    if failed {
                        guard.mark_failed();
                    }
                    if let Err(e) = guard.cleanup().await {
                        first_error.get_or_insert(e);
                    }
                }
                Err(_) => eprintln!(
                    "storage-e2e: a cell still holds the cluster; its reaper deletes it at exit"
                ),
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images_for(host: Host) -> Vec<String> {
        let config = Config::from_pairs(&[("E2E_VARIANTS", "empty-dir,nfs-dynamic")])
            .unwrap_or_else(|e| panic!("{e}"));
        let res = Resources::new(config, host);
        res.images_to_load(&res.config.images.clone())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// NFS cells are skipped where the kernel has no NFS client; the images
    /// only they use (csi-driver-nfs) are then not loaded either, so a
    /// machine that lacks them can still run the other cells.
    #[test]
    fn images_of_variants_the_host_cannot_run_are_not_loaded() {
        let csi = |images: &[String]| images.iter().any(|i| i.contains("csi"));
        assert!(csi(&images_for(Host::for_tests(false, true))));
        let no_nfs = Host {
            no_nfs_client: Some("no NFS client in this kernel".into()),
            ..Host::for_tests(false, true)
        };
        let images = images_for(no_nfs);
        assert!(!csi(&images), "{images:?}");
        assert!(
            images.iter().any(|i| i.contains("prometheus")),
            "{images:?}"
        );
    }
}
