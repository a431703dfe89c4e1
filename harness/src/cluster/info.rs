//! [`ClusterInfo`]: what every handle on a started cluster knows, and the
//! node, image and log operations that need no Kubernetes client.

use std::path::{Path, PathBuf};

use crate::cluster::{Node, NodeRole, k3d, kind, node};
use crate::cmd::{Cmd, Output};
use crate::error::{Error, Result};
use crate::exec::{DockerExec, Exec as _};
use crate::vocab::{Minor, Provider};

/// What every handle on a started cluster knows: where it is and what it is
/// made of, plus the node operations that need no Kubernetes client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterInfo {
    pub(super) provider: Provider,
    pub(super) name: Option<String>,
    pub(super) version: Option<Minor>,
    pub(super) kubeconfig: PathBuf,
    pub(super) network: Option<String>,
    pub(super) nodes: Vec<Node>,
    pub(super) notes: Vec<String>,
    /// Spent choosing, and making where it had to, the node image before
    /// the cluster was created (not the cluster's own start-up time).
    pub(super) node_image_time: std::time::Duration,
}

impl ClusterInfo {
    /// How the cluster was made where that is worth a line in the report:
    /// the node image chosen and why, settings the host required.
    pub(crate) fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Time spent on the node image before creating the cluster.
    pub(crate) fn node_image_time(&self) -> std::time::Duration {
        self.node_image_time
    }

    /// kind, k3d or existing.
    pub(crate) fn provider(&self) -> Provider {
        self.provider
    }

    /// The Kubernetes minor (from the version table, or the API server of an existing cluster).
    pub(crate) fn version(&self) -> Option<Minor> {
        self.version
    }

    /// The kubeconfig the harness uses: in a private temp dir for
    /// harness-made clusters, E2E_KUBECONFIG for an existing one.
    #[cfg(test)]
    pub(crate) fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The Docker network the nodes are on (kind: `kind` or
    /// KIND_EXPERIMENTAL_DOCKER_NETWORK; k3d: `k3d-<name>`), read from the
    /// node container. An NFS server container joins it so kubelets can
    /// mount by its IP (cluster DNS does not work for mounts: k3d-io/k3d#1348).
    /// `None` for an existing cluster.
    pub(crate) fn docker_network(&self) -> Option<&str> {
        self.network.as_deref()
    }

    /// Every node, control plane first.
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The worker nodes (what disruptions stop, cordon or move pods to).
    pub(crate) fn workers(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.role == NodeRole::Worker)
            .collect()
    }

    /// The workers outside every node pool: where pod-level cells run and
    /// where node-local data of a cell without a pool is pinned.
    pub(crate) fn shared_workers(&self) -> Vec<&Node> {
        self.workers()
            .into_iter()
            .filter(|n| n.pool.is_none())
            .collect()
    }

    /// The node pools node-level cells lease (none unless the harness made
    /// the cluster with E2E_NODE_POOLS).
    pub(crate) fn pools(&self) -> Vec<super::pool::Pool> {
        super::pool::pools_of(&self.nodes)
    }

    fn container_of(&self, node: &str, op: &str) -> Result<String> {
        let n = self.nodes.iter().find(|n| n.name == node).ok_or_else(|| {
            Error::from(crate::vocab::UnknownId {
                what: "node",
                given: node.to_owned(),
                valid: self
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        })?;
        n.container.clone().ok_or_else(|| Error::Config {
            var: "E2E_PROVIDER",
            value: self.provider.to_string(),
            allowed: format!("kind or k3d for {op} (it needs the node's container)"),
        })
    }

    fn kubeconfig_env(&self) -> String {
        self.kubeconfig.to_string_lossy().into_owned()
    }

    /// A [`DockerExec`] into `node`'s container as root, for callers that
    /// want the [`crate::exec::Exec`] trait (stdin, unchecked status).
    ///
    /// # Errors
    /// [`Error::Unknown`] for a node not in the cluster, [`Error::Config`]
    /// for an existing cluster (no containers).
    pub(crate) fn node_target(&self, node: &str) -> Result<DockerExec> {
        Ok(DockerExec::new(self.container_of(node, "exec in a node")?).with_user("0"))
    }

    /// Run `argv` in `node` (`docker exec`), e.g. `mkdir -p`, `ls -ln`,
    /// `chown` of host paths, or `crictl`; requires exit status 0.
    ///
    /// # Errors
    /// As [`ClusterInfo::node_target`]; [`Error::Command`] with its stderr
    /// when the command fails.
    pub(crate) async fn node_exec(&self, node: &str, argv: &[&str]) -> Result<Output> {
        self.node_target(node)?.exec_ok(argv, None).await
    }

    /// Stop a worker's container (`docker stop`): the node-stop disruption.
    ///
    /// # Errors
    /// [`Error::Unknown`] listing the workers when `node` is not one (the
    /// control plane is not stopped: the API would go with it).
    pub(crate) async fn stop_node(&self, node: &str) -> Result<()> {
        let worker = self
            .workers()
            .into_iter()
            .find(|n| n.name == node)
            .ok_or_else(|| {
                Error::from(crate::vocab::UnknownId {
                    what: "worker node",
                    given: node.to_owned(),
                    valid: self
                        .workers()
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            })?;
        let c = self.container_of(&worker.name, "stopping a node")?;
        node::stop(&c).run_async().await.map(|_| ())
    }

    /// Start a stopped node's container again (`docker start`).
    ///
    /// # Errors
    /// As [`ClusterInfo::node_target`]; [`Error::Command`] when Docker fails.
    pub(crate) async fn start_node(&self, node: &str) -> Result<()> {
        let c = self.container_of(node, "starting a node")?;
        node::start(&c).run_async().await.map(|_| ())
    }

    /// Make `images` available on every node, so the cluster pulls each
    /// image once per run: pulled on the host when missing, then `kind load
    /// docker-image` (falling back to `docker image save --platform` + `kind
    /// load image-archive` on kind#3795's "content digest ... not found"),
    /// or `k3d image import`. An existing cluster pulls them itself.
    ///
    /// # Errors
    /// [`Error::Command`] from docker, kind or k3d.
    pub(crate) async fn load_images(&self, images: &[&str]) -> Result<()> {
        let Some(name) = self.name.as_deref() else {
            eprintln!(
                "storage-e2e: existing cluster: images are not preloaded; its nodes pull them"
            );
            return Ok(());
        };
        for image in images {
            let present = Cmd::new("docker")
                .args(["image", "inspect", "--format", "{{.Id}}", image])
                .quiet()
                .run_unchecked_async()
                .await?;
            if !present.success() {
                Cmd::new("docker").args(["pull", image]).run_async().await?;
            }
        }
        let kc = self.kubeconfig.as_path();
        match self.provider {
            Provider::K3d => k3d::image_import(name, images, kc)
                .run_async()
                .await
                .map(|_| ()),
            _ => {
                let load = kind::load_docker_image(name, images, kc);
                let out = load.run_unchecked_async().await?;
                if out.success() {
                    return Ok(());
                }
                if !kind::needs_archive_fallback(&out.stderr) {
                    return Err(load.failure(&out));
                }
                eprintln!(
                    "storage-e2e: kind#3795 (content digest not found); loading through image archives"
                );
                let tmp = tempfile::Builder::new()
                    .prefix("e2e-images-")
                    .tempdir()
                    .map_err(|e| {
                        Error::io("creating an image archive dir", std::env::temp_dir(), e)
                    })?;
                for (i, image) in images.iter().enumerate() {
                    let archive = tmp.path().join(format!("{i}.tar"));
                    kind::save_image(image, &archive, kind::host_platform())
                        .run_async()
                        .await?;
                    kind::load_image_archive(name, &archive, kc)
                        .run_async()
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// Collect node logs into `dir`: `kind export logs`, or for k3d each
    /// node container's `docker logs` as `<container>.log`. Nothing for an
    /// existing cluster.
    ///
    /// # Errors
    /// [`Error::Io`] when `dir` cannot be written, [`Error::Command`] from kind.
    pub(crate) async fn export_logs(&self, dir: &Path) -> Result<()> {
        let Some(name) = self.name.as_deref() else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the log dir", dir, e))?;
        match self.provider {
            Provider::K3d => {
                for n in &self.nodes {
                    let Some(c) = &n.container else { continue };
                    let out = k3d::node_logs(c).quiet().run_unchecked_async().await?;
                    let path = dir.join(format!("{c}.log"));
                    std::fs::write(&path, format!("{}{}", out.stdout, out.stderr))
                        .map_err(|e| Error::io("writing node logs", &path, e))?;
                }
                Ok(())
            }
            _ => kind::export_logs(name, dir, &self.kubeconfig)
                .run_async()
                .await
                .map(|_| ()),
        }
    }

    /// `KUBECONFIG=<path> kubectl get pods -A`: how a person looks at the cluster.
    pub(crate) fn inspect_command(&self) -> String {
        Cmd::new("kubectl")
            .args(["get", "pods", "-A"])
            .env("KUBECONFIG", self.kubeconfig_env())
            .to_string()
    }

    /// The command that deletes a harness-made cluster (`None` for existing).
    pub(crate) fn delete_command(&self) -> Option<Cmd> {
        self.name
            .as_deref()
            .map(|n| super::delete_cmd(self.provider, n, &self.kubeconfig))
    }

    /// The lines printed when a cluster is kept: why, how to look, how to delete.
    pub(crate) fn keep_message(&self, why: &str, temp_dir: Option<&Path>) -> String {
        let what = match &self.name {
            Some(n) => format!("{} cluster {n}", self.provider),
            None => "namespaces in the existing cluster".to_owned(),
        };
        let mut m = format!(
            "storage-e2e: keeping {what} ({why}).\n  inspect: {}\n",
            self.inspect_command()
        );
        if let Some(d) = self.delete_command() {
            m.push_str(&format!("  delete:  {d}\n"));
        }
        if let Some(t) = temp_dir {
            m.push_str(&format!("  then:    rm -rf {}\n", t.display()));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Minor;

    pub(crate) fn info(provider: Provider) -> ClusterInfo {
        ClusterInfo {
            provider,
            name: (provider != Provider::Existing).then(|| "e2e-t1-abc".to_owned()),
            version: Some(Minor(35)),
            kubeconfig: PathBuf::from("/tmp/e2e-kube-q/kubeconfig"),
            network: Some("kind".into()),
            notes: Vec::new(),
            node_image_time: std::time::Duration::ZERO,
            nodes: node::parse_containers(
                Provider::Kind,
                "e2e-t1-abc-control-plane\tcontrol-plane\ne2e-t1-abc-worker\tworker\n",
            )
            .unwrap_or_default(),
        }
    }

    #[test]
    fn kept_clusters_print_exact_inspect_and_delete_commands() {
        let m = info(Provider::Kind).keep_message(
            "E2E_KEEP=on-failure, a test failed",
            Some(Path::new("/tmp/e2e-kube-q")),
        );
        assert_eq!(
            m,
            "storage-e2e: keeping kind cluster e2e-t1-abc (E2E_KEEP=on-failure, a test failed).\n  \
             inspect: KUBECONFIG=/tmp/e2e-kube-q/kubeconfig kubectl get pods -A\n  \
             delete:  KUBECONFIG=/tmp/e2e-kube-q/kubeconfig kind delete cluster --name e2e-t1-abc \
             --kubeconfig /tmp/e2e-kube-q/kubeconfig\n  then:    rm -rf /tmp/e2e-kube-q\n"
        );
        let m = info(Provider::Existing).keep_message("E2E_KEEP=always", None);
        assert!(
            m.starts_with("storage-e2e: keeping namespaces in the existing cluster"),
            "{m}"
        );
        assert!(!m.contains("delete:"), "{m}");
    }

    #[tokio::test]
    async fn node_operations_check_the_node_before_touching_docker() {
        let i = info(Provider::Kind);
        assert_eq!(i.workers().len(), 1);
        let e = i
            .stop_node("e2e-t1-abc-control-plane")
            .await
            .expect_err("control plane")
            .to_string();
        assert_eq!(
            e,
            "unknown worker node \"e2e-t1-abc-control-plane\": valid ones are e2e-t1-abc-worker"
        );
        let e = i
            .node_exec("nope", &["ls"])
            .await
            .expect_err("unknown node")
            .to_string();
        assert!(
            e.contains("valid ones are e2e-t1-abc-control-plane, e2e-t1-abc-worker"),
            "{e}"
        );
        let mut ext = info(Provider::Existing);
        for n in &mut ext.nodes {
            n.container = None;
        }
        let e = ext
            .start_node("e2e-t1-abc-worker")
            .await
            .expect_err("no containers")
            .to_string();
        assert!(e.contains("kind or k3d for starting a node"), "{e}");
        assert!(
            ext.load_images(&["busybox:1.37.0"]).await.is_ok(),
            "existing clusters pull images themselves"
        );
    }
}
