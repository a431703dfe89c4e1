//! Failure artifacts: everything a person needs to understand a failed cell
//! without the cluster, written as YAML and text into the cell's folder.
//! The Kubernetes part is collected here through the API; what lives
//! outside it (node directory listings, the NFS export listing, `kind
//! export logs`) plugs in as [`Artifact`]s from the cluster and NFS code.

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use kube::api::{Api, ListParams, LogParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::timeline::{EventRecord, Record, Timeline};

/// Something collected into a failed cell's folder from outside the
/// Kubernetes API: a node's data directory listing (numeric owners), the
/// NFS export listing, `kind export logs`. The cluster and NFS modules
/// provide these; [`TextArtifact`] wraps a closure.
#[async_trait]
pub trait Artifact: Send + Sync {
    /// What it is, for the errors file (e.g. `node dir listing kind-worker`).
    fn name(&self) -> String;

    /// Write into `dir` (the cell's failure folder, which exists).
    ///
    /// # Errors
    /// Whatever went wrong; it is recorded in `errors.txt` and the other
    /// artifacts are still collected.
    async fn collect(&self, dir: &Path) -> Result<()>;
}

/// An [`Artifact`] made of a closure producing text, written to `file`.
///
/// ```no_run
/// # fn demo() {
/// use harness::report::TextArtifact;
/// let listing = TextArtifact::new("node-dirs.txt", || async {
///     // e.g. exec `ls -lnR /var/local-path-provisioner` in the node container
///     Ok::<_, harness::Error>(String::from("..."))
/// });
/// # }
/// ```
pub struct TextArtifact<F> {
    file: String,
    produce: F,
}

impl<F, Fut> TextArtifact<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<String>> + Send,
{
    /// `produce` is called once, when the artifacts are collected.
    pub fn new(file: impl Into<String>, produce: F) -> Self {
        Self {
            file: file.into(),
            produce,
        }
    }
}

#[async_trait]
impl<F, Fut> Artifact for TextArtifact<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<String>> + Send,
{
    fn name(&self) -> String {
        self.file.clone()
    }

    async fn collect(&self, dir: &Path) -> Result<()> {
        let text = (self.produce)().await?;
        write(&dir.join(&self.file), &text)
    }
}

/// What [`collect_artifacts`] wrote, and what it could not collect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactSummary {
    /// The cell's folder.
    pub dir: PathBuf,
    /// Files written.
    pub written: Vec<PathBuf>,
    /// One line per artifact that failed (also in `errors.txt`).
    pub errors: Vec<String>,
}

impl ArtifactSummary {
    fn file(&mut self, name: &str, text: &str) {
        let path = self.dir.join(name);
        match write(&path, text) {
            Ok(()) => self.written.push(path),
            Err(e) => self.errors.push(format!("{name}: {e}")),
        }
    }

    fn yaml<T: Serialize>(&mut self, name: &str, items: &T) {
        match serde_yaml_ng::to_string(items) {
            Ok(text) => self.file(name, &text),
            Err(e) => self
                .errors
                .push(format!("{name}: could not render YAML: {e}")),
        }
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("creating artifact directory", parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io("writing artifact", path, e))
}

async fn list<K>(api: Api<K>, what: &str, summary: &mut ArtifactSummary) -> Option<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.list(&ListParams::default()).await {
        Ok(l) => Some(l.items),
        Err(e) => {
            summary.errors.push(format!("list {what}: {e}"));
            None
        }
    }
}

/// Collect a failed cell's Kubernetes state into `dir`: `pods.yaml`,
/// `events.yaml` + `events.txt`, `deployments.yaml`, `statefulsets.yaml`,
/// `replicasets.yaml`, `pvcs.yaml`, `pvs.yaml` (the namespace's),
/// `storageclasses.yaml`, `volumeattachments.yaml` (of those PVs), logs of
/// every container (current and previous) under `logs/`, the timeline
/// (`timeline.txt`, `timeline.json`) when given, then every `extra`
/// artifact. Failures of single artifacts are collected in `errors.txt`
/// and the summary instead of aborting: a half-broken cluster is exactly
/// when the rest matters.
///
/// # Errors
/// [`Error::Io`] only when `dir` itself cannot be created.
pub async fn collect_artifacts(
    client: &Client,
    namespace: &str,
    dir: &Path,
    timeline: Option<&Timeline>,
    extra: &[&dyn Artifact],
) -> Result<ArtifactSummary> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating artifact directory", dir, e))?;
    let mut s = ArtifactSummary {
        dir: dir.to_path_buf(),
        ..ArtifactSummary::default()
    };
    let pods = save_namespaced::<Pod>(client, namespace, "pods", &mut s).await;
    if let Some(events) = list(
        Api::<Event>::namespaced(client.clone(), namespace),
        "events",
        &mut s,
    )
    .await
    {
        s.yaml("events.yaml", &events);
        let text: String = events
            .iter()
            .map(|e| format!("{}\n", Record::Event(EventRecord::from_event(e)).describe()))
            .collect();
        s.file("events.txt", &text);
    }
    save_namespaced::<Deployment>(client, namespace, "deployments", &mut s).await;
    save_namespaced::<StatefulSet>(client, namespace, "statefulsets", &mut s).await;
    save_namespaced::<ReplicaSet>(client, namespace, "replicasets", &mut s).await;
    save_namespaced::<PersistentVolumeClaim>(client, namespace, "pvcs", &mut s).await;
    save_volumes(client, namespace, &mut s).await;
    if let Some(pods) = &pods {
        save_logs(&Api::namespaced(client.clone(), namespace), pods, &mut s).await;
    }
    if let Some(t) = timeline {
        s.file("timeline.txt", &t.render_text());
        match serde_json::to_string_pretty(t) {
            Ok(json) => s.file("timeline.json", &json),
            Err(e) => s.errors.push(format!("timeline.json: {e}")),
        }
    }
    for a in extra {
        if let Err(e) = a.collect(dir).await {
            s.errors.push(format!("{}: {e:#}", a.name()));
        }
    }
    if !s.errors.is_empty() {
        let text: String = s.errors.iter().map(|e| format!("{e}\n")).collect();
        s.file("errors.txt", &text);
    }
    Ok(s)
}

/// Every `K` of the namespace into `<what>.yaml`; returns them.
async fn save_namespaced<K>(
    client: &Client,
    namespace: &str,
    what: &str,
    s: &mut ArtifactSummary,
) -> Option<Vec<K>>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + serde::Serialize,
    K::DynamicType: Default,
{
    let items = list(Api::<K>::namespaced(client.clone(), namespace), what, s).await?;
    s.yaml(&format!("{what}.yaml"), &items);
    Some(items)
}

/// The namespace's PersistentVolumes (`pvs.yaml`), every StorageClass
/// (`storageclasses.yaml`) and the VolumeAttachments of those PVs
/// (`volumeattachments.yaml`): cluster-scoped, so filtered to the cell.
async fn save_volumes(client: &Client, namespace: &str, s: &mut ArtifactSummary) {
    let mut pv_names: Vec<String> = Vec::new();
    if let Some(pvs) = list(
        Api::<PersistentVolume>::all(client.clone()),
        "persistentvolumes",
        s,
    )
    .await
    {
        let ours: Vec<&PersistentVolume> = pvs
            .iter()
            .filter(|pv| {
                pv.spec
                    .as_ref()
                    .and_then(|s| s.claim_ref.as_ref())
                    .and_then(|c| c.namespace.as_deref())
                    == Some(namespace)
            })
            .collect();
        pv_names = ours
            .iter()
            .filter_map(|pv| pv.metadata.name.clone())
            .collect();
        s.yaml("pvs.yaml", &ours);
    }
    if let Some(d) = list(
        Api::<StorageClass>::all(client.clone()),
        "storageclasses",
        s,
    )
    .await
    {
        s.yaml("storageclasses.yaml", &d);
    }
    if let Some(vas) = list(
        Api::<VolumeAttachment>::all(client.clone()),
        "volumeattachments",
        s,
    )
    .await
    {
        let ours: Vec<&VolumeAttachment> = vas
            .iter()
            .filter(|va| {
                va.spec
                    .source
                    .persistent_volume_name
                    .as_ref()
                    .is_some_and(|n| pv_names.contains(n))
            })
            .collect();
        s.yaml("volumeattachments.yaml", &ours);
    }
}

/// Every container's log of `pods` (init containers too), and the
/// previous container's where it restarted, under `logs/`.
async fn save_logs(api: &Api<Pod>, pods: &[Pod], s: &mut ArtifactSummary) {
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.as_ref();
        let statuses = status
            .and_then(|st| st.init_container_statuses.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(
                status
                    .and_then(|st| st.container_statuses.clone())
                    .unwrap_or_default(),
            );
        for c in statuses {
            for previous in [false, true] {
                if previous && c.restart_count == 0 {
                    continue;
                }
                let file = format!(
                    "logs/{name}.{}{}.log",
                    c.name,
                    if previous { ".previous" } else { "" }
                );
                let lp = LogParams {
                    container: Some(c.name.clone()),
                    previous,
                    ..LogParams::default()
                };
                match api.logs(&name, &lp).await {
                    Ok(text) => s.file(&file, &text),
                    Err(e) => s.errors.push(format!("{file}: {e}")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn text_artifacts_write_their_file_or_report_their_error() {
        let dir = tempfile::tempdir().unwrap();
        let ok = TextArtifact::new("nfs-export.txt", || async {
            Ok("drwxr-xr-x 65534 65534 prometheus\n".to_owned())
        });
        ok.collect(dir.path()).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("nfs-export.txt")).unwrap(),
            "drwxr-xr-x 65534 65534 prometheus\n"
        );
        let bad = TextArtifact::new("node-dirs.txt", || async {
            Err(Error::Cannot {
                action: "list the node directories".into(),
                why: "node container is stopped".into(),
            })
        });
        let err = bad
            .collect(dir.path())
            .await
            .expect_err("fails")
            .to_string();
        assert!(err.contains("node container is stopped"), "{err}");
        assert_eq!(bad.name(), "node-dirs.txt");
    }
}
