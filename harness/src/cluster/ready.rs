//! Node readiness: the one wait for every node to be Ready, used when a
//! cluster starts and after a node-level cell, and healing the nodes a
//! node-level disruption stopped or cordoned.

use std::time::Duration;

use k8s_openapi::api::core::v1::Node as KubeNode;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt as _};

use super::ClusterGuard;
use crate::error::{Error, Result};
use crate::vocab::Provider;
use crate::wait::{Check, poll};

/// How long all nodes of a new cluster get to report Ready (after kind's
/// own `--wait 5m` / k3d's `--timeout 300s` for the control plane).
pub(crate) const NODES_READY_TIMEOUT: Duration = Duration::from_secs(300);
/// How often node readiness is polled (nodes are listed, not watched: the
/// wait is on a set of objects whose size is part of the condition).
pub(crate) const NODES_READY_INTERVAL: Duration = Duration::from_secs(2);

/// Wait until the cluster has at least `expected` nodes and all are Ready;
/// with `only` non-empty, counting those nodes alone (a node pool: another
/// pool's node may be stopped on purpose meanwhile).
///
/// # Errors
/// [`Error::Timeout`] with the last node states seen.
pub(crate) async fn wait_nodes_ready(
    client: &kube::Client,
    expected: usize,
    only: &[String],
    timeout: Duration,
) -> Result<()> {
    let api: Api<KubeNode> = Api::all(client.clone());
    poll(
        &format!("{expected} Ready nodes"),
        timeout,
        NODES_READY_INTERVAL,
        || {
            let api = api.clone();
            async move {
                match api.list(&Default::default()).await {
                    Err(e) => Check::NotYet(format!("listing nodes failed: {e}")),
                    Ok(list) => {
                        let states: Vec<(String, bool)> = list
                            .items
                            .iter()
                            .filter(|n| {
                                only.is_empty()
                                    || only.iter().any(|o| Some(o) == n.metadata.name.as_ref())
                            })
                            .map(|n| {
                                (
                                    n.metadata.name.clone().unwrap_or_default(),
                                    node_is_ready(n),
                                )
                            })
                            .collect();
                        let ready = states.iter().filter(|(_, r)| *r).count();
                        if states.len() >= expected && ready == states.len() {
                            Check::Ready(())
                        } else {
                            Check::NotYet(format!(
                                "{ready}/{expected} Ready: {}",
                                states
                                    .iter()
                                    .map(|(n, r)| format!(
                                        "{n}={}",
                                        if *r { "Ready" } else { "NotReady" }
                                    ))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                        }
                    }
                }
            }
        },
    )
    .await
}

/// Whether the node's Ready condition is True.
pub(crate) fn node_is_ready(node: &KubeNode) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Names of the nodes new pods can go to: Ready and not cordoned.
///
/// # Errors
/// [`Error::Kube`] when the nodes cannot be listed.
pub(crate) async fn schedulable_nodes(client: &Client) -> Result<Vec<String>> {
    let api: Api<KubeNode> = Api::all(client.clone());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::kube("list nodes", e))?;
    Ok(list
        .items
        .iter()
        .filter(|n| {
            node_is_ready(n)
                && !n
                    .spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false)
        })
        .map(|n| n.name_any())
        .collect())
}

impl ClusterGuard {
    /// Start every worker container that is stopped, uncordon every
    /// worker, take the out-of-service taint off it (after the start, as
    /// the non-graceful shutdown docs ask), and wait until all nodes are
    /// Ready; with a `pool`, that pool's workers alone (the others may be
    /// another cell's, disrupted on purpose). Idempotent; nothing to do on
    /// an existing cluster, whose nodes the harness never touches.
    ///
    /// # Errors
    /// [`Error::Timeout`] naming the nodes not Ready, or the first command
    /// or API error.
    pub(crate) async fn heal_nodes(&self, pool: Option<&super::Pool>) -> Result<()> {
        if self.provider() == Provider::Existing {
            return Ok(());
        }
        let workers: Vec<String> = match pool {
            Some(p) => p.nodes.clone(),
            None => self.workers().iter().map(|n| n.name.clone()).collect(),
        };
        for n in &workers {
            self.start_node(n).await?;
            super::node::set_unschedulable(self.client(), n, false).await?;
            super::node::set_out_of_service(self.client(), n, false).await?;
        }
        match pool {
            Some(_) => {
                wait_nodes_ready(self.client(), workers.len(), &workers, NODES_READY_TIMEOUT).await
            }
            None => {
                wait_nodes_ready(self.client(), self.nodes().len(), &[], NODES_READY_TIMEOUT).await
            }
        }
    }
}
