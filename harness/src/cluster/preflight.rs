//! Preflight: before any cluster work, check that Docker answers and the
//! provider's CLI is there and new enough (kind and k3d only: an existing
//! cluster is reached through its API alone), and that the host's inotify
//! limits will hold a multi-node cluster; kubectl is only recommended.
//! Every problem is one line naming the missing piece and the fix.
//!
//! Over 600 lines because its tier-0 tests (fake tools on a real PATH)
//! sit beside the checks; the code itself is under 400.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cluster::k3d::MIN_K3D;
use crate::cmd::{Cmd, on_path};
use crate::config::Config;
use crate::error::{Error, Result, tail};
use crate::versions::{SemVer, VersionTable};
use crate::vocab::Provider;

/// Where Linux exposes the inotify limits.
pub(crate) const INOTIFY_DIR: &str = "/proc/sys/fs/inotify";
/// kind known-issues: "too many open files" below these.
pub(crate) const MIN_MAX_USER_WATCHES: u64 = 524_288;
/// kind known-issues: "too many open files" below these.
pub(crate) const MIN_MAX_USER_INSTANCES: u64 = 512;
/// The sysctl line that fixes both limits (kind known-issues).
pub(crate) const INOTIFY_FIX: &str = "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 \
     (persist them in /etc/sysctl.d/)";

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// Fine; the line says what was found.
    Ok,
    /// The run can go on but may hit trouble.
    Warn,
    /// The run cannot work.
    Fail,
}

/// One checked item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Ok, warning or failure.
    pub(crate) level: Level,
    /// What was found (or what is missing).
    pub(crate) what: String,
    /// How to fix it (warnings and failures).
    pub(crate) fix: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        write!(f, "{tag} {}", self.what)?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// Every finding of one preflight run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Report {
    /// In check order.
    pub(crate) findings: Vec<Finding>,
}

impl Report {
    /// The failures.
    pub(crate) fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.level == Level::Fail)
    }

    /// The warnings.
    pub(crate) fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.level == Level::Warn)
    }

    /// `Ok(self)` when nothing failed.
    ///
    /// # Errors
    /// [`Error::Preflight`]: one failure gives its `what` and `fix`; several
    /// give one line each (`<what>; fix: <fix>`).
    pub(crate) fn into_result(self) -> Result<Self> {
        let fails: Vec<&Finding> = self.failures().collect();
        match fails.as_slice() {
            [] => Ok(self),
            [one] => Err(Error::Preflight {
                what: one.what.clone(),
                fix: one.fix.clone().unwrap_or_default(),
            }),
            many => Err(Error::Preflight {
                what: format!(
                    "{} preflight checks failed:\n{}",
                    many.len(),
                    many.iter()
                        .map(|f| format!("  {}; fix: {}", f.what, f.fix.as_deref().unwrap_or("-")))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                fix: "the fix named on each line above".into(),
            }),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// Run the preflight for `config`, finding tools through `path_env` (the
/// value of PATH to use) and reading inotify limits from [`INOTIFY_DIR`].
///
/// # Errors
/// [`Error::Preflight`] when a check fails (see [`Report::into_result`]);
/// [`Error::Parse`] when `kind-config/versions.toml` is broken;
/// [`Error::Unknown`] for an unsupported E2E_K8S_VERSION.
pub(crate) fn preflight(config: &Config, path_env: &str) -> Result<Report> {
    run(config, path_env, &MachineFacts::live()).into_result()
}

/// What the preflight reads from the machine itself, apart from the tools on
/// PATH. It is one value so that tests give fixed facts and never judge the
/// host they happen to run on (a tier-0 test once failed on a CI host whose
/// /tmp had less than one csi-rwo cell's room).
pub(crate) struct MachineFacts {
    /// Where the inotify limits are read ([`INOTIFY_DIR`] on a live host).
    pub(crate) inotify_dir: PathBuf,
    /// For csi-rwo only, read when such a variant is selected: whether
    /// [`LOOP_CONTROL`] exists, the temp dir the nodes' shared directory
    /// lives in, and its free bytes.
    pub(crate) attachable: fn() -> (bool, PathBuf, Option<u64>),
    /// For a kind cluster: Docker's root directory (where the nodes'
    /// volumes go) and its free bytes.
    pub(crate) docker_disk: fn() -> (PathBuf, Option<u64>),
}

impl MachineFacts {
    /// The machine this process runs on.
    pub(crate) fn live() -> Self {
        Self {
            inotify_dir: PathBuf::from(INOTIFY_DIR),
            attachable: || {
                let tmp = std::env::temp_dir();
                let free = free_bytes(&tmp);
                (Path::new(LOOP_CONTROL).exists(), tmp, free)
            },
            docker_disk: || {
                let root = Cmd::new("docker")
                    .args(["info", "--format", "{{.DockerRootDir}}"])
                    .quiet()
                    .run_unchecked()
                    .ok()
                    .filter(crate::cmd::Output::success)
                    .map_or_else(
                        || PathBuf::from("/var/lib/docker"),
                        |o| PathBuf::from(o.stdout.trim()),
                    );
                let free = free_bytes(&root);
                (root, free)
            },
        }
    }
}

/// [`preflight`] without turning failures into an error, on the `host`
/// given (tests give fixed facts).
pub(crate) fn run(config: &Config, path_env: &str, host: &MachineFacts) -> Report {
    let mut r = Report::default();
    // An existing cluster is reached through its API alone: no Docker.
    if config.provider != Provider::Existing {
        r.findings.push(docker(path_env));
    }
    match config.provider {
        Provider::Kind => {
            let needed = VersionTable::embedded()
                .and_then(|t| t.resolve(config.k8s_version).map(|row| row.kind.clone()));
            match needed {
                Ok(min) => r.findings.push(tool(
                    "kind",
                    path_env,
                    &["version"],
                    parse_kind_version,
                    &min,
                    "its node images are built for it (kind-config/versions.toml)",
                )),
                Err(e) => r.findings.push(Finding {
                    level: Level::Fail,
                    what: e.to_string(),
                    fix: Some("set E2E_K8S_VERSION to a listed minor, or unset it".into()),
                }),
            }
        }
        Provider::K3d => r.findings.push(tool(
            "k3d",
            path_env,
            &["version"],
            parse_k3d_version,
            MIN_K3D,
            "the harness is written against it",
        )),
        Provider::Existing => {}
    }
    r.findings.push(kubectl(path_env));
    if config.provider == Provider::Kind {
        let (root, free) = (host.docker_disk)();
        r.findings
            .extend(node_disk(&root, free, config.nodes, config.node_pools()));
    }
    if config.provider != Provider::Existing {
        r.findings.extend(inotify(&host.inotify_dir, config.nodes));
        if config.variants.iter().any(|v| v.uses_attachable_csi()) {
            let (loop_control, tmp, free) = (host.attachable)();
            r.findings
                .extend(attachable_storage(loop_control, &tmp, free));
        }
    }
    r
}

/// The kernel's loop-device control node: with it a privileged container
/// can have a free loop device made (`losetup -f`), which the attachable
/// CSI driver stages every csi-rwo volume on (kind nodes share the kernel).
pub(crate) const LOOP_CONTROL: &str = "/dev/loop-control";
/// What one csi-rwo cell claims at most (manifests/storage/csi-rwo: 2 GiB
/// for Prometheus, 1 GiB for Grafana). The image files are sparse, but the
/// driver refuses a volume the directory cannot hold (full-disk cells fill
/// them for real), so one cell's worth must fit.
pub(crate) const ATTACHABLE_CELL_BYTES: u64 = 3 << 30;

/// The checks for csi-rwo (pure: the caller reads the live system): the
/// loop-device control node, and room for one cell's volumes in the
/// directory the cluster's nodes share (under `tmp`, the cluster's temp dir).
pub(crate) fn attachable_storage(
    loop_control: bool,
    tmp: &Path,
    free: Option<u64>,
) -> Vec<Finding> {
    let mut out = vec![if loop_control {
        Finding {
            level: Level::Ok,
            what: format!("{LOOP_CONTROL} present (loop devices for csi-rwo volumes)"),
            fix: None,
        }
    } else {
        Finding {
            level: Level::Fail,
            what: format!(
                "{LOOP_CONTROL} is missing: csi-rwo volumes are ext4 on loop devices, and the \
                 kernel offers none"
            ),
            fix: Some(
                "load the loop module (`sudo modprobe loop`), or leave csi-rwo out of E2E_VARIANTS"
                    .into(),
            ),
        }
    }];
    match free {
        Some(bytes) if bytes < ATTACHABLE_CELL_BYTES => out.push(Finding {
            level: Level::Fail,
            what: format!(
                "{} has {} MiB free, but a csi-rwo cell's volumes need up to {} MiB there (the \
                 nodes' shared directory lives in the cluster's temp dir)",
                tmp.display(),
                bytes >> 20,
                ATTACHABLE_CELL_BYTES >> 20
            ),
            fix: Some("free space there, or point TMPDIR at a filesystem with room".into()),
        }),
        Some(bytes) => out.push(Finding {
            level: Level::Ok,
            what: format!(
                "{} has {} MiB free for csi-rwo volumes",
                tmp.display(),
                bytes >> 20
            ),
            fix: None,
        }),
        None => out.push(Finding {
            level: Level::Warn,
            what: format!(
                "could not read the free space of {} (df failed)",
                tmp.display()
            ),
            fix: Some(format!(
                "make sure {} MiB are free there for csi-rwo volumes",
                ATTACHABLE_CELL_BYTES >> 20
            )),
        }),
    }
    out
}

/// Docker-volume space one kind node takes with the run's images in it, as
/// measured on kind 1.37 (2026-12-06): 16.7 GB for seven nodes, the images'
/// layers compressed, about a third of them unpacked by the cells.
pub(crate) const NODE_DISK_BYTES: u64 = 2400 << 20;

/// Room for the cluster's nodes where Docker keeps their volumes (pure: the
/// caller reads the live system). A node that cannot write its images or
/// its pods' data fails cells in ways that hide the cause (a volume not
/// provisioned, an eviction), so a run that cannot fit stops here.
pub(crate) fn node_disk(root: &Path, free: Option<u64>, nodes: u8, pools: u8) -> Option<Finding> {
    let total = u64::from(nodes) + 2 * u64::from(pools);
    let need = total * NODE_DISK_BYTES;
    let free = free?;
    (free < need).then(|| Finding {
        level: Level::Fail,
        what: format!(
            "{} has {} MiB free, but a kind cluster of {total} nodes needs about {} MiB there for \
             the nodes' volumes (about {} MiB each, measured)",
            root.display(),
            free >> 20,
            need >> 20,
            NODE_DISK_BYTES >> 20
        ),
        fix: Some(if pools > 0 {
            format!(
                "free space there (old clusters: make clean; unused images: docker image prune), \
                 or set E2E_NODE_POOLS={} (each pool is two nodes; with 0 node-level cells run one \
                 at a time)",
                pools - 1
            )
        } else {
            "free space there (old clusters: make clean; unused images: docker image prune), or \
             lower E2E_NODES"
                .to_owned()
        }),
    })
}

/// Free bytes of the filesystem holding `dir` (`df -Pk`), when df answers.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = Cmd::new("df")
        .arg("-Pk")
        .arg(dir.to_string_lossy())
        .quiet()
        .run_unchecked()
        .ok()
        .filter(crate::cmd::Output::success)?;
    parse_df_available(&out.stdout)
}

/// The "Available" column (KiB) of `df -Pk`'s one data line, in bytes.
pub(crate) fn parse_df_available(stdout: &str) -> Option<u64> {
    let line = stdout.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

fn make_tools(tool: &str) -> String {
    format!("make tools (installs pinned {tool} into ./bin, which the Makefile puts first on PATH)")
}

fn docker(path_env: &str) -> Finding {
    let Some(bin) = on_path("docker", path_env) else {
        return Finding {
            level: Level::Fail,
            what: "docker not found on PATH".into(),
            fix: Some("install Docker Engine (https://docs.docker.com/engine/install/)".into()),
        };
    };
    let out = Cmd::new(bin.to_string_lossy())
        .args(["version", "--format", "{{.Server.Version}}"])
        .quiet()
        .run_unchecked();
    match out {
        Ok(o) if o.success() && !o.stdout.trim().is_empty() => Finding {
            level: Level::Ok,
            what: format!("docker daemon {} reachable", o.stdout.trim()),
            fix: None,
        },
        Ok(o) => Finding {
            level: Level::Fail,
            what: format!(
                "Docker daemon not reachable (`docker version`: {})",
                tail(
                    if o.stderr.trim().is_empty() {
                        &o.stdout
                    } else {
                        &o.stderr
                    },
                    200
                )
            ),
            fix: Some(
                "start Docker and make sure this user may use it (`docker info` must work)".into(),
            ),
        },
        Err(e) => Finding {
            level: Level::Fail,
            what: format!("docker at {} could not be run: {e}", bin.display()),
            fix: Some("reinstall Docker Engine".into()),
        },
    }
}

/// Check that `name` is on PATH and at least `min`.
fn tool(
    name: &str,
    path_env: &str,
    version_args: &[&str],
    parse: fn(&str) -> Option<SemVer>,
    min: &str,
    why: &str,
) -> Finding {
    let fix = Some(make_tools(name));
    let Some(bin) = on_path(name, path_env) else {
        return Finding {
            level: Level::Fail,
            what: format!("{name} not found on PATH (needs {min} or newer)"),
            fix,
        };
    };
    let found = version_of(&bin, version_args, parse);
    let min_v = SemVer::parse(min);
    match (found, min_v) {
        (Ok(v), Some(m)) if v >= m => Finding {
            level: Level::Ok,
            what: format!("{name} {v} at {}", bin.display()),
            fix: None,
        },
        (Ok(v), _) => Finding {
            level: Level::Fail,
            what: format!(
                "{name} {v} at {} is too old: needs {min} or newer ({why})",
                bin.display()
            ),
            fix,
        },
        (Err(msg), _) => Finding {
            level: Level::Fail,
            what: format!("{name} at {}: {msg}", bin.display()),
            fix,
        },
    }
}

fn version_of(
    bin: &Path,
    args: &[&str],
    parse: fn(&str) -> Option<SemVer>,
) -> std::result::Result<SemVer, String> {
    let out = Cmd::new(bin.to_string_lossy())
        .args(args.iter().copied())
        .quiet()
        .run_unchecked()
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "`{} {}` failed: {}",
            bin.display(),
            args.join(" "),
            tail(&out.stderr, 200)
        ));
    }
    parse(&out.stdout)
        .ok_or_else(|| format!("cannot read a version from {:?}", tail(&out.stdout, 200)))
}

/// kubectl is never needed to run: the harness talks to the API itself.
/// It is used only by the commands printed for a kept cluster, and by the
/// last-resort namespace cleanup of a run whose own cleanup never ran.
fn kubectl(path_env: &str) -> Finding {
    match on_path("kubectl", path_env) {
        Some(bin) => Finding {
            level: Level::Ok,
            what: format!(
                "kubectl at {} (for the inspect commands printed for kept clusters)",
                bin.display()
            ),
            fix: None,
        },
        None => Finding {
            level: Level::Warn,
            what: "kubectl not found on PATH: the run does not need it, but the inspect commands \
                   printed for kept clusters and the last-resort namespace cleanup use it"
                .into(),
            fix: Some(make_tools("kubectl")),
        },
    }
}

/// `kind version` prints `kind v0.33.0 go1.25.1 linux/amd64`
/// (kind pkg/cmd/kind/version: `"kind v" + Version() + " " + go + " " + os/arch`).
pub(crate) fn parse_kind_version(stdout: &str) -> Option<SemVer> {
    let mut words = stdout.split_whitespace();
    if words.next()? != "kind" {
        return None;
    }
    SemVer::parse(words.next()?)
}

/// `k3d version` prints `k3d version v5.9.0` then `k3s version v1.35.5-k3s1 (default)`.
pub(crate) fn parse_k3d_version(stdout: &str) -> Option<SemVer> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("k3d version "))
        .and_then(SemVer::parse)
}

/// The inotify checks: below kind's recommended limits is a warning, printed
/// before the run (kind known-issues: the defaults may be "not enough to
/// create a cluster with many nodes", and pods then fail with "too many open
/// files"). Not a failure: many hosts run a 3-node cluster at the defaults,
/// and `make e2e` must work on a fresh machine without root.
pub(crate) fn inotify(dir: &Path, nodes: u8) -> Vec<Finding> {
    let level = Level::Warn;
    [("max_user_watches", MIN_MAX_USER_WATCHES), ("max_user_instances", MIN_MAX_USER_INSTANCES)]
        .into_iter()
        .map(|(name, min)| {
            let path: PathBuf = dir.join(name);
            match std::fs::read_to_string(&path).map(|s| s.trim().parse::<u64>()) {
                Ok(Ok(v)) if v >= min => Finding {
                    level: Level::Ok,
                    what: format!("fs.inotify.{name} = {v}"),
                    fix: None,
                },
                Ok(Ok(v)) => Finding {
                    level,
                    what: format!(
                        "fs.inotify.{name} = {v} is below {min}: {nodes}-node clusters hit \"too many open files\""
                    ),
                    fix: Some(INOTIFY_FIX.into()),
                },
                _ => Finding {
                    level: Level::Warn,
                    what: format!("cannot read {} (not Linux?): inotify limits unchecked", path.display()),
                    fix: Some(INOTIFY_FIX.into()),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Variant;
    use std::os::unix::fs::PermissionsExt as _;

    fn script(dir: &Path, name: &str, body: &str) {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn csi_rwo_needs_loop_devices_and_room_for_one_cells_volumes() {
        let tmp = Path::new("/tmp");
        let ok = attachable_storage(true, tmp, Some(10 << 30));
        assert!(ok.iter().all(|f| f.level == Level::Ok), "{ok:?}");
        let no_loop = attachable_storage(false, tmp, Some(10 << 30));
        assert_eq!(
            no_loop[0].to_string(),
            "FAIL /dev/loop-control is missing: csi-rwo volumes are ext4 on loop devices, and the \
             kernel offers none; fix: load the loop module (`sudo modprobe loop`), or leave csi-rwo \
             out of E2E_VARIANTS"
        );
        let full = attachable_storage(true, tmp, Some(1 << 30));
        assert_eq!(
            full[1].to_string(),
            "FAIL /tmp has 1024 MiB free, but a csi-rwo cell's volumes need up to 3072 MiB there \
             (the nodes' shared directory lives in the cluster's temp dir); fix: free space there, \
             or point TMPDIR at a filesystem with room"
        );
        assert_eq!(attachable_storage(true, tmp, None)[1].level, Level::Warn);
        assert_eq!(
            parse_df_available(
                "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 264000000 12000000 83886080 13% /\n"
            ),
            Some(83_886_080 * 1024)
        );
        assert_eq!(parse_df_available("garbage"), None);
    }

    fn inotify_dir(watches: u64, instances: u64) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.path().join("max_user_watches"), format!("{watches}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            d.path().join("max_user_instances"),
            format!("{instances}\n"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        d
    }

    /// A host with the inotify limits in `limits` and room for csi-rwo: the
    /// tool checks are judged alone, whatever machine runs the test.
    fn host(limits: &tempfile::TempDir) -> MachineFacts {
        MachineFacts {
            inotify_dir: limits.path().to_path_buf(),
            attachable: || (true, PathBuf::from("/roomy"), Some(64 << 30)),
            docker_disk: || (PathBuf::from("/var/lib/docker"), Some(64 << 30)),
        }
    }

    /// The measured room per node times the nodes, pools included; the fix
    /// names one pool fewer.
    #[test]
    fn a_cluster_that_does_not_fit_on_the_disk_is_refused_with_the_pools_to_drop() {
        let root = Path::new("/var/lib/docker");
        assert!(node_disk(root, Some(64 << 30), 3, 2).is_none());
        assert!(node_disk(root, None, 3, 2).is_none(), "unknown: not judged");
        let f =
            node_disk(root, Some(12 << 30), 3, 2).unwrap_or_else(|| panic!("7 nodes in 12 GiB"));
        assert_eq!(f.level, Level::Fail);
        assert!(
            f.what
                .starts_with("/var/lib/docker has 12288 MiB free, but a kind cluster of 7 nodes needs about 16800 MiB"),
            "{}",
            f.what
        );
        assert!(
            f.fix
                .as_deref()
                .is_some_and(|x| x.contains("E2E_NODE_POOLS=1"))
        );
        assert!(
            node_disk(root, Some(12 << 30), 3, 0).is_none(),
            "3 nodes fit"
        );
    }

    fn cfg(provider: Provider, nodes: u8) -> Config {
        Config {
            provider,
            nodes,
            ..Config::default()
        }
    }

    #[test]
    fn an_empty_path_names_every_missing_tool_and_its_fix() {
        let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = bin.path().to_string_lossy().into_owned();
        let limits = inotify_dir(524_288, 512);
        let r = run(&cfg(Provider::Kind, 3), &path, &host(&limits));
        let lines: Vec<String> = r.failures().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "FAIL docker not found on PATH; fix: install Docker Engine (https://docs.docker.com/engine/install/)",
                "FAIL kind not found on PATH (needs v0.33.0 or newer); fix: make tools (installs pinned kind into \
                 ./bin, which the Makefile puts first on PATH)",
            ]
        );
        assert_eq!(
            r.warnings().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "WARN kubectl not found on PATH: the run does not need it, but the inspect commands printed \
                 for kept clusters and the last-resort namespace cleanup use it; fix: make tools (installs \
                 pinned kubectl into ./bin, which the Makefile puts first on PATH)"
            ]
        );
        let e = r
            .clone()
            .into_result()
            .expect_err("two failures")
            .to_string();
        assert!(
            e.starts_with(
                "2 preflight checks failed:\n  docker not found on PATH; fix: install Docker"
            ),
            "{e}"
        );

        let r = run(&cfg(Provider::K3d, 1), &path, &host(&limits));
        assert!(
            r.failures()
                .any(|f| f.what == "k3d not found on PATH (needs v5.9.0 or newer)"),
            "{r}"
        );
    }

    #[test]
    fn fake_tools_on_a_real_path_are_run_and_their_versions_judged() {
        let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        script(bin.path(), "docker", "echo 29.1.3");
        script(
            bin.path(),
            "kind",
            "echo 'kind v0.29.0 go1.24.2 linux/amd64'",
        );
        script(
            bin.path(),
            "k3d",
            "printf 'k3d version v5.9.0\\nk3s version v1.35.5-k3s1 (default)\\n'",
        );
        script(bin.path(), "kubectl", "echo 'Client Version: v1.36.4'");
        let path = bin.path().to_string_lossy().into_owned();
        let limits = inotify_dir(524_288, 512);

        let r = run(&cfg(Provider::Kind, 3), &path, &host(&limits));
        let fails: Vec<String> = r.failures().map(|f| f.what.clone()).collect();
        assert_eq!(fails.len(), 1, "{r}");
        assert!(
            fails[0].starts_with("kind v0.29.0 at ") && fails[0].ends_with(
                "is too old: needs v0.33.0 or newer (its node images are built for it (kind-config/versions.toml))"
            ),
            "{}",
            fails[0]
        );
        assert!(
            r.findings[0]
                .to_string()
                .starts_with("ok   docker daemon 29.1.3 reachable"),
            "{r}"
        );

        let r = run(&cfg(Provider::K3d, 3), &path, &host(&limits));
        assert_eq!(r.failures().count(), 0, "{r}");
        assert!(r.to_string().contains("ok   k3d v5.9.0 at "), "{r}");
        assert!(r.clone().into_result().is_ok());

        script(
            bin.path(),
            "docker",
            "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; exit 1",
        );
        let r = run(&cfg(Provider::K3d, 3), &path, &host(&limits));
        let e = r.into_result().expect_err("docker down").to_string();
        assert_eq!(
            e,
            "Docker daemon not reachable (`docker version`: Cannot connect to the Docker daemon at \
             unix:///var/run/docker.sock.); fix: start Docker and make sure this user may use it (`docker info` must work)"
        );
        // An existing cluster needs no Docker (nor kind, k3d or kubectl).
        let r = run(&cfg(Provider::Existing, 3), &path, &host(&limits));
        assert!(r.clone().into_result().is_ok(), "{r}");
        let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let r = run(
            &cfg(Provider::Existing, 3),
            &empty.path().to_string_lossy(),
            &host(&limits),
        );
        assert!(r.clone().into_result().is_ok(), "{r}");

        script(bin.path(), "kind", "echo 'something else'");
        let r = run(&cfg(Provider::Kind, 1), &path, &host(&limits));
        assert!(
            r.to_string()
                .contains("cannot read a version from \"something else\""),
            "{r}"
        );
    }

    #[test]
    fn unsupported_minor_fails_the_kind_check_with_the_supported_list() {
        let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let limits = inotify_dir(524_288, 512);
        let c = Config {
            k8s_version: Some(crate::vocab::Minor(30)),
            ..cfg(Provider::Kind, 1)
        };
        let r = run(&c, &bin.path().to_string_lossy(), &host(&limits));
        assert!(
            r.to_string()
                .contains("valid ones are 1.37, 1.36, 1.35, 1.34"),
            "{r}"
        );
    }

    #[test]
    fn the_hosts_room_is_judged_only_when_csi_rwo_is_selected() {
        let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        script(bin.path(), "docker", "echo 29.1.3");
        script(bin.path(), "kind", "echo 'kind v0.33.0 go1.25 linux/amd64'");
        script(bin.path(), "kubectl", "echo 'Client Version: v1.36.4'");
        let path = bin.path().to_string_lossy().into_owned();
        let limits = inotify_dir(524_288, 512);
        let cramped = MachineFacts {
            inotify_dir: limits.path().to_path_buf(),
            attachable: || (false, PathBuf::from("/cramped"), Some(1 << 30)),
            docker_disk: || (PathBuf::from("/var/lib/docker"), Some(64 << 30)),
        };
        let with = Config {
            variants: vec![Variant::CsiRwo, Variant::EmptyDir],
            ..cfg(Provider::Kind, 1)
        };
        let fails: Vec<String> = run(&with, &path, &cramped)
            .failures()
            .map(|f| f.what.clone())
            .collect();
        assert_eq!(fails.len(), 2, "{fails:?}");
        assert!(
            fails[0].starts_with("/dev/loop-control is missing"),
            "{fails:?}"
        );
        assert!(
            fails[1].starts_with("/cramped has 1024 MiB free"),
            "{fails:?}"
        );
        let without = Config {
            variants: vec![Variant::EmptyDir],
            ..cfg(Provider::Kind, 1)
        };
        let r = run(&without, &path, &cramped);
        assert!(r.clone().into_result().is_ok(), "{r}");
        assert!(!r.to_string().contains("cramped"), "{r}");
    }

    #[test]
    fn low_inotify_limits_warn_with_the_fix() {
        let low = inotify_dir(8192, 128);
        let three = inotify(low.path(), 3);
        assert_eq!(three.iter().filter(|f| f.level == Level::Warn).count(), 2);
        assert_eq!(
            three[0].to_string(),
            "WARN fs.inotify.max_user_watches = 8192 is below 524288: 3-node clusters hit \"too many open files\"; \
             fix: sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 \
             (persist them in /etc/sysctl.d/)"
        );
        assert!(
            inotify(low.path(), 1)
                .iter()
                .all(|f| f.level == Level::Warn)
        );
        let ok = inotify_dir(1_048_576, 8192);
        assert!(inotify(ok.path(), 3).iter().all(|f| f.level == Level::Ok));
        let missing = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            inotify(missing.path(), 3)
                .iter()
                .all(|f| f.level == Level::Warn)
        );
    }

    /// `scripts/tools.sh`, run for real with fake tools on PATH (no network here).
    mod tools_script {
        use super::*;

        fn script_path() -> PathBuf {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/tools.sh")
        }

        fn run_tools(path_dir: &Path, bin_dir: &Path) -> crate::cmd::Output {
            Cmd::new("bash")
                .arg(script_path().to_string_lossy())
                .env("PATH", format!("{}:/usr/bin:/bin", path_dir.display()))
                .env("BIN_DIR", bin_dir.to_string_lossy())
                .run_unchecked()
                .unwrap_or_else(|e| panic!("{e}"))
        }

        fn fakes(dir: &Path, kind: &str) {
            script(
                dir,
                "kind",
                &format!("echo 'kind {kind} go1.25.1 linux/amd64'"),
            );
            script(
                dir,
                "k3d",
                "printf 'k3d version v5.9.0\\nk3s version v1.35.5-k3s1 (default)\\n'",
            );
            script(
                dir,
                "kubectl",
                "echo 'Client Version: v1.36.4'; echo 'Kustomize Version: v5.7.1'",
            );
        }

        #[test]
        fn tools_already_on_path_at_the_pinned_version_are_not_installed() {
            let path = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            fakes(path.path(), "v0.33.0");
            let out = run_tools(path.path(), bin.path());
            assert!(out.success(), "{out:?}");
            for tool in ["kind v0.33.0", "k3d v5.9.0", "kubectl v1.36.4"] {
                let (name, v) = tool.split_once(' ').unwrap_or_default();
                let line = format!(
                    "tools: using {}/{name} ({name} {v}, pinned {v}); not installing",
                    path.path().display()
                );
                assert!(
                    out.stdout.contains(&line),
                    "missing {line:?} in {}",
                    out.stdout
                );
            }
            assert_eq!(
                std::fs::read_dir(bin.path()).map(Iterator::count).ok(),
                Some(0),
                "nothing installed"
            );
        }

        #[test]
        fn a_download_with_the_wrong_checksum_is_refused_and_not_installed() {
            let path = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            fakes(path.path(), "v0.29.0");
            // A curl that "downloads" something else: what a tampered mirror would serve.
            script(
                path.path(),
                "curl",
                r#"while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift ;; esac; shift; done; echo tampered > "$out""#,
            );
            let out = run_tools(path.path(), bin.path());
            assert!(!out.success(), "{out:?}");
            assert!(
                out.stdout
                    .contains("older than the pinned v0.33.0; installing v0.33.0"),
                "{}",
                out.stdout
            );
            assert!(
                out.stdout.contains("tools: downloading kind v0.33.0 from https://kind.sigs.k8s.io/dl/v0.33.0/kind-linux-"),
                "{}",
                out.stdout
            );
            assert!(
                out.stderr.contains(
                    "tools: checksum mismatch for https://kind.sigs.k8s.io/dl/v0.33.0/kind-linux-"
                ),
                "{}",
                out.stderr
            );
            assert!(out.stderr.contains("not installed"), "{}", out.stderr);
            assert!(
                !bin.path().join("kind").exists(),
                "a binary that failed verification is never installed"
            );
        }

        #[test]
        fn the_script_pins_what_the_harness_requires() {
            let text = std::fs::read_to_string(script_path()).unwrap_or_else(|e| panic!("{e}"));
            let table = VersionTable::embedded().unwrap_or_else(|e| panic!("{e}"));
            assert!(
                text.contains(&format!("\nKIND_VERSION={}\n", table.newest_kind())),
                "KIND_VERSION != versions.toml"
            );
            assert!(
                text.contains(&format!("\nK3D_VERSION={MIN_K3D}\n")),
                "K3D_VERSION != MIN_K3D"
            );
            let mut pinned: Vec<&str> = text
                .lines()
                .filter_map(|l| {
                    let (key, rest) = l.trim().split_once(") echo ")?;
                    let sum = rest.strip_suffix(" ;;")?;
                    (sum.len() == 64 && sum.chars().all(|c| c.is_ascii_hexdigit())).then_some(key)
                })
                .collect();
            pinned.sort_unstable();
            assert_eq!(
                pinned,
                [
                    "k3d/amd64",
                    "k3d/arm64",
                    "kind/amd64",
                    "kind/arm64",
                    "kubectl/amd64",
                    "kubectl/arm64"
                ]
            );
        }
    }

    #[test]
    fn version_outputs_parse() {
        assert_eq!(
            parse_kind_version("kind v0.33.0 go1.25.1 linux/amd64\n"),
            Some(SemVer(0, 33, 0))
        );
        assert_eq!(
            parse_kind_version("kind v0.34.0-alpha.12+0123456789abcd go1.25.1 linux/arm64"),
            Some(SemVer(0, 34, 0))
        );
        assert_eq!(parse_kind_version("0.33.0"), None);
        assert_eq!(
            parse_k3d_version("k3d version v5.9.0\nk3s version v1.35.5-k3s1 (default)\n"),
            Some(SemVer(5, 9, 0))
        );
        assert_eq!(parse_k3d_version("k3s version v1.35.5-k3s1"), None);
    }
}
