//! The run's one cluster, shared by every test of a test binary, and the
//! [`ClusterLease`] each test holds on it.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::cluster::guard::{create_namespace, keep_word, take_namespaces};
use crate::cluster::{Cluster, ClusterInfo, delete_namespaces_cmd, kubeconfig, node, reaper};
use crate::config::{Config, Keep};
use crate::error::{Error, Result};

/// The cluster shared by every test of a test binary: lives in a static,
/// so it is never dropped; the reaper deletes it when the process ends.
#[derive(Debug)]
pub(super) struct SharedCluster {
    pub(super) info: ClusterInfo,
    pub(super) keep: Keep,
    pub(super) leases: Option<PathBuf>,
    pub(super) temp_dir: Option<PathBuf>,
    /// Held for the life of the process: its pipe closing is the signal.
    #[allow(dead_code)]
    pub(super) reaper: Mutex<Option<reaper::Reaper>>,
}

static SHARED: tokio::sync::OnceCell<std::result::Result<SharedCluster, String>> =
    tokio::sync::OnceCell::const_new();
static LEASE_IDS: AtomicU64 = AtomicU64::new(0);
static KEEP_NOTICE: AtomicBool = AtomicBool::new(false);

/// The run's one cluster, configured from the environment
/// ([`Config::from_env`]): started by the first test that asks, shared by
/// all tests of the binary, deleted when the test process ends (kept per
/// E2E_KEEP; see [`reaper`]). Each test gets its own [`ClusterLease`] with a
/// client made on the test's own runtime.
///
/// Sharing is per test process: under `cargo test` that is the whole
/// binary; a runner that starts one process per test (nextest) gets one
/// cluster per test.
///
/// # Errors
/// The configuration or start error; once a start failed, every later
/// caller gets the same message without trying again.
pub async fn shared_cluster() -> Result<ClusterLease> {
    shared_cluster_with(&Config::from_env()?).await
}

/// [`shared_cluster`] with an explicit configuration (used by the first
/// caller only; later callers share what it started).
///
/// # Errors
/// As [`shared_cluster`].
pub async fn shared_cluster_with(config: &Config) -> Result<ClusterLease> {
    let shared = SHARED
        .get_or_init(|| async {
            match Cluster::from_config(config).start().await {
                Ok(guard) => Ok(guard.into_shared()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
    let shared = match shared {
        Ok(s) => s,
        Err(msg) => {
            return Err(Error::WaitFailed {
                what: "the run's shared cluster".into(),
                reason: format!("it could not be started: {msg}"),
            });
        }
    };
    let client = kubeconfig::client(&shared.info.kubeconfig).await?;
    let marker = match &shared.leases {
        Some(dir) => Some(reaper::begin_lease(
            dir,
            LEASE_IDS.fetch_add(1, Ordering::SeqCst),
        )?),
        None => None,
    };
    Ok(ClusterLease {
        shared,
        client,
        marker,
        failed: AtomicBool::new(false),
        namespaces: Mutex::new(Vec::new()),
    })
}

/// One test's hold on the shared cluster. Derefs to [`ClusterInfo`]. When
/// it ends during a panic, or after [`ClusterLease::mark_failed`] /
/// [`ClusterLease::finish`] with an error, the run counts as failed for
/// E2E_KEEP and the test's namespaces are kept; otherwise its namespaces
/// are deleted.
pub struct ClusterLease {
    shared: &'static SharedCluster,
    client: kube::Client,
    marker: Option<PathBuf>,
    failed: AtomicBool,
    namespaces: Mutex<Vec<String>>,
}

impl std::fmt::Debug for ClusterLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterLease")
            .field("info", &self.shared.info)
            .field("marker", &self.marker)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Deref for ClusterLease {
    type Target = ClusterInfo;
    fn deref(&self) -> &ClusterInfo {
        &self.shared.info
    }
}

impl ClusterLease {
    /// A client made on this test's runtime.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Record that this test failed (tests returning `Err` do not panic).
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }

    /// Pass the test's result through, marking the lease failed on `Err`:
    /// `lease.finish(async { ... }.await)`.
    ///
    /// # Errors
    /// The given error, unchanged.
    pub fn finish<T, E>(&self, result: std::result::Result<T, E>) -> std::result::Result<T, E> {
        if result.is_err() {
            self.mark_failed();
        }
        result
    }

    /// Cordon `node`.
    ///
    /// # Errors
    /// [`Error::Kube`] naming the node.
    pub async fn cordon(&self, node: &str) -> Result<()> {
        node::set_unschedulable(&self.client, node, true).await
    }

    /// Uncordon `node`.
    ///
    /// # Errors
    /// [`Error::Kube`] naming the node.
    pub async fn uncordon(&self, node: &str) -> Result<()> {
        node::set_unschedulable(&self.client, node, false).await
    }

    /// Create this test's labelled namespace `e2e-<what>-<random>`.
    ///
    /// # Errors
    /// [`Error::Kube`] naming the namespace.
    pub async fn create_namespace(&self, what: &str) -> Result<String> {
        create_namespace(&self.client, &self.namespaces, what).await
    }
}

impl Drop for ClusterLease {
    fn drop(&mut self) {
        let failed = self.failed.load(Ordering::SeqCst) || std::thread::panicking();
        if let Some(m) = &self.marker {
            reaper::end_lease(m, failed);
        }
        let ns = take_namespaces(&self.namespaces);
        if failed && self.shared.keep.keep(true) {
            if !KEEP_NOTICE.swap(true, Ordering::SeqCst) {
                eprintln!(
                    "{}",
                    self.shared.info.keep_message(
                        &format!(
                            "E2E_KEEP={}: a test failed; kept when the run ends",
                            keep_word(self.shared.keep)
                        ),
                        self.shared.temp_dir.as_deref()
                    )
                );
            }
            if !ns.is_empty() {
                eprintln!(
                    "storage-e2e: kept namespaces of the failed test: {}",
                    ns.join(" ")
                );
            }
            return;
        }
        if !ns.is_empty()
            && let Err(e) = delete_namespaces_cmd(&self.shared.info.kubeconfig, &ns).run()
        {
            eprintln!("storage-e2e: deleting namespaces failed: {e}");
        }
    }
}
