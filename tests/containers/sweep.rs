//! Tier 1: the crash-safe sweep removes real Docker containers, networks
//! and volumes that carry this run's labels, and the node containers,
//! network and image volume of kind/k3d clusters named for this run (kind
//! and k3d are absent here, so the Docker-only path runs), and nothing else:
//! unlabelled objects, objects of another run, and another run's clusters
//! survive.
//!
//! The sweep is narrowed to a run id made up for this test, so objects of
//! tests running in parallel (which use the process's own run id) are safe.

use anyhow::{Context as _, Result, ensure};
use harness::cluster::sweep::{Selector, sweep};
use harness::cmd::Cmd;
use harness::labels::{MANAGED_BY, OWNER, RUN_ID, unique_name};

const IMAGE: &str = "debian:bookworm-slim";

/// Removes every object the test made, whatever happened (also on panic).
struct Cleanup {
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (args, names) in [
            (vec!["rm", "-f", "-v"], &self.containers),
            (vec!["network", "rm"], &self.networks),
            (vec!["volume", "rm", "-f"], &self.volumes),
        ] {
            for n in names {
                // Most are gone already (the sweep removed them): ignore "no such".
                let _ = Cmd::new("docker")
                    .args(args.iter().copied())
                    .arg(n.as_str())
                    .quiet()
                    .run_unchecked();
            }
        }
    }
}

fn exists(kind: &str, name: &str) -> Result<bool> {
    let args: Vec<&str> = match kind {
        "container" => vec!["container", "inspect", "--format", "{{.Name}}", name],
        "network" => vec!["network", "inspect", "--format", "{{.Name}}", name],
        _ => vec!["volume", "inspect", "--format", "{{.Name}}", name],
    };
    let out = Cmd::new("docker").args(args).quiet().run_unchecked()?;
    if out.success() {
        return Ok(true);
    }
    ensure!(
        {
            let e = out.stderr.to_lowercase();
            e.contains("no such") || e.contains("not found")
        },
        "docker {kind} inspect {name} failed for another reason: {}",
        out.stderr
    );
    Ok(false)
}

fn labels(run: &str) -> Vec<String> {
    vec![
        "--label".into(),
        format!("{MANAGED_BY}={OWNER}"),
        "--label".into(),
        format!("{RUN_ID}={run}"),
    ]
}

/// `docker network create` / `docker volume create` with `extra` flags.
fn create(object: &str, name: &str, extra: &[String]) -> Result<()> {
    Cmd::new("docker")
        .args([object, "create"])
        .args(extra.iter().cloned())
        .arg(name)
        .run()
        .with_context(|| format!("create {object} {name}"))?;
    Ok(())
}

fn run_container(name: &str, extra: &[String]) -> Result<()> {
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.into()];
    args.extend(extra.iter().cloned());
    args.extend([IMAGE.into(), "sleep".into(), "infinity".into()]);
    Cmd::new("docker")
        .args(args)
        .run()
        .with_context(|| format!("start {name}"))?;
    Ok(())
}

#[test]
fn sweep_removes_this_runs_labelled_objects_and_clusters_and_nothing_else() -> Result<()> {
    // Ids made up for this test: "ours" is swept, "other" plays a parallel run.
    let ours = unique_name("x")
        .rsplit('-')
        .next()
        .unwrap_or_default()
        .to_owned();
    let other = unique_name("x")
        .rsplit('-')
        .next()
        .unwrap_or_default()
        .to_owned();
    let base = unique_name("sweep");
    let name = |what: &str| format!("{base}-{what}");
    let kind_cluster = format!("e2e-{ours}-kindfake");
    let k3d_cluster = format!("e2e-{ours}-k3dfake");
    let other_kind_cluster = format!("e2e-{other}-kindfake");

    let mut c = Cleanup {
        containers: vec![
            name("c"),
            name("ctl-c"),
            name("other-c"),
            format!("{kind_cluster}-control-plane"),
            format!("k3d-{k3d_cluster}-server-0"),
            format!("{other_kind_cluster}-control-plane"),
        ],
        networks: vec![
            name("n"),
            name("ctl-n"),
            name("other-n"),
            format!("k3d-{k3d_cluster}"),
        ],
        volumes: vec![
            name("v"),
            name("ctl-v"),
            name("other-v"),
            format!("k3d-{k3d_cluster}-images"),
        ],
    };

    // Labelled for our run: must go.
    run_container(&name("c"), &labels(&ours))?;
    create("network", &name("n"), &labels(&ours))?;
    create("volume", &name("v"), &labels(&ours))?;
    // A kind cluster of our run, as kind leaves it: node containers labelled
    // io.x-k8s.kind.cluster=<name> and nothing else.
    run_container(
        &format!("{kind_cluster}-control-plane"),
        &[
            "--label".into(),
            format!("io.x-k8s.kind.cluster={kind_cluster}"),
            "--label".into(),
            "io.x-k8s.kind.role=control-plane".into(),
        ],
    )?;
    // A k3d cluster of our run: node labelled k3d.cluster, its network and image volume.
    create(
        "network",
        &format!("k3d-{k3d_cluster}"),
        &["--label".into(), "app=k3d".into()],
    )?;
    create(
        "volume",
        &format!("k3d-{k3d_cluster}-images"),
        &[
            "--label".into(),
            "app=k3d".into(),
            "--label".into(),
            format!("k3d.cluster={k3d_cluster}"),
        ],
    )?;
    run_container(
        &format!("k3d-{k3d_cluster}-server-0"),
        &[
            "--label".into(),
            format!("k3d.cluster={k3d_cluster}"),
            "--label".into(),
            "k3d.role=server".into(),
            "--network".into(),
            format!("k3d-{k3d_cluster}"),
        ],
    )?;

    // Controls: unlabelled (even with the e2e- prefix), and another run's.
    run_container(&name("ctl-c"), &[])?;
    create("network", &name("ctl-n"), &[])?;
    create("volume", &name("ctl-v"), &[])?;
    run_container(&name("other-c"), &labels(&other))?;
    create("network", &name("other-n"), &labels(&other))?;
    create("volume", &name("other-v"), &labels(&other))?;
    run_container(
        &format!("{other_kind_cluster}-control-plane"),
        &[
            "--label".into(),
            format!("io.x-k8s.kind.cluster={other_kind_cluster}"),
            "--label".into(),
            "io.x-k8s.kind.role=control-plane".into(),
        ],
    )?;

    // An empty PATH for tool lookup: no kind, no k3d, Docker does it all.
    let report = sweep(&Selector::Run(ours.clone()), "")?.into_result()?;
    println!("{report}");

    assert_eq!(report.kind_clusters, [kind_cluster.as_str()], "{report}");
    assert_eq!(report.k3d_clusters, [k3d_cluster.as_str()], "{report}");
    for gone in [
        name("c"),
        format!("{kind_cluster}-control-plane"),
        format!("k3d-{k3d_cluster}-server-0"),
    ] {
        assert!(
            !exists("container", &gone)?,
            "container {gone} should be swept"
        );
    }
    for gone in [name("n"), format!("k3d-{k3d_cluster}")] {
        assert!(!exists("network", &gone)?, "network {gone} should be swept");
    }
    for gone in [name("v"), format!("k3d-{k3d_cluster}-images")] {
        assert!(!exists("volume", &gone)?, "volume {gone} should be swept");
    }
    for kept in [
        name("ctl-c"),
        name("other-c"),
        format!("{other_kind_cluster}-control-plane"),
    ] {
        assert!(exists("container", &kept)?, "container {kept} must survive");
    }
    for kept in [name("ctl-n"), name("other-n")] {
        assert!(exists("network", &kept)?, "network {kept} must survive");
    }
    for kept in [name("ctl-v"), name("other-v")] {
        assert!(exists("volume", &kept)?, "volume {kept} must survive");
    }

    // Sweeping the other run removes its objects too (and our controls stay).
    let report = sweep(&Selector::Run(other.clone()), "")?.into_result()?;
    assert_eq!(
        report.kind_clusters,
        [other_kind_cluster.as_str()],
        "{report}"
    );
    assert!(!exists("container", &name("other-c"))?);
    assert!(!exists("volume", &name("other-v"))?);
    assert!(exists("container", &name("ctl-c"))?);

    // Remove the controls now, and check they went.
    c.containers.retain(|n| n.contains("-ctl-"));
    drop(c);
    assert!(!exists("container", &name("ctl-c"))?);
    assert!(!exists("network", &name("ctl-n"))?);
    assert!(!exists("volume", &name("ctl-v"))?);
    Ok(())
}

/// A loop device a vanished node left attached to a csi-rwo volume image
/// (the attachable driver uses autoclear, so only a crash in the wrong
/// place leaves one): the sweep finds it by the image's name and detaches
/// it, as root on the host or through a privileged container otherwise.
/// The device is made the way a node plugin would, in a privileged
/// container whose own `/dev` may lack the node (`mknod` then).
#[test]
fn sweep_detaches_a_loop_device_left_on_a_volume_image() -> Result<()> {
    use harness::cluster::sweep::{SYS_BLOCK, detach_volume_loops, harness_loop_devices};
    use std::path::Path;

    let dir = tempfile::Builder::new()
        .prefix("e2e-csi-san-")
        .tempdir()
        .context("temp dir")?;
    let image = "vol-5ee5ee5ee5ee5ee5.img";
    std::fs::File::create(dir.path().join(image))?.set_len(16 << 20)?;
    let script = format!(
        "dev=$(losetup -f) && {{ [ -e \"$dev\" ] || mknod \"$dev\" b 7 \"${{dev#/dev/loop}}\"; }} \
         && losetup \"$dev\" /var/lib/storage-e2e-san/{image} && echo \"$dev\""
    );
    let out = Cmd::new("docker")
        .args(["run", "--rm", "--privileged", "--label"])
        .arg(format!("{MANAGED_BY}={OWNER}"))
        .arg("-v")
        .arg(format!("{}:/var/lib/storage-e2e-san", dir.path().display()))
        .args([IMAGE, "sh", "-c", &script])
        .run()?;
    let device = out.stdout.trim().to_owned();
    ensure!(
        device.starts_with("/dev/loop"),
        "no loop device made: {out:?}"
    );
    let ours =
        |list: &[(String, String)]| list.iter().any(|(d, f)| *d == device && f.ends_with(image));
    let before = harness_loop_devices(Path::new(SYS_BLOCK));
    ensure!(
        ours(&before),
        "{device} on {image} not found among {before:?}"
    );

    let (detached, errors) = detach_volume_loops(Path::new(SYS_BLOCK));
    println!("detached {detached:?}, errors {errors:?}");
    ensure!(errors.is_empty(), "detach failed: {errors:?}");
    ensure!(
        detached
            .iter()
            .any(|d| d.starts_with(&format!("{device} "))),
        "{detached:?}"
    );
    let after = harness_loop_devices(Path::new(SYS_BLOCK));
    ensure!(!ours(&after), "{device} is still attached: {after:?}");
    Ok(())
}
