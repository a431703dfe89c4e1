//! Configuring and starting a cluster: the [`Cluster`] builder, the
//! provider's create and delete commands, and the wait until it serves.
//!
//! Over 600 lines because its tier-0 tests (command lines, configs,
//! kubeconfig isolation) sit beside the code; the code itself is under 500.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::{
    ClusterGuard, ClusterInfo, NODES_READY_TIMEOUT, guard, k3d, kind, kubeconfig, node, node_image,
    preflight, reaper, wait_nodes_ready,
};
use crate::cmd::Cmd;
use crate::config::{Config, Keep};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::labels::{NAME_PREFIX, run_id, unique_name};
use crate::manifest::SAN_DIR;

/// The folder of the cluster's temp dir that every node sees at
/// [`SAN_DIR`].
pub(crate) const SHARED_DIR_NAME: &str = "san";
use crate::versions::VersionTable;
use crate::vocab::{Minor, Provider};

/// Configure a cluster, then [`Cluster::start`] it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cluster {
    provider: Provider,
    name: String,
    nodes: u8,
    /// Node pools added to the `nodes` (kind only: `crate::cluster::pool`).
    pools: u8,
    /// Images a kind cluster's node image should already hold
    /// (`node_image::with_images`); loaded into the nodes either way.
    preload: Vec<String>,
    version: Option<Minor>,
    keep: Keep,
    kubeconfig: Option<PathBuf>,
    path_env: Option<String>,
    host: Option<Host>,
    preflighted: bool,
    /// Host directory mounted into every node at [`SAN_DIR`] (for the
    /// attachable CSI driver), when the run needs one.
    shared_dir: Option<PathBuf>,
    wants_shared_dir: bool,
}

/// What starting a kind or k3d cluster will run: pure, for tier-0 checks
/// and for printing before doing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// kind or k3d.
    pub(crate) provider: Provider,
    /// The cluster name (`e2e-<run id>-<random>` unless given).
    pub(crate) name: String,
    /// Node count, the pools' workers included.
    pub(crate) nodes: u8,
    /// The Kubernetes minor, resolved through the version table.
    pub(crate) minor: Minor,
    /// The pinned node image (kind) or k3s image (k3d).
    pub(crate) image: String,
    /// The file name the config is written to inside the temp dir.
    pub(crate) config_file: &'static str,
    /// The cluster config.
    pub(crate) config_yaml: String,
    /// Why the config differs from the provider's default on this host
    /// (kind: [`kind::host_patches`]), one line each.
    pub(crate) warnings: Vec<String>,
}

impl Plan {
    /// The create command, with the config at `config_path` and the
    /// kubeconfig written only to `kubeconfig`.
    pub(crate) fn create(&self, config_path: &Path, kubeconfig: &Path) -> Cmd {
        match self.provider {
            Provider::K3d => k3d::create(&self.name, config_path, &self.image, kubeconfig),
            _ => kind::create(&self.name, config_path, &self.image, kubeconfig),
        }
    }

    /// The delete command (safe to run when the cluster is already gone).
    pub(crate) fn delete(&self, kubeconfig: &Path) -> Cmd {
        delete_cmd(self.provider, &self.name, kubeconfig)
    }
}

pub(crate) fn delete_cmd(provider: Provider, name: &str, kubeconfig: &Path) -> Cmd {
    match provider {
        Provider::K3d => k3d::delete(name, kubeconfig),
        _ => kind::delete(name, kubeconfig),
    }
}

impl Cluster {
    /// A cluster from `provider` with the defaults: 3 nodes, the table's
    /// default minor, keep on failure, name `e2e-<run id>-<random>`.
    pub(crate) fn new(provider: Provider) -> Self {
        Self {
            provider,
            name: unique_name(run_id()),
            nodes: 3,
            pools: 0,
            preload: Vec::new(),
            version: None,
            keep: Keep::OnFailure,
            kubeconfig: None,
            path_env: None,
            host: None,
            preflighted: false,
            shared_dir: None,
            wants_shared_dir: false,
        }
    }

    /// A kind cluster named `name` (must start with `e2e-` so the sweep finds it).
    #[cfg(test)]
    pub(crate) fn kind(name: impl Into<String>) -> Self {
        Self::new(Provider::Kind).with_name(name)
    }

    /// A k3d cluster named `name` (must start with `e2e-` so the sweep finds it).
    #[cfg(test)]
    pub(crate) fn k3d(name: impl Into<String>) -> Self {
        Self::new(Provider::K3d).with_name(name)
    }

    /// The user's cluster behind `kubeconfig`; never created or deleted.
    #[cfg(test)]
    pub(crate) fn existing(kubeconfig: impl Into<PathBuf>) -> Self {
        Self::new(Provider::Existing).with_kubeconfig(kubeconfig)
    }

    /// Provider, node count, version, keep policy and kubeconfig from the
    /// run's configuration (E2E_PROVIDER, E2E_NODES, E2E_K8S_VERSION,
    /// E2E_KEEP, E2E_KUBECONFIG).
    pub(crate) fn from_config(config: &Config) -> Self {
        let mut c = Self::new(config.provider)
            .with_nodes(config.nodes)
            .with_keep(config.keep);
        c.version = config.k8s_version;
        c.pools = config.node_pools();
        c.kubeconfig = config.kubeconfig.clone();
        c.wants_shared_dir = config.variants.iter().any(|v| v.uses_attachable_csi());
        c
    }

    /// Images the kind node image should already hold, so none is copied
    /// into each node (`node_image::with_images`).
    #[must_use]
    pub(crate) fn with_preload(mut self, images: Vec<String>) -> Self {
        self.preload = images;
        self
    }

    /// Set the cluster name.
    #[must_use]
    #[cfg(test)]
    pub(crate) fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Node count: 1 control plane + `nodes - 1` workers.
    #[must_use]
    pub(crate) fn with_nodes(mut self, nodes: u8) -> Self {
        self.nodes = nodes;
        self
    }

    /// Kubernetes minor (a row of `kind-config/versions.toml`).
    #[must_use]
    #[cfg(test)]
    pub(crate) fn with_version(mut self, minor: Minor) -> Self {
        self.version = Some(minor);
        self
    }

    /// When to keep the cluster after the guard ends (E2E_KEEP).
    #[must_use]
    pub(crate) fn with_keep(mut self, keep: Keep) -> Self {
        self.keep = keep;
        self
    }

    /// The kubeconfig of an existing cluster (provider `existing`).
    #[must_use]
    #[cfg(test)]
    pub(crate) fn with_kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// The host facts the cluster config adapts to (default: read from
    /// this machine at [`Cluster::start`]; [`Cluster::plan`] without them
    /// assumes a host that needs nothing).
    #[must_use]
    pub(crate) fn with_host(mut self, host: Host) -> Self {
        self.host = Some(host);
        self
    }

    /// Skip the preflight in [`Cluster::start`]: the caller ran
    /// [`preflight()`] for this configuration already (and printed its warnings).
    #[must_use]
    pub(crate) fn preflighted(mut self) -> Self {
        self.preflighted = true;
        self
    }

    /// The cluster name.
    #[cfg(test)]
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn path_env(&self) -> String {
        self.path_env
            .clone()
            .unwrap_or_else(|| std::env::var("PATH").unwrap_or_default())
    }

    fn as_config(&self) -> Config {
        Config {
            provider: self.provider,
            k8s_version: self.version,
            nodes: self.nodes,
            keep: self.keep,
            kubeconfig: self.kubeconfig.clone(),
            ..Config::default()
        }
    }

    /// What [`Cluster::start`] will run for kind or k3d.
    ///
    /// # Errors
    /// [`Error::Config`] for provider `existing`, a name without the `e2e-`
    /// prefix or a node count outside 1..=5; [`Error::Unknown`] for a minor
    /// not in the version table.
    pub(crate) fn plan(&self) -> Result<Plan> {
        if self.provider == Provider::Existing {
            return Err(Error::Config {
                var: "E2E_PROVIDER",
                value: "existing".into(),
                allowed: "kind or k3d to create a cluster (an existing one is only connected to)"
                    .into(),
            });
        }
        let name_ok = self.name.starts_with(NAME_PREFIX)
            && self.name.len() <= 40
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(Error::Config {
                var: "cluster name",
                value: self.name.clone(),
                allowed: "at most 40 lowercase letters, digits and '-', starting with e2e- (so `make clean` finds it)"
                    .into(),
            });
        }
        if !(1..=5).contains(&self.nodes) {
            return Err(Error::Config {
                var: "E2E_NODES",
                value: self.nodes.to_string(),
                allowed: "a node count from 1 to 5 (default 3)".into(),
            });
        }
        let table = VersionTable::embedded()?;
        let row = table.resolve(self.version)?;
        Ok(match self.provider {
            Provider::K3d => Plan {
                provider: Provider::K3d,
                name: self.name.clone(),
                nodes: self.nodes,
                minor: row.minor,
                image: row.k3s_image.clone(),
                config_file: "k3d.yaml",
                config_yaml: match &self.shared_dir {
                    Some(host) => k3d::config(self.nodes, Some(run_id()))
                        .with_shared_dir(host, SAN_DIR)
                        .to_yaml(),
                    None => k3d::config_yaml(self.nodes, Some(run_id())),
                },
                warnings: Vec::new(),
            },
            _ => {
                let patches = self
                    .host
                    .as_ref()
                    .map(|h| kind::host_patches(h, row.minor))
                    .unwrap_or_default();
                let config = kind::config(self.nodes)
                    .with_pools(self.pools)
                    .with_patches(&patches);
                Plan {
                    provider: Provider::Kind,
                    name: self.name.clone(),
                    nodes: self.nodes + self.pools * super::pool::NODES_PER_POOL,
                    minor: row.minor,
                    image: row.kind_node_image.clone(),
                    config_file: "kind.yaml",
                    config_yaml: match &self.shared_dir {
                        Some(host) => config.with_shared_dir(host, SAN_DIR),
                        None => config,
                    }
                    .to_yaml(),
                    warnings: patches.warnings,
                }
            }
        })
    }

    /// Preflight, then create the cluster (kind/k3d) or connect to it
    /// (existing), and wait until every node is Ready.
    ///
    /// # Errors
    /// [`Error::Preflight`] naming what is missing; [`Error::Command`] when
    /// kind/k3d fail (a half-made cluster is deleted, or kept per E2E_KEEP);
    /// [`Error::Timeout`] when nodes do not become Ready; [`Error::Kube`].
    pub(crate) async fn start(self) -> Result<ClusterGuard> {
        if !self.preflighted {
            let report = preflight::preflight(&self.as_config(), &self.path_env())?;
            for w in report.warnings() {
                eprintln!("storage-e2e preflight: {w}");
            }
        }
        match self.provider {
            Provider::Existing => self.start_existing().await,
            _ => self.start_created().await,
        }
    }

    async fn start_existing(self) -> Result<ClusterGuard> {
        let kc = self.kubeconfig.clone().ok_or_else(|| Error::Config {
            var: "E2E_KUBECONFIG",
            value: String::new(),
            allowed: "a kubeconfig path when E2E_PROVIDER=existing".into(),
        })?;
        let cfg = kubeconfig::config(&kc).await?;
        let url = cfg.cluster_url.clone();
        let client = kubeconfig::client_for(cfg, &kc)?;
        let info = client.apiserver_version().await.map_err(|e| {
            Error::kube(
                format!(
                    "ask the API server at {url} for its version (E2E_KUBECONFIG={})",
                    kc.display()
                ),
                e,
            )
        })?;
        let version = parse_server_minor(&info.major, &info.minor);
        let nodes = node::list_from_api(&client).await?;
        Ok(ClusterGuard {
            info: ClusterInfo {
                provider: Provider::Existing,
                name: None,
                version,
                kubeconfig: kc,
                network: None,
                nodes,
                notes: Vec::new(),
                node_image_time: std::time::Duration::ZERO,
            },
            client,
            keep: self.keep,
            dir: None,
            reaper: None,
            failed: AtomicBool::new(false),
            namespaces: Mutex::new(Vec::new()),
            done: false,
        })
    }

    // Over 80 lines: one sequence in which every resource (temp dir, reaper,
    // guard) is handed to the guard before the next step can fail, so the
    // cleanup on failure sees all of it; the node listing is its own function.
    async fn start_created(mut self) -> Result<ClusterGuard> {
        if self.host.is_none() {
            self.host = Some(Host::detect());
        }
        // The temp dir first: the shared directory lives in it, so it goes
        // wherever the cluster's temp dir goes (reaper, cleanup, make clean).
        let dir = kubeconfig::KubeconfigDir::new()?;
        if self.wants_shared_dir && self.shared_dir.is_none() {
            let san = dir.dir().join(SHARED_DIR_NAME);
            std::fs::create_dir(&san)
                .map_err(|e| Error::io("creating the nodes' shared directory", &san, e))?;
            self.shared_dir = Some(san);
        }
        let mut plan = self.plan()?;
        let mut notes = Vec::new();
        for w in &plan.warnings {
            eprintln!("storage-e2e: warning: {w}");
            notes.push(format!("warning: {w}"));
        }
        let clock = std::time::Instant::now();
        if plan.provider == Provider::Kind {
            let (pinned, minor) = (plan.image.clone(), plan.minor);
            let choice = tokio::task::spawn_blocking(move || {
                node_image::choose(&pinned, minor, &crate::docker::LocalDocker)
            })
            .await
            .map_err(|e| Error::Cannot {
                action: "choose a kind node image".into(),
                why: e.to_string(),
            })??;
            eprintln!("storage-e2e: {}", choice.why);
            notes.push(choice.why);
            plan.image = choice.image;
            if !self.preload.is_empty() {
                match node_image::with_images(&plan.image, &self.preload).await {
                    Ok((tag, why)) => {
                        eprintln!("storage-e2e: {why}");
                        notes.push(why);
                        plan.image = tag;
                    }
                    Err(e) => {
                        let w = format!(
                            "warning: the run's images could not be put into a node image, so \
                             kind load copies them into each node: {}",
                            crate::error::chain(&e)
                        );
                        eprintln!("storage-e2e: {w}");
                        notes.push(w);
                    }
                }
            }
        }
        let node_image_time = clock.elapsed();
        let config_path = dir.dir().join(plan.config_file);
        std::fs::write(&config_path, &plan.config_yaml)
            .map_err(|e| Error::io("writing the cluster config", &config_path, e))?;
        let kc = dir.kubeconfig();
        let delete = plan.delete(&kc);
        let info = ClusterInfo {
            provider: plan.provider,
            name: Some(plan.name.clone()),
            version: Some(plan.minor),
            kubeconfig: kc.clone(),
            network: None,
            nodes: Vec::new(),
            notes,
            node_image_time,
        };
        let reaper = reaper::Reaper::spawn(&reaper::ReaperPlan {
            delete: delete.clone(),
            keep: self.keep,
            leases: dir.dir().join(reaper::LEASES_DIR),
            remove_dir: dir.dir().to_path_buf(),
            keep_message: info.keep_message(
                &format!(
                    "E2E_KEEP={}; the test process ended",
                    guard::keep_word(self.keep)
                ),
                Some(dir.dir()),
            ),
        })?;
        // From here on a crash of this process leaves the cluster to the reaper.
        let mut guard = ClusterGuard {
            info,
            client: placeholder_client().await?,
            keep: self.keep,
            dir: Some(dir),
            reaper: Some(reaper),
            failed: AtomicBool::new(false),
            namespaces: Mutex::new(Vec::new()),
            done: false,
        };
        eprintln!(
            "storage-e2e: creating {} cluster {} ({} nodes, Kubernetes {}, {})",
            plan.provider, plan.name, plan.nodes, plan.minor, plan.image
        );
        let ready = async {
            plan.create(&config_path, &kc).run_async().await?;
            match plan.provider {
                Provider::K3d => {
                    let out = k3d::kubeconfig_get(&plan.name, &kc)
                        .quiet()
                        .run_async()
                        .await?;
                    if let Some(d) = &guard.dir {
                        d.write(&out.stdout)?;
                    }
                }
                _ => {
                    if let Some(d) = &guard.dir {
                        d.restrict()?;
                    }
                }
            }
            let client = kubeconfig::client(&kc).await?;
            wait_nodes_ready(&client, usize::from(plan.nodes), &[], NODES_READY_TIMEOUT).await?;
            let (mut nodes, network) = nodes_and_network(&plan).await?;
            // Which pool a worker is in is its label, set by kind at join.
            let labelled = node::list_from_api(&client).await?;
            for n in &mut nodes {
                n.pool = labelled
                    .iter()
                    .find(|l| l.name == n.name)
                    .and_then(|l| l.pool.clone());
            }
            Ok::<_, Error>((client, nodes, network))
        }
        .await;
        match ready {
            Ok((client, nodes, network)) => {
                guard.client = client;
                guard.info.nodes = nodes;
                guard.info.network = Some(network);
                Ok(guard)
            }
            Err(e) => {
                guard.mark_failed();
                eprintln!("storage-e2e: starting {} failed: {e}", plan.name);
                // Keeps or deletes the half-made cluster per E2E_KEEP.
                if let Err(ce) = guard.cleanup().await {
                    eprintln!("storage-e2e: cleaning up {} after that: {ce}", plan.name);
                }
                Err(e)
            }
        }
    }
}

/// The node containers of the cluster `plan` created, and the Docker
/// network they share (checked against the provider's default).
async fn nodes_and_network(plan: &Plan) -> Result<(Vec<super::Node>, String)> {
    let list = node::list_containers(plan.provider, &plan.name)
        .map(|c| c.quiet())
        .ok_or_else(|| Error::parse("node listing", "no listing for this provider"))?
        .run_async()
        .await?;
    let nodes = node::parse_containers(plan.provider, &list.stdout)?;
    let expected_net = match plan.provider {
        Provider::K3d => k3d::network_name(&plan.name),
        _ => kind::DEFAULT_NETWORK.to_owned(),
    };
    let first = nodes
        .first()
        .and_then(|n| n.container.clone())
        .ok_or_else(|| {
            Error::parse(
                "node listing",
                format!("no node containers for {}", plan.name),
            )
        })?;
    let nets = node::networks_of(&first).quiet().run_async().await?;
    let network = node::parse_network(&nets.stdout, &expected_net)?;
    Ok((nodes, network))
}

/// A client that points nowhere, so a guard exists (and cleans up) while
/// the real kubeconfig is still being made. Never used to send requests.
pub(crate) async fn placeholder_client() -> Result<kube::Client> {
    const NOWHERE: &str = "apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: 'https://127.0.0.1:9'}}]
users: [{name: none, user: {}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
";
    let kc = kube::config::Kubeconfig::from_yaml(NOWHERE)
        .map_err(|e| Error::kube("build a placeholder client", e.into()))?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| Error::kube("build a placeholder client", e.into()))?;
    kube::Client::try_from(cfg).map_err(|e| Error::kube("build a placeholder client", e))
}

/// `1` + `35` or `35+` (some distributions add `+`) as a [`Minor`].
pub(crate) fn parse_server_minor(major: &str, minor: &str) -> Option<Minor> {
    if major.trim() != "1" {
        return None;
    }
    minor.trim().trim_end_matches('+').parse().ok().map(Minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::run_id;
    use tests_support::unreachable_kubeconfig;

    /// An existing cluster that does not answer: the one line names the
    /// server URL, the kubeconfig and the cause (connection refused).
    #[tokio::test]
    async fn an_unreachable_cluster_names_its_url_and_the_cause() {
        let d = kubeconfig::KubeconfigDir::new().unwrap_or_else(|e| panic!("{e}"));
        let path = d
            .write(&unreachable_kubeconfig())
            .unwrap_or_else(|e| panic!("{e}"));
        let e = Cluster::existing(&path)
            .start()
            .await
            .expect_err("nothing listens on port 1");
        let line = crate::error::chain(&e).replace(&path.display().to_string(), "<path>");
        assert_eq!(
            line,
            "kubernetes API: ask the API server at https://127.0.0.1:1/ for its version \
             (E2E_KUBECONFIG=<path>): ServiceError: client error (Connect): tcp connect error: \
             Connection refused (os error 111)"
        );
    }

    #[test]
    fn builder_defaults_and_config_mapping() {
        let c = Cluster::new(Provider::Kind);
        assert!(
            c.name().starts_with(&format!("e2e-{}-", run_id())),
            "{}",
            c.name()
        );
        let cfg = Config {
            provider: Provider::K3d,
            nodes: 1,
            k8s_version: Some(Minor(36)),
            keep: Keep::Never,
            ..Config::default()
        };
        let c = Cluster::from_config(&cfg);
        assert_eq!(
            (c.provider, c.nodes, c.version, c.keep),
            (Provider::K3d, 1, Some(Minor(36)), Keep::Never)
        );
        let e = Cluster::existing("/tmp/kc");
        assert_eq!(e.kubeconfig.as_deref(), Some(Path::new("/tmp/kc")));
    }

    #[test]
    fn plans_resolve_images_configs_and_commands() {
        let p = Cluster::kind("e2e-t1-abc")
            .with_nodes(3)
            .plan()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.minor, Minor(35));
        assert!(
            p.image.starts_with("kindest/node:v1.35.8@sha256:"),
            "{}",
            p.image
        );
        assert_eq!(p.config_yaml, kind::config_yaml(3));
        let dir = Path::new("/tmp/e2e-kube-q");
        let create = p
            .create(&dir.join("kind.yaml"), &dir.join("kubeconfig"))
            .to_string();
        assert!(create.starts_with(
            "KUBECONFIG=/tmp/e2e-kube-q/kubeconfig kind create cluster --name e2e-t1-abc"
        ));
        assert!(
            create.contains("--kubeconfig /tmp/e2e-kube-q/kubeconfig"),
            "{create}"
        );

        let p = Cluster::k3d("e2e-t1-abc")
            .with_nodes(1)
            .with_version(Minor(37))
            .plan()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            p.image.starts_with("rancher/k3s:v1.37.1-k3s1@sha256:"),
            "{}",
            p.image
        );
        assert!(
            p.config_yaml
                .contains(&format!("storage-e2e/run={}", run_id())),
            "{}",
            p.config_yaml
        );
        assert!(p.config_yaml.contains("agents: 0"));
        assert_eq!(
            p.delete(&dir.join("kubeconfig")).to_string(),
            "KUBECONFIG=/tmp/e2e-kube-q/kubeconfig k3d cluster delete e2e-t1-abc"
        );
    }

    #[test]
    fn plans_refuse_what_the_sweep_could_not_find_or_the_table_lacks() {
        let e = Cluster::kind("mycluster")
            .plan()
            .expect_err("no e2e- prefix")
            .to_string();
        assert!(e.contains("starting with e2e-"), "{e}");
        let e = Cluster::kind("e2e-x")
            .with_nodes(9)
            .plan()
            .expect_err("9 nodes")
            .to_string();
        assert!(e.starts_with("E2E_NODES=\"9\""), "{e}");
        let e = Cluster::kind("e2e-x")
            .with_version(Minor(29))
            .plan()
            .expect_err("1.29")
            .to_string();
        assert!(e.ends_with("valid ones are 1.37, 1.36, 1.35, 1.34"), "{e}");
        let e = Cluster::existing("/tmp/kc")
            .plan()
            .expect_err("existing")
            .to_string();
        assert!(e.contains("kind or k3d to create a cluster"), "{e}");
    }

    #[test]
    fn server_minor_parses_with_and_without_plus() {
        assert_eq!(parse_server_minor("1", "35"), Some(Minor(35)));
        assert_eq!(parse_server_minor("1", "36+"), Some(Minor(36)));
        assert_eq!(parse_server_minor("2", "0"), None);
    }

    #[tokio::test]
    async fn a_placeholder_client_can_be_built_offline() {
        let c = placeholder_client().await;
        assert!(c.is_ok(), "{:?}", c.err());
    }
}

/// Test helpers shared by the kind and k3d config tests.
#[cfg(test)]
pub(crate) mod tests_support {
    /// A kubeconfig whose server (127.0.0.1:1) refuses every connection.
    pub(crate) fn unreachable_kubeconfig() -> String {
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\n  name: gone\ncontexts:\n- context: {cluster: gone, user: none}\n  name: gone\ncurrent-context: gone\nusers: [{name: none, user: {}}]\n".to_owned()
    }

    /// A checked-in file of `kind-config/`, parsed as YAML.
    pub(crate) fn config_file(name: &str) -> serde_yaml_ng::Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../kind-config")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
    }
}
