//! What the machine running the cluster can do, read once per run.
//!
//! kind and k3d nodes are containers: they share the host's kernel and run
//! under the Docker daemon's cgroup setup and capability bounding set. So
//! whether a kubelet can mount NFS, whether kubelet 1.35+ will start at
//! all, and whether a pod sandbox may lower its OOM score are facts about
//! the host, not the cluster. The parsing is pure (`Host::from_sources`)
//! so tier 0 checks it on recorded inputs; [`Host::detect`] reads the live
//! sources.

use std::path::Path;

use crate::cmd::Cmd;
use crate::error::{Error, Result};
use crate::vocab::{Provider, Setup, Variant};

/// `CAP_SYS_RESOURCE`'s bit in a capability mask (linux/capability.h).
const CAP_SYS_RESOURCE_BIT: u32 = 24;

/// The host facts a tier-2 run depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `None` when the kernel can mount NFS; otherwise why it cannot.
    pub(crate) no_nfs_client: Option<String>,
    /// Docker runs containers on cgroup v1 (kubelet 1.35+ refuses it by default).
    pub(crate) cgroup_v1: bool,
    /// CAP_SYS_RESOURCE is in the capability bounding set, so privileged
    /// containers (kind nodes) and what they run may lower OOM scores.
    pub(crate) cap_sys_resource: bool,
    /// `MemAvailable` in bytes, when /proc/meminfo says.
    pub(crate) mem_available: Option<u64>,
    /// `None` when the attachable CSI driver's images are in Docker or can
    /// be built here (Go on PATH: its sidecars and the driver's protocol
    /// files come from the Go module proxy); otherwise why not.
    pub(crate) no_csi_build: Option<String>,
    /// The same for the images of the setups beside plain Prometheus
    /// (prometheus-operator; Thanos and its S3 store), by setup.
    pub(crate) no_setup_build: Vec<(Setup, String)>,
}

/// The raw inputs [`Host::from_sources`] reads, as the live system shows them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources<'a> {
    /// /proc/filesystems.
    pub(crate) filesystems: &'a str,
    /// `uname -r`, to name the module directory in the reason.
    pub(crate) kernel_release: &'a str,
    /// Whether an `nfs` module exists under `/lib/modules/<release>/` (the
    /// kernel loads it on the first NFS mount).
    pub(crate) nfs_module: bool,
    /// `docker info --format {{.CgroupVersion}}` (`1` or `2`), when Docker answered.
    pub(crate) docker_cgroup_version: Option<&'a str>,
    /// Whether /sys/fs/cgroup/cgroup.controllers exists (cgroup v2), the
    /// fallback when Docker did not answer.
    pub(crate) unified_cgroup: bool,
    /// The `CapBnd:` line's value from /proc/self/status (hex).
    pub(crate) cap_bnd: &'a str,
    /// /proc/meminfo.
    pub(crate) meminfo: &'a str,
    /// Whether `go` is on PATH.
    pub(crate) go_on_path: bool,
    /// Whether Docker has both attachable CSI driver images under their
    /// default tags.
    pub(crate) csi_images_present: bool,
    /// The setups whose images (scripts/app-images.sh) Docker has under
    /// their default tags.
    pub(crate) setup_images_present: &'a [Setup],
}

impl Host {
    /// Why `variant`'s cells cannot run on a `provider` cluster made on
    /// this host, if they cannot, with where they can: the nodes of a kind
    /// or k3d cluster share this host's kernel, so NFS variants need its NFS
    /// client; csi-rwo needs the attachable driver's images, which only Go
    /// can build where they are not in Docker yet.
    pub(crate) fn cannot_run(&self, variant: Variant, provider: Provider) -> Option<String> {
        if !matches!(provider, Provider::Kind | Provider::K3d) {
            return None;
        }
        match (&self.no_nfs_client, &self.no_csi_build) {
            (Some(why), _) if variant.uses_nfs() => Some(format!(
                "{why} (NFS cells run where the kernel has an NFS client, e.g. GitHub's ubuntu runners)"
            )),
            (_, Some(why)) if variant.uses_attachable_csi() => Some(why.clone()),
            _ => self
                .no_setup_build
                .iter()
                .find(|(setup, _)| *setup == variant.setup())
                .map(|(_, why)| why.clone()),
        }
    }

    /// Read the live system: /proc, /sys, /lib/modules and `docker info`.
    pub fn detect() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let filesystems = read("/proc/filesystems");
        let release = read("/proc/sys/kernel/osrelease").trim().to_owned();
        let status = read("/proc/self/status");
        let cap_bnd = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .unwrap_or("")
            .trim()
            .to_owned();
        let docker = Cmd::new("docker")
            .args(["info", "--format", "{{.CgroupVersion}}"])
            .quiet()
            .run_unchecked()
            .ok()
            .filter(|o| o.success())
            .map(|o| o.stdout.trim().to_owned());
        Self::from_sources(&Sources {
            filesystems: &filesystems,
            kernel_release: &release,
            nfs_module: nfs_module_exists(&Path::new("/lib/modules").join(&release)),
            docker_cgroup_version: docker.as_deref(),
            unified_cgroup: Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            cap_bnd: &cap_bnd,
            meminfo: &read("/proc/meminfo"),
            go_on_path: crate::cmd::on_path("go", &std::env::var("PATH").unwrap_or_default())
                .is_some(),
            csi_images_present: Cmd::new("docker")
                .args([
                    "image",
                    "inspect",
                    "--format",
                    "{{.Id}}",
                    crate::config::default_images::CSI_DRIVER,
                    crate::config::default_images::CSI_SIDECARS,
                ])
                .quiet()
                .run_unchecked()
                .is_ok_and(|o| o.success()),
            setup_images_present: &[Setup::Operator, Setup::Thanos]
                .into_iter()
                .filter(|s| setup_images(*s).iter().all(|i| docker_has(i)))
                .collect::<Vec<_>>(),
        })
    }

    /// The facts from their raw sources (pure).
    pub(crate) fn from_sources(s: &Sources<'_>) -> Self {
        let nfs_in_kernel = s
            .filesystems
            .lines()
            .filter_map(|l| l.split_whitespace().last())
            .any(|fs| fs == "nfs" || fs == "nfs4");
        let no_nfs_client = (!nfs_in_kernel && !s.nfs_module).then(|| {
            format!(
                "the host kernel ({}) has no NFS client: no nfs or nfs4 in /proc/filesystems and no nfs \
                 module in /lib/modules/{}; kind and k3d nodes share the host kernel, so kubelet cannot \
                 mount NFS volumes here",
                if s.kernel_release.is_empty() { "?" } else { s.kernel_release },
                s.kernel_release
            )
        });
        let cgroup_v1 = match s.docker_cgroup_version {
            Some(v) => v.trim() == "1",
            None => !s.unified_cgroup,
        };
        let cap_sys_resource = u64::from_str_radix(s.cap_bnd.trim(), 16)
            .map_or(true, |mask| mask & (1 << CAP_SYS_RESOURCE_BIT) != 0);
        let mem_available = s.meminfo.lines().find_map(|l| {
            let kb = l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?;
            kb.trim().parse::<u64>().ok().map(|k| k * 1024)
        });
        let no_csi_build = (!s.go_on_path && !s.csi_images_present).then(|| {
            format!(
                "the attachable CSI driver's images ({}, {}) are not in Docker, and building them \
                 needs Go, which is not on PATH (its sidecars and protocol files come from the Go \
                 module proxy): install Go (https://go.dev/dl/ or Debian's golang-go) to run csi-rwo",
                crate::config::default_images::CSI_DRIVER,
                crate::config::default_images::CSI_SIDECARS
            )
        });
        let no_setup_build = [Setup::Operator, Setup::Thanos]
            .into_iter()
            .filter(|setup| !s.go_on_path && !s.setup_images_present.contains(setup))
            .map(|setup| {
                (
                    setup,
                    format!(
                        "the {setup} setup's images ({}) are not in Docker, and building them needs \
                         Go, which is not on PATH (they are built from their Go modules: no registry \
                         serves them here): install Go (https://go.dev/dl/ or Debian's golang-go), or \
                         build them elsewhere with make app-images and load them into Docker",
                        setup_images(setup).join(", ")
                    ),
                )
            })
            .collect();
        Self {
            no_nfs_client,
            cgroup_v1,
            cap_sys_resource,
            mem_available,
            no_csi_build,
            no_setup_build,
        }
    }
}

/// The images scripts/app-images.sh builds for `setup` (none for plain).
fn setup_images(setup: Setup) -> &'static [&'static str] {
    use crate::config::default_images::{OPERATOR, OPERATOR_RELOADER, S3, THANOS};
    match setup {
        Setup::Plain => &[],
        Setup::Operator => &[OPERATOR, OPERATOR_RELOADER],
        Setup::Thanos => &[THANOS, S3],
    }
}

/// Whether Docker has `image`.
fn docker_has(image: &str) -> bool {
    Cmd::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .quiet()
        .run_unchecked()
        .is_ok_and(|o| o.success())
}

/// Memory a control-plane node of a harness-made cluster takes (kind node
/// container: etcd, the API server, controllers, CoreDNS, provisioner).
/// Measured with `docker stats` on a 3-node kind 1.35 cluster running four
/// cells: 606-616 MiB; this leaves room for a bigger API server cache.
pub(crate) const CONTROL_PLANE_MEMORY: u64 = 1024 * MIB;
/// Memory a worker node takes with the pods of the cells running on it at
/// once. Measured in the same run with Prometheus only (Debian stand-in):
/// 278-330 MiB; real prom/prometheus heads and Grafana pods add to that.
pub(crate) const WORKER_MEMORY: u64 = 768 * MIB;
const MIB: u64 = 1024 * 1024;

impl Host {
    /// Whether a harness-made cluster of `nodes` nodes fits in the memory
    /// this machine has available.
    ///
    /// # Errors
    /// [`Error::Config`] naming E2E_NODES, what the nodes need, what is
    /// available and the largest count that fits. Unknown memory passes.
    pub fn check_nodes(&self, nodes: u8) -> Result<()> {
        self.check_nodes_with_pools(nodes, 0)
    }

    /// [`Host::check_nodes`] for `nodes` plus `pools` node pools (two
    /// workers each); a count that does not fit names both variables.
    ///
    /// # Errors
    /// As [`Host::check_nodes`].
    pub fn check_nodes_with_pools(&self, nodes: u8, pools: u8) -> Result<()> {
        let Some(available) = self.mem_available else {
            return Ok(());
        };
        let need = |n: u8| CONTROL_PLANE_MEMORY + WORKER_MEMORY * u64::from(n.saturating_sub(1));
        let total = nodes.saturating_add(pools.saturating_mul(2));
        if need(total) <= available {
            return Ok(());
        }
        if pools > 0 {
            return Err(Error::Config {
                var: "E2E_NODE_POOLS",
                value: pools.to_string(),
                allowed: format!(
                    "a pool count this machine can hold: E2E_NODES={nodes} plus {pools} pools of 2 \
                     workers need about {} MiB and {} MiB are available; set E2E_NODE_POOLS=0 (node-level \
                     cells then run one at a time)",
                    need(total) / MIB,
                    available / MIB
                ),
            });
        }
        let fits = (1..nodes).rev().find(|n| need(*n) <= available);
        Err(Error::Config {
            var: "E2E_NODES",
            value: nodes.to_string(),
            allowed: format!(
                "a node count this machine can hold: {nodes} nodes need about {} MiB (control plane {} \
                 MiB, each worker {} MiB) and {} MiB are available{}",
                need(nodes) / MIB,
                CONTROL_PLANE_MEMORY / MIB,
                WORKER_MEMORY / MIB,
                available / MIB,
                fits.map_or_else(
                    || "; not even one node fits".to_owned(),
                    |n| format!("; at most {n} here")
                )
            ),
        })
    }
}

/// The machine's CPU time so far, in clock ticks, from the first line of
/// /proc/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CpuTicks {
    /// Everything but idle and iowait.
    busy: u64,
    /// Idle with I/O outstanding.
    iowait: u64,
    /// All of it.
    total: u64,
}

/// [`CpuTicks`] now; `None` where there is no /proc/stat (not Linux).
pub(crate) fn cpu_ticks() -> Option<CpuTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_ticks(stat.lines().next()?)
}

fn parse_cpu_ticks(line: &str) -> Option<CpuTicks> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields.map_while(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already counted in user and nice).
    let total: u64 = ticks.iter().take(8).sum();
    let iowait = ticks.get(4).copied().unwrap_or(0);
    let busy = total.checked_sub(ticks.get(3)? + iowait)?;
    Some(CpuTicks {
        busy,
        iowait,
        total,
    })
}

/// How the machine's CPU time went between two [`cpu_ticks`] readings, in
/// percent: (busy, waiting for I/O). Busy near 100 % says more cells at
/// once cannot help; a large I/O wait says the disk, not the CPUs, limits.
pub(crate) fn cpu_share(from: CpuTicks, to: CpuTicks) -> Option<(f64, f64)> {
    let total = to.total.checked_sub(from.total).filter(|t| *t > 0)?;
    #[allow(clippy::cast_precision_loss)] // tick counts far below 2^52
    let pct = |a: u64, b: u64| Some(100.0 * b.checked_sub(a)? as f64 / total as f64);
    Some((pct(from.busy, to.busy)?, pct(from.iowait, to.iowait)?))
}

#[cfg(test)]
impl Host {
    /// A host with an NFS client and unknown memory, for tests of the
    /// modules that adapt to a host.
    pub(crate) fn for_tests(cgroup_v1: bool, cap_sys_resource: bool) -> Self {
        Self {
            no_nfs_client: None,
            cgroup_v1,
            cap_sys_resource,
            mem_available: None,
            no_csi_build: None,
            no_setup_build: Vec::new(),
        }
    }
}

/// Whether `<modules>/kernel/fs/nfs/nfs.ko` (possibly compressed) exists.
fn nfs_module_exists(modules: &Path) -> bool {
    let dir = modules.join("kernel/fs/nfs");
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("nfs.ko"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/filesystems of the Firecracker VMs this project's CI runs on
    /// (no NFS), and of a stock Ubuntu kernel after an NFS mount.
    const NO_NFS: &str = "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tcgroup\nnodev\toverlay\n\text4\nnodev\tfuse\n";
    const WITH_NFS: &str = "nodev\tsysfs\n\text4\nnodev\tnfs\nnodev\tnfs4\n";
    const MEMINFO: &str =
        "MemTotal:       24634564 kB\nMemFree:        20000000 kB\nMemAvailable:   23012004 kB\n";

    fn sources(filesystems: &'static str) -> Sources<'static> {
        Sources {
            filesystems,
            kernel_release: "6.18.44-fc",
            nfs_module: false,
            docker_cgroup_version: Some("1"),
            unified_cgroup: false,
            cap_bnd: "000001fffeffffff",
            meminfo: MEMINFO,
            go_on_path: true,
            csi_images_present: false,
            setup_images_present: &[],
        }
    }

    /// The operator and Thanos setups run where their images exist or Go
    /// can build them; where neither, their cells say so with the fix, and
    /// a setup whose images are there is not affected.
    #[test]
    fn cpu_time_is_read_from_proc_stat_and_idle_and_iowait_are_not_busy() {
        let from = parse_cpu_ticks("cpu  100 0 0 800 100 0 0 0 0 0").unwrap_or_default();
        assert_eq!((from.busy, from.iowait, from.total), (100, 100, 1000));
        let to = parse_cpu_ticks("cpu  500 0 100 1100 300 0 0 0 0 0").unwrap_or_default();
        assert_eq!(cpu_share(from, to), Some((50.0, 20.0)));
        assert_eq!(parse_cpu_ticks("cpu0 1 2 3 4"), None);
        assert_eq!(cpu_share(to, to), None, "no time passed");
        assert!(cpu_ticks().is_some(), "this harness runs on Linux");
    }

    #[test]
    fn a_setup_needs_its_images_or_go_to_build_them() {
        assert!(
            Host::from_sources(&sources(WITH_NFS))
                .no_setup_build
                .is_empty()
        );
        let operator_built = Host::from_sources(&Sources {
            go_on_path: false,
            setup_images_present: &[Setup::Operator],
            ..sources(WITH_NFS)
        });
        assert_eq!(
            operator_built.cannot_run(Variant::OperatorClaim, Provider::Kind),
            None
        );
        let why = operator_built
            .cannot_run(Variant::ThanosEmptyDir, Provider::Kind)
            .unwrap_or_default();
        assert!(
            why.starts_with("the thanos-sidecar setup's images (local/storage-e2e-thanos:0.42.5, ")
                && why.contains("install Go"),
            "{why}"
        );
        assert_eq!(
            operator_built.cannot_run(Variant::EmptyDir, Provider::Kind),
            None
        );
    }

    /// csi-rwo runs where its images exist or Go can build them; where
    /// neither, its cells are not runnable, with the fix, and no other
    /// variant is affected.
    #[test]
    fn csi_rwo_needs_its_images_or_go_to_build_them() {
        let with_go = Host::from_sources(&sources(WITH_NFS));
        assert_eq!(with_go.no_csi_build, None);
        let built = Sources {
            go_on_path: false,
            csi_images_present: true,
            ..sources(WITH_NFS)
        };
        assert_eq!(Host::from_sources(&built).no_csi_build, None);
        let neither = Host::from_sources(&Sources {
            go_on_path: false,
            ..sources(WITH_NFS)
        });
        let why = neither
            .cannot_run(Variant::CsiRwo, Provider::Kind)
            .unwrap_or_default();
        assert!(
            why.contains("building them needs Go, which is not on PATH")
                && why.ends_with(
                    "install Go (https://go.dev/dl/ or Debian's golang-go) to run csi-rwo"
                ),
            "{why}"
        );
        assert_eq!(
            neither.cannot_run(Variant::DefaultClass, Provider::Kind),
            None
        );
        assert_eq!(
            neither.cannot_run(Variant::CsiRwo, Provider::Existing),
            None
        );
    }

    #[test]
    fn nfs_needs_the_filesystem_or_its_module() {
        let h = Host::from_sources(&sources(NO_NFS));
        assert_eq!(
            h.no_nfs_client.as_deref(),
            Some(
                "the host kernel (6.18.44-fc) has no NFS client: no nfs or nfs4 in /proc/filesystems \
                 and no nfs module in /lib/modules/6.18.44-fc; kind and k3d nodes share the host \
                 kernel, so kubelet cannot mount NFS volumes here"
            )
        );
        assert_eq!(Host::from_sources(&sources(WITH_NFS)).no_nfs_client, None);
        let module = Sources {
            nfs_module: true,
            ..sources(NO_NFS)
        };
        assert_eq!(Host::from_sources(&module).no_nfs_client, None);
    }

    #[test]
    fn cgroup_version_comes_from_docker_else_from_sysfs() {
        assert!(Host::from_sources(&sources(NO_NFS)).cgroup_v1);
        let v2 = Sources {
            docker_cgroup_version: Some("2\n"),
            ..sources(NO_NFS)
        };
        assert!(!Host::from_sources(&v2).cgroup_v1);
        let unknown = Sources {
            docker_cgroup_version: None,
            unified_cgroup: true,
            ..sources(NO_NFS)
        };
        assert!(!Host::from_sources(&unknown).cgroup_v1);
    }

    #[test]
    fn the_bounding_set_says_whether_cap_sys_resource_can_be_had() {
        // These VMs: every capability up to 40 but bit 24.
        assert!(!Host::from_sources(&sources(NO_NFS)).cap_sys_resource);
        let full = Sources {
            cap_bnd: "000001ffffffffff",
            ..sources(NO_NFS)
        };
        assert!(Host::from_sources(&full).cap_sys_resource);
        let unreadable = Sources {
            cap_bnd: "",
            ..sources(NO_NFS)
        };
        assert!(Host::from_sources(&unreadable).cap_sys_resource);
    }

    #[test]
    fn a_node_count_the_memory_cannot_hold_is_refused_before_anything_starts() {
        let small = Host {
            mem_available: Some(2500 * MIB),
            ..Host::from_sources(&sources(NO_NFS))
        };
        assert!(small.check_nodes(2).is_ok());
        assert_eq!(
            small
                .check_nodes(3)
                .expect_err("3 nodes in 2.5 GiB")
                .to_string(),
            "E2E_NODES=\"3\" is not valid: expected a node count this machine can hold: 3 nodes need \
             about 2560 MiB (control plane 1024 MiB, each worker 768 MiB) and 2500 MiB are available; at \
             most 2 here"
        );
        let unknown = Host {
            mem_available: None,
            ..small
        };
        assert!(unknown.check_nodes(5).is_ok());
        let roomy = Host {
            mem_available: Some(6000 * MIB),
            ..unknown
        };
        assert!(roomy.check_nodes_with_pools(3, 2).is_ok());
        let e = roomy
            .check_nodes_with_pools(3, 3)
            .expect_err("9 nodes in 6000 MiB")
            .to_string();
        assert!(e.starts_with("E2E_NODE_POOLS=\"3\" is not valid"), "{e}");
        assert!(e.contains("set E2E_NODE_POOLS=0"), "{e}");
    }

    #[test]
    fn available_memory_is_read_in_bytes() {
        let h = Host::from_sources(&sources(NO_NFS));
        assert_eq!(h.mem_available, Some(23_012_004 * 1024));
        let none = Sources {
            meminfo: "MemTotal: 1 kB\n",
            ..sources(NO_NFS)
        };
        assert_eq!(Host::from_sources(&none).mem_available, None);
    }
}
