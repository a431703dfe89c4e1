//! Cluster nodes as the disruptions see them: the Kubernetes node name, the
//! Docker container behind it (kind and k3d name the node after its
//! container), and its role. Listing goes through Docker labels, so it works
//! the same for both providers; cordoning goes through the Kubernetes API.

use k8s_openapi::api::core::v1::{Node as KubeNode, Taint};
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::cluster::{k3d, kind};
use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::vocab::Provider;

/// What a node does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeRole {
    /// kind `control-plane`, k3d `server`.
    ControlPlane,
    /// kind `worker`, k3d `agent`.
    Worker,
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// The Kubernetes node name (for kind and k3d also the container name).
    pub(crate) name: String,
    /// The Docker container, when the harness made the cluster.
    pub(crate) container: Option<String>,
    /// Control plane or worker.
    pub(crate) role: NodeRole,
    /// The node pool a worker belongs to (its [`crate::labels::POOL`]
    /// label), read from the API once the cluster is up.
    pub(crate) pool: Option<String>,
}

/// `docker ps -a` listing the node containers of a kind or k3d cluster as
/// `<name>\t<role label>` lines.
pub(crate) fn list_containers(provider: Provider, cluster: &str) -> Option<Cmd> {
    let (cluster_label, role_label) = match provider {
        Provider::Kind => (kind::CLUSTER_LABEL, kind::ROLE_LABEL),
        Provider::K3d => (k3d::CLUSTER_LABEL, k3d::ROLE_LABEL),
        Provider::Existing => return None,
    };
    Some(Cmd::new("docker").args([
        "ps".to_owned(),
        "-a".to_owned(),
        "--filter".to_owned(),
        format!("label={cluster_label}={cluster}"),
        "--format".to_owned(),
        format!("{{{{.Names}}}}\t{{{{.Label \"{role_label}\"}}}}"),
    ]))
}

/// Parse [`list_containers`] output into nodes sorted control plane first,
/// then by name; k3d's load balancer, tools and registry containers are not
/// nodes and are skipped.
///
/// # Errors
/// [`Error::Parse`] for a line without a tab or with an unknown role.
pub(crate) fn parse_containers(provider: Provider, stdout: &str) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, role) = line
            .split_once('\t')
            .ok_or_else(|| Error::parse("node container listing", format!("no tab in {line:?}")))?;
        let role = match (provider, role.trim()) {
            (Provider::Kind, "control-plane") | (Provider::K3d, "server") => NodeRole::ControlPlane,
            (Provider::Kind, "worker") | (Provider::K3d, "agent") => NodeRole::Worker,
            (Provider::Kind, "external-load-balancer")
            | (Provider::K3d, "loadbalancer" | "noRole" | "registry") => continue,
            (_, other) => {
                return Err(Error::parse(
                    "node container listing",
                    format!("unknown {provider} node role {other:?} for {name}"),
                ));
            }
        };
        nodes.push(Node {
            name: name.trim().to_owned(),
            container: Some(name.trim().to_owned()),
            role,
            pool: None,
        });
    }
    nodes.sort_by(|a, b| {
        (a.role != NodeRole::ControlPlane, &a.name)
            .cmp(&(b.role != NodeRole::ControlPlane, &b.name))
    });
    Ok(nodes)
}

/// Nodes of a cluster the harness did not make, from the Kubernetes API
/// (no containers: node operations other than cordon are unavailable).
///
/// # Errors
/// [`Error::Kube`] when the nodes cannot be listed.
pub(crate) async fn list_from_api(client: &kube::Client) -> Result<Vec<Node>> {
    let api: Api<KubeNode> = Api::all(client.clone());
    let list = api
        .list(&Default::default())
        .await
        .map_err(|e| Error::kube("list nodes", e))?;
    let mut nodes: Vec<Node> = list
        .items
        .into_iter()
        .map(|n| {
            let labels = n.metadata.labels.unwrap_or_default();
            let control = labels.contains_key("node-role.kubernetes.io/control-plane");
            Node {
                name: n.metadata.name.unwrap_or_default(),
                container: None,
                role: if control {
                    NodeRole::ControlPlane
                } else {
                    NodeRole::Worker
                },
                pool: labels.get(crate::labels::POOL).cloned(),
            }
        })
        .collect();
    nodes.sort_by(|a, b| {
        (a.role != NodeRole::ControlPlane, &a.name)
            .cmp(&(b.role != NodeRole::ControlPlane, &b.name))
    });
    Ok(nodes)
}

/// `docker inspect` printing the Docker networks a container is attached to.
pub(crate) fn networks_of(container: &str) -> Cmd {
    Cmd::new("docker").args([
        "inspect",
        "--format",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}\n{{end}}",
        container,
    ])
}

/// The cluster's network from [`networks_of`] output: the expected name when
/// the node is on it, else the only network it is on.
///
/// # Errors
/// [`Error::Parse`] when the node is on no network, or on several and none
/// is the expected one.
pub(crate) fn parse_network(stdout: &str, expected: &str) -> Result<String> {
    let nets: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if nets.contains(&expected) {
        return Ok(expected.to_owned());
    }
    match nets.as_slice() {
        [one] => Ok((*one).to_owned()),
        _ => Err(Error::parse(
            "node container networks",
            format!("expected {expected:?}, found {nets:?}"),
        )),
    }
}

/// `docker stop <container>` (SIGTERM, then SIGKILL after Docker's 10 s).
pub(crate) fn stop(container: &str) -> Cmd {
    Cmd::new("docker").args(["stop", container])
}

/// `docker start <container>`.
pub(crate) fn start(container: &str) -> Cmd {
    Cmd::new("docker").args(["start", container])
}

/// The merge patch that cordons (`true`) or uncordons (`false`) a node,
/// exactly what `kubectl cordon` changes.
pub(crate) fn unschedulable_patch(unschedulable: bool) -> serde_json::Value {
    serde_json::json!({ "spec": { "unschedulable": unschedulable } })
}

/// Cordon or uncordon `node` through the API.
///
/// # Errors
/// [`Error::Kube`] naming the node.
pub(crate) async fn set_unschedulable(
    client: &kube::Client,
    node: &str,
    unschedulable: bool,
) -> Result<()> {
    let api: Api<KubeNode> = Api::all(client.clone());
    api.patch(
        node,
        &PatchParams::default(),
        &Patch::Merge(unschedulable_patch(unschedulable)),
    )
    .await
    .map_err(|e| {
        Error::kube(
            format!(
                "{} node {node}",
                if unschedulable { "cordon" } else { "uncordon" }
            ),
            e,
        )
    })?;
    Ok(())
}

/// The taint of a non-graceful node shutdown: an operator puts it on a node
/// that is down for good, and the pod GC and attach/detach controllers then
/// force-delete its terminating pods and detach its volumes at once
/// (kubernetes.io/docs/concepts/cluster-administration/node-shutdown/#non-graceful-node-shutdown,
/// GA in 1.28).
pub(crate) const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";
/// The taint's value, as the Kubernetes docs write it.
pub(crate) const OUT_OF_SERVICE_VALUE: &str = "nodeshutdown";
/// The taint's effect.
pub(crate) const OUT_OF_SERVICE_EFFECT: &str = "NoExecute";

/// `taints` with the out-of-service taint added (`on`) or removed; the
/// other taints (the node lifecycle controller's `unreachable` ones) stay.
pub(crate) fn with_out_of_service(taints: &[Taint], on: bool) -> Vec<Taint> {
    let mut out: Vec<Taint> = taints
        .iter()
        .filter(|t| t.key != OUT_OF_SERVICE_TAINT)
        .cloned()
        .collect();
    if on {
        out.push(Taint {
            key: OUT_OF_SERVICE_TAINT.to_owned(),
            value: Some(OUT_OF_SERVICE_VALUE.to_owned()),
            effect: OUT_OF_SERVICE_EFFECT.to_owned(),
            time_added: None,
        });
    }
    out
}

/// How often a taint change is retried when the node changed under it.
const TAINT_ATTEMPTS: usize = 5;

/// Put the out-of-service taint on `node` (`on`) or take it off.
///
/// The node lifecycle controller edits the same taint list while the node
/// is NotReady, so the list is read, changed and written back with its
/// resourceVersion, and the write retried when it was changed meanwhile
/// (409 Conflict), never merged blindly over the controller's taints.
///
/// # Errors
/// [`Error::Kube`] naming the node, or the conflict after every attempt.
pub(crate) async fn set_out_of_service(client: &kube::Client, node: &str, on: bool) -> Result<()> {
    let api: Api<KubeNode> = Api::all(client.clone());
    let action = || {
        format!(
            "{} the {OUT_OF_SERVICE_TAINT} taint {} node {node}",
            if on { "add" } else { "remove" },
            if on { "to" } else { "from" }
        )
    };
    let mut attempt = 1;
    loop {
        let mut current = api.get(node).await.map_err(|e| Error::kube(action(), e))?;
        let spec = current.spec.get_or_insert_with(Default::default);
        let taints = spec.taints.clone().unwrap_or_default();
        let wanted = with_out_of_service(&taints, on);
        if wanted == taints {
            return Ok(());
        }
        spec.taints = (!wanted.is_empty()).then_some(wanted);
        match api.replace(node, &PostParams::default(), &current).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt < TAINT_ATTEMPTS => attempt += 1,
            Err(e) => return Err(Error::kube(action(), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_out_of_service_taint_is_added_beside_the_controllers_taints_and_removed_alone() {
        let unreachable = Taint {
            key: "node.kubernetes.io/unreachable".into(),
            value: None,
            effect: "NoExecute".into(),
            time_added: None,
        };
        let on = with_out_of_service(std::slice::from_ref(&unreachable), true);
        assert_eq!(on.len(), 2);
        assert_eq!(on[0], unreachable);
        assert_eq!(on[1].key, "node.kubernetes.io/out-of-service");
        assert_eq!(on[1].value.as_deref(), Some("nodeshutdown"));
        assert_eq!(on[1].effect, "NoExecute");
        assert_eq!(with_out_of_service(&on, true), on, "added once");
        assert_eq!(with_out_of_service(&on, false), vec![unreachable]);
        assert!(with_out_of_service(&[], false).is_empty());
    }

    #[test]
    fn the_listing_commands_filter_on_the_providers_labels() {
        assert_eq!(
            list_containers(Provider::Kind, "e2e-r-x").map(|c| c.to_string()),
            Some(
                "docker ps -a --filter label=io.x-k8s.kind.cluster=e2e-r-x --format \
                 '{{.Names}}\t{{.Label \"io.x-k8s.kind.role\"}}'"
                    .to_owned()
            )
        );
        let k3d = list_containers(Provider::K3d, "e2e-r-x")
            .map(|c| c.to_string())
            .unwrap_or_default();
        assert!(
            k3d.contains("label=k3d.cluster=e2e-r-x") && k3d.contains("k3d.role"),
            "{k3d}"
        );
        assert!(list_containers(Provider::Existing, "x").is_none());
    }

    #[test]
    fn kind_and_k3d_listings_parse_into_nodes() {
        let kind = parse_containers(
            Provider::Kind,
            "e2e-r-x-worker2\tworker\ne2e-r-x-control-plane\tcontrol-plane\ne2e-r-x-worker\tworker\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = kind.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            ["e2e-r-x-control-plane", "e2e-r-x-worker", "e2e-r-x-worker2"]
        );
        assert_eq!(kind[0].role, NodeRole::ControlPlane);
        assert_eq!(kind[1].container.as_deref(), Some("e2e-r-x-worker"));

        let k3d = parse_containers(
            Provider::K3d,
            "k3d-e2e-x-serverlb\tloadbalancer\nk3d-e2e-x-agent-0\tagent\nk3d-e2e-x-server-0\tserver\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k3d.len(), 2);
        assert_eq!(k3d[0].name, "k3d-e2e-x-server-0");
        assert_eq!(k3d[1].role, NodeRole::Worker);

        let e = parse_containers(Provider::Kind, "n\tbanana\n").expect_err("unknown role");
        assert!(
            e.to_string().contains("unknown kind node role \"banana\""),
            "{e}"
        );
    }

    #[test]
    fn the_cluster_network_is_read_from_the_node() {
        assert_eq!(
            parse_network("bridge\nkind\n", "kind").ok().as_deref(),
            Some("kind")
        );
        assert_eq!(
            parse_network("my-kind-net\n", "kind").ok().as_deref(),
            Some("my-kind-net")
        );
        assert!(parse_network("a\nb\n", "kind").is_err());
        assert!(parse_network("", "k3d-e2e-x").is_err());
        assert_eq!(
            networks_of("e2e-x-control-plane").to_string(),
            "docker inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}\n{{end}}' e2e-x-control-plane"
        );
    }

    #[test]
    fn node_commands_and_cordon_patch_are_exact() {
        assert_eq!(stop("e2e-x-worker").to_string(), "docker stop e2e-x-worker");
        assert_eq!(
            start("e2e-x-worker").to_string(),
            "docker start e2e-x-worker"
        );
        assert_eq!(
            unschedulable_patch(true).to_string(),
            r#"{"spec":{"unschedulable":true}}"#
        );
        assert_eq!(
            unschedulable_patch(false).to_string(),
            r#"{"spec":{"unschedulable":false}}"#
        );
    }
}
