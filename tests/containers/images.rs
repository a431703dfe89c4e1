//! Tier 1: the init containers' shell image the harness builds from
//! Debian's busybox-static (for machines where busybox:1.37.0 cannot be
//! pulled) does what the manifests' init containers ask of it: a recursive
//! chown to Prometheus's and Grafana's uids, as root, in an image that
//! holds nothing but BusyBox.

use anyhow::{Result, ensure};
use harness::cmd::Cmd;
use harness::images::BUSYBOX;
use harness::labels::{MANAGED_BY, OWNER, unique_name};

#[tokio::test]
async fn the_debian_busybox_image_chowns_like_the_init_containers() -> Result<()> {
    BUSYBOX.ensure(BUSYBOX.default_tag).await?;
    let name = unique_name("busybox");
    // The manifests run `chown -R 65534:65534 /prometheus` (and 472:472 for
    // Grafana) as uid 0: the same, on a fresh directory tree.
    let script = "mkdir -p /data/a/b && touch /data/a/b/f && chown -R 65534:65534 /data \
                  && stat -c '%u:%g %n' /data /data/a/b/f && busybox | head -n 1";
    let out = Cmd::new("docker")
        .args([
            "run",
            "--rm",
            "--name",
            &name,
            "--label",
            &format!("{MANAGED_BY}={OWNER}"),
        ])
        .args(["--user", "0", BUSYBOX.default_tag, "sh", "-c", script])
        .run_async()
        .await?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    ensure!(
        lines.first() == Some(&"65534:65534 /data")
            && lines.get(1) == Some(&"65534:65534 /data/a/b/f"),
        "chown did not take: {}",
        out.stdout
    );
    ensure!(
        lines.get(2).is_some_and(|l| l.starts_with("BusyBox v1.37")),
        "not BusyBox 1.37: {}",
        out.stdout
    );
    // A second ensure finds the image built from the same Dockerfile: no rebuild.
    let id = |o: harness::cmd::Output| o.stdout.trim().to_owned();
    let before = id(Cmd::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", BUSYBOX.default_tag])
        .quiet()
        .run_async()
        .await?);
    BUSYBOX.ensure(BUSYBOX.default_tag).await?;
    let after = id(Cmd::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", BUSYBOX.default_tag])
        .quiet()
        .run_async()
        .await?);
    ensure!(
        before == after,
        "the image was rebuilt: {before} -> {after}"
    );
    Ok(())
}
