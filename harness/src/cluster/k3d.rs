//! k3d: the cluster config (format `k3d.io/v1alpha5`) and every k3d command
//! line the harness runs, as pure functions so tier 0 can check them.
//!
//! Every command runs with `KUBECONFIG=<temp file>`: `k3d cluster delete`
//! rewrites "the default kubeconfig" (k3d pkg/client/kubeconfig.go
//! `KubeconfigRemoveClusterFromDefaultConfig`), which is `~/.kube/config`
//! unless KUBECONFIG points elsewhere.

use std::path::Path;

use serde::Serialize;

use crate::cmd::Cmd;
use crate::labels::{MANAGED_BY, OWNER, RUN_ID};

/// Docker label k3d puts on node containers, volumes and networks: value = cluster name.
pub(crate) const CLUSTER_LABEL: &str = "k3d.cluster";
/// Docker label k3d puts on node containers: `server`, `agent`, `loadbalancer`, ...
pub(crate) const ROLE_LABEL: &str = "k3d.role";
/// How long `k3d cluster create --wait` waits for the servers.
pub(crate) const CREATE_TIMEOUT: &str = "300s";
/// The k3d release the harness is written against and `make tools`
/// installs; older k3d is refused by the preflight.
pub(crate) const MIN_K3D: &str = "v5.9.0";

/// The Docker network k3d creates for cluster `name`.
pub(crate) fn network_name(name: &str) -> String {
    format!("k3d-{name}")
}

/// The named volume k3d creates for `k3d image import`.
pub(crate) fn image_volume_name(name: &str) -> String {
    format!("k3d-{name}-images")
}

/// The k3d simple config, only the fields used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct K3dConfig {
    api_version: &'static str,
    kind: &'static str,
    servers: u8,
    agents: u8,
    #[serde(rename = "kubeAPI")]
    kube_api: KubeApi,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<VolumeWithFilters>,
    options: Options,
}

/// A host path mounted into the nodes the filters name (`host:container`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeWithFilters {
    volume: String,
    node_filters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeApi {
    #[serde(rename = "hostIP")]
    host_ip: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Options {
    k3d: K3dOptions,
    k3s: K3sOptions,
    kubeconfig: KubeconfigOptions,
    runtime: RuntimeOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct K3dOptions {
    wait: bool,
    timeout: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct K3sOptions {
    extra_args: Vec<ArgWithFilters>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ArgWithFilters {
    arg: String,
    node_filters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeconfigOptions {
    update_default_kubeconfig: bool,
    switch_current_context: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RuntimeOptions {
    labels: Vec<LabelWithFilters>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelWithFilters {
    label: String,
    node_filters: Vec<String>,
}

/// k3s server arguments: Traefik off; with agents, the server is tainted
/// like kind's control plane (k3s servers are schedulable by default), so
/// workloads land on agents, the nodes node-stop may stop.
fn server_args(nodes: u8) -> Vec<ArgWithFilters> {
    let server = || vec!["server:*".to_owned()];
    let mut args = vec![ArgWithFilters {
        arg: "--disable=traefik".into(),
        node_filters: server(),
    }];
    if nodes > 1 {
        args.push(ArgWithFilters {
            arg: "--node-taint=node-role.kubernetes.io/control-plane:NoSchedule".into(),
            node_filters: server(),
        });
    }
    args
}

/// The config for `nodes` nodes (1 server + `nodes - 1` agents): API on
/// 127.0.0.1, Traefik disabled, the default kubeconfig left alone, and the
/// ownership label (plus `storage-e2e/run=<run_id>` when given) on every
/// node container. With `run_id = None` it equals
/// `kind-config/k3d-{1node,3nodes}.yaml`.
pub(crate) fn config(nodes: u8, run_id: Option<&str>) -> K3dConfig {
    let all = || vec!["all".to_owned()];
    let mut labels = vec![LabelWithFilters {
        label: format!("{MANAGED_BY}={OWNER}"),
        node_filters: all(),
    }];
    if let Some(run) = run_id {
        labels.push(LabelWithFilters {
            label: format!("{RUN_ID}={run}"),
            node_filters: all(),
        });
    }
    K3dConfig {
        api_version: "k3d.io/v1alpha5",
        kind: "Simple",
        servers: 1,
        agents: nodes.max(1) - 1,
        kube_api: KubeApi {
            host_ip: "127.0.0.1",
        },
        volumes: Vec::new(),
        options: Options {
            k3d: K3dOptions {
                wait: true,
                timeout: CREATE_TIMEOUT,
            },
            k3s: K3sOptions {
                extra_args: server_args(nodes),
            },
            kubeconfig: KubeconfigOptions {
                update_default_kubeconfig: false,
                switch_current_context: false,
            },
            runtime: RuntimeOptions { labels },
        },
    }
}

impl K3dConfig {
    /// This config with `host` mounted at `container` in every server and
    /// agent (not the load balancer): one directory all nodes see at the
    /// same path (the attachable CSI driver's shared image directory).
    #[must_use]
    pub(crate) fn with_shared_dir(mut self, host: &Path, container: &str) -> Self {
        self.volumes.push(VolumeWithFilters {
            volume: format!("{}:{container}", host.to_string_lossy()),
            node_filters: vec!["server:*".to_owned(), "agent:*".to_owned()],
        });
        self
    }

    /// As YAML, ready for `--config`.
    pub(crate) fn to_yaml(&self) -> String {
        // Serializing plain structs of strings cannot fail.
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

/// [`config`] as YAML, ready for `--config`.
pub(crate) fn config_yaml(nodes: u8, run_id: Option<&str>) -> String {
    config(nodes, run_id).to_yaml()
}

fn k3d(kubeconfig: &Path) -> Cmd {
    Cmd::new("k3d").env("KUBECONFIG", kubeconfig.to_string_lossy())
}

/// `k3d cluster create`: named, from `config_file`, with the pinned k3s
/// `image`; the flags repeat the config's "leave the default kubeconfig
/// alone" so an older config format cannot silently drop it.
pub(crate) fn create(name: &str, config_file: &Path, image: &str, kubeconfig: &Path) -> Cmd {
    k3d(kubeconfig)
        .args(["cluster", "create", name, "--config"])
        .arg(config_file.to_string_lossy())
        .args([
            "--image",
            image,
            "--kubeconfig-update-default=false",
            "--kubeconfig-switch-context=false",
            "--wait",
            "--timeout",
            CREATE_TIMEOUT,
        ])
}

/// `k3d kubeconfig get <name>`: prints the cluster's kubeconfig on stdout;
/// the harness writes it to its temp file itself (mode 0600).
pub(crate) fn kubeconfig_get(name: &str, kubeconfig: &Path) -> Cmd {
    k3d(kubeconfig).args(["kubeconfig", "get", name])
}

/// `k3d cluster delete <name>` (a missing cluster is not an error: "No nodes
/// found for cluster ..., nothing to delete").
pub(crate) fn delete(name: &str, kubeconfig: &Path) -> Cmd {
    k3d(kubeconfig).args(["cluster", "delete", name])
}

/// `k3d image import <images> --cluster <name>`.
pub(crate) fn image_import(name: &str, images: &[&str], kubeconfig: &Path) -> Cmd {
    k3d(kubeconfig)
        .args(["image", "import"])
        .args(images.iter().copied())
        .args(["--cluster", name])
}

/// `docker logs --timestamps <container>`: k3d v5.9 has no released
/// `export-logs`, so the harness collects each node container's log.
pub(crate) fn node_logs(container: &str) -> Cmd {
    Cmd::new("docker").args(["logs", "--timestamps", container])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_dir_is_a_volume_on_servers_and_agents() {
        let yaml = config(3, None)
            .with_shared_dir(Path::new("/tmp/e2e-kube-x/san"), "/var/lib/storage-e2e-san")
            .to_yaml();
        assert!(
            yaml.contains("volume: /tmp/e2e-kube-x/san:/var/lib/storage-e2e-san"),
            "{yaml}"
        );
        assert!(
            yaml.contains("- server:*") && yaml.contains("- agent:*"),
            "{yaml}"
        );
        assert!(!config_yaml(3, None).contains("volumes"), "only when asked");
    }

    use crate::cluster::tests_support::config_file as file;

    fn generated(nodes: u8, run: Option<&str>) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(&config_yaml(nodes, run)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn generated_configs_equal_the_checked_in_files() {
        assert_eq!(generated(1, None), file("k3d-1node.yaml"));
        assert_eq!(generated(3, None), file("k3d-3nodes.yaml"));
    }

    #[test]
    fn node_count_and_run_label_shape_the_config() {
        let yaml = config_yaml(5, Some("r7x2k9"));
        assert!(yaml.contains("apiVersion: k3d.io/v1alpha5"), "{yaml}");
        assert!(yaml.contains("servers: 1\nagents: 4\n"), "{yaml}");
        assert!(
            yaml.contains("label: app.kubernetes.io/managed-by=storage-e2e"),
            "{yaml}"
        );
        assert!(yaml.contains("label: storage-e2e/run=r7x2k9"), "{yaml}");
        assert!(yaml.contains("updateDefaultKubeconfig: false"), "{yaml}");
        assert!(yaml.contains("hostIP: 127.0.0.1"), "{yaml}");
        assert_eq!(config(1, None).agents, 0);
    }

    #[test]
    fn command_lines_are_exact() {
        let kc = Path::new("/tmp/e2e-kube-y/kubeconfig");
        assert_eq!(
            create(
                "e2e-r1-abc",
                Path::new("/tmp/e2e-kube-y/k3d.yaml"),
                "rancher/k3s:v1.35.8-k3s1@sha256:59fe",
                kc
            )
            .to_string(),
            "KUBECONFIG=/tmp/e2e-kube-y/kubeconfig k3d cluster create e2e-r1-abc --config /tmp/e2e-kube-y/k3d.yaml \
             --image rancher/k3s:v1.35.8-k3s1@sha256:59fe --kubeconfig-update-default=false \
             --kubeconfig-switch-context=false --wait --timeout 300s"
        );
        assert_eq!(
            kubeconfig_get("e2e-r1-abc", kc).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-y/kubeconfig k3d kubeconfig get e2e-r1-abc"
        );
        assert_eq!(
            delete("e2e-r1-abc", kc).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-y/kubeconfig k3d cluster delete e2e-r1-abc"
        );
        assert_eq!(
            image_import(
                "e2e-r1-abc",
                &["prom/prometheus:v3.7.3", "local/storage-e2e-nfs:0.1.0"],
                kc
            )
            .to_string(),
            "KUBECONFIG=/tmp/e2e-kube-y/kubeconfig k3d image import prom/prometheus:v3.7.3 \
             local/storage-e2e-nfs:0.1.0 --cluster e2e-r1-abc"
        );
        assert_eq!(
            node_logs("k3d-e2e-r1-abc-agent-0").to_string(),
            "docker logs --timestamps k3d-e2e-r1-abc-agent-0"
        );
        assert_eq!(network_name("e2e-r1-abc"), "k3d-e2e-r1-abc");
        assert_eq!(image_volume_name("e2e-r1-abc"), "k3d-e2e-r1-abc-images");
    }
}
