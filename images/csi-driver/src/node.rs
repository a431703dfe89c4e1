//! The CSI Node service: what a host does with an attached disk. Stage =
//! format if new, attach a loop device, mount ext4 at the staging path.
//! Publish = bind-mount the staging path into the pod's volume directory.
//!
//! Every decision is taken from the kernel's state (mountinfo, sysfs), not
//! from a record of earlier calls: the plugin restarts, kind nodes stop,
//! and the kubelet repeats calls, and each time the truth is in the kernel.
//!
//! The node honours the attachment the controller recorded, as a host only
//! sees a LUN its array exports to it: staging a volume that is not
//! attached to this node is refused. With the kernel-global loop devices
//! that is also what keeps two nodes from mounting one image.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use crate::access;
use crate::error::{Error, Result};
use crate::ext4;
use crate::ids::{NodeId, VolumeId};
use crate::loopdev::{self, Bound};
use crate::mount::{self, Mount};
use crate::proto::csi::node_server::Node;
use crate::proto::csi::node_service_capability::{self, rpc};
use crate::proto::csi::volume_usage::Unit;
use crate::proto::csi::*;
use crate::rpc::{handle, log};
use crate::san::San;

/// The node RPCs this plugin implements.
pub const CAPABILITIES: [rpc::Type; 4] = [
    rpc::Type::StageUnstageVolume,
    rpc::Type::ExpandVolume,
    rpc::Type::GetVolumeStats,
    rpc::Type::SingleNodeMultiWriter,
];

/// How often to attach a loop device when another node took the free one
/// first.
const ATTACH_ATTEMPTS: u32 = 5;
/// How long the kernel may take to free an autoclear loop device after the
/// last unmount: since Linux 5.19 the teardown runs in a work queue, so it
/// can lag the umount(8) that triggered it by a few milliseconds.
const AUTOCLEAR_SETTLE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

/// The Node service of one node plugin.
#[derive(Debug, Clone)]
pub struct NodeService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node_id: NodeId,
    san: Arc<San>,
    /// Serialises mount changes on this node: two stages picking the same
    /// free loop device, or a stage and an unstage of one volume, must not
    /// interleave.
    lock: Mutex<()>,
    sysfs: PathBuf,
}

impl NodeService {
    /// The node plugin of `node_id` on `san`.
    pub fn new(node_id: NodeId, san: Arc<San>) -> Self {
        Self {
            inner: Arc::new(Inner {
                node_id,
                san,
                lock: Mutex::new(()),
                sysfs: PathBuf::from(loopdev::SYSFS),
            }),
        }
    }
}

fn required<'a>(value: &'a str, field: &'static str) -> Result<&'a str> {
    if value.is_empty() {
        Err(Error::MissingField(field))
    } else {
        Ok(value)
    }
}

fn not_found(what: &'static str, id: impl Into<String>) -> Error {
    Error::NotFound {
        what,
        id: id.into(),
    }
}

fn is_loop_race(e: &Error) -> bool {
    matches!(e, Error::Command { output, .. }
        if output.contains("failed to setup loop device") || output.contains("Device or resource busy"))
}

impl Inner {
    /// A volume's id and image, if the image exists.
    fn image_of(&self, raw: &str) -> Result<(VolumeId, PathBuf)> {
        let id = VolumeId::parse(raw).ok_or_else(|| not_found("volume", raw))?;
        let image = self.san.volume_image(&id);
        if !image.is_file() {
            return Err(not_found("volume", raw));
        }
        Ok((id, image))
    }

    /// The loop device behind a mount, if it is backed by `image`.
    fn loop_of(&self, m: &Mount, image: &Path) -> Option<Bound> {
        loopdev::by_device(&self.sysfs, m.device).filter(|b| b.is_backed_by(image))
    }

    /// The loop devices still bound to `image` after giving pending
    /// autoclears time to finish.
    async fn settled_holders(&self, image: &Path) -> Vec<Bound> {
        let deadline = Instant::now() + AUTOCLEAR_SETTLE;
        loop {
            let held = loopdev::backed_by(&self.sysfs, image);
            if held.is_empty() || Instant::now() >= deadline {
                return held;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn attach_and_mount(
        &self,
        image: &Path,
        staging: &Path,
        flags: &[String],
    ) -> Result<PathBuf> {
        let mut attempt = 1;
        loop {
            let dev = loopdev::find_free().await?;
            loopdev::ensure_node(&self.sysfs, &dev).await?;
            match mount::mount_loop_ext4(image, &dev, staging, flags).await {
                Ok(()) => return Ok(dev),
                Err(e) if attempt < ATTACH_ATTEMPTS && is_loop_race(&e) => {
                    log(format_args!(
                        "  attach attempt {attempt} with {} lost a race, retrying: {}",
                        dev.display(),
                        e.chain()
                    ));
                    tokio::time::sleep(POLL * attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn stage(&self, req: NodeStageVolumeRequest) -> Result<NodeStageVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let staging = required(&req.staging_target_path, "staging_target_path")?;
        let cap = req
            .volume_capability
            .as_ref()
            .ok_or(Error::MissingField("volume_capability"))?;
        let checked = access::check(cap)?;
        let (id, image) = self.image_of(raw)?;

        let _guard = self.lock.lock().await;
        let record = self
            .san
            .volume(&id)?
            .ok_or_else(|| not_found("volume", raw))?;
        if record.attachment(self.node_id.as_str()).is_none() {
            return Err(Error::FailedPrecondition(format!(
                "volume {id} is not attached to node {} (attached to: {}): ControllerPublishVolume it to this node first",
                self.node_id,
                if record.attachments.is_empty() {
                    "no node".to_owned()
                } else {
                    record.attached_nodes().join(", ")
                }
            )));
        }
        std::fs::create_dir_all(staging).map_err(Error::io("create", staging))?;
        let staging = mount::canonical(Path::new(staging))?;
        let table = mount::table()?;
        if let Some(m) = mount::at(&table, &staging) {
            if self.loop_of(m, &image).is_some() {
                return Ok(NodeStageVolumeResponse {});
            }
            return Err(Error::AlreadyExists(format!(
                "{} already holds {} ({}), not volume {id}",
                staging.display(),
                m.source,
                m.fs_type
            )));
        }
        if let Some(held) = self.settled_holders(&image).await.first() {
            return Err(Error::FailedPrecondition(format!(
                "volume {id} is still attached as {} (autoclear={}) but not mounted at {} on this node: another node, or an unstage that has not finished, holds it; two mounts of one ext4 image corrupt it",
                held.dev_path().display(),
                held.autoclear,
                staging.display()
            )));
        }

        let size = std::fs::metadata(&image)
            .map_err(Error::io("stat", &image))?
            .len();
        match ext4::read_superblock(&image)? {
            // Images only ever come from this driver: no filesystem means a
            // volume that was never staged (or restored from one).
            None => ext4::format(&image).await?,
            // Grown while detached (expansion, restore into a bigger claim).
            Some(sb) if sb.can_grow_into(size) => ext4::grow_offline(&image).await?,
            Some(_) => {}
        }
        let dev = self
            .attach_and_mount(&image, &staging, &checked.mount_flags)
            .await?;
        let autoclear = loopdev::backed_by(&self.sysfs, &image)
            .iter()
            .any(|b| b.dev_path() == dev && b.autoclear);
        if !autoclear {
            log(format_args!(
                "  warning: {} for {id} has no autoclear: a node stop would leak it",
                dev.display()
            ));
        }
        Ok(NodeStageVolumeResponse {})
    }

    async fn unstage(&self, req: NodeUnstageVolumeRequest) -> Result<NodeUnstageVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let staging = required(&req.staging_target_path, "staging_target_path")?;
        let _guard = self.lock.lock().await;
        if !Path::new(staging).exists() {
            return Ok(NodeUnstageVolumeResponse {});
        }
        let staging = mount::canonical(Path::new(staging))?;
        let table = mount::table()?;
        let Some(m) = mount::at(&table, &staging) else {
            return Ok(NodeUnstageVolumeResponse {});
        };
        let published = mount::others_of(&table, m.device, &[staging.as_path()]);
        if !published.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "volume {raw} is still published at {}: NodeUnpublishVolume those first",
                published
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let device = loopdev::by_device(&self.sysfs, m.device);
        mount::unmount(&staging).await?;
        if let Some(dev) = device {
            self.release(&dev).await?;
        }
        Ok(NodeUnstageVolumeResponse {})
    }

    /// After the last unmount of `dev`: wait for autoclear to free it, and
    /// detach it if autoclear did not (a device set up without it). Only
    /// this device, which this node just unmounted and which no mount of
    /// this node still uses: loop devices are kernel-global, and one a
    /// different node uses is never touched.
    async fn release(&self, dev: &Bound) -> Result<()> {
        let deadline = Instant::now() + AUTOCLEAR_SETTLE;
        loop {
            let still = loopdev::by_device(&self.sysfs, dev.device)
                .is_some_and(|now| now.backing_file == dev.backing_file);
            if !still {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        if mount::table()?.iter().any(|m| m.device == dev.device) {
            log(format_args!(
                "  {} is still mounted on this node: left attached",
                dev.dev_path().display()
            ));
            return Ok(());
        }
        log(format_args!(
            "  {} (autoclear={}) was not freed by the kernel after the unmount: detaching it",
            dev.dev_path().display(),
            dev.autoclear
        ));
        loopdev::ensure_node(&self.sysfs, &dev.dev_path()).await?;
        loopdev::detach(&dev.dev_path()).await
    }

    async fn publish(&self, req: NodePublishVolumeRequest) -> Result<NodePublishVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let target = required(&req.target_path, "target_path")?;
        let cap = req
            .volume_capability
            .as_ref()
            .ok_or(Error::MissingField("volume_capability"))?;
        let checked = access::check(cap)?;
        if req.staging_target_path.is_empty() {
            return Err(Error::FailedPrecondition(
                "staging_target_path is empty: this driver stages volumes (STAGE_UNSTAGE_VOLUME), call NodeStageVolume first".into(),
            ));
        }
        let (id, image) = self.image_of(raw)?;

        let _guard = self.lock.lock().await;
        let not_staged = || {
            Error::FailedPrecondition(format!(
                "volume {id} is not staged at {}: NodeStageVolume first",
                req.staging_target_path
            ))
        };
        let staging =
            mount::canonical(Path::new(&req.staging_target_path)).map_err(|_| not_staged())?;
        let table = mount::table()?;
        let staged = mount::at(&table, &staging)
            .filter(|m| self.loop_of(m, &image).is_some())
            .ok_or_else(not_staged)?;
        let read_only = req.readonly || checked.mode.is_reader_only();
        // A target that does not exist yet is no mount point; it is only
        // created once every check passed, so a refused publish leaves
        // nothing behind for the CO to clean up.
        let existed = Path::new(target).exists();
        let target = if existed {
            mount::canonical(Path::new(target))?
        } else {
            PathBuf::from(target)
        };
        if let Some(m) = mount::at(&table, &target) {
            if m.device == staged.device && m.read_only() == read_only {
                return Ok(NodePublishVolumeResponse {});
            }
            return Err(Error::AlreadyExists(format!(
                "{} already holds a mount of {} (read-only={}), not volume {id} read-only={read_only}",
                target.display(),
                m.source,
                m.read_only()
            )));
        }
        if checked.mode.is_single_writer() {
            let others = mount::others_of(
                &table,
                staged.device,
                &[staging.as_path(), target.as_path()],
            );
            if let Some(other) = others.first() {
                return Err(Error::FailedPrecondition(format!(
                    "volume {id} is SINGLE_NODE_SINGLE_WRITER (ReadWriteOncePod) and already published at {}",
                    other.display()
                )));
            }
        }
        if !existed {
            std::fs::create_dir_all(&target).map_err(Error::io("create", &target))?;
        }
        if let Err(e) = mount::bind(&staging, &target, read_only).await {
            if !existed {
                let _ = std::fs::remove_dir(&target);
            }
            return Err(e);
        }
        Ok(NodePublishVolumeResponse {})
    }

    async fn unpublish(
        &self,
        req: NodeUnpublishVolumeRequest,
    ) -> Result<NodeUnpublishVolumeResponse> {
        required(&req.volume_id, "volume_id")?;
        let target = required(&req.target_path, "target_path")?;
        let _guard = self.lock.lock().await;
        if std::fs::symlink_metadata(target).is_err() {
            return Ok(NodeUnpublishVolumeResponse {});
        }
        let target = mount::canonical(Path::new(target))?;
        mount::unmount(&target).await?;
        // remove_dir, never remove_dir_all: whatever is left in an
        // unmounted target is not the volume's, and not ours to delete.
        match std::fs::remove_dir(&target) {
            Ok(()) => Ok(NodeUnpublishVolumeResponse {}),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(NodeUnpublishVolumeResponse {})
            }
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                Err(Error::FailedPrecondition(format!(
                    "{} is not empty after the unmount: something wrote into the target directory itself; left in place",
                    target.display()
                )))
            }
            Err(e) => Err(Error::io("remove", target)(e)),
        }
    }

    /// The mount at `path` and its loop device, if it is volume `raw`'s.
    fn mounted_volume(&self, raw: &str, path: &str) -> Result<(PathBuf, Bound)> {
        let (id, image) = self.image_of(raw)?;
        if std::fs::symlink_metadata(path).is_err() {
            return Err(not_found("path", path));
        }
        let path = mount::canonical(Path::new(path))?;
        let table = mount::table()?;
        mount::at(&table, &path)
            .and_then(|m| self.loop_of(m, &image))
            .map(|b| (path.clone(), b))
            .ok_or_else(|| not_found("volume", format!("{id} at {}", path.display())))
    }

    fn stats(&self, req: NodeGetVolumeStatsRequest) -> Result<NodeGetVolumeStatsResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let path = required(&req.volume_path, "volume_path")?;
        let (path, _dev) = self.mounted_volume(raw, path)?;
        let st = rustix::fs::statvfs(&path).map_err(|e| Error::io("statvfs", &path)(e.into()))?;
        let bytes =
            |blocks: u64| i64::try_from(blocks.saturating_mul(st.f_frsize)).unwrap_or(i64::MAX);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(NodeGetVolumeStatsResponse {
            usage: vec![
                VolumeUsage {
                    available: bytes(st.f_bavail),
                    total: bytes(st.f_blocks),
                    used: bytes(st.f_blocks.saturating_sub(st.f_bfree)),
                    unit: Unit::Bytes as i32,
                },
                VolumeUsage {
                    available: count(st.f_ffree),
                    total: count(st.f_files),
                    used: count(st.f_files.saturating_sub(st.f_ffree)),
                    unit: Unit::Inodes as i32,
                },
            ],
        })
    }

    async fn expand(&self, req: NodeExpandVolumeRequest) -> Result<NodeExpandVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let path = required(&req.volume_path, "volume_path")?;
        if let Some(cap) = &req.volume_capability {
            access::check(cap)?;
        }
        let _guard = self.lock.lock().await;
        let (_path, bound) = self.mounted_volume(raw, path)?;
        let dev = bound.dev_path();
        loopdev::ensure_node(&self.sysfs, &dev).await?;
        // The controller grew the file; the loop device keeps its old size
        // until told to look again.
        loopdev::refresh_capacity(&dev).await?;
        let size = loopdev::size_bytes(&self.sysfs, &bound.name)
            .ok_or_else(|| Error::Internal(format!("sysfs has no size for {}", dev.display())))?;
        if ext4::read_superblock(&dev)?.is_some_and(|sb| sb.can_grow_into(size)) {
            ext4::grow_online(&dev).await?;
        }
        Ok(NodeExpandVolumeResponse {
            capacity_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        })
    }

    fn info(&self) -> Result<NodeGetInfoResponse> {
        // Again here, in case the SAN directory was emptied since the start.
        self.san.register_node(&self.node_id)?;
        Ok(NodeGetInfoResponse {
            node_id: self.node_id.to_string(),
            // No limit but the kernel's: loop devices are created on demand.
            max_volumes_per_node: 0,
            // Network-attached: every node reaches every volume.
            accessible_topology: None,
        })
    }
}

fn subject(volume: &str, path: &str) -> String {
    format!("volume={volume} path={path}")
}

#[tonic::async_trait]
impl Node for NodeService {
    async fn node_stage_volume(
        &self,
        request: Request<NodeStageVolumeRequest>,
    ) -> std::result::Result<Response<NodeStageVolumeResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "NodeStageVolume",
            subject(&req.volume_id, &req.staging_target_path),
            async move { inner.stage(req).await },
            |_| "staged".into(),
        )
        .await
    }

    async fn node_unstage_volume(
        &self,
        request: Request<NodeUnstageVolumeRequest>,
    ) -> std::result::Result<Response<NodeUnstageVolumeResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "NodeUnstageVolume",
            subject(&req.volume_id, &req.staging_target_path),
            async move { inner.unstage(req).await },
            |_| "unstaged".into(),
        )
        .await
    }

    async fn node_publish_volume(
        &self,
        request: Request<NodePublishVolumeRequest>,
    ) -> std::result::Result<Response<NodePublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "NodePublishVolume",
            format!(
                "{} readonly={}",
                subject(&req.volume_id, &req.target_path),
                req.readonly
            ),
            async move { inner.publish(req).await },
            |_| "published".into(),
        )
        .await
    }

    async fn node_unpublish_volume(
        &self,
        request: Request<NodeUnpublishVolumeRequest>,
    ) -> std::result::Result<Response<NodeUnpublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "NodeUnpublishVolume",
            subject(&req.volume_id, &req.target_path),
            async move { inner.unpublish(req).await },
            |_| "unpublished".into(),
        )
        .await
    }

    async fn node_get_volume_stats(
        &self,
        request: Request<NodeGetVolumeStatsRequest>,
    ) -> std::result::Result<Response<NodeGetVolumeStatsResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "NodeGetVolumeStats",
            subject(&req.volume_id, &req.volume_path),
            async move { inner.stats(req) },
            |r| {
                r.usage.first().map_or(String::new(), |u| {
                    format!("{} of {} bytes used", u.used, u.total)
                })
            },
        )
        .await
    }

    async fn node_expand_volume(
        &self,
        request: Request<NodeExpandVolumeRequest>,
    ) -> std::result::Result<Response<NodeExpandVolumeResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "NodeExpandVolume",
            subject(&req.volume_id, &req.volume_path),
            async move { inner.expand(req).await },
            |r| format!("{} bytes", r.capacity_bytes),
        )
        .await
    }

    async fn node_get_capabilities(
        &self,
        _request: Request<NodeGetCapabilitiesRequest>,
    ) -> std::result::Result<Response<NodeGetCapabilitiesResponse>, Status> {
        handle(
            "NodeGetCapabilities",
            String::new(),
            async {
                Ok(NodeGetCapabilitiesResponse {
                    capabilities: CAPABILITIES
                        .iter()
                        .map(|t| NodeServiceCapability {
                            r#type: Some(node_service_capability::Type::Rpc(
                                node_service_capability::Rpc { r#type: *t as i32 },
                            )),
                        })
                        .collect(),
                })
            },
            |r| format!("{} capabilities", r.capabilities.len()),
        )
        .await
    }

    async fn node_get_info(
        &self,
        _request: Request<NodeGetInfoRequest>,
    ) -> std::result::Result<Response<NodeGetInfoResponse>, Status> {
        let inner = self.inner.clone();
        handle(
            "NodeGetInfo",
            format!("node={}", self.inner.node_id),
            async move { inner.info() },
            |r| r.node_id.clone(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::csi::volume_capability::access_mode::Mode;
    use crate::proto::csi::volume_capability::{AccessMode as ProtoMode, AccessType, MountVolume};

    fn service() -> (tempfile::TempDir, NodeService) {
        let dir = tempfile::tempdir().expect("tempdir");
        let san = Arc::new(San::open(dir.path()).expect("san"));
        let node = NodeService::new(NodeId::parse("node-a").expect("node"), san);
        (dir, node)
    }

    fn cap() -> VolumeCapability {
        VolumeCapability {
            access_mode: Some(ProtoMode {
                mode: Mode::SingleNodeWriter as i32,
            }),
            access_type: Some(AccessType::Mount(MountVolume::default())),
        }
    }

    // What csi-sanity checks without a real mount: argument errors first,
    // then unknown volumes; the mounting paths run in the container test.

    #[tokio::test]
    async fn missing_arguments_are_invalid() {
        let (_d, n) = service();
        let e = n
            .node_stage_volume(Request::new(NodeStageVolumeRequest {
                staging_target_path: "/x".into(),
                volume_capability: Some(cap()),
                ..Default::default()
            }))
            .await
            .expect_err("no id");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        let e = n
            .node_publish_volume(Request::new(NodePublishVolumeRequest {
                volume_id: "fake-vol-id-1".into(),
                target_path: "/x".into(),
                ..Default::default()
            }))
            .await
            .expect_err("no capability");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        let e = n
            .node_expand_volume(Request::new(NodeExpandVolumeRequest {
                volume_id: "vol-0123456789abcdef".into(),
                ..Default::default()
            }))
            .await
            .expect_err("no path");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
    }

    #[tokio::test]
    async fn unknown_volumes_and_paths_are_not_found() {
        let (_d, n) = service();
        let e = n
            .node_get_volume_stats(Request::new(NodeGetVolumeStatsRequest {
                volume_id: "fake-vol-id-1".into(),
                volume_path: "some/path".into(),
                ..Default::default()
            }))
            .await
            .expect_err("unknown");
        assert_eq!(e.code(), tonic::Code::NotFound);
        let e = n
            .node_stage_volume(Request::new(NodeStageVolumeRequest {
                volume_id: "vol-0123456789abcdef".into(),
                staging_target_path: "/x".into(),
                volume_capability: Some(cap()),
                ..Default::default()
            }))
            .await
            .expect_err("unknown");
        assert_eq!(e.code(), tonic::Code::NotFound);
    }

    #[tokio::test]
    async fn unpublishing_and_unstaging_nothing_succeeds() {
        let (d, n) = service();
        let gone = d.path().join("never-published");
        n.node_unpublish_volume(Request::new(NodeUnpublishVolumeRequest {
            volume_id: "vol-0123456789abcdef".into(),
            target_path: gone.display().to_string(),
        }))
        .await
        .expect("idempotent");
        n.node_unstage_volume(Request::new(NodeUnstageVolumeRequest {
            volume_id: "vol-0123456789abcdef".into(),
            staging_target_path: gone.display().to_string(),
        }))
        .await
        .expect("idempotent");
        // An existing, unmounted target directory is removed.
        let target = d.path().join("target");
        std::fs::create_dir(&target).expect("mkdir");
        n.node_unpublish_volume(Request::new(NodeUnpublishVolumeRequest {
            volume_id: "vol-0123456789abcdef".into(),
            target_path: target.display().to_string(),
        }))
        .await
        .expect("unpublish");
        assert!(!target.exists());
    }

    #[tokio::test]
    async fn node_info_registers_the_node_without_topology() {
        let (d, n) = service();
        let info = n
            .node_get_info(Request::new(NodeGetInfoRequest {}))
            .await
            .expect("info")
            .into_inner();
        assert_eq!(info.node_id, "node-a");
        assert!(info.accessible_topology.is_none());
        assert!(d.path().join("nodes/node-a.json").is_file());
    }

    #[test]
    fn loop_races_are_recognised() {
        let race = Error::Command {
            argv: "mount".into(),
            status: "exit status: 32".into(),
            output: "mount: /st: failed to setup loop device for /san/volumes/vol-1.img.".into(),
        };
        assert!(is_loop_race(&race));
        let other = Error::Command {
            argv: "mount".into(),
            status: "exit status: 32".into(),
            output: "mount: /st: wrong fs type".into(),
        };
        assert!(!is_loop_race(&other));
    }
}
