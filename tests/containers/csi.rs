//! Tier 1: the project's CSI driver (`images/csi-driver`,
//! `loop.csi.storage-e2e.test`) in one privileged container, as the
//! attachable-storage cells use it on kind nodes: a host directory as the
//! SAN at `/var/lib/storage-e2e-san`, loop devices from the host's kernel.
//!
//! - csi-sanity (kubernetes-csi/csi-test v5.6.0, the check every CSI driver
//!   is held to) runs against the driver in `all` mode and must pass every
//!   spec it runs;
//! - the driver's own `selftest` gives a volume a real capacity (writing
//!   stops with ENOSPC), keeps data over unstage and re-stage, grows it, and
//!   a node stop (`docker stop` with a volume staged) frees its loop device.
//!
//! Both end with no container of the run, no image file on the SAN, and no
//! loop device of the host backed by the test's volumes: loop devices are
//! kernel-global, and the harness promises none are left after a run.
//!
//! The image and csi-sanity come from `HARNESS_CSI_DRIVER_IMAGE` and
//! `HARNESS_CSI_SANITY`, else from `scripts/csi-images.sh --driver` /
//! `--sanity` (which build them on first use).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, ensure};
use harness::cmd::{Cmd, Output};
use harness::labels::{MANAGED_BY, OWNER, RUN_ID, unique_name};
use harness::wait::{Check, poll};
use rstest::rstest;

use crate::common;

/// Outer backstop per test. Generous: on a fresh machine the first test
/// builds the driver (cargo, release) and csi-sanity (Go) before it starts.
const TEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// From `docker run` to the driver's socket answering (under a second here).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// csi-sanity's whole suite (about a second here; mkfs of 64 MiB volumes).
const SANITY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The self-test (a fill to ENOSPC of 64 MiB, two stages).
const SELFTEST_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long the kernel may take to free a loop device after its last
/// unmount (asynchronous since Linux 5.19; milliseconds in practice).
const LOOP_RELEASE_TIMEOUT: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The SAN's path in every node (the driver's default `--san`).
const SAN: &str = "/var/lib/storage-e2e-san";
const ENDPOINT: &str = "unix:///csi/csi.sock";
const SOCKET: &str = "/csi/csi.sock";
const NODE_ID: &str = "e2e-csi-node";
const SANITY_IN_CONTAINER: &str = "/usr/local/bin/csi-sanity";
/// csi-sanity's volume size: whole MiB (the driver rounds to MiB, and one
/// spec wants exactly the size it asked for), small enough to mkfs quickly.
const SANITY_VOLUME_BYTES: u64 = 64 << 20;
const SANITY_EXPANDED_BYTES: u64 = 128 << 20;
/// The self-test's volume, and the one left staged for the node stop.
const SELFTEST_MIB: u64 = 64;
const STAGED_MIB: u64 = 32;

/// The driver image and the csi-sanity program.
#[derive(Debug, Clone)]
struct Tools {
    image: String,
    sanity: PathBuf,
}

/// `$var`, else the last line `scripts/csi-images.sh <flag>` prints.
fn resolve(var: &str, flag: &str, what: &str) -> Result<String, String> {
    if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(v.trim().to_owned());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/csi-images.sh");
    if !script.is_file() {
        return Err(format!(
            "no {what}: {var} is unset and {} does not exist; set {var} (see images/csi-driver/Dockerfile) or restore the script",
            script.display()
        ));
    }
    let out = Cmd::new("bash")
        .arg(script.display().to_string())
        .arg(flag)
        .dir(root)
        .run()
        .map_err(|e| {
            format!("no {what}: scripts/csi-images.sh {flag} failed ({e}); fix that, or set {var}")
        })?;
    out.stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .ok_or_else(|| {
            format!("no {what}: scripts/csi-images.sh {flag} printed nothing; set {var}")
        })
}

fn resolve_tools() -> Result<Tools, String> {
    let image = resolve("HARNESS_CSI_DRIVER_IMAGE", "--driver", "CSI driver image")?;
    let sanity = PathBuf::from(resolve("HARNESS_CSI_SANITY", "--sanity", "csi-sanity")?);
    if !sanity.is_file() {
        return Err(format!(
            "csi-sanity {} is not a file: point HARNESS_CSI_SANITY at the csi-sanity binary (scripts/csi-images.sh --sanity builds one)",
            sanity.display()
        ));
    }
    let inspect = Cmd::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image.as_str()])
        .quiet()
        .run_unchecked();
    if !inspect.is_ok_and(|o| o.success()) {
        return Err(format!(
            "the CSI driver image {image} is not in Docker: build it (scripts/csi-images.sh --driver) or fix HARNESS_CSI_DRIVER_IMAGE"
        ));
    }
    Ok(Tools { image, sanity })
}

/// The tools, resolved once per test process (the script may build for
/// minutes; two tests must not build twice). A test without them fails,
/// it never passes or skips quietly.
async fn tools() -> Result<Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    tokio::task::spawn_blocking(|| TOOLS.get_or_init(resolve_tools).clone())
        .await?
        .map_err(|e| anyhow!(e))
}

/// The driver in `all` mode in a privileged container, with a fresh host
/// directory as its SAN. Removed by [`Driver::remove`], or on drop unless
/// E2E_KEEP keeps it.
struct Driver {
    name: String,
    image: String,
    san: Option<tempfile::TempDir>,
    removed: bool,
}

impl Driver {
    async fn start(run: &str, tools: &Tools) -> Result<Self> {
        let san = tempfile::Builder::new().prefix("e2e-csi-san-").tempdir()?;
        let name = unique_name("csi");
        let driver = Self {
            name: name.clone(),
            image: tools.image.clone(),
            san: Some(san),
            removed: false,
        };
        Cmd::new("docker")
            .args(["run", "-d", "--privileged", "--name", name.as_str()])
            .args(["--label", &format!("{MANAGED_BY}={OWNER}")])
            .args(["--label", &format!("{RUN_ID}={run}")])
            .args(["-v", &format!("{}:{SAN}", driver.san().display())])
            .args([
                "-v",
                &format!("{}:{SANITY_IN_CONTAINER}:ro", tools.sanity.display()),
            ])
            .arg(tools.image.as_str())
            .args([
                "all",
                "--endpoint",
                ENDPOINT,
                "--node-id",
                NODE_ID,
                "--san",
                SAN,
            ])
            .run_async()
            .await?;
        let started = Instant::now();
        poll(
            &format!("the driver in {name} to serve on {SOCKET}"),
            READY_TIMEOUT,
            POLL_INTERVAL,
            || async {
                let running = Cmd::new("docker")
                    .args(["inspect", "--format", "{{.State.Running}}", name.as_str()])
                    .quiet()
                    .run_unchecked_async()
                    .await;
                match running {
                    Ok(o) if o.stdout.trim() == "true" => {}
                    Ok(o) => {
                        return Check::Failed(format!(
                            "the container is not running ({}); its log: {}",
                            o.stdout.trim(),
                            logs_of(&name).await
                        ));
                    }
                    Err(e) => return Check::NotYet(e.to_string()),
                }
                match Cmd::new("docker")
                    .args(["exec", name.as_str(), "test", "-S", SOCKET])
                    .quiet()
                    .run_unchecked_async()
                    .await
                {
                    Ok(o) if o.success() => Check::Ready(()),
                    _ => Check::NotYet(format!("no socket at {SOCKET} yet")),
                }
            },
        )
        .await?;
        println!(
            "driver {name} ({}) serving after {:.1}s",
            tools.image,
            started.elapsed().as_secs_f64()
        );
        Ok(driver)
    }

    fn san(&self) -> &Path {
        self.san.as_ref().map_or(Path::new(""), |d| d.path())
    }

    async fn exec(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        let cmd = Cmd::new("docker")
            .args(["exec", self.name.as_str()])
            .args(args.iter().copied());
        tokio::time::timeout(timeout, cmd.run_unchecked_async())
            .await
            .with_context(|| format!("`{cmd}` did not finish within {timeout:?}"))?
            .map_err(Into::into)
    }

    async fn logs(&self) -> String {
        logs_of(&self.name).await
    }

    /// `docker stop`: SIGTERM, as when a kind node container is stopped.
    async fn stop(&self) -> Result<()> {
        Cmd::new("docker")
            .args(["stop", self.name.as_str()])
            .run_async()
            .await?;
        Ok(())
    }

    /// Remove the container and the SAN directory (whose files the
    /// container's root wrote).
    async fn remove(mut self) -> Result<()> {
        self.removed = true;
        Cmd::new("docker")
            .args(["rm", "-f", "-v", self.name.as_str()])
            .run_async()
            .await?;
        if let Some(dir) = self.san.take() {
            let image = self.image.clone();
            tokio::task::spawn_blocking(move || remove_san(dir, &image)).await??;
        }
        Ok(())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        if common::keep_on_drop() {
            eprintln!(
                "keeping driver container {} and its SAN {} (E2E_KEEP); `docker rm -f {}` frees its loop devices",
                self.name,
                self.san().display(),
                self.name
            );
            if let Some(dir) = self.san.take() {
                let _ = dir.keep();
            }
            return;
        }
        // Removing the container ends its mount namespace: the kernel then
        // frees any loop device still attached (autoclear).
        let _ = Cmd::new("docker")
            .args(["rm", "-f", "-v", self.name.as_str()])
            .run_unchecked();
        if let Some(dir) = self.san.take() {
            let path = dir.path().display().to_string();
            if let Err(e) = remove_san(dir, &self.image) {
                eprintln!("warning: could not remove {path}: {e:#}");
            }
        }
    }
}

async fn logs_of(name: &str) -> String {
    match Cmd::new("docker")
        .args(["logs", name])
        .quiet()
        .run_unchecked_async()
        .await
    {
        Ok(o) => format!("{}{}", o.stdout, o.stderr),
        Err(e) => format!("(no log: {e})"),
    }
}

/// Remove a SAN directory; what root wrote in it is removed by root, in a
/// throw-away container of the driver image.
fn remove_san(dir: tempfile::TempDir, image: &str) -> Result<()> {
    let path = dir.path().to_path_buf();
    if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
        return Ok(());
    }
    Cmd::new("docker")
        .args(["run", "--rm", "--label", &format!("{MANAGED_BY}={OWNER}")])
        .args(["--name", &unique_name("csi-clean"), "--entrypoint", "rm"])
        .args(["-v", &format!("{}:/san", path.display())])
        .args([image, "-rf", "/san/volumes", "/san/snapshots", "/san/nodes"])
        .run()?;
    std::fs::remove_dir_all(&path).with_context(|| format!("remove {}", path.display()))?;
    drop(dir);
    Ok(())
}

/// The counts of Ginkgo's last line:
/// `SUCCESS! -- 79 Passed | 0 Failed | 1 Pending | 23 Skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GinkgoSummary {
    passed: u32,
    failed: u32,
    pending: u32,
    skipped: u32,
    line: String,
}

fn parse_ginkgo_summary(output: &str) -> Option<GinkgoSummary> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.contains(" Passed") && l.contains(" Failed") && l.contains(" -- "))?;
    let counts = line.split_once(" -- ")?.1;
    let mut found: HashMap<&str, u32> = HashMap::new();
    for part in counts.split('|') {
        let mut words = part.split_whitespace();
        let n = words.next()?.parse().ok()?;
        found.insert(words.next()?, n);
    }
    Some(GinkgoSummary {
        passed: *found.get("Passed")?,
        failed: *found.get("Failed")?,
        pending: found.get("Pending").copied().unwrap_or(0),
        skipped: found.get("Skipped").copied().unwrap_or(0),
        line: line.trim().to_owned(),
    })
}

/// Ginkgo's "Summarizing N Failures" block, for the error.
fn ginkgo_failures(output: &str) -> String {
    output.split_once("Summarizing").map_or_else(
        || "(no failure summary)".to_owned(),
        |(_, s)| format!("Summarizing{s}"),
    )
}

/// Every volume id (`vol-<16 hex>`) in the driver's log: the images the
/// test's volumes lived in.
fn volume_ids(log: &str) -> Vec<String> {
    let mut ids: Vec<String> = log
        .match_indices("vol-")
        .filter_map(|(i, _)| log.get(i..i + 20))
        .filter(|id| {
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A loop device of the host (sysfs, so no /dev node is needed).
#[derive(Debug, Clone)]
struct HostLoop {
    name: String,
    backing_file: String,
    autoclear: bool,
}

/// The host's loop devices backed by one of these volumes. The kernel
/// prints the backing file as the path in the driver's mount namespace
/// (`/var/lib/storage-e2e-san/volumes/<id>.img`), or relative to the bind
/// mount once that namespace is gone (`/volumes/<id>.img`): the volume
/// file name, unique to the test's random volume names, is what matches.
fn loops_backed_by(ids: &[String]) -> Vec<HostLoop> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
        .filter_map(|e| {
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let backing = backing.trim_end().to_owned();
            let file = backing.strip_suffix(" (deleted)").unwrap_or(&backing);
            ids.iter()
                .any(|id| file.ends_with(&format!("/volumes/{id}.img")))
                .then(|| HostLoop {
                    name: e.file_name().to_string_lossy().into_owned(),
                    autoclear: std::fs::read_to_string(e.path().join("loop/autoclear"))
                        .is_ok_and(|a| a.trim() == "1"),
                    backing_file: backing,
                })
        })
        .collect()
}

/// Wait until no loop device of the host is backed by these volumes.
async fn assert_no_loop_devices(ids: &[String], when: &str) -> Result<Duration> {
    let started = Instant::now();
    poll(
        &format!(
            "the loop devices of {} volumes to be freed {when}",
            ids.len()
        ),
        LOOP_RELEASE_TIMEOUT,
        POLL_INTERVAL,
        || async {
            let left = loops_backed_by(ids);
            if left.is_empty() {
                Check::Ready(())
            } else {
                Check::NotYet(format!("still attached: {left:?}"))
            }
        },
    )
    .await?;
    Ok(started.elapsed())
}

/// Image files (and half-written copies) left on the SAN.
fn images_left(san: &Path) -> Vec<PathBuf> {
    ["volumes", "snapshots"]
        .iter()
        .filter_map(|d| std::fs::read_dir(san.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none_or(|x| x != "json"))
        .collect()
}

/// The `key=value` pairs of the self-test's `selftest: ok ...` line.
fn selftest_fields(stdout: &str) -> Result<HashMap<String, String>> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("selftest: ok"))
        .with_context(|| format!("no `selftest: ok` line in {stdout:?}"))?;
    Ok(line
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn number(fields: &HashMap<String, String>, key: &str) -> Result<u64> {
    fields
        .get(key)
        .with_context(|| format!("selftest printed no {key}: {fields:?}"))?
        .parse()
        .with_context(|| format!("selftest's {key} is not a number: {fields:?}"))
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn csi_sanity_passes_every_spec_it_runs_against_the_driver() -> Result<()> {
    let tools = tools().await?;
    let run = common::run_id();
    let driver = Driver::start(&run, &tools).await?;
    let out = driver
        .exec(
            &[
                SANITY_IN_CONTAINER,
                "--ginkgo.no-color",
                "--csi.endpoint",
                ENDPOINT,
                "--csi.stagingdir",
                "/tmp/csi-staging",
                "--csi.mountdir",
                "/tmp/csi-mount",
                "--csi.testvolumesize",
                &SANITY_VOLUME_BYTES.to_string(),
                "--csi.testvolumeexpandsize",
                &SANITY_EXPANDED_BYTES.to_string(),
            ],
            SANITY_TIMEOUT,
        )
        .await?;
    let log = driver.logs().await;
    let summary = parse_ginkgo_summary(&out.stdout).with_context(|| {
        format!(
            "csi-sanity printed no Ginkgo summary (exit {:?}); its output ends: {}; stderr: {}",
            out.code,
            tail(&out.stdout, 3000),
            tail(&out.stderr, 2000)
        )
    })?;
    println!("csi-sanity: {}", summary.line);
    ensure!(
        summary.failed == 0 && summary.passed > 0 && out.success(),
        "csi-sanity: {} (exit {:?})\n{}\nthe driver's log ends:\n{}",
        summary.line,
        out.code,
        ginkgo_failures(&out.stdout),
        tail(&log, 6000)
    );

    // csi-sanity deleted what it made: the SAN holds no image, and the
    // driver freed every loop device while it still runs.
    let left = images_left(driver.san());
    ensure!(left.is_empty(), "image files left on the SAN: {left:?}");
    let ids = volume_ids(&log);
    ensure!(
        !ids.is_empty(),
        "no volume id in the driver's log: {}",
        tail(&log, 2000)
    );
    let took = assert_no_loop_devices(&ids, "by NodeUnstageVolume").await?;
    println!(
        "{} volumes made and deleted; no loop device left (checked after {:.1}s)",
        ids.len(),
        took.as_secs_f64()
    );
    driver.stop().await?;
    driver.remove().await?;
    assert_no_loop_devices(&ids, "after the container is gone").await?;
    common::assert_nothing_left(&run).await
}

#[rstest]
#[timeout(TEST_TIMEOUT)]
#[tokio::test]
async fn a_volume_fills_to_enospc_keeps_its_data_and_a_node_stop_frees_its_loop_device()
-> Result<()> {
    let tools = tools().await?;
    let run = common::run_id();
    let driver = Driver::start(&run, &tools).await?;

    let life = driver
        .exec(
            &[
                "storage-e2e-csi",
                "selftest",
                "--size-mib",
                &SELFTEST_MIB.to_string(),
            ],
            SELFTEST_TIMEOUT,
        )
        .await?;
    ensure!(
        life.success(),
        "selftest failed: {}\nthe driver's log ends:\n{}",
        life.stderr.trim(),
        tail(&driver.logs().await, 4000)
    );
    let f = selftest_fields(&life.stdout)?;
    println!("{}", life.stdout.trim());
    let capacity = number(&f, "capacity")?;
    let written = number(&f, "written_until_enospc")?;
    ensure!(capacity == SELFTEST_MIB << 20, "capacity {capacity}: {f:?}");
    // The volume is as big as asked, not as big as the host disk: ext4's
    // own metadata takes the rest.
    ensure!(
        written > capacity / 2 && written < capacity,
        "wrote {written} bytes into a {capacity}-byte volume before ENOSPC: {f:?}"
    );
    ensure!(
        f.get("autoclear").map(String::as_str) == Some("true"),
        "loop device without autoclear: {f:?}"
    );
    ensure!(
        f.get("loop_freed_after_unstage").map(String::as_str) == Some("true"),
        "NodeUnstageVolume left the loop device attached: {f:?}"
    );
    ensure!(
        f.get("marker_survived").map(String::as_str) == Some("true"),
        "{f:?}"
    );
    ensure!(
        number(&f, "grown_fs_total")? > number(&f, "fs_total")?,
        "the filesystem did not grow with the volume: {f:?}"
    );

    // A node stops with a volume staged and published: its mount namespace
    // dies, and autoclear must free the loop device.
    let staged = driver
        .exec(
            &[
                "storage-e2e-csi",
                "selftest",
                "--size-mib",
                &STAGED_MIB.to_string(),
                "--leave-staged",
            ],
            SELFTEST_TIMEOUT,
        )
        .await?;
    ensure!(
        staged.success(),
        "selftest --leave-staged failed: {}",
        staged.stderr.trim()
    );
    let s = selftest_fields(&staged.stdout)?;
    let id = s
        .get("volume")
        .cloned()
        .with_context(|| format!("no volume in {s:?}"))?;
    let ids = volume_ids(&driver.logs().await);
    ensure!(ids.contains(&id), "{id} not in the driver's log");
    let held = loops_backed_by(std::slice::from_ref(&id));
    ensure!(
        held.len() == 1 && held[0].autoclear,
        "the staged volume {id} should hold one loop device with autoclear, the host has {held:?}"
    );
    println!(
        "staged {id} on {} (autoclear, backing {}); stopping the node",
        held[0].name, held[0].backing_file
    );
    driver.stop().await?;
    let took = assert_no_loop_devices(&ids, "by the node stop").await?;
    println!(
        "docker stop freed {} within {:.1}s",
        held[0].name,
        took.as_secs_f64()
    );
    driver.remove().await?;
    assert_no_loop_devices(&ids, "after the container is gone").await?;
    common::assert_nothing_left(&run).await
}

fn tail(s: &str, max: usize) -> &str {
    let start = s.len().saturating_sub(max);
    let start = (start..s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    &s[start..]
}

#[test]
fn ginkgo_summaries_are_parsed_pass_or_fail() {
    let ok = "Ran 79 of 103 Specs in 0.368 seconds\nSUCCESS! -- 79 Passed | 0 Failed | 1 Pending | 23 Skipped\n";
    assert_eq!(
        parse_ginkgo_summary(ok),
        Some(GinkgoSummary {
            passed: 79,
            failed: 0,
            pending: 1,
            skipped: 23,
            line: "SUCCESS! -- 79 Passed | 0 Failed | 1 Pending | 23 Skipped".into(),
        })
    );
    let failed = "\nSummarizing 1 Failure:\n  [FAIL] x\n\nRan 16 of 103 Specs in 0.216 seconds\nFAIL! -- 15 Passed | 1 Failed | 1 Pending | 86 Skipped\n";
    let s = parse_ginkgo_summary(failed).expect("summary");
    assert_eq!((s.passed, s.failed), (15, 1));
    assert!(ginkgo_failures(failed).starts_with("Summarizing 1 Failure"));
    assert_eq!(parse_ginkgo_summary("no summary here"), None);
}

#[test]
fn volume_ids_are_found_in_the_log() {
    let log = "CreateVolume name=a: ok vol-0123456789abcdef 1 bytes\nDeleteVolume volume=vol-0123456789abcdef: ok\nvolume=fake-vol-id-1 vol-xyz";
    assert_eq!(volume_ids(log), vec!["vol-0123456789abcdef".to_owned()]);
}
