//! [`ClusterGuard`]: a started cluster owned by one caller, with explicit
//! async cleanup and a synchronous `Drop` fallback, both honouring E2E_KEEP;
//! and the labelled per-test namespaces.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};

use crate::cluster::{ClusterInfo, kubeconfig, reaper};
use crate::cmd::Cmd;
use crate::config::Keep;
use crate::error::{Error, Result};
use crate::labels::{MANAGED_BY, OWNER, RUN_ID, run_id, unique_name};

/// The Namespace object the harness creates for a test: `e2e-<what>-<random>`
/// with the ownership and run labels.
pub(crate) fn namespace_object(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.to_owned(), OWNER.to_owned()),
                (RUN_ID.to_owned(), run_id().to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// `kubectl delete namespace`: the synchronous fallback for namespaces a
/// guard made when it is dropped without `cleanup()`.
pub(crate) fn delete_namespaces_cmd(kubeconfig: &Path, names: &[String]) -> Cmd {
    Cmd::new("kubectl")
        .env("KUBECONFIG", kubeconfig.to_string_lossy())
        .arg("--kubeconfig")
        .arg(kubeconfig.to_string_lossy())
        .args(["delete", "namespace"])
        .args(names.iter().cloned())
        .args(["--ignore-not-found", "--wait=false"])
}

pub(super) async fn create_namespace(
    client: &kube::Client,
    list: &Mutex<Vec<String>>,
    what: &str,
) -> Result<String> {
    let name = unique_name(what);
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace_object(&name))
        .await
        .map_err(|e| Error::kube(format!("create namespace {name}"), e))?;
    if let Ok(mut l) = list.lock() {
        l.push(name.clone());
    }
    Ok(name)
}

pub(super) fn take_namespaces(list: &Mutex<Vec<String>>) -> Vec<String> {
    list.lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}

/// A started cluster; see the module docs. Derefs to [`ClusterInfo`] for
/// nodes, node operations, images and logs.
pub(crate) struct ClusterGuard {
    pub(super) info: ClusterInfo,
    pub(super) client: kube::Client,
    pub(super) keep: Keep,
    pub(super) dir: Option<kubeconfig::KubeconfigDir>,
    pub(super) reaper: Option<reaper::Reaper>,
    pub(super) failed: AtomicBool,
    pub(super) namespaces: Mutex<Vec<String>>,
    pub(super) done: bool,
}

impl std::fmt::Debug for ClusterGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterGuard")
            .field("info", &self.info)
            .field("keep", &self.keep)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Deref for ClusterGuard {
    type Target = ClusterInfo;
    fn deref(&self) -> &ClusterInfo {
        &self.info
    }
}

impl ClusterGuard {
    /// The client for this cluster (made from [`ClusterInfo::kubeconfig_path`] only).
    pub(crate) fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The cluster's description and node operations.
    pub(crate) fn info(&self) -> &ClusterInfo {
        &self.info
    }

    /// Record a failure (for tests that return `Err` instead of panicking),
    /// so E2E_KEEP=on-failure keeps the cluster.
    pub(crate) fn mark_failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
        if let Some(d) = &self.dir {
            reaper::mark_failed(&d.dir().join(reaper::LEASES_DIR));
        }
    }

    /// Create a labelled namespace `e2e-<what>-<random>` for one test;
    /// deleted with the guard unless kept.
    ///
    /// # Errors
    /// [`Error::Kube`] naming the namespace.
    pub(crate) async fn create_namespace(&self, what: &str) -> Result<String> {
        create_namespace(&self.client, &self.namespaces, what).await
    }

    fn keep_now(&self) -> (bool, bool) {
        let failed = self.failed.load(Ordering::SeqCst) || std::thread::panicking();
        (self.keep.keep(failed), failed)
    }

    fn kept(&mut self, failed: bool) {
        let why = if failed {
            format!("E2E_KEEP={}, a test failed", keep_word(self.keep))
        } else {
            "E2E_KEEP=always".to_owned()
        };
        let dir = self.dir.take().map(kubeconfig::KubeconfigDir::keep);
        if self.info.name.is_none() {
            // Existing cluster: say which namespaces were kept.
            let ns = take_namespaces(&self.namespaces);
            eprintln!(
                "{}  namespaces: {}",
                self.info.keep_message(&why, None),
                ns.join(" ")
            );
        } else {
            eprintln!("{}", self.info.keep_message(&why, dir.as_deref()));
        }
        if let Some(r) = self.reaper.take() {
            r.disarm();
        }
        self.done = true;
    }

    /// Delete what the guard made: the whole kind/k3d cluster, or the
    /// namespaces it created in an existing cluster. Keeps them instead
    /// (printing how to inspect and delete) per E2E_KEEP.
    ///
    /// # Errors
    /// [`Error::Command`] / [`Error::Kube`] when deletion fails (the reaper
    /// then retries when the process ends).
    pub(crate) async fn cleanup(mut self) -> Result<()> {
        let (keep, failed) = self.keep_now();
        if keep {
            self.kept(failed);
            return Ok(());
        }
        let result = match self.info.delete_command() {
            Some(cmd) => cmd.run_async().await.map(|_| ()),
            None => {
                let api: Api<Namespace> = Api::all(self.client.clone());
                let mut result = Ok(());
                for ns in take_namespaces(&self.namespaces) {
                    if let Err(e) = api.delete(&ns, &DeleteParams::background()).await {
                        let not_found = matches!(&e, kube::Error::Api(s) if s.code == 404);
                        if !not_found {
                            result = Err(Error::kube(format!("delete namespace {ns}"), e));
                        }
                    }
                }
                result
            }
        };
        self.settle(result.is_ok());
        result
    }

    /// After a delete: disarm the reaper when it worked; when it failed,
    /// drop the reaper armed so it retries right away, and leave the temp
    /// dir (its kubeconfig) for it to use and remove.
    fn settle(&mut self, deleted: bool) {
        if deleted {
            if let Some(r) = self.reaper.take() {
                r.disarm();
            }
        } else if self.reaper.is_some() {
            let _ = self.dir.take().map(kubeconfig::KubeconfigDir::keep);
            drop(self.reaper.take());
        }
        self.done = true;
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (keep, failed) = self.keep_now();
        if keep {
            self.kept(failed);
            return;
        }
        // Synchronous fallback: shell out (works on any tokio runtime flavour).
        let cmd = match self.info.delete_command() {
            Some(cmd) => Some(cmd),
            None => {
                let ns = take_namespaces(&self.namespaces);
                (!ns.is_empty()).then(|| delete_namespaces_cmd(&self.info.kubeconfig, &ns))
            }
        };
        let ok = match cmd {
            Some(cmd) => match cmd.run() {
                Ok(_) => true,
                Err(e) => {
                    eprintln!("storage-e2e: cleanup failed ({e}); the reaper retries");
                    false
                }
            },
            None => true,
        };
        self.settle(ok);
    }
}

pub(super) fn keep_word(keep: Keep) -> &'static str {
    match keep {
        Keep::Always => "always",
        Keep::Never => "never",
        Keep::OnFailure => "on-failure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_carry_ownership_and_run_labels() {
        let ns = namespace_object("e2e-nfs-static-ab12cd");
        let labels = ns.metadata.labels.unwrap_or_default();
        assert_eq!(labels.get(MANAGED_BY).map(String::as_str), Some(OWNER));
        assert_eq!(labels.get(RUN_ID).map(String::as_str), Some(run_id()));
        assert_eq!(
            delete_namespaces_cmd(Path::new("/k/kc"), &["e2e-a-1".into(), "e2e-b-2".into()])
                .to_string(),
            "KUBECONFIG=/k/kc kubectl --kubeconfig /k/kc delete namespace e2e-a-1 e2e-b-2 --ignore-not-found --wait=false"
        );
    }

    /// A guard over a cluster that does not exist, whose reaper would
    /// `touch <tmp>/reaped` if it ran: enough to watch the keep logic.
    async fn guard(keep: Keep, witness: &Path) -> ClusterGuard {
        let dir = kubeconfig::KubeconfigDir::new().unwrap_or_else(|e| panic!("{e}"));
        let reaper = reaper::Reaper::spawn(&reaper::ReaperPlan {
            delete: Cmd::new("touch").arg(witness.to_string_lossy()),
            keep,
            leases: dir.dir().join(reaper::LEASES_DIR),
            remove_dir: dir.dir().to_path_buf(),
            keep_message: "kept".into(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
        ClusterGuard {
            info: ClusterInfo {
                provider: crate::vocab::Provider::Kind,
                name: Some("e2e-guardtest-x".into()),
                version: None,
                kubeconfig: dir.kubeconfig(),
                network: None,
                nodes: Vec::new(),
                notes: Vec::new(),
                node_image_time: std::time::Duration::ZERO,
            },
            client: crate::cluster::placeholder_client()
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            keep,
            dir: Some(dir),
            reaper: Some(reaper),
            failed: AtomicBool::new(false),
            namespaces: Mutex::new(Vec::new()),
            done: false,
        }
    }

    #[tokio::test]
    async fn keep_always_keeps_the_dir_and_disarms_the_reaper_on_drop() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let witness = t.path().join("reaped");
        let g = guard(Keep::Always, &witness).await;
        let dir = g
            .kubeconfig_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        drop(g);
        assert!(dir.exists(), "kept cluster keeps its kubeconfig dir");
        assert!(
            !witness.exists(),
            "the reaper was told the owner handled it"
        );
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    }

    #[tokio::test]
    async fn a_failed_guard_is_kept_on_failure_by_cleanup() {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let witness = t.path().join("reaped");
        let g = guard(Keep::OnFailure, &witness).await;
        let dir = g
            .kubeconfig_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        g.mark_failed();
        assert!(
            dir.join(reaper::LEASES_DIR).join("failed").exists(),
            "failure recorded for the reaper too"
        );
        g.cleanup().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.exists());
        assert!(!witness.exists());
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    }
}
