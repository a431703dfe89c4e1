//! `storage-e2e-csi selftest`: a gRPC client that takes a running driver
//! (`all` mode, same container) through a volume's whole life the way the
//! kubelet and the external sidecars would, and checks the effects the
//! harness relies on: a real capacity (writing stops with ENOSPC), a loop
//! device with autoclear, data that survives unstage and re-stage, offline
//! growth, and no loop device left at the end.
//!
//! It prints one line starting with `selftest: ok` followed by
//! `key=value` pairs, which the tier-1 test reads. With `--leave-staged`
//! it stops with the volume staged and published, so the caller can check
//! what a stopped node (container) does to the loop device.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};

use crate::capacity::MIB;
use crate::cli::Selftest;
use crate::error::{Error, Result};
use crate::loopdev::{self, Bound};
use crate::mount;
use crate::proto::csi::controller_client::ControllerClient;
use crate::proto::csi::node_client::NodeClient;
use crate::proto::csi::volume_capability::access_mode::Mode;
use crate::proto::csi::volume_capability::{AccessMode, AccessType, MountVolume};
use crate::proto::csi::*;
use crate::san::now_unix_ns;

/// How long to wait for the driver's socket to accept connections.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const MARKER: &[u8] = b"written before the unstage\n";

fn rpc<T>(
    call: &'static str,
    r: std::result::Result<tonic::Response<T>, tonic::Status>,
) -> Result<T> {
    r.map(tonic::Response::into_inner).map_err(|status| {
        Error::Internal(format!("{call}: {:?}: {}", status.code(), status.message()))
    })
}

fn capability() -> VolumeCapability {
    VolumeCapability {
        access_mode: Some(AccessMode {
            mode: Mode::SingleNodeWriter as i32,
        }),
        access_type: Some(AccessType::Mount(MountVolume::default())),
    }
}

async fn connect(socket: &Path) -> Result<Channel> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let endpoint = Endpoint::from_shared(format!("unix://{}", socket.display()))
        .map_err(|e| Error::Internal(format!("endpoint {}: {e}", socket.display())))?;
    loop {
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => {
                return Err(Error::Internal(format!(
                    "no driver answers on {} after {CONNECT_TIMEOUT:?}: {e}",
                    socket.display()
                )));
            }
        }
    }
}

/// The loop device mounted at `path` in this mount namespace.
fn loop_at(path: &Path) -> Result<Bound> {
    let table = mount::table()?;
    let m = mount::at(&table, path)
        .ok_or_else(|| Error::Internal(format!("nothing is mounted at {}", path.display())))?;
    loopdev::by_device(Path::new(loopdev::SYSFS), m.device).ok_or_else(|| {
        Error::Internal(format!(
            "{} ({}) is not a loop device",
            path.display(),
            m.source
        ))
    })
}

/// Write until the filesystem is full; the bytes that fit.
fn fill(path: &Path) -> Result<u64> {
    let mut f = std::fs::File::create(path).map_err(Error::io("create", path))?;
    let chunk = vec![0xA5u8; MIB as usize];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => return Err(Error::io("write", path)(e)),
        }
    }
    // Delayed allocation may only notice the end at the flush.
    let _ = f.sync_all();
    Ok(written)
}

fn fs_bytes(path: &Path) -> Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(|e| Error::io("statvfs", path)(e.into()))?;
    Ok(st.f_blocks * st.f_frsize)
}

struct Paths {
    staging: PathBuf,
    target: PathBuf,
}

async fn stage_and_publish(node: &mut NodeClient<Channel>, id: &str, p: &Paths) -> Result<()> {
    std::fs::create_dir_all(&p.staging).map_err(Error::io("create", &p.staging))?;
    rpc(
        "NodeStageVolume",
        node.node_stage_volume(NodeStageVolumeRequest {
            volume_id: id.into(),
            staging_target_path: p.staging.display().to_string(),
            volume_capability: Some(capability()),
            ..Default::default()
        })
        .await,
    )?;
    rpc(
        "NodePublishVolume",
        node.node_publish_volume(NodePublishVolumeRequest {
            volume_id: id.into(),
            staging_target_path: p.staging.display().to_string(),
            target_path: p.target.display().to_string(),
            volume_capability: Some(capability()),
            ..Default::default()
        })
        .await,
    )?;
    Ok(())
}

async fn unpublish_and_unstage(node: &mut NodeClient<Channel>, id: &str, p: &Paths) -> Result<()> {
    rpc(
        "NodeUnpublishVolume",
        node.node_unpublish_volume(NodeUnpublishVolumeRequest {
            volume_id: id.into(),
            target_path: p.target.display().to_string(),
        })
        .await,
    )?;
    rpc(
        "NodeUnstageVolume",
        node.node_unstage_volume(NodeUnstageVolumeRequest {
            volume_id: id.into(),
            staging_target_path: p.staging.display().to_string(),
        })
        .await,
    )?;
    Ok(())
}

async fn attach(controller: &mut ControllerClient<Channel>, id: &str, node_id: &str) -> Result<()> {
    rpc(
        "ControllerPublishVolume",
        controller
            .controller_publish_volume(ControllerPublishVolumeRequest {
                volume_id: id.into(),
                node_id: node_id.into(),
                volume_capability: Some(capability()),
                ..Default::default()
            })
            .await,
    )
    .map(drop)
}

async fn detach(controller: &mut ControllerClient<Channel>, id: &str, node_id: &str) -> Result<()> {
    rpc(
        "ControllerUnpublishVolume",
        controller
            .controller_unpublish_volume(ControllerUnpublishVolumeRequest {
                volume_id: id.into(),
                node_id: node_id.into(),
                ..Default::default()
            })
            .await,
    )
    .map(drop)
}

/// Run the self-test; the summary line on success.
///
/// # Errors
/// The first step that did not do what the harness relies on.
pub async fn run(config: &Selftest) -> Result<String> {
    let channel = connect(&config.endpoint).await?;
    let mut controller = ControllerClient::new(channel.clone());
    let mut node = NodeClient::new(channel);
    let node_id = rpc(
        "NodeGetInfo",
        node.node_get_info(NodeGetInfoRequest {}).await,
    )?
    .node_id;
    let size = config.size_mib * MIB;
    let name = format!("selftest-{}", now_unix_ns());
    let volume = rpc(
        "CreateVolume",
        controller
            .create_volume(CreateVolumeRequest {
                name: name.clone(),
                capacity_range: Some(CapacityRange {
                    required_bytes: i64::try_from(size).unwrap_or(i64::MAX),
                    limit_bytes: 0,
                }),
                volume_capabilities: vec![capability()],
                ..Default::default()
            })
            .await,
    )?
    .volume
    .ok_or_else(|| Error::Internal("CreateVolume returned no volume".into()))?;
    let id = volume.volume_id.clone();
    attach(&mut controller, &id, &node_id).await?;
    let paths = Paths {
        staging: config.dir.join(&id).join("staging"),
        target: config.dir.join(&id).join("target"),
    };
    stage_and_publish(&mut node, &id, &paths).await?;
    let dev = loop_at(&paths.target)?;
    let fs_total = fs_bytes(&paths.target)?;
    std::fs::write(paths.target.join("marker"), MARKER)
        .map_err(Error::io("write", &paths.target))?;
    let written = fill(&paths.target.join("fill"))?;
    let stats = rpc(
        "NodeGetVolumeStats",
        node.node_get_volume_stats(NodeGetVolumeStatsRequest {
            volume_id: id.clone(),
            volume_path: paths.target.display().to_string(),
            ..Default::default()
        })
        .await,
    )?;
    let available = stats.usage.first().map_or(-1, |u| u.available);
    let mut summary = format!(
        "selftest: ok volume={id} node={node_id} capacity={} loop={} autoclear={} fs_total={fs_total} written_until_enospc={written} available_after_fill={available}",
        volume.capacity_bytes,
        dev.dev_path().display(),
        dev.autoclear
    );
    if config.leave_staged {
        summary.push_str(&format!(" left_staged={}", paths.target.display()));
        return Ok(summary);
    }

    unpublish_and_unstage(&mut node, &id, &paths).await?;
    let freed = loopdev::by_device(Path::new(loopdev::SYSFS), dev.device)
        .is_none_or(|now| now.backing_file != dev.backing_file);
    detach(&mut controller, &id, &node_id).await?;
    // Grow while detached (the only way where the kernel refuses online
    // growth): the next stage grows the filesystem offline.
    let grown = rpc(
        "ControllerExpandVolume",
        controller
            .controller_expand_volume(ControllerExpandVolumeRequest {
                volume_id: id.clone(),
                capacity_range: Some(CapacityRange {
                    required_bytes: i64::try_from(2 * size).unwrap_or(i64::MAX),
                    limit_bytes: 0,
                }),
                ..Default::default()
            })
            .await,
    )?;
    attach(&mut controller, &id, &node_id).await?;
    stage_and_publish(&mut node, &id, &paths).await?;
    let marker =
        std::fs::read(paths.target.join("marker")).map_err(Error::io("read", &paths.target))?;
    let grown_fs_total = fs_bytes(&paths.target)?;
    unpublish_and_unstage(&mut node, &id, &paths).await?;
    detach(&mut controller, &id, &node_id).await?;
    rpc(
        "DeleteVolume",
        controller
            .delete_volume(DeleteVolumeRequest {
                volume_id: id.clone(),
                ..Default::default()
            })
            .await,
    )?;
    // remove_dir, not remove_dir_all: never recurse into what might be a mount.
    let _ = std::fs::remove_dir(&paths.staging);
    let _ = std::fs::remove_dir(config.dir.join(&id));
    if marker != MARKER {
        return Err(Error::Internal(format!(
            "the marker file read back as {:?} after unstage and re-stage",
            String::from_utf8_lossy(&marker)
        )));
    }
    if grown_fs_total <= fs_total {
        return Err(Error::Internal(format!(
            "the filesystem did not grow with the volume: {fs_total} bytes before, {grown_fs_total} after expanding to {} bytes",
            grown.capacity_bytes
        )));
    }
    summary.push_str(&format!(
        " loop_freed_after_unstage={freed} marker_survived=true expanded_to={} grown_fs_total={grown_fs_total} deleted=true",
        grown.capacity_bytes
    ));
    Ok(summary)
}
