//! Failure artifacts from outside the API: node directory listings, the
//! NFS export listing, the cluster's node logs.

use super::pipeline::Pipeline;
use crate::cluster::ClusterGuard;
use crate::error::Result;
use crate::manifest;
use crate::report::TextArtifact;

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

/// Failure artifacts from outside the API: node directory listings, the NFS
/// export listing, the cluster's node logs.
pub(super) fn artifacts<'c>(
    pipeline: &Pipeline<'_>,
    cluster: &'c ClusterGuard,
) -> Vec<Box<dyn crate::report::Artifact + 'c>> {
    let mut out: Vec<Box<dyn crate::report::Artifact + 'c>> = vec![Box::new(NodeLogs(cluster))];
    if let Some(node) = pipeline.node.clone() {
        let ns = pipeline.ns.clone();
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
    if let Some(nfs) = pipeline.nfs.clone() {
        let ns = pipeline.ns.clone();
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
