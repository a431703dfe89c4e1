//! The CSI Controller service: the storage array's management plane.
//! Creates, copies, grows and deletes images on the SAN, and records which
//! node a volume is attached to, refusing a second node as a cloud disk
//! does (that refusal is what makes Kubernetes' Multi-Attach handling, the
//! 6-minute force detach and the out-of-service taint observable).
//!
//! Every state change happens under one lock: the CO may retry a slow call
//! while the first is still running, and the answer to the retry must be
//! the result of the first, not a race with it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use prost_types::Timestamp;
use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use crate::access::{self, AccessMode};
use crate::capacity::{MIN_VOLUME_BYTES, Range};
use crate::error::{Error, Result};
use crate::ids::{NodeId, SnapshotId, VolumeId};
use crate::loopdev;
use crate::paging;
use crate::proto::csi::controller_server::Controller;
use crate::proto::csi::controller_service_capability::{self, rpc};
use crate::proto::csi::volume_content_source::{self, SnapshotSource, VolumeSource};
use crate::proto::csi::*;
use crate::rpc::handle;
use crate::san::{self, Attachment, San, SnapshotRecord, Source, VolumeRecord};

/// Parameter keys the driver accepts: Kubernetes' external-provisioner and
/// external-snapshotter pass their own metadata under this prefix.
const RESERVED_PARAMETER_PREFIX: &str = "csi.storage.k8s.io/";

/// The RPCs this controller implements.
///
/// GET_SNAPSHOT goes beyond what the harness needs: it costs one lookup and
/// lets csi-sanity check GetSnapshot too. Not offered: PUBLISH_READONLY
/// (a read-only attachment would have to be enforced at stage, and no cell
/// attaches read-only), LIST_VOLUMES_PUBLISHED_NODES, GET_VOLUME, volume
/// health and MODIFY_VOLUME.
pub const CAPABILITIES: [rpc::Type; 10] = [
    rpc::Type::CreateDeleteVolume,
    rpc::Type::PublishUnpublishVolume,
    rpc::Type::ListVolumes,
    rpc::Type::GetCapacity,
    rpc::Type::CreateDeleteSnapshot,
    rpc::Type::ListSnapshots,
    rpc::Type::GetSnapshot,
    rpc::Type::CloneVolume,
    rpc::Type::ExpandVolume,
    rpc::Type::SingleNodeMultiWriter,
];

/// The Controller service of one driver process.
#[derive(Debug, Clone)]
pub struct ControllerService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    san: Arc<San>,
    lock: Mutex<()>,
    online_expansion: bool,
    sysfs: PathBuf,
}

impl ControllerService {
    /// A controller for `san`. Without `online_expansion` an attached volume
    /// is not grown (the spec's FAILED_PRECONDITION "volume in use").
    pub fn new(san: Arc<San>, online_expansion: bool) -> Self {
        Self::with_sysfs(san, online_expansion, PathBuf::from(loopdev::SYSFS))
    }

    /// As [`ControllerService::new`], with sysfs somewhere else (tests).
    pub fn with_sysfs(san: Arc<San>, online_expansion: bool, sysfs: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                san,
                lock: Mutex::new(()),
                online_expansion,
                sysfs,
            }),
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn timestamp(unix_ns: u64) -> Timestamp {
    Timestamp {
        seconds: to_i64(unix_ns / 1_000_000_000),
        nanos: i32::try_from(unix_ns % 1_000_000_000).unwrap_or(0),
    }
}

fn required<'a>(value: &'a str, field: &'static str) -> Result<&'a str> {
    if value.is_empty() {
        Err(Error::MissingField(field))
    } else {
        Ok(value)
    }
}

fn not_found(what: &'static str, id: &str) -> Error {
    Error::NotFound {
        what,
        id: id.to_owned(),
    }
}

fn check_parameters(parameters: &HashMap<String, String>, what: &str) -> Result<()> {
    match parameters
        .keys()
        .find(|k| !k.starts_with(RESERVED_PARAMETER_PREFIX))
    {
        Some(key) => Err(Error::InvalidArgument(format!(
            "unknown {what} parameter {key:?}: this driver takes no parameters (remove it from the StorageClass / VolumeSnapshotClass)"
        ))),
        None => Ok(()),
    }
}

fn range_of(range: Option<&CapacityRange>) -> Result<Range> {
    range.map_or(Ok(Range::UNBOUNDED), |r| {
        Range::from_request(r.required_bytes, r.limit_bytes)
    })
}

fn content_source(source: &Source) -> VolumeContentSource {
    VolumeContentSource {
        r#type: Some(match source {
            Source::Snapshot(id) => volume_content_source::Type::Snapshot(SnapshotSource {
                snapshot_id: id.clone(),
            }),
            Source::Volume(id) => volume_content_source::Type::Volume(VolumeSource {
                volume_id: id.clone(),
            }),
        }),
    }
}

fn requested_source(source: Option<&VolumeContentSource>) -> Result<Option<Source>> {
    match source.and_then(|s| s.r#type.as_ref()) {
        None => Ok(None),
        Some(volume_content_source::Type::Snapshot(s)) => Ok(Some(Source::Snapshot(
            required(&s.snapshot_id, "volume_content_source.snapshot.snapshot_id")?.to_owned(),
        ))),
        Some(volume_content_source::Type::Volume(v)) => Ok(Some(Source::Volume(
            required(&v.volume_id, "volume_content_source.volume.volume_id")?.to_owned(),
        ))),
    }
}

fn volume_message(r: &VolumeRecord) -> crate::proto::csi::Volume {
    crate::proto::csi::Volume {
        capacity_bytes: to_i64(r.capacity_bytes),
        volume_id: r.id.clone(),
        content_source: r.source.as_ref().map(content_source),
        ..Default::default()
    }
}

fn snapshot_message(r: &SnapshotRecord) -> Snapshot {
    Snapshot {
        size_bytes: to_i64(r.size_bytes),
        snapshot_id: r.id.clone(),
        source_volume_id: r.source_volume_id.clone(),
        creation_time: Some(timestamp(r.created_unix_ns)),
        // A copy is complete when CreateSnapshot returns.
        ready_to_use: true,
        ..Default::default()
    }
}

impl Inner {
    async fn create_volume(&self, req: CreateVolumeRequest) -> Result<CreateVolumeResponse> {
        let name = required(&req.name, "name")?;
        let modes: Vec<AccessMode> = access::check_all(&req.volume_capabilities)?
            .into_iter()
            .map(|c| c.mode)
            .collect();
        check_parameters(&req.parameters, "volume")?;
        if !req.mutable_parameters.is_empty() {
            return Err(Error::InvalidArgument(
                "mutable_parameters are not supported: the driver has no VolumeAttributesClass parameters".into(),
            ));
        }
        let range = range_of(req.capacity_range.as_ref())?;
        let source = requested_source(req.volume_content_source.as_ref())?;
        let id = VolumeId::for_name(name);

        let _guard = self.lock.lock().await;
        if let Some(existing) = self.san.volume(&id)? {
            if existing.name != name {
                return Err(Error::Internal(format!(
                    "volume names {name:?} and {:?} hash to the same id {id}",
                    existing.name
                )));
            }
            if range.accepts(existing.capacity_bytes) && existing.source == source {
                return Ok(CreateVolumeResponse {
                    volume: Some(volume_message(&existing)),
                });
            }
            return Err(Error::AlreadyExists(format!(
                "volume {name:?} exists as {id} with {} bytes and source {:?}, incompatible with this request (capacity {range:?}, source {source:?})",
                existing.capacity_bytes, existing.source
            )));
        }

        let image = self.san.volume_image(&id);
        let size = match &source {
            None => {
                let size = range.new_volume_size()?;
                self.san.ensure_room(size, &format!("volume {name:?}"))?;
                self.san.create_image(&image, size)?;
                size
            }
            Some(Source::Snapshot(snap)) => {
                let found = SnapshotId::parse(snap).map(|s| (self.san.snapshot(&s), s));
                let (record, sid) = match found {
                    Some((Ok(Some(r)), sid)) => (r, sid),
                    Some((Err(e), _)) => return Err(e),
                    _ => return Err(not_found("snapshot", snap)),
                };
                let size = range.size_from_source(record.size_bytes)?;
                self.san.ensure_room(size, &format!("volume {name:?}"))?;
                self.san
                    .copy_image(&self.san.snapshot_image(&sid), &image, size)
                    .await?;
                size
            }
            Some(Source::Volume(vol)) => {
                let found = VolumeId::parse(vol).map(|v| (self.san.volume(&v), v));
                let (record, vid) = match found {
                    Some((Ok(Some(r)), vid)) => (r, vid),
                    Some((Err(e), _)) => return Err(e),
                    _ => return Err(not_found("volume", vol)),
                };
                let size = range.size_from_source(record.capacity_bytes)?;
                self.san.ensure_room(size, &format!("volume {name:?}"))?;
                self.san
                    .copy_image(&self.san.volume_image(&vid), &image, size)
                    .await?;
                size
            }
        };
        let record = VolumeRecord {
            id: id.to_string(),
            name: name.to_owned(),
            capacity_bytes: size,
            access_modes: modes,
            source,
            attachments: Vec::new(),
            created_unix_ns: san::now_unix_ns(),
        };
        self.san.put_volume(&record)?;
        Ok(CreateVolumeResponse {
            volume: Some(volume_message(&record)),
        })
    }

    async fn delete_volume(&self, req: DeleteVolumeRequest) -> Result<DeleteVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        // An id this driver never issued names no volume: already deleted.
        let Some(id) = VolumeId::parse(raw) else {
            return Ok(DeleteVolumeResponse {});
        };
        let _guard = self.lock.lock().await;
        if let Some(record) = self.san.volume(&id)?
            && !record.attachments.is_empty()
        {
            return Err(Error::FailedPrecondition(format!(
                "volume {id} is attached to node {}: ControllerUnpublishVolume it first (a disk is not deleted while attached)",
                record.attached_nodes().join(", ")
            )));
        }
        // The kernel's view, whatever the metadata says (a node that kept
        // the volume mounted through a forced detach): deleting the file
        // would free nothing and hide the leak.
        let image = self.san.volume_image(&id);
        if let Some(dev) = loopdev::backed_by(&self.sysfs, &image).first() {
            return Err(Error::FailedPrecondition(format!(
                "volume {id} is still attached as {} (a node has it mounted): unstage it there first",
                dev.dev_path().display()
            )));
        }
        self.san.remove_volume(&id)?;
        Ok(DeleteVolumeResponse {})
    }

    async fn publish(
        &self,
        req: ControllerPublishVolumeRequest,
    ) -> Result<ControllerPublishVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let node = required(&req.node_id, "node_id")?;
        let cap = req
            .volume_capability
            .as_ref()
            .ok_or(Error::MissingField("volume_capability"))?;
        let mode = access::check(cap)?.mode;
        let id = VolumeId::parse(raw).ok_or_else(|| not_found("volume", raw))?;

        let _guard = self.lock.lock().await;
        let mut record = self
            .san
            .volume(&id)?
            .ok_or_else(|| not_found("volume", raw))?;
        let known = NodeId::parse(node).is_ok_and(|n| self.san.node_exists(&n));
        if !known {
            return Err(Error::NotFound {
                what: "node",
                id: format!(
                    "{node} (no node plugin has registered it in {}/nodes)",
                    self.san.root().display()
                ),
            });
        }
        if let Some(a) = record.attachment(node) {
            if a.access_mode == mode && a.readonly == req.readonly {
                return Ok(ControllerPublishVolumeResponse::default());
            }
            return Err(Error::AlreadyExists(format!(
                "volume {id} is attached to node {node} with {:?} readonly={}, not {mode:?} readonly={}",
                a.access_mode, a.readonly, req.readonly
            )));
        }
        if !record.attachments.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "volume {id} is attached to node {}; a single-node volume is attached to one node at a time, as a block device is: detach it there first",
                record.attached_nodes().join(", ")
            )));
        }
        record.attachments.push(Attachment {
            node_id: node.to_owned(),
            access_mode: mode,
            readonly: req.readonly,
        });
        self.san.put_volume(&record)?;
        // Nothing to pass on: every node finds the image by volume id.
        Ok(ControllerPublishVolumeResponse::default())
    }

    async fn unpublish(
        &self,
        req: ControllerUnpublishVolumeRequest,
    ) -> Result<ControllerUnpublishVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let Some(id) = VolumeId::parse(raw) else {
            return Ok(ControllerUnpublishVolumeResponse {});
        };
        let _guard = self.lock.lock().await;
        let Some(mut record) = self.san.volume(&id)? else {
            return Ok(ControllerUnpublishVolumeResponse {});
        };
        let before = record.attachments.len();
        // No node_id: detach from every node (the spec's meaning).
        record
            .attachments
            .retain(|a| !(req.node_id.is_empty() || a.node_id == req.node_id));
        if record.attachments.len() != before {
            self.san.put_volume(&record)?;
        }
        Ok(ControllerUnpublishVolumeResponse {})
    }

    fn validate(
        &self,
        req: ValidateVolumeCapabilitiesRequest,
    ) -> Result<ValidateVolumeCapabilitiesResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        if req.volume_capabilities.is_empty() {
            return Err(Error::MissingField("volume_capabilities"));
        }
        let id = VolumeId::parse(raw).ok_or_else(|| not_found("volume", raw))?;
        self.san
            .volume(&id)?
            .ok_or_else(|| not_found("volume", raw))?;
        let verdict = req
            .volume_capabilities
            .iter()
            .try_for_each(|c| access::check(c).map(drop))
            .and_then(|()| check_parameters(&req.parameters, "volume"));
        match verdict {
            Ok(()) => Ok(ValidateVolumeCapabilitiesResponse {
                confirmed: Some(validate_volume_capabilities_response::Confirmed {
                    volume_context: req.volume_context,
                    volume_capabilities: req.volume_capabilities,
                    parameters: req.parameters,
                    mutable_parameters: req.mutable_parameters,
                }),
                message: String::new(),
            }),
            Err(e @ Error::MissingField(_)) => Err(e),
            Err(e) => Ok(ValidateVolumeCapabilitiesResponse {
                confirmed: None,
                message: e.to_string(),
            }),
        }
    }

    fn list_volumes(&self, req: ListVolumesRequest) -> Result<ListVolumesResponse> {
        let page = paging::page(
            self.san.volumes()?,
            |r| r.id.as_str(),
            &req.starting_token,
            req.max_entries,
            |t| VolumeId::parse(t).is_some(),
        )?;
        Ok(ListVolumesResponse {
            entries: page
                .entries
                .iter()
                .map(|r| list_volumes_response::Entry {
                    volume: Some(volume_message(r)),
                    status: None,
                })
                .collect(),
            next_token: page.next_token,
        })
    }

    fn capacity(&self, req: GetCapacityRequest) -> Result<GetCapacityResponse> {
        // Capabilities the driver cannot serve have no capacity (the spec:
        // available_capacity MUST then be 0).
        let supported = req
            .volume_capabilities
            .iter()
            .all(|c| access::check(c).is_ok());
        let free = self.san.free_bytes()?;
        let available = if supported { free } else { 0 };
        Ok(GetCapacityResponse {
            available_capacity: to_i64(available),
            maximum_volume_size: Some(to_i64(available)),
            minimum_volume_size: Some(to_i64(MIN_VOLUME_BYTES)),
        })
    }

    async fn create_snapshot(&self, req: CreateSnapshotRequest) -> Result<CreateSnapshotResponse> {
        let name = required(&req.name, "name")?;
        let source = required(&req.source_volume_id, "source_volume_id")?;
        check_parameters(&req.parameters, "snapshot")?;
        let id = SnapshotId::for_name(name);

        let _guard = self.lock.lock().await;
        if let Some(existing) = self.san.snapshot(&id)? {
            if existing.name == name && existing.source_volume_id == source {
                return Ok(CreateSnapshotResponse {
                    snapshot: Some(snapshot_message(&existing)),
                });
            }
            return Err(Error::AlreadyExists(format!(
                "snapshot {name:?} exists as {id} of volume {}, not of {source}",
                existing.source_volume_id
            )));
        }
        let vid = VolumeId::parse(source).ok_or_else(|| not_found("volume", source))?;
        let volume = self
            .san
            .volume(&vid)?
            .ok_or_else(|| not_found("volume", source))?;
        self.san
            .ensure_room(volume.capacity_bytes, &format!("snapshot {name:?}"))?;
        // A copy of an attached volume is as consistent as a power cut:
        // ext4 replays its journal when the copy is mounted.
        self.san
            .copy_image(
                &self.san.volume_image(&vid),
                &self.san.snapshot_image(&id),
                0,
            )
            .await?;
        let record = SnapshotRecord {
            id: id.to_string(),
            name: name.to_owned(),
            source_volume_id: source.to_owned(),
            size_bytes: volume.capacity_bytes,
            created_unix_ns: san::now_unix_ns(),
        };
        self.san.put_snapshot(&record)?;
        Ok(CreateSnapshotResponse {
            snapshot: Some(snapshot_message(&record)),
        })
    }

    async fn delete_snapshot(&self, req: DeleteSnapshotRequest) -> Result<DeleteSnapshotResponse> {
        let raw = required(&req.snapshot_id, "snapshot_id")?;
        if let Some(id) = SnapshotId::parse(raw) {
            // Restored volumes are full copies: a snapshot is never in use.
            let _guard = self.lock.lock().await;
            self.san.remove_snapshot(&id)?;
        }
        Ok(DeleteSnapshotResponse {})
    }

    fn list_snapshots(&self, req: ListSnapshotsRequest) -> Result<ListSnapshotsResponse> {
        let mut all = if req.snapshot_id.is_empty() {
            self.san.snapshots()?
        } else {
            match SnapshotId::parse(&req.snapshot_id) {
                Some(id) => self.san.snapshot(&id)?.into_iter().collect(),
                None => Vec::new(),
            }
        };
        if !req.source_volume_id.is_empty() {
            all.retain(|s| s.source_volume_id == req.source_volume_id);
        }
        let page = paging::page(
            all,
            |r| r.id.as_str(),
            &req.starting_token,
            req.max_entries,
            |t| SnapshotId::parse(t).is_some(),
        )?;
        Ok(ListSnapshotsResponse {
            entries: page
                .entries
                .iter()
                .map(|r| list_snapshots_response::Entry {
                    snapshot: Some(snapshot_message(r)),
                })
                .collect(),
            next_token: page.next_token,
        })
    }

    fn get_snapshot(&self, req: GetSnapshotRequest) -> Result<GetSnapshotResponse> {
        let raw = required(&req.snapshot_id, "snapshot_id")?;
        let id = SnapshotId::parse(raw).ok_or_else(|| not_found("snapshot", raw))?;
        let record = self
            .san
            .snapshot(&id)?
            .ok_or_else(|| not_found("snapshot", raw))?;
        Ok(GetSnapshotResponse {
            snapshot: Some(snapshot_message(&record)),
        })
    }

    async fn expand(
        &self,
        req: ControllerExpandVolumeRequest,
    ) -> Result<ControllerExpandVolumeResponse> {
        let raw = required(&req.volume_id, "volume_id")?;
        let range = Range::from_request(
            req.capacity_range
                .as_ref()
                .ok_or(Error::MissingField("capacity_range"))?
                .required_bytes,
            req.capacity_range.as_ref().map_or(0, |r| r.limit_bytes),
        )?;
        if let Some(cap) = &req.volume_capability {
            access::check(cap)?;
        }
        let id = VolumeId::parse(raw).ok_or_else(|| not_found("volume", raw))?;

        let _guard = self.lock.lock().await;
        let mut record = self
            .san
            .volume(&id)?
            .ok_or_else(|| not_found("volume", raw))?;
        let size = range.expanded_size(record.capacity_bytes)?;
        if size > record.capacity_bytes {
            if !self.online_expansion && !record.attachments.is_empty() {
                return Err(Error::FailedPrecondition(format!(
                    "volume {id} is attached to node {} and this driver grows volumes offline only here (no CAP_SYS_RESOURCE for an online ext4 resize): detach it first",
                    record.attached_nodes().join(", ")
                )));
            }
            self.san.ensure_room(
                size - record.capacity_bytes,
                &format!("growing volume {id}"),
            )?;
            san::grow_image(&self.san.volume_image(&id), size)?;
            record.capacity_bytes = size;
            self.san.put_volume(&record)?;
        }
        // The filesystem grows on the node: resize2fs, online or at stage.
        Ok(ControllerExpandVolumeResponse {
            capacity_bytes: to_i64(size),
            node_expansion_required: true,
        })
    }
}

fn volume_subject(id: &str) -> String {
    format!("volume={id}")
}

#[tonic::async_trait]
impl Controller for ControllerService {
    async fn create_volume(
        &self,
        request: Request<CreateVolumeRequest>,
    ) -> std::result::Result<Response<CreateVolumeResponse>, Status> {
        let req = request.into_inner();
        let source = requested_source(req.volume_content_source.as_ref())
            .ok()
            .flatten()
            .map_or(String::new(), |s| format!(" source={s:?}"));
        let subject = format!("name={}{source}", req.name);
        let inner = self.inner.clone();
        handle(
            "CreateVolume",
            subject,
            async move { inner.create_volume(req).await },
            |r| {
                r.volume.as_ref().map_or(String::new(), |v| {
                    format!("{} {} bytes", v.volume_id, v.capacity_bytes)
                })
            },
        )
        .await
    }

    async fn delete_volume(
        &self,
        request: Request<DeleteVolumeRequest>,
    ) -> std::result::Result<Response<DeleteVolumeResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "DeleteVolume",
            volume_subject(&req.volume_id),
            async move { inner.delete_volume(req).await },
            |_| String::new(),
        )
        .await
    }

    async fn controller_publish_volume(
        &self,
        request: Request<ControllerPublishVolumeRequest>,
    ) -> std::result::Result<Response<ControllerPublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let subject = format!(
            "volume={} node={} readonly={}",
            req.volume_id, req.node_id, req.readonly
        );
        let inner = self.inner.clone();
        handle(
            "ControllerPublishVolume",
            subject,
            async move { inner.publish(req).await },
            |_| "attached".into(),
        )
        .await
    }

    async fn controller_unpublish_volume(
        &self,
        request: Request<ControllerUnpublishVolumeRequest>,
    ) -> std::result::Result<Response<ControllerUnpublishVolumeResponse>, Status> {
        let req = request.into_inner();
        let subject = format!("volume={} node={}", req.volume_id, req.node_id);
        let inner = self.inner.clone();
        handle(
            "ControllerUnpublishVolume",
            subject,
            async move { inner.unpublish(req).await },
            |_| "detached".into(),
        )
        .await
    }

    async fn validate_volume_capabilities(
        &self,
        request: Request<ValidateVolumeCapabilitiesRequest>,
    ) -> std::result::Result<Response<ValidateVolumeCapabilitiesResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "ValidateVolumeCapabilities",
            volume_subject(&req.volume_id),
            async move { inner.validate(req) },
            |r| {
                if r.confirmed.is_some() {
                    "confirmed".into()
                } else {
                    format!("not confirmed: {}", r.message)
                }
            },
        )
        .await
    }

    async fn list_volumes(
        &self,
        request: Request<ListVolumesRequest>,
    ) -> std::result::Result<Response<ListVolumesResponse>, Status> {
        let req = request.into_inner();
        let subject = format!(
            "starting_token={:?} max_entries={}",
            req.starting_token, req.max_entries
        );
        let inner = self.inner.clone();
        handle(
            "ListVolumes",
            subject,
            async move { inner.list_volumes(req) },
            |r| format!("{} entries next_token={:?}", r.entries.len(), r.next_token),
        )
        .await
    }

    async fn get_capacity(
        &self,
        request: Request<GetCapacityRequest>,
    ) -> std::result::Result<Response<GetCapacityResponse>, Status> {
        let req = request.into_inner();
        let inner = self.inner.clone();
        handle(
            "GetCapacity",
            String::new(),
            async move { inner.capacity(req) },
            |r| format!("{} bytes", r.available_capacity),
        )
        .await
    }

    async fn controller_get_capabilities(
        &self,
        _request: Request<ControllerGetCapabilitiesRequest>,
    ) -> std::result::Result<Response<ControllerGetCapabilitiesResponse>, Status> {
        handle(
            "ControllerGetCapabilities",
            String::new(),
            async {
                Ok(ControllerGetCapabilitiesResponse {
                    capabilities: CAPABILITIES
                        .iter()
                        .map(|t| ControllerServiceCapability {
                            r#type: Some(controller_service_capability::Type::Rpc(
                                controller_service_capability::Rpc { r#type: *t as i32 },
                            )),
                        })
                        .collect(),
                })
            },
            |r| format!("{} capabilities", r.capabilities.len()),
        )
        .await
    }

    async fn create_snapshot(
        &self,
        request: Request<CreateSnapshotRequest>,
    ) -> std::result::Result<Response<CreateSnapshotResponse>, Status> {
        let req = request.into_inner();
        let subject = format!("name={} volume={}", req.name, req.source_volume_id);
        let inner = self.inner.clone();
        handle(
            "CreateSnapshot",
            subject,
            async move { inner.create_snapshot(req).await },
            |r| {
                r.snapshot.as_ref().map_or(String::new(), |s| {
                    format!("{} {} bytes", s.snapshot_id, s.size_bytes)
                })
            },
        )
        .await
    }

    async fn delete_snapshot(
        &self,
        request: Request<DeleteSnapshotRequest>,
    ) -> std::result::Result<Response<DeleteSnapshotResponse>, Status> {
        let req = request.into_inner();
        let subject = format!("snapshot={}", req.snapshot_id);
        let inner = self.inner.clone();
        handle(
            "DeleteSnapshot",
            subject,
            async move { inner.delete_snapshot(req).await },
            |_| String::new(),
        )
        .await
    }

    async fn list_snapshots(
        &self,
        request: Request<ListSnapshotsRequest>,
    ) -> std::result::Result<Response<ListSnapshotsResponse>, Status> {
        let req = request.into_inner();
        let subject = format!(
            "snapshot={:?} volume={:?} starting_token={:?} max_entries={}",
            req.snapshot_id, req.source_volume_id, req.starting_token, req.max_entries
        );
        let inner = self.inner.clone();
        handle(
            "ListSnapshots",
            subject,
            async move { inner.list_snapshots(req) },
            |r| format!("{} entries next_token={:?}", r.entries.len(), r.next_token),
        )
        .await
    }

    async fn get_snapshot(
        &self,
        request: Request<GetSnapshotRequest>,
    ) -> std::result::Result<Response<GetSnapshotResponse>, Status> {
        let req = request.into_inner();
        let subject = format!("snapshot={}", req.snapshot_id);
        let inner = self.inner.clone();
        handle(
            "GetSnapshot",
            subject,
            async move { inner.get_snapshot(req) },
            |_| String::new(),
        )
        .await
    }

    async fn controller_expand_volume(
        &self,
        request: Request<ControllerExpandVolumeRequest>,
    ) -> std::result::Result<Response<ControllerExpandVolumeResponse>, Status> {
        let req = request.into_inner();
        let subject = format!(
            "volume={} required_bytes={}",
            req.volume_id,
            req.capacity_range.as_ref().map_or(0, |r| r.required_bytes)
        );
        let inner = self.inner.clone();
        handle(
            "ControllerExpandVolume",
            subject,
            async move { inner.expand(req).await },
            |r| format!("{} bytes", r.capacity_bytes),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::MIB;
    use crate::proto::csi::volume_capability::access_mode::Mode;
    use crate::proto::csi::volume_capability::{AccessMode as ProtoMode, AccessType, MountVolume};

    struct Fixture {
        _dir: tempfile::TempDir,
        _sys: tempfile::TempDir,
        san: Arc<San>,
        c: ControllerService,
    }

    fn fixture(online_expansion: bool) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let sys = tempfile::tempdir().expect("tempdir");
        let san = Arc::new(San::open(dir.path()).expect("san"));
        let c = ControllerService::with_sysfs(san.clone(), online_expansion, sys.path().to_owned());
        Fixture {
            _dir: dir,
            _sys: sys,
            san,
            c,
        }
    }

    fn cap(mode: Mode) -> VolumeCapability {
        VolumeCapability {
            access_mode: Some(ProtoMode { mode: mode as i32 }),
            access_type: Some(AccessType::Mount(MountVolume::default())),
        }
    }

    fn create_req(name: &str, mib: i64) -> CreateVolumeRequest {
        CreateVolumeRequest {
            name: name.into(),
            volume_capabilities: vec![cap(Mode::SingleNodeWriter)],
            capacity_range: Some(CapacityRange {
                required_bytes: mib * MIB as i64,
                limit_bytes: 0,
            }),
            ..Default::default()
        }
    }

    async fn create(f: &Fixture, name: &str, mib: i64) -> crate::proto::csi::Volume {
        f.c.create_volume(Request::new(create_req(name, mib)))
            .await
            .expect("create")
            .into_inner()
            .volume
            .expect("volume")
    }

    fn publish_req(volume: &str, node: &str) -> ControllerPublishVolumeRequest {
        ControllerPublishVolumeRequest {
            volume_id: volume.into(),
            node_id: node.into(),
            volume_capability: Some(cap(Mode::SingleNodeWriter)),
            ..Default::default()
        }
    }

    fn register(f: &Fixture, node: &str) {
        f.san
            .register_node(&NodeId::parse(node).expect("node"))
            .expect("register");
    }

    #[tokio::test]
    async fn create_is_idempotent_by_name_and_refuses_a_different_size() {
        let f = fixture(true);
        let a = create(&f, "pvc-1", 64).await;
        assert_eq!(a.capacity_bytes, 64 * MIB as i64);
        let again = create(&f, "pvc-1", 64).await;
        assert_eq!(again.volume_id, a.volume_id);
        let mut bigger = create_req("pvc-1", 128);
        bigger.capacity_range = Some(CapacityRange {
            required_bytes: 128 * MIB as i64,
            limit_bytes: 128 * MIB as i64,
        });
        let e =
            f.c.create_volume(Request::new(bigger))
                .await
                .expect_err("incompatible");
        assert_eq!(e.code(), tonic::Code::AlreadyExists);
        let image = f
            .san
            .volume_image(&VolumeId::parse(&a.volume_id).expect("id"));
        assert_eq!(std::fs::metadata(image).expect("image").len(), 64 * MIB);
    }

    #[tokio::test]
    async fn create_refuses_block_multi_node_and_unknown_parameters() {
        let f = fixture(true);
        let mut multi = create_req("x", 64);
        multi.volume_capabilities = vec![cap(Mode::MultiNodeMultiWriter)];
        let e =
            f.c.create_volume(Request::new(multi))
                .await
                .expect_err("multi-node");
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        let mut params = create_req("x", 64);
        params
            .parameters
            .insert("csi.storage.k8s.io/pvc/name".into(), "p".into());
        assert!(
            f.c.create_volume(Request::new(params.clone()))
                .await
                .is_ok()
        );
        params.name = "y".into();
        params.parameters.insert("type".into(), "gp3".into());
        let e =
            f.c.create_volume(Request::new(params))
                .await
                .expect_err("parameter");
        assert!(e.message().contains("\"type\""), "{}", e.message());
    }

    #[tokio::test]
    async fn a_volume_bigger_than_the_san_is_resource_exhausted() {
        let f = fixture(true);
        let mut huge = create_req("huge", 0);
        huge.capacity_range = Some(CapacityRange {
            required_bytes: i64::MAX / 2,
            limit_bytes: 0,
        });
        let e =
            f.c.create_volume(Request::new(huge))
                .await
                .expect_err("too big");
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(
            e.message().contains(&f.san.root().display().to_string()),
            "{}",
            e.message()
        );
    }

    #[tokio::test]
    async fn a_second_node_is_refused_while_attached() {
        let f = fixture(true);
        let v = create(&f, "pvc-1", 16).await;
        register(&f, "node-a");
        register(&f, "node-b");
        f.c.controller_publish_volume(Request::new(publish_req(&v.volume_id, "node-a")))
            .await
            .expect("attach to a");
        f.c.controller_publish_volume(Request::new(publish_req(&v.volume_id, "node-a")))
            .await
            .expect("again: idempotent");
        let e =
            f.c.controller_publish_volume(Request::new(publish_req(&v.volume_id, "node-b")))
                .await
                .expect_err("b while attached to a");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert!(
            e.message().contains("attached to node node-a"),
            "{}",
            e.message()
        );
        let mut ro = publish_req(&v.volume_id, "node-a");
        ro.readonly = true;
        let e =
            f.c.controller_publish_volume(Request::new(ro))
                .await
                .expect_err("readonly differs");
        assert_eq!(e.code(), tonic::Code::AlreadyExists);
        // Deleting an attached disk is refused, detaching is idempotent.
        let del = DeleteVolumeRequest {
            volume_id: v.volume_id.clone(),
            ..Default::default()
        };
        let e =
            f.c.delete_volume(Request::new(del.clone()))
                .await
                .expect_err("attached");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        for _ in 0..2 {
            f.c.controller_unpublish_volume(Request::new(ControllerUnpublishVolumeRequest {
                volume_id: v.volume_id.clone(),
                node_id: "node-a".into(),
                ..Default::default()
            }))
            .await
            .expect("detach");
        }
        f.c.controller_publish_volume(Request::new(publish_req(&v.volume_id, "node-b")))
            .await
            .expect("b after detach from a");
        f.c.controller_unpublish_volume(Request::new(ControllerUnpublishVolumeRequest {
            volume_id: v.volume_id.clone(),
            ..Default::default()
        }))
        .await
        .expect("detach from all");
        f.c.delete_volume(Request::new(del.clone()))
            .await
            .expect("delete");
        f.c.delete_volume(Request::new(del))
            .await
            .expect("delete again");
    }

    #[tokio::test]
    async fn unknown_volumes_and_nodes_are_not_found() {
        let f = fixture(true);
        let e =
            f.c.controller_publish_volume(Request::new(publish_req("fake-vol-id-1", "node-a")))
                .await
                .expect_err("volume");
        assert_eq!(e.code(), tonic::Code::NotFound);
        let v = create(&f, "pvc-1", 16).await;
        let e = f
            .c
            .controller_publish_volume(Request::new(publish_req(&v.volume_id, "fake-node-id-1")))
            .await
            .expect_err("node");
        assert_eq!(e.code(), tonic::Code::NotFound);
        f.c.delete_volume(Request::new(DeleteVolumeRequest {
            volume_id: "fake-vol-id".into(),
            ..Default::default()
        }))
        .await
        .expect("deleting what never existed succeeds");
    }

    #[tokio::test]
    async fn snapshots_restore_into_new_volumes() {
        let f = fixture(true);
        let v = create(&f, "pvc-1", 16).await;
        let vid = VolumeId::parse(&v.volume_id).expect("id");
        std::fs::write(f.san.volume_image(&vid), b"prometheus data").expect("write");
        san::grow_image(&f.san.volume_image(&vid), 16 * MIB).expect("grow");
        let snap_req = CreateSnapshotRequest {
            name: "snap-1".into(),
            source_volume_id: v.volume_id.clone(),
            ..Default::default()
        };
        let s =
            f.c.create_snapshot(Request::new(snap_req.clone()))
                .await
                .expect("snapshot")
                .into_inner()
                .snapshot
                .expect("snapshot");
        assert!(s.ready_to_use);
        assert_eq!(s.size_bytes, 16 * MIB as i64);
        let again =
            f.c.create_snapshot(Request::new(snap_req))
                .await
                .expect("again")
                .into_inner();
        assert_eq!(
            again.snapshot.map(|x| x.snapshot_id),
            Some(s.snapshot_id.clone())
        );

        let mut restore = create_req("pvc-2", 32);
        restore.volume_content_source = Some(VolumeContentSource {
            r#type: Some(volume_content_source::Type::Snapshot(SnapshotSource {
                snapshot_id: s.snapshot_id.clone(),
            })),
        });
        let r =
            f.c.create_volume(Request::new(restore))
                .await
                .expect("restore")
                .into_inner()
                .volume
                .expect("volume");
        assert!(r.content_source.is_some());
        assert_eq!(
            r.capacity_bytes,
            32 * MIB as i64,
            "grown to the requested size"
        );
        let bytes = std::fs::read(
            f.san
                .volume_image(&VolumeId::parse(&r.volume_id).expect("id")),
        )
        .expect("read");
        assert_eq!(&bytes[..15], b"prometheus data");

        let mut missing = create_req("pvc-3", 16);
        missing.volume_content_source = Some(VolumeContentSource {
            r#type: Some(volume_content_source::Type::Snapshot(SnapshotSource {
                snapshot_id: "non-existing-snapshot-id".into(),
            })),
        });
        let e =
            f.c.create_volume(Request::new(missing))
                .await
                .expect_err("missing source");
        assert_eq!(e.code(), tonic::Code::NotFound);
    }

    #[tokio::test]
    async fn list_volumes_pages_and_aborts_on_bad_tokens() {
        let f = fixture(true);
        for i in 0..5 {
            create(&f, &format!("pvc-{i}"), 16).await;
        }
        let first =
            f.c.list_volumes(Request::new(ListVolumesRequest {
                max_entries: 2,
                starting_token: String::new(),
            }))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(first.entries.len(), 2);
        let rest =
            f.c.list_volumes(Request::new(ListVolumesRequest {
                max_entries: 0,
                starting_token: first.next_token,
            }))
            .await
            .expect("list")
            .into_inner();
        assert_eq!(rest.entries.len(), 3);
        assert!(rest.next_token.is_empty());
        let e =
            f.c.list_volumes(Request::new(ListVolumesRequest {
                max_entries: 0,
                starting_token: "invalid-token".into(),
            }))
            .await
            .expect_err("bad token");
        assert_eq!(e.code(), tonic::Code::Aborted);
    }

    #[tokio::test]
    async fn expansion_grows_the_image_and_never_shrinks() {
        let f = fixture(false);
        let v = create(&f, "pvc-1", 16).await;
        let expand = |mib: i64| ControllerExpandVolumeRequest {
            volume_id: v.volume_id.clone(),
            capacity_range: Some(CapacityRange {
                required_bytes: mib * MIB as i64,
                limit_bytes: 0,
            }),
            ..Default::default()
        };
        let r =
            f.c.controller_expand_volume(Request::new(expand(32)))
                .await
                .expect("grow")
                .into_inner();
        assert_eq!(r.capacity_bytes, 32 * MIB as i64);
        assert!(r.node_expansion_required);
        let r =
            f.c.controller_expand_volume(Request::new(expand(16)))
                .await
                .expect("no shrink")
                .into_inner();
        assert_eq!(r.capacity_bytes, 32 * MIB as i64);
        // Offline-only expansion refuses an attached volume.
        register(&f, "node-a");
        f.c.controller_publish_volume(Request::new(publish_req(&v.volume_id, "node-a")))
            .await
            .expect("attach");
        let e =
            f.c.controller_expand_volume(Request::new(expand(64)))
                .await
                .expect_err("attached");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    }

    #[tokio::test]
    async fn validate_confirms_only_what_is_served() {
        let f = fixture(true);
        let v = create(&f, "pvc-1", 16).await;
        let req = |c: VolumeCapability| ValidateVolumeCapabilitiesRequest {
            volume_id: v.volume_id.clone(),
            volume_capabilities: vec![c],
            ..Default::default()
        };
        let ok =
            f.c.validate_volume_capabilities(Request::new(req(cap(Mode::SingleNodeWriter))))
                .await
                .expect("validate")
                .into_inner();
        assert!(ok.confirmed.is_some());
        let no =
            f.c.validate_volume_capabilities(Request::new(req(cap(Mode::MultiNodeMultiWriter))))
                .await
                .expect("validate")
                .into_inner();
        assert!(no.confirmed.is_none() && !no.message.is_empty());
    }
}
