//! Node pools: pairs of workers that one node-level cell at a time owns.
//!
//! A node-level cell stops or cordons the node its Prometheus runs on and
//! watches where the replacement goes. On a cluster of two workers nothing
//! else may run meanwhile, so those cells used to run one at a time (about
//! ten minutes of a whole matrix). A pool gives such a cell a cluster of
//! its own inside the run's cluster: two workers, labelled and tainted
//! (`NoExecute`) with the pool's name when they join, so only pods that
//! tolerate the taint and select the label run there: the leasing cell's
//! own (`crate::manifest` `confine`), and the DaemonSets every node runs.
//! What the cell sees is what it saw on the two-worker cluster: its pod on
//! one worker, the other free to take the replacement, the control plane
//! tainted as before. The pod-level cells keep the run's other workers.
//!
//! Pools exist on kind clusters the harness makes (E2E_NODE_POOLS); k3d and
//! existing clusters run node-level cells one at a time as before.

use std::collections::BTreeMap;

use super::Node;

/// Workers per pool: the node a cell disrupts and the one its pod may go to.
pub(crate) const NODES_PER_POOL: u8 = 2;

/// The name of pool `i` (from 1): the value of its label and taint.
pub(crate) fn name(i: u8) -> String {
    format!("pool-{i}")
}

/// The kubeadm `JoinConfiguration` patch that registers a worker with the
/// pool's taint, so no pod lands there before the taint is set.
pub(crate) fn join_taint_patch(pool: &str) -> String {
    format!(
        "kind: JoinConfiguration\nnodeRegistration:\n  taints:\n  - key: {key}\n    value: {pool}\n    effect: NoExecute\n",
        key = crate::labels::POOL
    )
}

/// One pool as the cluster has it: its name and its workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pool {
    /// `pool-<i>`.
    pub(crate) name: String,
    /// Its workers' node names.
    pub(crate) nodes: Vec<String>,
}

/// The pools among `nodes`, by the pool each node belongs to, in name order.
pub(crate) fn pools_of(nodes: &[Node]) -> Vec<Pool> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for n in nodes {
        if let Some(p) = &n.pool {
            by_name.entry(p).or_default().push(n.name.clone());
        }
    }
    by_name
        .into_iter()
        .map(|(name, nodes)| Pool {
            name: name.to_owned(),
            nodes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::NodeRole;

    fn node(name: &str, pool: Option<&str>) -> Node {
        Node {
            name: name.into(),
            container: Some(name.into()),
            role: NodeRole::Worker,
            pool: pool.map(str::to_owned),
        }
    }

    #[test]
    fn pools_are_read_from_the_nodes_labels() {
        let nodes = [
            node("w", None),
            node("w3", Some("pool-1")),
            node("w5", Some("pool-2")),
            node("w4", Some("pool-1")),
            node("w6", Some("pool-2")),
        ];
        assert_eq!(
            pools_of(&nodes),
            [
                Pool {
                    name: "pool-1".into(),
                    nodes: vec!["w3".into(), "w4".into()]
                },
                Pool {
                    name: "pool-2".into(),
                    nodes: vec!["w5".into(), "w6".into()]
                }
            ]
        );
        assert!(pools_of(&nodes[..1]).is_empty());
    }

    /// The taint goes in at join time: kubeadm's JoinConfiguration
    /// `nodeRegistration.taints`, one NoExecute taint keyed by the label.
    #[test]
    fn the_join_patch_taints_the_worker_with_its_pool() {
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&join_taint_patch("pool-2")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["kind"].as_str(), Some("JoinConfiguration"));
        let t = &v["nodeRegistration"]["taints"][0];
        assert_eq!(t["key"].as_str(), Some("storage-e2e/pool"));
        assert_eq!(t["value"].as_str(), Some("pool-2"));
        assert_eq!(t["effect"].as_str(), Some("NoExecute"));
    }

    #[test]
    fn pools_add_two_labelled_tainted_workers_each_to_the_kind_config() {
        let yaml = crate::cluster::kind::config(3).with_pools(2).to_yaml();
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
        let nodes = v["nodes"].as_sequence().cloned().unwrap_or_default();
        assert_eq!(nodes.len(), 7, "{yaml}");
        let pools: Vec<Option<&str>> = nodes
            .iter()
            .map(|n| n["labels"]["storage-e2e/pool"].as_str())
            .collect();
        assert_eq!(
            pools,
            [
                None,
                None,
                None,
                Some("pool-1"),
                Some("pool-1"),
                Some("pool-2"),
                Some("pool-2")
            ]
        );
        assert!(
            nodes[3]["kubeadmConfigPatches"][0]
                .as_str()
                .is_some_and(|p| p.contains("value: pool-1")),
            "{yaml}"
        );
        assert_eq!(
            crate::cluster::kind::config(3).with_pools(0),
            crate::cluster::kind::config(3)
        );
    }
}
