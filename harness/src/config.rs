//! The run's configuration: every environment variable the harness reads is
//! parsed and validated here, in one place, so a bad value fails the run
//! before any cluster work with one line naming the variable, the value and
//! what is allowed.
//!
//! Over 600 lines because its tier-0 tests (one per variable and bad
//! value) sit beside the parser; the code itself is under 550.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::versions::VersionTable;
use crate::vocab::{App, Disruption, Minor, NamedId, Provider, Variant};

/// When to keep the cluster (and other resources) after a run, for debugging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// Keep only when a test failed (the default).
    #[default]
    OnFailure,
    /// Always keep.
    Always,
    /// Never keep.
    Never,
}

impl Keep {
    /// Whether to keep, given whether the run (or test) failed.
    pub fn keep(self, failed: bool) -> bool {
        match self {
            Self::OnFailure => failed,
            Self::Always => true,
            Self::Never => false,
        }
    }
}

/// Which cells get a picture of their timeline (`timeline.svg`) in the
/// report: a failed cell's pod and event history is easier to read drawn
/// than listed, and a passed cell's is worth a look when tuning timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Timelines {
    /// Failed cells only, beside their other artifacts (the default).
    #[default]
    Failed,
    /// Every cell; a passed cell's goes to `passed/<cell>/`.
    All,
    /// No cell.
    Off,
}

impl Timelines {
    /// Whether a cell that `passed` (or not) gets its picture.
    pub(crate) fn wanted(self, passed: bool) -> bool {
        match self {
            Self::Failed => !passed,
            Self::All => true,
            Self::Off => false,
        }
    }
}

/// The container images a run uses. All pinned; override for mirrors and
/// air-gapped machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Prometheus (HARNESS_PROMETHEUS_IMAGE).
    pub(crate) prometheus: String,
    /// The Prometheus release before it, for image-upgrade (HARNESS_PROMETHEUS_PREVIOUS_IMAGE).
    pub(crate) prometheus_previous: String,
    /// Grafana (HARNESS_GRAFANA_IMAGE).
    pub(crate) grafana: String,
    /// The Grafana release before it, for image-upgrade (HARNESS_GRAFANA_PREVIOUS_IMAGE).
    pub(crate) grafana_previous: String,
    /// The NFS server the harness builds from images/nfs-server (HARNESS_NFS_IMAGE).
    pub(crate) nfs: String,
    /// A small image with a shell, for chown init containers (HARNESS_INIT_IMAGE).
    pub(crate) init: String,
    /// The project's attachable CSI driver, built from images/csi-driver
    /// (HARNESS_CSI_DRIVER_IMAGE).
    pub(crate) csi_driver: String,
    /// The Kubernetes CSI sidecars and snapshot controller, built from their
    /// Go modules by scripts/csi-images.sh (HARNESS_CSI_SIDECARS_IMAGE).
    pub(crate) csi_sidecars: String,
    /// prometheus-operator, built by scripts/app-images.sh (the operator setup).
    pub(crate) operator: String,
    /// Its config reloader, which the operator puts beside Prometheus.
    pub(crate) operator_reloader: String,
    /// Thanos (the sidecar and its bucket tools), built by scripts/app-images.sh.
    pub(crate) thanos: String,
    /// The S3 store the sidecar ships to (versitygw), built the same way.
    pub(crate) s3: String,
}

/// Image defaults. Pinned tags, never `latest`.
pub mod default_images {
    /// prom/prometheus, current release line.
    pub const PROMETHEUS: &str = "prom/prometheus:v3.7.3";
    /// The release before [`PROMETHEUS`], for image-upgrade.
    pub(crate) const PROMETHEUS_PREVIOUS: &str = "prom/prometheus:v3.6.0";
    /// grafana/grafana, current release line.
    pub const GRAFANA: &str = "grafana/grafana:12.2.1";
    /// The release before [`GRAFANA`], for image-upgrade.
    pub(crate) const GRAFANA_PREVIOUS: &str = "grafana/grafana:12.1.1";
    /// The harness's own NFS server image, built locally from images/nfs-server.
    pub(crate) const NFS: &str = "local/storage-e2e-nfs:0.1.0";
    /// Shell image for init containers.
    pub(crate) const INIT: &str = "busybox:1.37.0";
    /// The project's attachable CSI driver; scripts/csi-images.sh builds
    /// it under this tag (its `--tags` prints it; a tier-0 test keeps the two equal).
    pub(crate) const CSI_DRIVER: &str = "local/storage-e2e-csi-driver:0.1.0";
    /// The CSI sidecars image scripts/csi-images.sh builds under this tag.
    pub(crate) const CSI_SIDECARS: &str = "local/storage-e2e-csi-sidecars:0.1.0";
    /// prometheus-operator as scripts/app-images.sh tags it (a tier-0 test
    /// keeps the two equal).
    pub(crate) const OPERATOR: &str = "local/storage-e2e-prometheus-operator:0.85.0";
    /// [`OPERATOR`] without its tag (E2E_OPERATOR_VERSION sets the tag).
    pub(crate) const OPERATOR_REPO: &str = "local/storage-e2e-prometheus-operator";
    /// Its config reloader, tagged the same way.
    pub(crate) const OPERATOR_RELOADER: &str =
        "local/storage-e2e-prometheus-config-reloader:0.85.0";
    /// [`OPERATOR_RELOADER`] without its tag.
    pub(crate) const OPERATOR_RELOADER_REPO: &str = "local/storage-e2e-prometheus-config-reloader";
    /// Thanos as scripts/app-images.sh tags it.
    pub(crate) const THANOS: &str = "local/storage-e2e-thanos:0.42.5";
    /// [`THANOS`] without its tag (E2E_THANOS_VERSION sets the tag).
    pub(crate) const THANOS_REPO: &str = "local/storage-e2e-thanos";
    /// versitygw, the S3 store, as scripts/app-images.sh tags it.
    pub(crate) const S3: &str = "local/storage-e2e-versitygw:1.8.0";
}

impl Default for Images {
    fn default() -> Self {
        Self {
            prometheus: default_images::PROMETHEUS.into(),
            prometheus_previous: default_images::PROMETHEUS_PREVIOUS.into(),
            grafana: default_images::GRAFANA.into(),
            grafana_previous: default_images::GRAFANA_PREVIOUS.into(),
            nfs: default_images::NFS.into(),
            init: default_images::INIT.into(),
            csi_driver: default_images::CSI_DRIVER.into(),
            csi_sidecars: default_images::CSI_SIDECARS.into(),
            operator: default_images::OPERATOR.into(),
            operator_reloader: default_images::OPERATOR_RELOADER.into(),
            thanos: default_images::THANOS.into(),
            s3: default_images::S3.into(),
        }
    }
}

/// Environment variable that points the harness at another manifests folder
/// (parsed by [`Config`]).
pub(crate) const MANIFESTS_DIR_VAR: &str = "HARNESS_MANIFESTS_DIR";

/// The `manifests/` folder of this checkout (the default of
/// `HARNESS_MANIFESTS_DIR`).
pub(crate) fn default_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).join("manifests")
}

/// Node pools a kind cluster gets unless E2E_NODE_POOLS says otherwise:
/// two, from what a 2-core, 24 GiB machine was measured to hold (README
/// "Speed": an idle worker takes about 150 MiB and under 10 % of a core;
/// the cells, not the nodes, keep the CPUs busy).
pub const DEFAULT_NODE_POOLS: u8 = 2;
/// Pod-level cells at once unless E2E_PARALLEL says otherwise: six, as
/// measured on the 2-core machine (README "Speed"): with four the CPUs
/// were busy 54 to 58 % of the cells' time and waited for I/O 0 to 1 %,
/// the cells mostly waiting on Kubernetes (deadlines, node controller).
pub const DEFAULT_PARALLEL: u8 = 6;

/// Everything a run is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// E2E_PROVIDER: kind (default), k3d or existing.
    pub provider: Provider,
    /// E2E_K8S_VERSION: the Kubernetes minor; `None` means the version table's default.
    pub(crate) k8s_version: Option<Minor>,
    /// E2E_NODES: node count of a harness-made cluster (default 3: 1 control plane + 2 workers).
    pub nodes: u8,
    /// E2E_NODE_POOLS: pairs of workers added to a kind cluster the
    /// harness makes, one leased by each node-level cell while it runs, so
    /// that many of them run side by side ([`DEFAULT_NODE_POOLS`]; 0: one
    /// at a time). See [`Config::node_pools`].
    pub(crate) node_pools: u8,
    /// E2E_PARALLEL: how many pod-level cells run at once ([`DEFAULT_PARALLEL`]).
    pub parallel: u8,
    /// E2E_KEEP: on-failure (default), always, never.
    pub keep: Keep,
    /// E2E_KUBECONFIG: required for provider `existing`.
    pub(crate) kubeconfig: Option<PathBuf>,
    /// E2E_VARIANTS: which storage variants to run (default all that can run).
    pub(crate) variants: Vec<Variant>,
    /// E2E_DISRUPTIONS: which disruptions to run (default all).
    pub(crate) disruptions: Vec<Disruption>,
    /// E2E_STORAGE_CLASS: the user's StorageClass for the custom-class variant.
    pub storage_class: Option<String>,
    /// E2E_APPS: which apps cells deploy and judge (default both). Prometheus
    /// is always among them: every disruption targets it.
    pub(crate) apps: Vec<App>,
    /// E2E_REPORT_DIR: where the report goes (default target/e2e-report).
    pub(crate) report_dir: PathBuf,
    /// E2E_TIMELINES: which cells get `timeline.svg` (default failed ones).
    pub(crate) timelines: Timelines,
    /// E2E_CONTROL=opposite: every cell expects the opposite of the
    /// table's Prometheus outcome, so each must fail: the harness's own
    /// failure path (verdict, artifacts, keep, timeline picture) run on
    /// real cells on purpose (`make failure-control`).
    pub(crate) expect_opposite: bool,
    /// HARNESS_*_IMAGE overrides.
    pub images: Images,
    /// HARNESS_CONTAINER_HOST: the address used to reach ports Docker
    /// publishes; `None` means 127.0.0.1 (see `docker::container_host`).
    pub(crate) container_host: Option<String>,
    /// HARNESS_MANIFESTS_DIR: the manifests folder (default: this
    /// checkout's `manifests/`, see `default_dir`).
    pub manifests_dir: PathBuf,
    /// Notes about defaults the configuration applied (e.g. a variant left
    /// out because its input is missing); printed at the start of a run.
    pub notes: Vec<String>,
    /// Whether E2E_VARIANTS named the variants (else the default applies).
    pub(crate) variants_named: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            provider: Provider::Kind,
            k8s_version: None,
            nodes: 3,
            node_pools: DEFAULT_NODE_POOLS,
            parallel: DEFAULT_PARALLEL,
            keep: Keep::OnFailure,
            kubeconfig: None,
            variants: Variant::ALL
                .iter()
                .copied()
                .filter(|v| *v != Variant::CustomClass)
                .collect(),
            disruptions: Disruption::ALL.to_vec(),
            storage_class: None,
            apps: App::ALL.to_vec(),
            report_dir: PathBuf::from("target/e2e-report"),
            timelines: Timelines::Failed,
            expect_opposite: false,
            images: Images::default(),
            container_host: None,
            manifests_dir: default_dir(),
            notes: Vec::new(),
            variants_named: false,
        }
    }
}

/// One variable [`Config`] reads: its name, written once, and how its
/// (non-empty) value is applied. [`SETTINGS`] applies them in order, so a
/// variable may rely on those before it (E2E_VARIANTS on E2E_STORAGE_CLASS).
pub(crate) struct Setting {
    /// The variable, e.g. `E2E_PROVIDER`.
    pub(crate) var: &'static str,
    apply: fn(&mut Config, &'static str, String) -> Result<()>,
}

/// Every variable [`Config`] reads, in the order it applies them.
pub(crate) const SETTINGS: &[Setting] = &[
    Setting {
        var: "E2E_PROVIDER",
        apply: set_provider,
    },
    Setting {
        var: "E2E_K8S_VERSION",
        apply: set_k8s_version,
    },
    Setting {
        var: "E2E_NODES",
        apply: set_nodes,
    },
    Setting {
        var: "E2E_NODE_POOLS",
        apply: set_node_pools,
    },
    Setting {
        var: "E2E_PARALLEL",
        apply: |c, var, v| {
            c.parallel = v
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=16).contains(n))
                .ok_or_else(|| {
                    refuse(
                        var,
                        v.clone(),
                        format!("a number of cells from 1 to 16 (default {DEFAULT_PARALLEL})"),
                    )
                })?;
            Ok(())
        },
    },
    Setting {
        var: "E2E_KEEP",
        apply: set_keep,
    },
    Setting {
        var: "E2E_CONTROL",
        apply: |c, var, v| {
            c.expect_opposite = match v.trim() {
                "opposite" => true,
                _ => return Err(refuse(var, v, "opposite (or unset)")),
            };
            Ok(())
        },
    },
    Setting {
        var: "E2E_KUBECONFIG",
        apply: set_kubeconfig,
    },
    Setting {
        var: "E2E_STORAGE_CLASS",
        apply: set_storage_class,
    },
    Setting {
        var: "E2E_VARIANTS",
        apply: set_variants,
    },
    Setting {
        var: "E2E_DISRUPTIONS",
        apply: |c, var, v| {
            c.disruptions = Disruption::parse_list(&v).map_err(|e| config_error(var, &v, e))?;
            Ok(())
        },
    },
    Setting {
        var: "E2E_APPS",
        apply: |c, _, v| {
            c.apps = parse_apps(&v)?;
            Ok(())
        },
    },
    Setting {
        var: "E2E_REPORT_DIR",
        apply: |c, _, v| {
            c.report_dir = PathBuf::from(v.trim());
            Ok(())
        },
    },
    Setting {
        var: "E2E_TIMELINES",
        apply: set_timelines,
    },
    Setting {
        var: "E2E_OPERATOR_VERSION",
        apply: |c, var, v| {
            let v = app_version(var, &v, crate::app_images::OPERATOR_VERSIONS)?;
            c.images.operator = format!("{}:{v}", default_images::OPERATOR_REPO);
            c.images.operator_reloader = format!("{}:{v}", default_images::OPERATOR_RELOADER_REPO);
            Ok(())
        },
    },
    Setting {
        var: "E2E_THANOS_VERSION",
        apply: |c, var, v| {
            let v = app_version(var, &v, crate::app_images::THANOS_VERSIONS)?;
            c.images.thanos = format!("{}:{v}", default_images::THANOS_REPO);
            Ok(())
        },
    },
    Setting {
        var: "HARNESS_PROMETHEUS_IMAGE",
        apply: |c, var, v| image(&mut c.images.prometheus, var, &v),
    },
    Setting {
        var: "HARNESS_PROMETHEUS_PREVIOUS_IMAGE",
        apply: |c, var, v| image(&mut c.images.prometheus_previous, var, &v),
    },
    Setting {
        var: "HARNESS_GRAFANA_IMAGE",
        apply: |c, var, v| image(&mut c.images.grafana, var, &v),
    },
    Setting {
        var: "HARNESS_GRAFANA_PREVIOUS_IMAGE",
        apply: |c, var, v| image(&mut c.images.grafana_previous, var, &v),
    },
    Setting {
        var: "HARNESS_NFS_IMAGE",
        apply: |c, var, v| image(&mut c.images.nfs, var, &v),
    },
    Setting {
        var: "HARNESS_INIT_IMAGE",
        apply: |c, var, v| image(&mut c.images.init, var, &v),
    },
    Setting {
        var: "HARNESS_CSI_DRIVER_IMAGE",
        apply: |c, var, v| image(&mut c.images.csi_driver, var, &v),
    },
    Setting {
        var: "HARNESS_CSI_SIDECARS_IMAGE",
        apply: |c, var, v| image(&mut c.images.csi_sidecars, var, &v),
    },
    Setting {
        var: "HARNESS_CONTAINER_HOST",
        apply: set_container_host,
    },
    Setting {
        var: MANIFESTS_DIR_VAR,
        apply: set_manifests_dir,
    },
];

/// An image override: `slot` becomes the pinned reference `v` names.
fn image(slot: &mut String, var: &'static str, v: &str) -> Result<()> {
    *slot = pinned_image(var, v)?;
    Ok(())
}

/// A version of a setup's component (`0.85.0` or `v0.85.0`), accepted
/// only from the project's table (`known`, what scripts/app-images.sh
/// builds): another version has no image here, and naming it up front
/// beats a cell failing on a missing image.
fn app_version(var: &'static str, v: &str, known: &[&str]) -> Result<String> {
    let bare = v.trim().trim_start_matches('v');
    match known.iter().find(|k| **k == bare) {
        Some(k) => Ok((*k).to_owned()),
        None => Err(refuse(
            var,
            v.to_owned(),
            format!(
                "a version of the project's table (scripts/app-images.sh builds it from its Go \
                 module): {}; other releases are not served by the module proxy here",
                known.join(", ")
            ),
        )),
    }
}

/// The names of [`SETTINGS`], for docs and `env -u` in tests.
#[cfg(test)]
pub(crate) fn variables() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.var)
}

/// `var=value` is not accepted: `allowed` says what would be.
fn refuse(var: &'static str, value: String, allowed: impl Into<String>) -> Error {
    Error::Config {
        var,
        value,
        allowed: allowed.into(),
    }
}

fn set_provider(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    c.provider =
        Provider::parse_id(&v).map_err(|_| refuse(var, v.clone(), "one of kind, k3d, existing"))?;
    Ok(())
}

fn set_k8s_version(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    let minor: Minor = v.parse().map_err(|_| {
        refuse(
            var,
            v.clone(),
            "a Kubernetes minor such as 1.35 (see kind-config/versions.toml)",
        )
    })?;
    let table = VersionTable::embedded()?;
    if table.row(minor).is_err() {
        let minors: Vec<String> = table.minors().iter().map(ToString::to_string).collect();
        return Err(refuse(
            var,
            v,
            format!(
                "a minor of kind-config/versions.toml: {}",
                minors.join(", ")
            ),
        ));
    }
    c.k8s_version = Some(minor);
    Ok(())
}

fn set_nodes(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    c.nodes = v
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|n| (1..=5).contains(n))
        .ok_or_else(|| refuse(var, v.clone(), "a node count from 1 to 5 (default 3)"))?;
    Ok(())
}

fn set_node_pools(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    let n = v
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|n| *n <= 3)
        .ok_or_else(|| {
            refuse(
                var,
                v.clone(),
                format!("a number of node pools from 0 to 3 (default {DEFAULT_NODE_POOLS})"),
            )
        })?;
    if n > 0 && c.provider != Provider::Kind {
        return Err(refuse(
            var,
            v,
            format!(
                "0 with E2E_PROVIDER={}: node pools are made on kind clusters only (node-level \
                 cells run one at a time elsewhere)",
                c.provider
            ),
        ));
    }
    c.node_pools = n;
    Ok(())
}

fn set_keep(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    c.keep = match v.trim() {
        "on-failure" => Keep::OnFailure,
        "always" => Keep::Always,
        "never" => Keep::Never,
        _ => return Err(refuse(var, v, "one of on-failure, always, never")),
    };
    Ok(())
}

fn set_kubeconfig(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    let path = PathBuf::from(v.trim());
    if !path.is_file() {
        return Err(refuse(var, v, "the path of an existing kubeconfig file"));
    }
    c.kubeconfig = Some(path);
    Ok(())
}

fn set_storage_class(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    if !is_dns_subdomain(v.trim()) {
        return Err(refuse(
            var,
            v,
            "a StorageClass name (lowercase letters, digits, '-' and '.')",
        ));
    }
    c.storage_class = Some(v.trim().to_owned());
    Ok(())
}

/// The variants named; custom-class named explicitly needs
/// E2E_STORAGE_CLASS (applied before), through `all` it is left out
/// without one.
fn set_variants(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    c.variants = Variant::parse_list(&v).map_err(|e| config_error(var, &v, e))?;
    c.variants_named = true;
    let explicit = v.split(',').any(|p| p.trim() == Variant::CustomClass.id());
    if c.storage_class.is_none() && c.variants.contains(&Variant::CustomClass) {
        if explicit {
            return Err(refuse(
                "E2E_STORAGE_CLASS",
                String::new(),
                "a StorageClass name when E2E_VARIANTS includes custom-class",
            ));
        }
        c.variants.retain(|v| *v != Variant::CustomClass);
    }
    Ok(())
}

fn set_timelines(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    c.timelines = match v.trim() {
        "failed" => Timelines::Failed,
        "all" => Timelines::All,
        "none" => Timelines::Off,
        _ => return Err(refuse(var, v, "one of failed, all, none")),
    };
    Ok(())
}

fn set_container_host(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    let host = v.trim();
    if host.contains('/') || host.contains(' ') {
        return Err(refuse(
            var,
            v.clone(),
            "a host name or IP address such as 127.0.0.1",
        ));
    }
    c.container_host = Some(host.to_owned());
    Ok(())
}

fn set_manifests_dir(c: &mut Config, var: &'static str, v: String) -> Result<()> {
    let dir = PathBuf::from(v.trim());
    if !dir.join("base").is_dir() || !dir.join("storage").is_dir() {
        return Err(refuse(
            var,
            v,
            "a folder with base/ and storage/<variant>/ in it, like manifests/",
        ));
    }
    c.manifests_dir = dir;
    Ok(())
}

impl Config {
    /// The node pools the run's cluster gets: E2E_NODE_POOLS on a kind
    /// cluster whose selection has a disruption that takes a node away
    /// (none otherwise: the workers would idle).
    pub fn node_pools(&self) -> u8 {
        let takes_nodes = self.disruptions.iter().any(|d| d.needs_own_nodes());
        if self.provider == Provider::Kind && takes_nodes {
            self.node_pools
        } else {
            0
        }
    }

    /// Read the process environment.
    ///
    /// # Errors
    /// [`Error::Config`] or [`Error::Unknown`] naming the first bad variable.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read configuration through `get` (the environment, or a map in tests):
    /// every variable of `SETTINGS`, in order, then the rules that join
    /// several. Empty values count as unset.
    ///
    /// # Errors
    /// [`Error::Config`] or [`Error::Unknown`] naming the first bad variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut c = Self::default();
        for s in SETTINGS {
            if let Some(v) = get(s.var).filter(|v| !v.trim().is_empty()) {
                (s.apply)(&mut c, s.var, v)?;
            }
        }
        c.joined()?;
        Ok(c)
    }

    /// The rules between variables, once each is applied: an existing
    /// cluster needs its kubeconfig; a storage class without a variant list
    /// runs every variant; the notes about what is left out.
    fn joined(&mut self) -> Result<()> {
        if self.provider == Provider::Existing && self.kubeconfig.is_none() {
            return Err(refuse(
                "E2E_KUBECONFIG",
                String::new(),
                "a kubeconfig path when E2E_PROVIDER=existing",
            ));
        }
        if !self.variants_named && self.storage_class.is_some() {
            self.variants = Variant::ALL.to_vec();
        }
        if !self.variants.contains(&Variant::CustomClass) && self.storage_class.is_none() {
            self.notes.push(
                "custom-class not run: set E2E_STORAGE_CLASS=<your class> to check your own backend"
                    .into(),
            );
        }
        if !self.apps.contains(&App::Grafana) {
            self.notes.push(format!(
                "grafana not run: {}; cells deploy and judge Prometheus only and report Grafana \
                 as not run",
                self.apps_setting()
            ));
        }
        Ok(())
    }

    /// `E2E_APPS=<the apps run>`: the reason an app left out shows in reports.
    pub(crate) fn apps_setting(&self) -> String {
        let ids: Vec<&str> = self.apps.iter().map(|a| a.id()).collect();
        format!("E2E_APPS={}", ids.join(","))
    }

    /// A configuration from `(variable, value)` pairs instead of the
    /// environment: the one helper tests of every module use.
    ///
    /// # Errors
    /// As [`Config::from_lookup`].
    #[cfg(test)]
    pub(crate) fn from_pairs(vars: &[(&str, &str)]) -> Result<Self> {
        Self::from_lookup(|k| {
            vars.iter()
                .find(|(v, _)| *v == k)
                .map(|(_, x)| (*x).to_owned())
        })
    }

    /// Read only `vars` from the process environment (the rest keep their
    /// defaults): for a module that needs one setting without failing on an
    /// unrelated bad variable.
    ///
    /// # Errors
    /// As [`Config::from_lookup`], for those variables only.
    pub(crate) fn from_env_vars(vars: &[&str]) -> Result<Self> {
        Self::from_lookup(|k| vars.contains(&k).then(|| std::env::var(k).ok()).flatten())
    }

    /// The variable-specific image lookup used by tier-1 tests: the override
    /// when set, else the default. Same validation as [`Config::from_env`].
    ///
    /// # Errors
    /// [`Error::Config`] when the override is not a pinned image reference.
    pub fn image_from_env(var: &'static str, default: &str) -> Result<String> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => pinned_image(var, &v),
            _ => Ok(default.to_owned()),
        }
    }
}

/// `prometheus`, `prometheus,grafana` (any order) or `all`.
fn parse_apps(value: &str) -> Result<Vec<App>> {
    let bad = || Error::Config {
        var: "E2E_APPS",
        value: value.to_owned(),
        allowed: "prometheus, or prometheus,grafana (or all); Prometheus is always run: every \
                  disruption targets it"
            .into(),
    };
    let mut apps = Vec::new();
    for part in value.split(',').map(str::trim) {
        let app = match part {
            "all" => return Ok(App::ALL.to_vec()),
            "prometheus" => App::Prometheus,
            "grafana" => App::Grafana,
            _ => return Err(bad()),
        };
        if !apps.contains(&app) {
            apps.push(app);
        }
    }
    if !apps.contains(&App::Prometheus) {
        return Err(bad());
    }
    apps.sort();
    Ok(apps)
}

fn config_error(var: &'static str, value: &str, e: crate::vocab::UnknownId) -> Error {
    Error::Config {
        var,
        value: value.to_owned(),
        allowed: format!("a comma-separated list of: {} (or all)", e.valid),
    }
}

/// Accept only image references with an explicit tag (not `latest`) or a digest.
fn pinned_image(var: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if is_pinned_image(v) {
        Ok(v.to_owned())
    } else {
        Err(Error::Config {
            var,
            value: value.to_owned(),
            allowed:
                "an image with a pinned tag or digest, e.g. prom/prometheus:v3.7.3 (not latest)"
                    .into(),
        })
    }
}

/// Whether `image` names a pinned tag (not `latest`) or a digest; shared
/// with the manifest checks so both agree on what "pinned" means.
pub(crate) fn is_pinned_image(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    let tag = last.split_once(':').map(|(_, t)| t);
    !image.is_empty()
        && !image.contains(char::is_whitespace)
        && (image.contains("@sha256:") || matches!(tag, Some(t) if !t.is_empty() && t != "latest"))
}

/// RFC 1123 subdomain, as Kubernetes requires for StorageClass names.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Config> {
        Config::from_pairs(vars)
    }

    fn err(vars: &[(&str, &str)]) -> String {
        parse(vars).expect_err("should be rejected").to_string()
    }

    #[test]
    fn defaults_need_no_variables() {
        let c = parse(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.provider, Provider::Kind);
        assert_eq!(c.nodes, 3);
        assert_eq!(c.keep, Keep::OnFailure);
        assert!(!c.variants.contains(&Variant::CustomClass));
        assert_eq!(c.variants.len(), Variant::ALL.len() - 1);
        assert_eq!(c.disruptions.len(), Disruption::ALL.len());
        assert!(c.notes.iter().any(|n| n.contains("E2E_STORAGE_CLASS")));
        assert_eq!(c.report_dir, PathBuf::from("target/e2e-report"));
    }

    #[test]
    fn bad_values_name_the_variable_value_and_allowed_values() {
        assert_eq!(
            err(&[("E2E_PROVIDER", "minikube")]),
            "E2E_PROVIDER=\"minikube\" is not valid: expected one of kind, k3d, existing"
        );
        assert_eq!(
            err(&[("E2E_KEEP", "sometimes")]),
            "E2E_KEEP=\"sometimes\" is not valid: expected one of on-failure, always, never"
        );
        assert!(err(&[("E2E_K8S_VERSION", "2.0")]).starts_with("E2E_K8S_VERSION=\"2.0\""));
        assert!(err(&[("E2E_K8S_VERSION", "1.x")]).contains("a Kubernetes minor such as 1.35"));
        assert_eq!(
            err(&[("E2E_K8S_VERSION", "1.20")]),
            "E2E_K8S_VERSION=\"1.20\" is not valid: expected a minor of kind-config/versions.toml: \
             1.37, 1.36, 1.35, 1.34"
        );
        assert!(err(&[("E2E_NODES", "9")]).contains("a node count from 1 to 5"));
        for bad in ["grafana", "loki", "prometheus,tempo", ""] {
            if bad.is_empty() {
                continue;
            }
            assert_eq!(
                err(&[("E2E_APPS", bad)]),
                format!(
                    "E2E_APPS={bad:?} is not valid: expected prometheus, or prometheus,grafana (or all); \
                     Prometheus is always run: every disruption targets it"
                )
            );
        }
        let v = err(&[("E2E_VARIANTS", "empty-dir,nfs")]);
        assert!(
            v.starts_with("E2E_VARIANTS=\"empty-dir,nfs\" is not valid"),
            "{v}"
        );
        assert!(v.contains("empty-dir, host-path"), "{v}");
        assert!(err(&[("E2E_DISRUPTIONS", "reboot")]).contains("container-kill, pod-delete"));
        assert!(err(&[("E2E_STORAGE_CLASS", "Fast_SSD")]).contains("StorageClass name"));
        assert!(err(&[("HARNESS_CONTAINER_HOST", "http://x/")]).contains("host name or IP"));
        assert_eq!(
            err(&[("E2E_OPERATOR_VERSION", "0.80.0")]),
            "E2E_OPERATOR_VERSION=\"0.80.0\" is not valid: expected a version of the project's \
             table (scripts/app-images.sh builds it from its Go module): 0.85.0; other releases \
             are not served by the module proxy here"
        );
        assert!(err(&[("E2E_THANOS_VERSION", "latest")]).contains(": 0.42.5;"));
    }

    #[test]
    fn setup_versions_from_the_table_pick_their_images() {
        let c = parse(&[
            ("E2E_OPERATOR_VERSION", "v0.85.0"),
            ("E2E_THANOS_VERSION", "0.42.5"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.images.operator, default_images::OPERATOR);
        assert_eq!(
            c.images.operator_reloader,
            default_images::OPERATOR_RELOADER
        );
        assert_eq!(c.images.thanos, default_images::THANOS);
    }

    #[test]
    fn timelines_default_to_failed_cells_and_bad_values_are_named() {
        assert_eq!(
            err(&[("E2E_TIMELINES", "bogus")]),
            "E2E_TIMELINES=\"bogus\" is not valid: expected one of failed, all, none"
        );
        let c = parse(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.timelines, Timelines::Failed);
        assert!(c.timelines.wanted(false) && !c.timelines.wanted(true));
        for (value, want) in [
            ("failed", Timelines::Failed),
            (" all ", Timelines::All),
            ("none", Timelines::Off),
        ] {
            let c = parse(&[("E2E_TIMELINES", value)]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.timelines, want, "{value}");
        }
        assert!(Timelines::All.wanted(true) && Timelines::All.wanted(false));
        assert!(!Timelines::Off.wanted(false));
    }

    #[test]
    fn apps_default_to_both_and_prometheus_alone_is_noted() {
        assert_eq!(
            parse(&[]).unwrap_or_else(|e| panic!("{e}")).apps,
            [App::Prometheus, App::Grafana]
        );
        for both in ["grafana,prometheus", "all", " prometheus , grafana "] {
            let c = parse(&[("E2E_APPS", both)]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(c.apps, [App::Prometheus, App::Grafana], "{both}");
            assert!(!c.notes.iter().any(|n| n.starts_with("grafana not run")));
        }
        let c = parse(&[("E2E_APPS", "prometheus")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.apps, [App::Prometheus]);
        assert!(
            c.notes
                .iter()
                .any(|n| n.starts_with("grafana not run: E2E_APPS=prometheus")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn images_must_be_pinned() {
        for bad in [
            "prom/prometheus",
            "prom/prometheus:latest",
            "localhost:5000/prom",
            "a b:1",
        ] {
            let e = err(&[("HARNESS_PROMETHEUS_IMAGE", bad)]);
            assert!(e.starts_with("HARNESS_PROMETHEUS_IMAGE="), "{e}");
            assert!(e.contains("pinned tag or digest"), "{e}");
        }
        let c = parse(&[
            ("HARNESS_PROMETHEUS_IMAGE", "local/prometheus-debian:2.42"),
            ("HARNESS_NFS_IMAGE", "registry.local:5000/nfs@sha256:abc"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.images.prometheus, "local/prometheus-debian:2.42");
        assert_eq!(c.images.nfs, "registry.local:5000/nfs@sha256:abc");
        assert_eq!(c.images.grafana, default_images::GRAFANA);
    }

    #[test]
    fn existing_provider_needs_a_kubeconfig_that_exists() {
        assert!(
            err(&[("E2E_PROVIDER", "existing")])
                .contains("a kubeconfig path when E2E_PROVIDER=existing")
        );
        assert!(
            err(&[
                ("E2E_PROVIDER", "existing"),
                ("E2E_KUBECONFIG", "/nonexistent/kubeconfig")
            ])
            .starts_with("E2E_KUBECONFIG=\"/nonexistent/kubeconfig\"")
        );
        let f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        let path = f.path().to_string_lossy().into_owned();
        let c = parse(&[("E2E_PROVIDER", "existing"), ("E2E_KUBECONFIG", &path)])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.provider, Provider::Existing);
    }

    #[test]
    fn custom_class_needs_a_storage_class() {
        assert!(
            err(&[("E2E_VARIANTS", "custom-class")])
                .contains("a StorageClass name when E2E_VARIANTS includes custom-class")
        );
        let c = parse(&[("E2E_STORAGE_CLASS", "fast-ssd")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.variants.contains(&Variant::CustomClass));
        assert_eq!(c.storage_class.as_deref(), Some("fast-ssd"));
        let c = parse(&[("E2E_VARIANTS", "all")]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.variants.contains(&Variant::CustomClass));
    }

    #[test]
    fn manifests_dir_defaults_to_the_checkout_and_must_look_like_one() {
        let c = parse(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            c.manifests_dir.join("base").is_dir(),
            "{}",
            c.manifests_dir.display()
        );
        assert!(
            err(&[("HARNESS_MANIFESTS_DIR", "/nonexistent")]).starts_with(
                "HARNESS_MANIFESTS_DIR=\"/nonexistent\" is not valid: expected a folder with base/"
            )
        );
        let dir = default_dir();
        let c = parse(&[("HARNESS_MANIFESTS_DIR", &dir.to_string_lossy())])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.manifests_dir, dir);
    }

    #[test]
    fn every_variable_is_documented_in_the_readme() {
        let readme = default_dir().with_file_name("README.md");
        let text = std::fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{e}"));
        for var in variables() {
            assert!(
                text.contains(&format!("| `{var}` |")),
                "README.md does not document {var}"
            );
        }
    }

    #[test]
    fn minor_versions_parse() {
        for (s, m) in [("1.35", 35), ("v1.34", 34), ("1.36.1", 36)] {
            assert_eq!(s.parse::<Minor>().ok(), Some(Minor(m)), "{s}");
        }
        assert_eq!(Minor(35).to_string(), "1.35");
        assert!("1.35.1.2".parse::<Minor>().is_err());
    }
}
