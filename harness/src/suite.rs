//! What one tier-2 run shares between its cells: the one cluster, the one
//! NFS server on the cluster's network, the report, the images loaded once,
//! the addons installed once, and the lock that serialises node-level cells.
//!
//! libtest has no global setup or teardown (FACTS.md), so the e2e binary is
//! a libtest-compatible harness (libtest-mimic) whose `main` owns a
//! [`Suite`]: it starts the cluster when the first selected cell runs and
//! cleans everything up after the last one, keeping it on failure per
//! E2E_KEEP. The cluster guard's reaper covers a killed process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, OnceCell, RwLock};

use crate::cluster::{Cluster, ClusterGuard, Provider};
use crate::config::{Config, Images};
use crate::disrupt::{Disruption, Restartable};
use crate::error::{Error, Result};
use crate::expect::{App, Cell, expected};
use crate::host::Host;
use crate::ids::NamedId as _;
use crate::manifest;
use crate::nfs::{NfsServer, RunningNfs};
use crate::report::{CellResult, Report};
use crate::variant::Variant;

/// Why a cell is not run, when it is not. Reported as "ignored" with this
/// reason, never as a pass.
pub fn skip_reason(config: &Config, host: &Host, cell: Cell) -> Option<String> {
    if cell.provider != config.provider {
        return Some(format!(
            "provider {} (this run uses E2E_PROVIDER={})",
            cell.provider, config.provider
        ));
    }
    if !config.variants.contains(&cell.variant) {
        return Some(
            if cell.variant == Variant::CustomClass && config.storage_class.is_none() {
                "custom-class needs E2E_STORAGE_CLASS=<your class>".to_owned()
            } else {
                format!("not selected by E2E_VARIANTS ({})", ids(&config.variants))
            },
        );
    }
    if !config.disruptions.contains(&cell.disruption) {
        return Some(format!(
            "not selected by E2E_DISRUPTIONS ({})",
            ids(&config.disruptions)
        ));
    }
    let e = expected(cell.variant, cell.disruption, cell.provider);
    if let Some(why) = e.not_applicable_why() {
        return Some(format!("not applicable: {why}"));
    }
    // The nodes of a cluster the harness makes share this host's kernel.
    match (&host.no_nfs_client, cell.variant.uses_nfs(), cell.provider) {
        (Some(why), true, Provider::Kind | Provider::K3d) => Some(format!(
            "not runnable on this host: {why} (NFS cells run where the kernel has an NFS client, \
             e.g. GitHub's ubuntu runners)"
        )),
        _ => None,
    }
}

fn ids<T: crate::ids::NamedId>(v: &[T]) -> String {
    v.iter().map(|x| x.id()).collect::<Vec<_>>().join(",")
}

/// The test name of a cell: `<variant>::<disruption>` with `_` for `-`,
/// e.g. `nfs_static::pod_delete`, so `cargo test --features e2e nfs_static`
/// selects a variant and `-- pod_delete` a disruption.
pub fn test_name(cell: Cell) -> String {
    format!(
        "{}::{}",
        cell.variant.id().replace('-', "_"),
        cell.disruption.id().replace('-', "_")
    )
}

/// Where a cell goes in the run's order (smaller first): cells that
/// disrupt one pod first, the long ones before the short ones, then the
/// node-level ones. Why: a node-level cell runs alone, and while it waits
/// for the lock no new cell starts, so scattered among the others each one
/// drains every parallel slot first; gathered at the end they drain them
/// once. The provoked stuck rollouts (the 120 s deadline) start first so
/// they do not form the tail. Measured on kind 1.35 with E2E_PARALLEL=4:
/// the variant-by-variant order took 26.3 min for the 60-cell matrix.
pub fn run_order(cell: Cell) -> (bool, u8) {
    let long_first = match cell.disruption {
        Disruption::RolloutRestart => 0,
        Disruption::StuckRolloutUnblock => 1,
        Disruption::NodeStop => 2,
        _ => 3,
    };
    (cell.disruption.is_node_level(), long_first)
}

/// The run-wide state the cells share.
pub struct Suite {
    /// The run's configuration.
    pub config: Config,
    /// What the machine can do (NFS client, cgroup version, ...).
    pub host: Host,
    /// Where results go.
    pub report: Report,
    images: std::sync::OnceLock<Images>,
    cluster: OnceCell<std::result::Result<Arc<ClusterGuard>, String>>,
    nfs: OnceCell<Arc<SharedNfs>>,
    addons: Mutex<Vec<String>>,
    node_lock: RwLock<()>,
    ran: AtomicBool,
    report_notes: std::sync::Mutex<Vec<String>>,
}

/// How a cell ended, for the test runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellRun {
    /// Not run: not selected or not applicable (reported as ignored, with why).
    Skipped(String),
    /// Observed what the table expects.
    Passed,
    /// Observed something else, or could not observe; the message says what.
    Failed(String),
}

/// The run's NFS server, restartable by the nfs-restart cell while the
/// other cells read its address.
pub struct SharedNfs {
    server: Mutex<Option<RunningNfs>>,
    address: String,
    export_path: String,
}

impl SharedNfs {
    /// Share `server` between the cells of a run.
    pub fn new(server: RunningNfs) -> Self {
        Self {
            address: server.address().to_owned(),
            export_path: server.export_path().to_owned(),
            server: Mutex::new(Some(server)),
        }
    }

    /// Remove the server and its export volume, or keep them (printing how
    /// they go away later) when `keep`.
    ///
    /// # Errors
    /// As [`RunningNfs::cleanup`].
    pub async fn finish(&self, keep: bool) -> Result<()> {
        let Some(server) = self.server.lock().await.take() else {
            return Ok(());
        };
        if keep {
            eprintln!(
                "storage-e2e: keeping NFS server {} (E2E_KEEP); `make clean` removes it",
                server.name()
            );
            // Its Drop would remove it: the labels let `make clean` find it.
            std::mem::forget(server);
            return Ok(());
        }
        server.cleanup().await
    }

    /// Its IP on the cluster's Docker network (what kubelets mount).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The exported path.
    pub fn export_path(&self) -> &str {
        &self.export_path
    }

    /// Create `sub` in the export, owned by `uid:gid` with `mode`.
    ///
    /// # Errors
    /// As [`RunningNfs::create_dir`].
    pub async fn create_dir(&self, sub: &str, uid: u32, gid: u32, mode: u32) -> Result<String> {
        let guard = self.server.lock().await;
        guard
            .as_ref()
            .ok_or_else(gone)?
            .create_dir(sub, uid, gid, mode)
            .await
    }

    /// `ls -ln`-like listing of `sub` (numeric owners), for failure artifacts.
    ///
    /// # Errors
    /// As [`RunningNfs::list`].
    pub async fn listing(&self, sub: &str) -> Result<String> {
        let guard = self.server.lock().await;
        let entries = guard.as_ref().ok_or_else(gone)?.list(sub).await?;
        Ok(entries
            .iter()
            .map(|e| {
                let slash = if e.is_dir { "/" } else { "" };
                format!(
                    "{:o} {}:{} {:>10} {}{slash}",
                    e.mode, e.uid, e.gid, e.size, e.name
                )
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

fn gone() -> Error {
    Error::WaitFailed {
        what: "the NFS server".into(),
        reason: "it was already cleaned up".into(),
    }
}

#[async_trait::async_trait]
impl Restartable for SharedNfs {
    async fn restart(&self) -> Result<()> {
        let mut guard = self.server.lock().await;
        let server = guard.as_mut().ok_or_else(gone)?;
        server.restart().await.map(|_| ())
    }
}

/// How long one cell may take at most, as the outer backstop. Every step
/// inside has its own, shorter bound; this only catches what slips through.
pub const CELL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long nodes get to be Ready again after a node-level cell.
pub const NODES_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Start every worker container that is stopped, uncordon every worker,
/// and wait until all nodes are Ready. Idempotent; nothing to do on an
/// existing cluster, whose nodes the harness never touches.
///
/// # Errors
/// [`Error::Timeout`] naming the nodes not Ready, or the first command or
/// API error.
pub async fn heal_nodes(cluster: &ClusterGuard) -> Result<()> {
    if cluster.provider() == crate::cluster::Provider::Existing {
        return Ok(());
    }
    for n in cluster.workers() {
        cluster.start_node(&n.name).await?;
        crate::cluster::node::set_unschedulable(cluster.client(), &n.name, false).await?;
    }
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(cluster.client().clone());
    crate::wait::poll(
        "every node to be Ready",
        NODES_READY_TIMEOUT,
        Duration::from_secs(2),
        || async {
            match api.list(&kube::api::ListParams::default()).await {
                Err(e) => crate::wait::Check::NotYet(format!("listing nodes: {e}")),
                Ok(list) => {
                    let not_ready: Vec<String> = list
                        .items
                        .iter()
                        .filter(|n| !crate::workload::node_ready(n))
                        .map(kube::ResourceExt::name_any)
                        .collect();
                    if not_ready.is_empty() {
                        crate::wait::Check::Ready(())
                    } else {
                        crate::wait::Check::NotYet(format!("not Ready: {}", not_ready.join(", ")))
                    }
                }
            }
        },
    )
    .await
}

impl Suite {
    /// A suite for `config` on `host`; nothing is started until a cell needs it.
    pub fn new(config: Config, host: Host) -> Self {
        let report = Report::new(config.report_dir.clone());
        Self {
            config,
            host,
            report,
            images: std::sync::OnceLock::new(),
            cluster: OnceCell::new(),
            nfs: OnceCell::new(),
            addons: Mutex::new(Vec::new()),
            node_lock: RwLock::new(()),
            ran: AtomicBool::new(false),
            report_notes: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Run one cell (unless it is skipped), bounded by [`CELL_TIMEOUT`],
    /// and make sure the report has a row for it whatever happened.
    pub async fn run_cell(&self, cell: Cell) -> CellRun {
        if let Some(why) = skip_reason(&self.config, &self.host, cell) {
            return CellRun::Skipped(why);
        }
        self.ran.store(true, Ordering::SeqCst);
        // The whole cell runs under the lock: a node-level disruption would
        // otherwise hit the pods other cells are deploying or judging. The
        // backstop starts once the lock is held, so queueing does not count.
        let lock = self.disruption_lock(cell.disruption).await;
        let failed = |e: String| {
            let r = CellResult::new(cell, "unknown").error(&e);
            if let Err(re) = self.report.record(&r) {
                eprintln!("storage-e2e: could not record {cell}: {re}");
            }
            CellRun::Failed(r.failure.unwrap_or(e))
        };
        let outcome = match tokio::time::timeout(CELL_TIMEOUT, crate::cell::run(self, cell)).await {
            Err(_) => failed(format!(
                "no result within {CELL_TIMEOUT:?} (the outer backstop)"
            )),
            Ok(Err(e)) => failed(e.to_string()),
            Ok(Ok(r)) if r.passed => CellRun::Passed,
            Ok(Ok(r)) => CellRun::Failed(r.failure.unwrap_or_else(|| format!("{cell} failed"))),
        };
        if cell.disruption.is_node_level() {
            // Whatever the cell did or failed to undo (a cell cut off by the
            // backstop never reaches its own restore), the next cell gets
            // every node back: started, uncordoned and Ready.
            if let Ok(cluster) = self.cluster().await
                && let Err(e) = heal_nodes(&cluster).await
            {
                eprintln!("storage-e2e: after {cell}: {e}");
            }
        }
        drop(lock);
        outcome
    }

    /// The run's cluster, started (and its images loaded) on first use.
    ///
    /// # Errors
    /// Preflight, image, cluster creation or image loading errors.
    pub async fn cluster(&self) -> Result<Arc<ClusterGuard>> {
        // A failed start is remembered: every later cell fails at once with
        // the same message instead of running preflight again.
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
                    let clock = std::time::Instant::now();
                    let guard = Cluster::from_config(&self.config)
                        .with_host(self.host.clone())
                        .preflighted()
                        .start()
                        .await?;
                    let created = clock.elapsed();
                    // Cluster::start printed these; the report keeps them.
                    self.note(guard.notes().iter().cloned(), false);
                    let load = self.images_to_load(&images);
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
                    Ok::<_, Error>(Arc::new(guard))
                };
                start.await.map_err(|e| e.to_string())
            })
            .await;
        started.clone().map_err(|reason| Error::WaitFailed {
            what: "the run's cluster".into(),
            reason,
        })
    }

    /// The images cells deploy: the configured ones, or what
    /// [`crate::images::choose`] put in their place (decided once, before
    /// the cluster starts).
    pub fn images(&self) -> &Images {
        self.images.get().unwrap_or(&self.config.images)
    }

    /// Decide the run's app images ([`crate::images::choose`]) and build
    /// the init image if it must come from Debian. An existing cluster's
    /// nodes pull the configured images themselves: nothing to decide.
    async fn choose_images(&self) -> Result<Images> {
        if self.config.provider == Provider::Existing {
            let _ = self.images.set(self.config.images.clone());
            return Ok(self.config.images.clone());
        }
        let needs_init = self
            .images_to_load(&self.config.images)
            .contains(&self.config.images.init);
        let config = self.config.clone();
        let chosen = tokio::task::spawn_blocking(move || {
            crate::images::choose(&config, needs_init, &crate::docker::LocalDocker)
        })
        .await
        .map_err(|e| Error::WaitFailed {
            what: "the run's images".into(),
            reason: e.to_string(),
        })??;
        if chosen.build_init {
            crate::images::BUSYBOX.ensure(&chosen.images.init).await?;
        }
        self.note(chosen.notes.iter().cloned(), true);
        let _ = self.images.set(chosen.images.clone());
        Ok(chosen.images)
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
    fn images_to_load(&self, images: &Images) -> Vec<String> {
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
        for v in &self.config.variants {
            if let Ok(r) = manifest::render(&self.config.manifests_dir, *v, &params) {
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
            }
        }
        all.sort();
        all.dedup();
        all
    }

    /// The run's NFS server on the cluster's Docker network, started on first use.
    ///
    /// # Errors
    /// When the cluster has no Docker network (an existing cluster) or the server does not serve.
    pub async fn nfs(&self, cluster: &ClusterGuard) -> Result<Arc<SharedNfs>> {
        self.nfs
            .get_or_try_init(|| async {
                let network = cluster.docker_network().ok_or_else(|| Error::WaitFailed {
                    what: "an NFS server for the NFS variants".into(),
                    reason: "the cluster has no Docker network the harness knows (E2E_PROVIDER=existing): the NFS variants need a kind or k3d cluster".into(),
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
    pub async fn ensure_addon(
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
        manifest::apply::apply_all(cluster.client(), objects).await?;
        let refs: Vec<&manifest::Manifest> = objects.iter().collect();
        manifest::apply::wait_ready(cluster.client(), &refs).await?;
        done.push(addon.to_owned());
        Ok(())
    }

    /// Hold this while a cell disrupts: node-level disruptions run alone,
    /// pod-level ones together.
    pub async fn disruption_lock(&self, d: Disruption) -> DisruptionLock<'_> {
        if d.is_node_level() {
            DisruptionLock::Exclusive(self.node_lock.write().await)
        } else {
            DisruptionLock::Shared(self.node_lock.read().await)
        }
    }

    /// Tear down at the end of the run: the NFS server and the cluster
    /// (each kept per E2E_KEEP when `failed`), then write the report.
    ///
    /// # Errors
    /// The first cleanup error; the report is written regardless.
    pub async fn finish(self, failed: bool) -> Result<()> {
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
        if self.ran.load(Ordering::SeqCst) {
            if let Err(e) = self.report.write() {
                first_error.get_or_insert(e);
            }
            eprintln!(
                "storage-e2e: report in {}",
                self.report.dir().join("report.md").display()
            );
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A held [`Suite::disruption_lock`].
pub enum DisruptionLock<'a> {
    /// A node-level cell: nothing else disrupts meanwhile.
    Exclusive(tokio::sync::RwLockWriteGuard<'a, ()>),
    /// A pod-level cell.
    Shared(tokio::sync::RwLockReadGuard<'a, ()>),
}

#[cfg(test)]
mod order_tests {
    use super::*;

    #[test]
    fn pod_level_cells_run_first_stuck_rollouts_leading_node_level_last() {
        let mut cells: Vec<Cell> = Cell::all()
            .filter(|c| c.provider == Provider::Kind)
            .collect();
        cells.sort_by_key(|c| run_order(*c));
        let first_node_level = cells
            .iter()
            .position(|c| c.disruption.is_node_level())
            .unwrap_or(cells.len());
        assert!(
            cells[first_node_level..]
                .iter()
                .all(|c| c.disruption.is_node_level())
        );
        assert!(
            cells[..first_node_level]
                .iter()
                .all(|c| !c.disruption.is_node_level())
        );
        assert_eq!(cells[0].disruption, Disruption::RolloutRestart);
        assert_eq!(cells[first_node_level].disruption, Disruption::NodeStop);
        // A stable sort: within a group, the table's variant order stays.
        assert_eq!(cells[0].variant, Variant::EmptyDir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Provider;

    /// A host with an NFS client, so only the configuration decides.
    fn host() -> Host {
        Host::for_tests(false, true)
    }

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_pairs(vars).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn test_names_are_variant_then_disruption() {
        let c = Cell::new(
            Variant::NfsStatic,
            Disruption::PodForceDelete,
            Provider::Kind,
        );
        assert_eq!(test_name(c), "nfs_static::pod_force_delete");
    }

    #[test]
    fn skipped_cells_say_why() {
        let c = config(&[
            ("E2E_VARIANTS", "empty-dir"),
            ("E2E_DISRUPTIONS", "pod-delete"),
        ]);
        let cell = |v, d| Cell::new(v, d, Provider::Kind);
        assert_eq!(
            skip_reason(&c, &host(), cell(Variant::EmptyDir, Disruption::PodDelete)),
            None
        );
        assert_eq!(
            skip_reason(&c, &host(), cell(Variant::HostPath, Disruption::PodDelete)).as_deref(),
            Some("not selected by E2E_VARIANTS (empty-dir)")
        );
        assert_eq!(
            skip_reason(&c, &host(), cell(Variant::EmptyDir, Disruption::NodeStop)).as_deref(),
            Some("not selected by E2E_DISRUPTIONS (pod-delete)")
        );
        assert_eq!(
            skip_reason(
                &c,
                &host(),
                Cell::new(Variant::EmptyDir, Disruption::PodDelete, Provider::K3d)
            )
            .as_deref(),
            Some("provider k3d (this run uses E2E_PROVIDER=kind)")
        );
        let all = config(&[]);
        assert_eq!(
            skip_reason(
                &all,
                &host(),
                cell(Variant::CustomClass, Disruption::PodDelete)
            )
            .as_deref(),
            Some("custom-class needs E2E_STORAGE_CLASS=<your class>")
        );
        let na = skip_reason(
            &all,
            &host(),
            cell(Variant::EmptyDir, Disruption::NfsRestart),
        )
        .unwrap_or_default();
        assert!(na.starts_with("not applicable: "), "{na}");
    }

    #[test]
    fn nfs_cells_are_not_runnable_where_the_kernel_has_no_nfs_client() {
        let c = config(&[]);
        let no_nfs = Host {
            no_nfs_client: Some("the host kernel (6.18) has no NFS client".into()),
            ..host()
        };
        let why = skip_reason(
            &c,
            &no_nfs,
            Cell::new(Variant::NfsStatic, Disruption::PodDelete, Provider::Kind),
        );
        assert_eq!(
            why.as_deref(),
            Some(
                "not runnable on this host: the host kernel (6.18) has no NFS client (NFS cells run \
                 where the kernel has an NFS client, e.g. GitHub's ubuntu runners)"
            )
        );
        for v in [Variant::EmptyDir, Variant::DefaultClass] {
            let cell = Cell::new(v, Disruption::PodDelete, Provider::Kind);
            assert_eq!(skip_reason(&c, &no_nfs, cell), None, "{cell}");
        }
        // An existing cluster's nodes are not this host (its NFS cells are
        // not applicable for another reason: no harness NFS server there).
        let kc = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        let existing = config(&[
            ("E2E_PROVIDER", "existing"),
            ("E2E_KUBECONFIG", &kc.path().to_string_lossy()),
        ]);
        let cell = Cell::new(
            Variant::NfsStatic,
            Disruption::PodDelete,
            Provider::Existing,
        );
        let why = skip_reason(&existing, &no_nfs, cell).unwrap_or_default();
        assert!(!why.contains("this host"), "{why}");
    }

    /// Every applicable cell of the default run is selected: nothing the
    /// table expects something of is silently left out.
    #[test]
    fn the_default_run_selects_every_applicable_cell_but_custom_class() {
        let c = config(&[]);
        for cell in Cell::all().filter(|c| c.provider == Provider::Kind) {
            let e = expected(cell.variant, cell.disruption, cell.provider);
            let skipped = skip_reason(&c, &host(), cell);
            match (e.is_applicable(), cell.variant) {
                (_, Variant::CustomClass) => assert!(skipped.is_some()),
                (true, _) => assert_eq!(skipped, None, "{cell}"),
                (false, _) => assert!(
                    skipped.is_some_and(|s| s.starts_with("not applicable")),
                    "{cell}"
                ),
            }
        }
    }
}
