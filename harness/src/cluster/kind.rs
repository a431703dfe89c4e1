//! kind: the cluster config the harness writes and every kind command line
//! it runs, as pure functions so tier 0 can check them without kind.
//!
//! Every command gets `--kubeconfig <temp file>` where kind accepts it and
//! `KUBECONFIG=<temp file>` in its environment: without them kind writes the
//! new cluster into (and `kind delete` edits) `~/.kube/config` (kubernetes-sigs/kind
//! pkg/cluster/internal/kubeconfig/internal/kubeconfig/paths.go).

use std::path::Path;

use serde::Serialize;

use crate::cmd::Cmd;
use crate::host::Host;
use crate::vocab::Minor;

/// Docker label kind puts on every node container: value = cluster name.
pub(crate) const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// Docker label kind puts on every node container: `control-plane` or `worker`.
pub(crate) const ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// The Docker network kind attaches nodes to, unless
/// `KIND_EXPERIMENTAL_DOCKER_NETWORK` names another one
/// (kind pkg/cluster/internal/providers/docker/network.go).
pub(crate) const DEFAULT_NETWORK: &str = "kind";
/// How long `kind create cluster --wait` waits for the control plane.
pub(crate) const CREATE_WAIT: &str = "5m";

/// The kind config format (`kind.x-k8s.io/v1alpha4`), only the fields used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KindConfig {
    kind: &'static str,
    api_version: &'static str,
    networking: Networking,
    nodes: Vec<KindNode>,
    /// kubeadm config patches kind merges into every node's kubeadm config.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kubeadm_config_patches: Vec<String>,
    /// TOML patches kind merges into every node's /etc/containerd/config.toml.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    containerd_config_patches: Vec<String>,
}

/// kubelet 1.35 and later refuse to start on a cgroup v1 host unless told
/// otherwise (KubeletConfiguration `failCgroupV1`, default true from 1.35:
/// kubernetes#134298, KEP-5573).
pub(crate) const FAIL_CGROUP_V1_PATCH: &str = "kind: KubeletConfiguration\nfailCgroupV1: false\n";
/// The first minor whose kubelet needs [`FAIL_CGROUP_V1_PATCH`] on cgroup v1.
pub(crate) const FAIL_CGROUP_V1_FROM: Minor = Minor(35);
/// Pod sandboxes ask for oom_score_adj -998, which only CAP_SYS_RESOURCE
/// may set; without it runc fails with "can't get final child's PID from
/// pipe". containerd then clamps requests to its own score, as kind's
/// entrypoint already makes it do in rootless nodes.
pub(crate) const RESTRICT_OOM_SCORE_ADJ_PATCH: &str =
    "[plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n";

/// The config patches a host needs, with a one-line warning per setting so
/// a run says why its cluster differs from kind's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostPatches {
    /// For `kubeadmConfigPatches`.
    pub(crate) kubeadm: Vec<String>,
    /// For `containerdConfigPatches`.
    pub(crate) containerd: Vec<String>,
    /// One line per patch: what about the host makes it necessary.
    pub(crate) warnings: Vec<String>,
}

/// What `host` needs from a cluster of Kubernetes `minor`.
pub(crate) fn host_patches(host: &Host, minor: Minor) -> HostPatches {
    let mut p = HostPatches::default();
    if host.cgroup_v1 && minor >= FAIL_CGROUP_V1_FROM {
        p.kubeadm.push(FAIL_CGROUP_V1_PATCH.to_owned());
        p.warnings.push(format!(
            "cgroup v1 host: kubelet {minor} refuses cgroup v1 by default, so the cluster's \
             KubeletConfiguration sets failCgroupV1: false (kubernetes#134298); move to cgroup v2 before \
             Kubernetes drops v1"
        ));
    }
    if !host.cap_sys_resource {
        p.containerd.push(RESTRICT_OOM_SCORE_ADJ_PATCH.to_owned());
        p.warnings.push(
            "the host's capability bounding set lacks CAP_SYS_RESOURCE, so pods may not lower their \
             OOM score: containerd in the nodes clamps it (restrict_oom_score_adj = true)"
                .to_owned(),
        );
    }
    p
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    api_server_address: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct KindNode {
    role: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_mounts: Vec<ExtraMount>,
    /// Node labels (kind sets them on the Node when it joins).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    labels: std::collections::BTreeMap<String, String>,
    /// kubeadm patches for this node alone (a pool worker's taint).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    kubeadm_config_patches: Vec<String>,
}

/// A host path bind-mounted into a node container (kind's `extraMounts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtraMount {
    host_path: String,
    container_path: String,
}

/// The config for `nodes` nodes: one control plane, the rest workers; the
/// API server on 127.0.0.1. Equal to `kind-config/kind-{1node,3nodes}.yaml`.
pub(crate) fn config(nodes: u8) -> KindConfig {
    let node = |role| KindNode {
        role,
        extra_mounts: Vec::new(),
        labels: std::collections::BTreeMap::new(),
        kubeadm_config_patches: Vec::new(),
    };
    let mut list = vec![node("control-plane")];
    list.extend((1..nodes.max(1)).map(|_| node("worker")));
    KindConfig {
        kind: "Cluster",
        api_version: "kind.x-k8s.io/v1alpha4",
        networking: Networking {
            api_server_address: "127.0.0.1",
        },
        nodes: list,
        kubeadm_config_patches: Vec::new(),
        containerd_config_patches: Vec::new(),
    }
}

impl KindConfig {
    /// This config with the patches a host needs ([`host_patches`]).
    #[must_use]
    pub(crate) fn with_patches(mut self, patches: &HostPatches) -> Self {
        self.kubeadm_config_patches.clone_from(&patches.kubeadm);
        self.containerd_config_patches
            .clone_from(&patches.containerd);
        self
    }

    /// This config with `pools` node pools added: two workers each, labelled
    /// and tainted (NoExecute) with the pool's name from the moment they
    /// join, so nothing but a pod that tolerates the taint ever runs there
    /// (the DaemonSets of every node tolerate everything).
    #[must_use]
    pub(crate) fn with_pools(mut self, pools: u8) -> Self {
        for pool in (1..=pools).map(super::pool::name) {
            for _ in 0..super::pool::NODES_PER_POOL {
                self.nodes.push(KindNode {
                    role: "worker",
                    extra_mounts: Vec::new(),
                    labels: [(crate::labels::POOL.to_owned(), pool.clone())].into(),
                    kubeadm_config_patches: vec![super::pool::join_taint_patch(&pool)],
                });
            }
        }
        self
    }

    /// This config with `host` mounted at `container` in every node: one
    /// directory all nodes see at the same path (the attachable CSI
    /// driver's shared image directory).
    #[must_use]
    pub(crate) fn with_shared_dir(mut self, host: &Path, container: &str) -> Self {
        for n in &mut self.nodes {
            n.extra_mounts.push(ExtraMount {
                host_path: host.to_string_lossy().into_owned(),
                container_path: container.to_owned(),
            });
        }
        self
    }

    /// As YAML, ready for `--config`.
    pub(crate) fn to_yaml(&self) -> String {
        // Serializing plain structs of strings cannot fail.
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }
}

/// [`config`] as YAML, ready for `--config`.
#[cfg(test)]
pub(crate) fn config_yaml(nodes: u8) -> String {
    config(nodes).to_yaml()
}

fn kind(kubeconfig: &Path) -> Cmd {
    Cmd::new("kind").env("KUBECONFIG", kubeconfig.to_string_lossy())
}

/// `kind create cluster`: named, from `config_file`, with the pinned node
/// `image`, writing its kubeconfig only to `kubeconfig`.
pub(crate) fn create(name: &str, config_file: &Path, image: &str, kubeconfig: &Path) -> Cmd {
    kind(kubeconfig)
        .args(["create", "cluster", "--name", name, "--config"])
        .arg(config_file.to_string_lossy())
        .args(["--image", image, "--kubeconfig"])
        .arg(kubeconfig.to_string_lossy())
        .args(["--wait", CREATE_WAIT])
}

/// `kind delete cluster`. Deleting a cluster that does not exist succeeds
/// (kind quick-start), so this is safe to run twice.
pub(crate) fn delete(name: &str, kubeconfig: &Path) -> Cmd {
    kind(kubeconfig)
        .args(["delete", "cluster", "--name", name, "--kubeconfig"])
        .arg(kubeconfig.to_string_lossy())
}

/// `kind load docker-image`: copy images from the host's Docker into every node.
pub(crate) fn load_docker_image(name: &str, images: &[&str], kubeconfig: &Path) -> Cmd {
    kind(kubeconfig)
        .args(["load", "docker-image"])
        .args(images.iter().copied())
        .args(["--name", name])
}

/// `docker image save --platform <platform> -o <archive> <image>`: one
/// platform only, the workaround kind documents for kind#3795 (a
/// multi-platform save from the containerd image store lacks the other
/// platforms' blobs).
pub(crate) fn save_image(image: &str, archive: &Path, platform: Option<&str>) -> Cmd {
    let mut c = Cmd::new("docker").args(["image", "save"]);
    if let Some(p) = platform {
        c = c.args(["--platform", p]);
    }
    c.arg("-o").arg(archive.to_string_lossy()).arg(image)
}

/// `kind load image-archive`: the fallback half of kind#3795's workaround.
pub(crate) fn load_image_archive(name: &str, archive: &Path, kubeconfig: &Path) -> Cmd {
    kind(kubeconfig)
        .args(["load", "image-archive"])
        .arg(archive.to_string_lossy())
        .args(["--name", name])
}

/// `kind export logs <dir>`: node journals, kubelet and container logs.
pub(crate) fn export_logs(name: &str, dir: &Path, kubeconfig: &Path) -> Cmd {
    kind(kubeconfig)
        .args(["export", "logs"])
        .arg(dir.to_string_lossy())
        .args(["--name", name])
}

/// Whether a failed `kind load docker-image` is kind#3795 ("ctr: content
/// digest sha256:...: not found", Docker's containerd image store), which
/// the `docker image save` + `kind load image-archive` fallback fixes.
pub(crate) fn needs_archive_fallback(stderr: &str) -> bool {
    stderr.contains("content digest") && stderr.contains("not found")
}

/// The Docker platform of this host for single-platform saves, e.g. `linux/amd64`.
pub(crate) fn host_platform() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("linux/amd64"),
        "aarch64" => Some("linux/arm64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cluster::tests_support::config_file as file;

    /// Every node mounts the same host folder at the same path: the
    /// attachable driver's volumes must be reachable from whichever node
    /// a volume is attached to.
    #[test]
    fn a_shared_dir_is_mounted_into_every_node_at_one_path() {
        let yaml = config(3)
            .with_shared_dir(Path::new("/tmp/e2e-kube-x/san"), "/var/lib/storage-e2e-san")
            .to_yaml();
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
        let nodes = v["nodes"].as_sequence().cloned().unwrap_or_default();
        assert_eq!(nodes.len(), 3);
        for n in nodes {
            assert_eq!(
                n["extraMounts"][0]["hostPath"], "/tmp/e2e-kube-x/san",
                "{yaml}"
            );
            assert_eq!(
                n["extraMounts"][0]["containerPath"],
                "/var/lib/storage-e2e-san"
            );
        }
        assert!(!config_yaml(3).contains("extraMounts"), "only when asked");
    }

    fn generated(nodes: u8) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(&config_yaml(nodes)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn generated_configs_equal_the_checked_in_files() {
        assert_eq!(generated(1), file("kind-1node.yaml"));
        assert_eq!(generated(3), file("kind-3nodes.yaml"));
    }

    #[test]
    fn node_count_gives_one_control_plane_and_workers() {
        let yaml = config_yaml(5);
        assert_eq!(yaml.matches("role: control-plane").count(), 1, "{yaml}");
        assert_eq!(yaml.matches("role: worker").count(), 4, "{yaml}");
        assert!(yaml.contains("apiServerAddress: 127.0.0.1"), "{yaml}");
        assert_eq!(config(0), config(1));
    }

    fn host(cgroup_v1: bool, cap_sys_resource: bool) -> Host {
        Host::for_tests(cgroup_v1, cap_sys_resource)
    }

    #[test]
    fn a_modern_host_needs_no_patches() {
        let p = host_patches(&host(false, true), Minor(37));
        assert_eq!(p, HostPatches::default());
        assert_eq!(
            serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&config(3).with_patches(&p).to_yaml())
                .unwrap_or_else(|e| panic!("{e}")),
            file("kind-3nodes.yaml")
        );
    }

    #[test]
    fn cgroup_v1_gets_fail_cgroup_v1_false_from_1_35_with_a_warning() {
        assert_eq!(
            host_patches(&host(true, true), Minor(34)),
            HostPatches::default()
        );
        let p = host_patches(&host(true, true), Minor(35));
        assert_eq!(p.kubeadm, [FAIL_CGROUP_V1_PATCH]);
        assert!(p.containerd.is_empty());
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].starts_with("cgroup v1 host: kubelet 1.35 refuses"),
            "{:?}",
            p.warnings
        );
        let yaml = config(3).with_patches(&p).to_yaml();
        let v: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("{e}"));
        let patch = v["kubeadmConfigPatches"][0].as_str().unwrap_or_default();
        let kubelet: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(patch).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kubelet["kind"].as_str(), Some("KubeletConfiguration"));
        assert_eq!(kubelet["failCgroupV1"].as_bool(), Some(false));
    }

    #[test]
    fn no_cap_sys_resource_makes_containerd_clamp_oom_scores() {
        let p = host_patches(&host(false, false), Minor(34));
        assert!(p.kubeadm.is_empty());
        assert_eq!(p.containerd, [RESTRICT_OOM_SCORE_ADJ_PATCH]);
        let toml: toml::Value = toml::from_str(&p.containerd[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            toml["plugins"]["io.containerd.grpc.v1.cri"]["restrict_oom_score_adj"].as_bool(),
            Some(true)
        );
        assert!(
            p.warnings[0].contains("CAP_SYS_RESOURCE"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn command_lines_are_exact() {
        let kc = Path::new("/tmp/e2e-kube-x/kubeconfig");
        let cfg = Path::new("/tmp/e2e-kube-x/kind.yaml");
        assert_eq!(
            create("e2e-r1-abc", cfg, "kindest/node:v1.35.8@sha256:07b2", kc).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-x/kubeconfig kind create cluster --name e2e-r1-abc \
             --config /tmp/e2e-kube-x/kind.yaml --image kindest/node:v1.35.8@sha256:07b2 \
             --kubeconfig /tmp/e2e-kube-x/kubeconfig --wait 5m"
        );
        assert_eq!(
            delete("e2e-r1-abc", kc).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-x/kubeconfig kind delete cluster --name e2e-r1-abc \
             --kubeconfig /tmp/e2e-kube-x/kubeconfig"
        );
        assert_eq!(
            load_docker_image(
                "e2e-r1-abc",
                &["prom/prometheus:v3.7.3", "busybox:1.37.0"],
                kc
            )
            .to_string(),
            "KUBECONFIG=/tmp/e2e-kube-x/kubeconfig kind load docker-image prom/prometheus:v3.7.3 \
             busybox:1.37.0 --name e2e-r1-abc"
        );
        assert_eq!(
            save_image(
                "busybox:1.37.0",
                Path::new("/tmp/d/0.tar"),
                Some("linux/amd64")
            )
            .to_string(),
            "docker image save --platform linux/amd64 -o /tmp/d/0.tar busybox:1.37.0"
        );
        assert_eq!(
            load_image_archive("e2e-r1-abc", Path::new("/tmp/d/0.tar"), kc).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-x/kubeconfig kind load image-archive /tmp/d/0.tar --name e2e-r1-abc"
        );
        assert_eq!(
            export_logs("e2e-r1-abc", Path::new("target/e2e-report/x/kind-logs"), kc).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-x/kubeconfig kind export logs target/e2e-report/x/kind-logs \
             --name e2e-r1-abc"
        );
    }

    #[test]
    fn the_content_digest_error_triggers_the_archive_fallback() {
        // Recorded from kind#4066 (same failure as kind#3795).
        let stderr = "ERROR: failed to load image: command \"docker exec --privileged -i kind-control-plane \
            ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" \
            failed with error: exit status 1\nCommand Output: ctr: content digest \
            sha256:44b2c602cb838fd6a647d6d48cf0e6f56227351b2903263d60637ebd26545a8d: not found";
        assert!(needs_archive_fallback(stderr));
        assert!(!needs_archive_fallback(
            "ERROR: image: \"nope:1\" not present locally"
        ));
    }
}
