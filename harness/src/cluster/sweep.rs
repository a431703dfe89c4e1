//! The crash-safe sweep (`make clean`, `storage-e2e sweep`): removes what
//! runs left behind, found by ownership label or name prefix, never by
//! guessing:
//!
//! - kind clusters named `e2e-*` (their node containers carry
//!   `io.x-k8s.kind.cluster=<name>`; kind cannot label them otherwise);
//! - k3d clusters named `e2e-*` (containers labelled `k3d.cluster=<name>`,
//!   network `k3d-<name>`, volume `k3d-<name>-images`);
//! - Docker containers, networks and volumes labelled
//!   `app.kubernetes.io/managed-by=storage-e2e`;
//! - loop devices whose backing file is a volume image of the attachable
//!   CSI driver (a path under `SAN_DIR`): loop devices belong to the
//!   kernel, not to a container, so a node that vanished without unstaging
//!   could leave one behind;
//! - with [`Selector::All`] also the stale `$TMPDIR` dirs of
//!   `TEMP_DIR_PREFIXES` (kubeconfigs, tier-1 data dirs, build contexts);
//!   a data dir holding files a container user wrote that the invoking user
//!   may not delete is emptied as root in a throw-away container first.
//!
//! [`Selector::Run`] narrows all of it to one run (`storage-e2e/run=<id>`
//! label, cluster names `e2e-<id>-*`, cluster temp dirs whose kubeconfig
//! names such a cluster), so a test can sweep its own
//! leftovers while other runs go on in parallel. kind and k3d are used when
//! on PATH (they also tidy their own state); Docker alone finishes the job
//! either way, so the sweep works on a machine without them.
//!
//! Over 600 lines because its tier-0 tests sit beside the code; the code
//! itself is under 450.

use std::fmt;
use std::path::Path;

use crate::cluster::{k3d, kind, kubeconfig};
use crate::cmd::{Cmd, on_path};
use crate::error::{Error, Result, tail};
use crate::labels::{MANAGED_BY, NAME_PREFIX, OWNER, RUN_ID, unique_name};
use crate::manifest::SAN_DIR;

/// Which leftovers to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Everything any run of the harness made.
    All,
    /// Only what the run with this id made.
    Run(String),
}

impl Selector {
    /// The `--filter label=...` arguments for Docker listings.
    pub(crate) fn docker_filters(&self) -> Vec<String> {
        let mut f = vec!["--filter".to_owned(), format!("label={MANAGED_BY}={OWNER}")];
        if let Self::Run(id) = self {
            f.extend(["--filter".to_owned(), format!("label={RUN_ID}={id}")]);
        }
        f
    }

    /// Whether a kind or k3d cluster name belongs to the selection.
    pub(crate) fn matches_cluster(&self, name: &str) -> bool {
        match self {
            Self::All => name.starts_with(NAME_PREFIX),
            Self::Run(id) => name.starts_with(&format!("{NAME_PREFIX}{id}-")),
        }
    }

    /// Whether a harness temp dir is this selector's: every one for
    /// [`Self::All`]; for one run, a cluster dir whose files (kubeconfig,
    /// cluster config) name one of its clusters, so a kept cluster's dir
    /// goes with it (the other dirs carry no run id and wait for `All`).
    pub fn owns_temp_dir(&self, dir: &Path) -> bool {
        let Self::Run(id) = self else {
            return true;
        };
        let name = format!("{NAME_PREFIX}{id}-");
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                e.path().is_file()
                    && std::fs::read_to_string(e.path()).is_ok_and(|text| text.contains(&name))
            })
    }
}

/// What a sweep removed, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// kind clusters removed.
    pub kind_clusters: Vec<String>,
    /// k3d clusters removed.
    pub k3d_clusters: Vec<String>,
    /// Labelled containers removed (ids).
    pub(crate) containers: Vec<String>,
    /// Labelled networks removed (ids).
    pub(crate) networks: Vec<String>,
    /// Labelled volumes removed (names).
    pub(crate) volumes: Vec<String>,
    /// Loop devices detached (`/dev/loopN <backing file>`).
    pub(crate) loop_devices: Vec<String>,
    /// Stale `$TMPDIR` dirs removed ([`TEMP_DIR_PREFIXES`]).
    pub(crate) temp_dirs: Vec<String>,
    /// Removals that failed, one line each.
    pub(crate) errors: Vec<String>,
}

impl SweepReport {
    /// `Ok(self)` when every removal worked.
    ///
    /// # Errors
    /// [`Error::Command`]-style summary listing each failed removal.
    pub fn into_result(self) -> Result<Self> {
        if self.errors.is_empty() {
            Ok(self)
        } else {
            Err(Error::Command {
                command: "storage-e2e sweep".into(),
                status: format!("{} removal(s) failed", self.errors.len()),
                stderr: self.errors.join("\n"),
            })
        }
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("kind clusters", &self.kind_clusters),
            ("k3d clusters", &self.k3d_clusters),
            ("containers", &self.containers),
            ("networks", &self.networks),
            ("volumes", &self.volumes),
            ("loop devices", &self.loop_devices),
            ("temp dirs", &self.temp_dirs),
        ];
        for (what, list) in parts {
            writeln!(
                f,
                "removed {} {what}{}{}",
                list.len(),
                if list.is_empty() { "" } else { ": " },
                list.join(" ")
            )?;
        }
        for e in &self.errors {
            writeln!(f, "FAILED {e}")?;
        }
        Ok(())
    }
}

/// `docker ps -a` printing the value of `label` for every container that has it.
pub(crate) fn list_cluster_labels(label: &str) -> Cmd {
    Cmd::new("docker").args([
        "ps".to_owned(),
        "-a".to_owned(),
        "--filter".to_owned(),
        format!("label={label}"),
        "--format".to_owned(),
        format!("{{{{.Label \"{label}\"}}}}"),
    ])
}

/// `docker ps -aq` / `docker network ls -q` / `docker volume ls -q` with the selector's label filters.
pub(crate) fn list_labelled(object: DockerObject, selector: &Selector) -> Cmd {
    let base = match object {
        DockerObject::Container => Cmd::new("docker").args(["ps", "-a", "-q", "--no-trunc"]),
        DockerObject::Network => Cmd::new("docker").args(["network", "ls", "-q", "--no-trunc"]),
        DockerObject::Volume => Cmd::new("docker").args(["volume", "ls", "-q"]),
    };
    base.args(selector.docker_filters())
}

/// `docker rm -f -v` / `docker network rm` / `docker volume rm` of `ids`.
pub(crate) fn remove(object: DockerObject, ids: &[String]) -> Cmd {
    let base = match object {
        DockerObject::Container => Cmd::new("docker").args(["rm", "-f", "-v"]),
        DockerObject::Network => Cmd::new("docker").args(["network", "rm"]),
        DockerObject::Volume => Cmd::new("docker").args(["volume", "rm"]),
    };
    base.args(ids.iter().cloned())
}

/// The three kinds of Docker objects the sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DockerObject {
    /// A container.
    Container,
    /// A network.
    Network,
    /// A volume.
    Volume,
}

fn lines(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v.dedup();
    v
}

fn listing(cmd: &Cmd) -> Result<Vec<String>> {
    Ok(lines(&cmd.clone().quiet().run()?.stdout))
}

/// Run a removal; on failure record the reason instead of stopping, so one
/// stuck object does not keep the sweep from removing the rest.
fn try_remove(cmd: &Cmd, errors: &mut Vec<String>) -> bool {
    match cmd.run_unchecked() {
        Ok(o) if o.success() => true,
        Ok(o) => {
            errors.push(format!("`{cmd}`: {}", tail(&o.stderr, 400)));
            false
        }
        Err(e) => {
            errors.push(e.to_string());
            false
        }
    }
}

/// Remove everything `selector` picks; kind and k3d are used when found on
/// `path_env`, Docker (from the process PATH) always.
///
/// # Errors
/// [`Error::Spawn`] / [`Error::Command`] when Docker cannot even list what
/// there is. Failed removals are reported in `SweepReport::errors`.
// Over 80 lines: the sweep's steps in the only safe order (clusters, then
// what they left in Docker, then loop devices, then temp dirs), each
// recording its errors in the same report instead of stopping.
pub fn sweep(selector: &Selector, path_env: &str) -> Result<SweepReport> {
    let mut r = SweepReport::default();
    // kind and k3d edit "the default kubeconfig" on delete; give them a
    // throwaway one so the user's ~/.kube/config is never touched.
    let scratch = kubeconfig::KubeconfigDir::new()?;
    let kc = scratch.kubeconfig();

    let kind_bin = on_path("kind", path_env);
    for name in listing(&list_cluster_labels(kind::CLUSTER_LABEL))? {
        if !selector.matches_cluster(&name) {
            continue;
        }
        if kind_bin.is_some() {
            try_remove(&kind::delete(&name, &kc), &mut r.errors);
        }
        let rest = listing(&Cmd::new("docker").args([
            "ps".to_owned(),
            "-aq".to_owned(),
            "--filter".to_owned(),
            format!("label={}={name}", kind::CLUSTER_LABEL),
        ]))?;
        if rest.is_empty() || try_remove(&remove(DockerObject::Container, &rest), &mut r.errors) {
            r.kind_clusters.push(name);
        }
    }

    let k3d_bin = on_path("k3d", path_env);
    let mut k3d_names = listing(&list_cluster_labels(k3d::CLUSTER_LABEL))?;
    let net_prefix = k3d::network_name("");
    for net in listing(&Cmd::new("docker").args(["network", "ls", "--format", "{{.Name}}"]))? {
        if let Some(name) = net.strip_prefix(&net_prefix) {
            k3d_names.push(name.to_owned());
        }
    }
    k3d_names.sort();
    k3d_names.dedup();
    for name in k3d_names {
        if !selector.matches_cluster(&name) {
            continue;
        }
        if k3d_bin.is_some() {
            try_remove(&k3d::delete(&name, &kc), &mut r.errors);
        }
        // Whatever k3d left (or all of it, without k3d): its node
        // containers, then its network and image volume.
        let rest = listing(&Cmd::new("docker").args([
            "ps".to_owned(),
            "-aq".to_owned(),
            "--filter".to_owned(),
            format!("label={}={name}", k3d::CLUSTER_LABEL),
        ]))?;
        let mut ok =
            rest.is_empty() || try_remove(&remove(DockerObject::Container, &rest), &mut r.errors);
        let net = k3d::network_name(&name);
        if listing(&Cmd::new("docker").args(["network", "ls", "--format", "{{.Name}}"]))?
            .contains(&net)
        {
            ok &= try_remove(&remove(DockerObject::Network, &[net]), &mut r.errors);
        }
        let vol = k3d::image_volume_name(&name);
        if listing(&Cmd::new("docker").args(["volume", "ls", "--format", "{{.Name}}"]))?
            .contains(&vol)
        {
            ok &= try_remove(&remove(DockerObject::Volume, &[vol]), &mut r.errors);
        }
        if ok {
            r.k3d_clusters.push(name);
        }
    }

    for (object, slot) in [
        (DockerObject::Container, &mut r.containers),
        (DockerObject::Network, &mut r.networks),
        (DockerObject::Volume, &mut r.volumes),
    ] {
        let ids = listing(&list_labelled(object, selector))?;
        if !ids.is_empty() && try_remove(&remove(object, &ids), &mut r.errors) {
            slot.extend(ids);
        }
    }

    // After the clusters: their mount namespaces are gone, so a loop device
    // still backed by a volume image is a leftover, not a volume in use.
    let (detached, errors) = detach_volume_loops(Path::new(SYS_BLOCK));
    r.loop_devices.extend(detached);
    r.errors.extend(errors);

    r.temp_dirs = remove_stale_temp_dirs(
        &std::env::temp_dir(),
        scratch.dir(),
        &|dir: &Path| selector.owns_temp_dir(dir),
        &mut r.errors,
        &|dir: &Path| std::fs::remove_dir_all(dir),
        &empty_as_root,
    );
    Ok(r)
}

/// Where the kernel lists block devices; a loop device's backing file is in
/// `<dev>/loop/backing_file`, readable by any user.
pub const SYS_BLOCK: &str = "/sys/block";

/// Loop devices (`/dev/loopN`, backing file) whose backing file is one of
/// the attachable CSI driver's volume images. The kernel prints the path as
/// the process that attached it saw it, i.e. inside the node (or tier-1
/// test container), where the shared directory is always `SAN_DIR`;
/// once that mount namespace is gone it prints the path relative to the
/// bind mount (`/volumes/vol-….img`), so the file name decides too.
pub fn harness_loop_devices(sys_block: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(sys_block) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                return None;
            }
            let file = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let file = file.trim().to_owned();
            is_volume_image(&file).then(|| (format!("/dev/{name}"), file))
        })
        .collect();
    out.sort();
    out
}

/// Detach every loop device [`harness_loop_devices`] finds: `losetup -d`
/// on the host, else (not root) the same in a privileged throw-away
/// container, whose `/dev` holds the host's devices. A device that is
/// still mounted somewhere is only marked to be freed at its last unmount
/// (the kernel's LOOP_CLR_FD on a busy device), so this never pulls a
/// filesystem from under anyone. Returns what was detached
/// (`/dev/loopN <backing file>`) and the failures, one line each.
pub fn detach_volume_loops(sys_block: &Path) -> (Vec<String>, Vec<String>) {
    let mut detached = Vec::new();
    let mut errors = Vec::new();
    for (device, file) in harness_loop_devices(sys_block) {
        let host = Cmd::new("losetup").args(["-d", device.as_str()]).quiet();
        let ok = host.run_unchecked().is_ok_and(|o| o.success())
            || {
                let image = shell_images().into_iter().find(|i| {
                    Cmd::new("docker")
                        .args(["image", "inspect", "--format", "{{.Id}}", i.as_str()])
                        .quiet()
                        .run_unchecked()
                        .is_ok_and(|o| o.success())
                });
                match image {
                    Some(image) => try_remove(&detach_as_root_cmd(&device, &image), &mut errors),
                    None => {
                        errors.push(format!(
                        "`{host}` failed and Docker has no image to retry it as root with ({}); fix: sudo losetup -d {device}",
                        shell_images().join(", ")
                    ));
                        false
                    }
                }
            };
        if ok {
            detached.push(format!("{device} {file}"));
        }
    }
    (detached, errors)
}

/// `losetup -d <device>` as root in a privileged throw-away container.
pub(crate) fn detach_as_root_cmd(device: &str, image: &str) -> Cmd {
    Cmd::new("docker").args([
        "run".to_owned(),
        "--rm".into(),
        "--privileged".into(),
        "--label".into(),
        format!("{MANAGED_BY}={OWNER}"),
        "--name".into(),
        unique_name("sweep-loop"),
        "--user".into(),
        "0".into(),
        "--entrypoint".into(),
        "losetup".into(),
        image.into(),
        "-d".into(),
        device.into(),
    ])
}

/// Whether a loop device's backing file is an attachable-driver volume
/// image: under [`SAN_DIR`], or named as the driver names its images
/// (`vol-<16 hex digits>.img`, images/csi-driver/src/ids.rs).
pub(crate) fn is_volume_image(backing_file: &str) -> bool {
    let path = backing_file.trim_end_matches(" (deleted)");
    let named = path
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_prefix("vol-"))
        .and_then(|f| f.strip_suffix(".img"))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    path.starts_with(&format!("{SAN_DIR}/")) || named
}

/// The `$TMPDIR` folders the harness, its tests and scripts/node-image.sh
/// make. Each is removed when its run ends; a killed run leaves them, and
/// `make clean` removes them (a tier-0 test keeps this list complete).
pub(crate) const TEMP_DIR_PREFIXES: &[&str] = &[
    kubeconfig::DIR_PREFIX, // cluster kubeconfigs (cluster::kubeconfig)
    "e2e-promdata-",        // tier-1 Prometheus bind mounts (tests/containers)
    "e2e-grafana-data-",    // tier-1 Grafana bind mounts (tests/containers)
    "e2e-image-",           // image build contexts (docker::LocalImage)
    "e2e-images-",          // image archives for kind#3795 (cluster::info)
    "e2e-node-image-",      // node image build contexts (scripts/node-image.sh)
    "e2e-csi-san-",         // tier-1 CSI driver SAN dirs (tests/containers/csi.rs)
];

/// Remove `<tmp>/<prefix>*` dirs of [`TEMP_DIR_PREFIXES`] (of clusters the
/// sweep just deleted, or of runs that were killed) that `owned` accepts,
/// except `keep`, with
/// `remove` (`remove_dir_all`); where it is denied, `empty_as_root` (see
/// [`empty_as_root`]) empties the dir and `remove` runs again.
fn remove_stale_temp_dirs(
    tmp: &Path,
    keep: &Path,
    owned: &dyn Fn(&Path) -> bool,
    errors: &mut Vec<String>,
    remove: &dyn Fn(&Path) -> std::io::Result<()>,
    empty_as_root: &dyn Fn(&Path) -> std::result::Result<(), String>,
) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return removed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = TEMP_DIR_PREFIXES.iter().any(|p| name.starts_with(p));
        if !ours || path == keep || !path.is_dir() || !owned(&path) {
            continue;
        }
        let result = match remove(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && path.exists() => {
                empty_as_root(&path)
                    .and_then(|()| remove(&path).map_err(|e| e.to_string()))
                    .map_err(|why| {
                        format!(
                            "remove {}: {e}; it holds files a container user wrote, and emptying it \
                             as root through Docker did not work either: {why}; remove it as root \
                             (sudo rm -rf {})",
                            path.display(),
                            path.display()
                        )
                    })
            }
            Err(e) => Err(format!("remove {}: {e}", path.display())),
            Ok(()) => Ok(()),
        };
        match result {
            Ok(()) => removed.push(path.display().to_string()),
            Err(e) => errors.push(e),
        }
    }
    removed
}

/// The images `empty_as_root` may use, first choice first: those tier 1
/// runs as the users that write into its bind-mounted data dirs
/// (HARNESS_*_IMAGE, else the defaults, and the Debian-built Prometheus
/// stand-ins), then the harness's own busybox build. Each has `sh` and `rm`.
pub(crate) fn shell_images() -> Vec<String> {
    const VARS: [&str; 5] = [
        "HARNESS_PROMETHEUS_IMAGE",
        "HARNESS_PROMETHEUS_PREVIOUS_IMAGE",
        "HARNESS_GRAFANA_IMAGE",
        "HARNESS_GRAFANA_PREVIOUS_IMAGE",
        "HARNESS_INIT_IMAGE",
    ];
    // A bad override is config's error to report where it is used; here
    // the defaults still serve.
    let chosen = crate::config::Config::from_env_vars(&VARS)
        .map(|c| c.images)
        .unwrap_or_default();
    let defaults = crate::config::Images::default();
    let mut images: Vec<String> = vec![
        chosen.prometheus,
        chosen.prometheus_previous,
        chosen.grafana,
        chosen.grafana_previous,
        chosen.init,
    ];
    images.extend([
        defaults.prometheus,
        defaults.prometheus_previous,
        defaults.grafana,
        defaults.grafana_previous,
        defaults.init,
    ]);
    images.extend(
        crate::images::PROMETHEUS_STAND_INS
            .iter()
            .map(|(_, stand_in)| (*stand_in).to_owned()),
    );
    images.push(crate::images::BUSYBOX.default_tag.to_owned());
    let mut seen = std::collections::HashSet::new();
    images.retain(|image| seen.insert(image.clone()));
    images
}

/// `docker run --rm` of `image` as root with `dir` at `/data`, deleting
/// everything in it; labelled and named like every container the harness
/// makes, so a sweep finds it if it is ever left behind.
pub(crate) fn empty_as_root_cmd(dir: &Path, image: &str, name: &str) -> Cmd {
    Cmd::new("docker").args([
        "run".to_owned(),
        "--rm".into(),
        "--label".into(),
        format!("{MANAGED_BY}={OWNER}"),
        "--name".into(),
        name.into(),
        "--user".into(),
        "0".into(),
        "--entrypoint".into(),
        "sh".into(),
        "-v".into(),
        format!("{}:/data", dir.display()),
        image.into(),
        "-c".into(),
        "rm -rf /data/* /data/.[!.]* /data/..?*".into(),
    ])
}

/// Empty `dir` as root in a throw-away container, the way the tier-1 tests
/// remove their own data dirs (tests/containers: `prom_support::remove_dir`,
/// `grafana_support::DataDir`): tier-1 Prometheus runs as uid 65534 (Grafana
/// as 472) and writes into bind-mounted `$TMPDIR/e2e-promdata-*` (and
/// `e2e-grafana-data-*`) dirs, making 0755 or 0700 folders of its own, in
/// which a sweep not run as root may not delete. Uses the first of
/// [`shell_images`] that Docker has; never pulls.
fn empty_as_root(dir: &Path) -> std::result::Result<(), String> {
    let candidates = shell_images();
    let image = candidates
        .iter()
        .find(|image| {
            Cmd::new("docker")
                .args(["image", "inspect", "--format", "{{.Id}}", image.as_str()])
                .quiet()
                .run_unchecked()
                .is_ok_and(|o| o.success())
        })
        .ok_or_else(|| {
            format!(
                "Docker has none of the images to do it with ({})",
                candidates.join(", ")
            )
        })?;
    let cmd = empty_as_root_cmd(dir, image, &unique_name("sweep-rm"));
    match cmd.run_unchecked() {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(format!("`{cmd}`: {}", tail(&o.stderr, 400))),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read from a recorded /sys/block: only loop devices backed by a
    /// volume image of the attachable driver are the harness's.
    #[test]
    fn loop_devices_backed_by_volume_images_are_found_and_no_others() {
        let sys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dev = |name: &str, backing: Option<&str>| {
            let d = sys.path().join(name);
            std::fs::create_dir_all(d.join("loop")).unwrap_or_else(|e| panic!("{e}"));
            if let Some(b) = backing {
                std::fs::write(d.join("loop/backing_file"), format!("{b}\n"))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        };
        dev(
            "loop0",
            Some("/var/lib/storage-e2e-san/volumes/vol-0a1b.img"),
        );
        dev("loop1", None);
        dev("loop2", Some("/home/me/disk.img"));
        dev(
            "loop8",
            Some("/var/lib/storage-e2e-san/volumes/vol-ff.img (deleted)"),
        );
        dev("vda", None);
        assert_eq!(
            harness_loop_devices(sys.path()),
            vec![
                (
                    "/dev/loop0".to_owned(),
                    "/var/lib/storage-e2e-san/volumes/vol-0a1b.img".to_owned()
                ),
                (
                    "/dev/loop8".to_owned(),
                    "/var/lib/storage-e2e-san/volumes/vol-ff.img (deleted)".to_owned()
                ),
            ]
        );
        assert!(!is_volume_image("/var/lib/storage-e2e-sanity/x.img"));
        assert!(is_volume_image("/volumes/vol-0194510378c982bc.img"));
        assert!(is_volume_image("/vol-0194510378c982bc.img (deleted)"));
        assert!(!is_volume_image("/home/me/vol-1.img"));
    }

    #[test]
    fn selectors_narrow_by_run_label_and_cluster_name() {
        assert_eq!(
            list_labelled(DockerObject::Container, &Selector::Run("ab12cd".into())).to_string(),
            "docker ps -a -q --no-trunc --filter label=app.kubernetes.io/managed-by=storage-e2e \
             --filter label=storage-e2e/run=ab12cd"
        );
        assert_eq!(
            list_labelled(DockerObject::Volume, &Selector::All).to_string(),
            "docker volume ls -q --filter label=app.kubernetes.io/managed-by=storage-e2e"
        );
        assert_eq!(
            list_labelled(DockerObject::Network, &Selector::All).to_string(),
            "docker network ls -q --no-trunc --filter label=app.kubernetes.io/managed-by=storage-e2e"
        );
        let run = Selector::Run("ab12cd".into());
        assert!(run.matches_cluster("e2e-ab12cd-x1y2z3"));
        assert!(!run.matches_cluster("e2e-zz99zz-x1y2z3"));
        assert!(!run.matches_cluster("e2e-ab12cdx"));
        assert!(Selector::All.matches_cluster("e2e-zz99zz-x1y2z3"));
        assert!(!Selector::All.matches_cluster("kind"));
        assert!(!Selector::All.matches_cluster("my-e2e-cluster"));
    }

    #[test]
    fn removal_commands_are_exact() {
        let ids = vec!["a1".to_owned(), "b2".to_owned()];
        assert_eq!(
            remove(DockerObject::Container, &ids).to_string(),
            "docker rm -f -v a1 b2"
        );
        assert_eq!(
            remove(DockerObject::Network, &ids).to_string(),
            "docker network rm a1 b2"
        );
        assert_eq!(
            remove(DockerObject::Volume, &ids).to_string(),
            "docker volume rm a1 b2"
        );
        assert_eq!(
            list_cluster_labels("io.x-k8s.kind.cluster").to_string(),
            "docker ps -a --filter label=io.x-k8s.kind.cluster --format '{{.Label \"io.x-k8s.kind.cluster\"}}'"
        );
    }

    /// One run's sweep takes the cluster dirs whose files name its
    /// clusters (a kept cluster's kubeconfig dir), and no other dir.
    #[test]
    fn a_run_s_sweep_takes_only_the_dirs_naming_its_clusters() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = |name: &str, file: Option<&str>| {
            let d = tmp.path().join(name);
            std::fs::create_dir(&d).unwrap_or_else(|e| panic!("{e}"));
            if let Some(text) = file {
                std::fs::write(d.join("kubeconfig"), text).unwrap_or_else(|e| panic!("{e}"));
            }
            d
        };
        let ours = dir(
            "e2e-kube-1",
            Some("clusters:\n- name: kind-e2e-ab12cd-x1y2z3\n"),
        );
        let other = dir(
            "e2e-kube-2",
            Some("clusters:\n- name: kind-e2e-zz99zz-x1y2z3\n"),
        );
        let empty = dir("e2e-kube-3", None);
        let run = Selector::Run("ab12cd".into());
        assert!(run.owns_temp_dir(&ours));
        assert!(!run.owns_temp_dir(&other) && !run.owns_temp_dir(&empty));
        assert!(Selector::All.owns_temp_dir(&other) && Selector::All.owns_temp_dir(&empty));
    }

    #[test]
    fn stale_kubeconfig_dirs_are_ours_only() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for d in ["e2e-kube-aaa", "e2e-kube-keep", "other-dir"] {
            std::fs::create_dir(tmp.path().join(d)).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut errors = Vec::new();
        let removed = remove_stale_temp_dirs(
            tmp.path(),
            &tmp.path().join("e2e-kube-keep"),
            &|_| true,
            &mut errors,
            &|dir: &Path| std::fs::remove_dir_all(dir),
            &|_: &Path| panic!("nothing was denied"),
        );
        assert_eq!(removed.len(), 1, "{removed:?}");
        assert!(removed[0].ends_with("e2e-kube-aaa"));
        assert!(tmp.path().join("e2e-kube-keep").exists() && tmp.path().join("other-dir").exists());
        assert!(errors.is_empty());
    }

    /// A sweep not run as root may not delete what a tier-1 container user
    /// (Prometheus: 65534) made in a data dir; the dir is then emptied as
    /// root in a container and removed. (As root, which tier 0 may be, no
    /// removal is denied: `remove` stands in for the denial.)
    #[test]
    fn a_denied_data_dir_is_emptied_as_root_then_removed() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = tmp.path().join("e2e-promdata-abc123");
        std::fs::create_dir_all(data.join("wal")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(data.join("wal/00000000"), "x").unwrap_or_else(|e| panic!("{e}"));
        let kube = tmp.path().join("e2e-kube-old");
        std::fs::create_dir(&kube).unwrap_or_else(|e| panic!("{e}"));
        let denied = std::cell::Cell::new(true);
        let remove = |dir: &Path| {
            if dir == data && denied.replace(false) {
                return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
            }
            std::fs::remove_dir_all(dir)
        };
        let emptied = std::cell::RefCell::new(Vec::new());
        let as_root = |dir: &Path| {
            emptied.borrow_mut().push(dir.to_path_buf());
            Ok(())
        };
        let mut errors = Vec::new();
        let mut removed = remove_stale_temp_dirs(
            tmp.path(),
            &tmp.path().join("e2e-kube-keep"),
            &|_| true,
            &mut errors,
            &remove,
            &as_root,
        );
        removed.sort();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            removed,
            [kube.display().to_string(), data.display().to_string()]
        );
        assert_eq!(
            emptied.borrow().as_slice(),
            std::slice::from_ref(&data),
            "only the denied dir"
        );
        assert!(!data.exists() && !kube.exists());
    }

    #[test]
    fn a_denied_dir_the_fallback_cannot_empty_is_reported_with_the_manual_fix() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = tmp.path().join("e2e-grafana-data-x");
        let other = tmp.path().join("e2e-image-y");
        for d in [&data, &other] {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("{e}"));
        }
        let remove = |dir: &Path| {
            Err(std::io::Error::from(if dir == data {
                std::io::ErrorKind::PermissionDenied
            } else {
                std::io::ErrorKind::Other
            }))
        };
        let calls = std::cell::Cell::new(0);
        let as_root = |_: &Path| {
            calls.set(calls.get() + 1);
            Err("Docker has none of the images to do it with (a, b)".to_owned())
        };
        let mut errors = Vec::new();
        let removed = remove_stale_temp_dirs(
            tmp.path(),
            tmp.path(),
            &|_| true,
            &mut errors,
            &remove,
            &as_root,
        );
        assert!(removed.is_empty(), "{removed:?}");
        assert_eq!(calls.get(), 1, "the fallback is for denials only");
        errors.sort();
        let (d, o) = (data.display(), other.display());
        assert_eq!(
            errors,
            [
                format!(
                    "remove {d}: permission denied; it holds files a container user wrote, and \
                     emptying it as root through Docker did not work either: Docker has none of \
                     the images to do it with (a, b); remove it as root (sudo rm -rf {d})"
                ),
                format!("remove {o}: other error"),
            ]
        );
    }

    #[test]
    fn emptying_as_root_is_a_labelled_throwaway_container() {
        assert_eq!(
            empty_as_root_cmd(
                Path::new("/tmp/e2e-promdata-abc123"),
                "local/prometheus-debian:2.42",
                "e2e-sweep-rm-x1y2z3"
            )
            .to_string(),
            "docker run --rm --label app.kubernetes.io/managed-by=storage-e2e --name e2e-sweep-rm-x1y2z3 \
             --user 0 --entrypoint sh -v /tmp/e2e-promdata-abc123:/data local/prometheus-debian:2.42 \
             -c 'rm -rf /data/* /data/.[!.]* /data/..?*'"
        );
        let images = shell_images();
        let defaults = crate::config::Images::default();
        for want in [
            defaults.prometheus.as_str(),
            defaults.grafana.as_str(),
            defaults.init.as_str(),
            "local/prometheus-debian:2.42",
            crate::images::BUSYBOX.default_tag,
        ] {
            assert!(images.iter().any(|i| i == want), "{want} not in {images:?}");
        }
        let mut unique = images.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), images.len(), "{images:?}");
        if let Ok(chosen) = std::env::var("HARNESS_PROMETHEUS_IMAGE") {
            assert_eq!(images.first(), Some(&chosen), "the image tier 1 ran first");
        }
    }

    #[test]
    fn every_temp_dir_prefix_in_use_is_swept() {
        // The prefixes passed to tempfile or mktemp anywhere in the repository.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut seen = Vec::new();
        for dir in ["harness/src", "tests", "scripts"] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d)
                    .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
                    .flatten()
                {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                        continue;
                    }
                    if p.ends_with("cluster/sweep.rs") {
                        continue; // this list and this test
                    }
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    for marker in [".prefix(\"", "/e2e-", "unique_name(\""] {
                        for (i, _) in text.match_indices(marker) {
                            let rest = &text[i + marker.len()..];
                            let word: String = rest
                                .chars()
                                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                                .collect();
                            let name = match marker {
                                "/e2e-" => format!("e2e-{}", word.trim_end_matches('X')),
                                "unique_name(\"" => format!("e2e-{word}-"),
                                _ => word,
                            };
                            let start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                            let line = text[start..].lines().next().unwrap_or("");
                            let is_temp = ["XXXXXX", ".prefix(", "tempdir"]
                                .iter()
                                .any(|m| line.contains(m));
                            if is_temp && name.ends_with('-') {
                                seen.push((name, p.display().to_string()));
                            }
                        }
                    }
                }
            }
        }
        let found: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "e2e-promdata-",
            "e2e-grafana-data-",
            "e2e-node-image-",
            "e2e-image-",
        ] {
            assert!(
                found.contains(&expected),
                "the scan missed {expected}: {found:?}"
            );
        }
        for (name, file) in &seen {
            assert!(
                TEMP_DIR_PREFIXES.iter().any(|p| name.starts_with(p)),
                "{file} makes temp dirs named {name}*, which make clean does not remove: add it to TEMP_DIR_PREFIXES"
            );
        }
    }

    #[test]
    fn a_report_with_errors_is_an_error_listing_them() {
        let r = SweepReport {
            containers: vec!["c1".into()],
            errors: vec!["`docker volume rm v1`: volume is in use".into()],
            ..SweepReport::default()
        };
        assert!(r.to_string().contains("removed 1 containers: c1\n"), "{r}");
        let e = r.into_result().expect_err("an error").to_string();
        assert_eq!(
            e,
            "`storage-e2e sweep` failed (1 removal(s) failed): `docker volume rm v1`: volume is in use"
        );
    }
}
