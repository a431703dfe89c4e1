//! Failure artifacts from outside the API: node directory listings, the
//! NFS export listing, the cluster's node logs.

use std::sync::Arc;

use crate::cluster::ClusterGuard;
use crate::error::Result;
use crate::manifest;
use crate::nfs::SharedNfs;
use crate::report::TextArtifact;
use crate::vocab::Cell;

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

/// The attachable CSI driver's side of a failed csi-rwo cell, in
/// `csi-loop/`: every container log of its controller and node pods, the
/// shared directory's volumes and their metadata, and the host kernel's
/// loop devices as a node sees them (they are kernel-wide).
struct AttachableDriver<'c>(&'c ClusterGuard);

#[async_trait::async_trait]
impl crate::report::Artifact for AttachableDriver<'_> {
    fn name(&self) -> String {
        "csi-loop".into()
    }

    async fn collect(&self, dir: &std::path::Path) -> Result<()> {
        use k8s_openapi::api::core::v1::Pod;
        use kube::api::{Api, ListParams, LogParams};
        let dir = dir.join("csi-loop");
        let write = |file: &str, text: &str| {
            let path = dir.join(file);
            std::fs::write(&path, text)
                .map_err(|e| crate::Error::io("writing an artifact", &path, e))
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| crate::Error::io("creating an artifact folder", &dir, e))?;
        let api: Api<Pod> = Api::namespaced(self.0.client().clone(), "kube-system");
        let lp = ListParams::default().labels(&format!(
            "{}={}",
            manifest::APP_NAME_LABEL,
            manifest::ATTACHABLE_ADDON
        ));
        let pods = api
            .list(&lp)
            .await
            .map_err(|e| crate::Error::kube("list the csi-loop pods", e))?;
        for pod in &pods.items {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let containers = pod.spec.iter().flat_map(|s| &s.containers);
            for c in containers {
                let params = LogParams {
                    container: Some(c.name.clone()),
                    ..LogParams::default()
                };
                let text = api
                    .logs(&name, &params)
                    .await
                    .unwrap_or_else(|e| format!("(could not read the log: {e})"));
                write(&format!("{name}.{}.log", c.name), &text)?;
            }
        }
        // The control plane: never stopped by a cell, and it sees the same
        // shared directory and the same (kernel-wide) loop devices.
        if let Some(node) = self.0.nodes().first().map(|n| n.name.clone()) {
            let script = format!(
                "ls -lsn {san}/volumes {san}/snapshots 2>&1; for f in {san}/volumes/*.json; do \
                 echo \"== $f\"; cat \"$f\"; echo; done; echo '== losetup -l'; losetup -l 2>&1",
                san = manifest::SAN_DIR
            );
            let out = self.0.node_exec(&node, &["sh", "-c", &script]).await?;
            write("volumes.txt", &out.stdout)?;
        }
        Ok(())
    }
}

/// Failure artifacts from outside the API: node directory listings, the NFS
/// export listing, the cluster's node logs.
/// `node` is where the cell deployed, `nfs` the server its variant uses.
pub(super) fn artifacts<'c>(
    cell: Cell,
    ns: &str,
    node: Option<String>,
    nfs: Option<Arc<SharedNfs>>,
    cluster: &'c ClusterGuard,
) -> Vec<Box<dyn crate::report::Artifact + 'c>> {
    let mut out: Vec<Box<dyn crate::report::Artifact + 'c>> = vec![Box::new(NodeLogs(cluster))];
    if let Some(node) = node {
        let ns = ns.to_owned();
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
    if cell.variant.uses_attachable_csi() {
        out.push(Box::new(AttachableDriver(cluster)));
    }
    if let Some(nfs) = nfs {
        let ns = ns.to_owned();
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
