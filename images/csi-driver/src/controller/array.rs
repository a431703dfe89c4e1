//! The storage array's management plane: each Controller RPC's logic on
//! the SAN (create, copy, grow, delete images; attach records), behind one
//! lock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use prost_types::Timestamp;
use tokio::sync::Mutex;

use crate::access::{self, AccessMode};
use crate::capacity::{MIN_VOLUME_BYTES, Range};
use crate::error::{Error, Result};
use crate::ids::{NodeId, SnapshotId, VolumeId};
use crate::loopdev;
use crate::paging;
use crate::proto::csi::volume_content_source::{self, SnapshotSource, VolumeSource};
use crate::proto::csi::*;
use crate::san::{self, Attachment, San, SnapshotRecord, Source, VolumeRecord};

/// Parameter keys the driver accepts: Kubernetes' external-provisioner and
/// external-snapshotter pass their own metadata under this prefix.
const RESERVED_PARAMETER_PREFIX: &str = "csi.storage.k8s.io/";

/// The array's state: the SAN and the lock every state change takes.
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) san: Arc<San>,
    pub(super) lock: Mutex<()>,
    pub(super) online_expansion: bool,
    pub(super) sysfs: PathBuf,
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

pub(super) fn requested_source(source: Option<&VolumeContentSource>) -> Result<Option<Source>> {
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
    pub(super) async fn create_volume(
        &self,
        req: CreateVolumeRequest,
    ) -> Result<CreateVolumeResponse> {
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
            Some(source) => {
                // A copy of the source's image: a snapshot's or a volume's.
                let (from, had) = match source {
                    Source::Snapshot(snap) => {
                        let found = SnapshotId::parse(snap).map(|s| (self.san.snapshot(&s), s));
                        match found {
                            Some((Ok(Some(r)), sid)) => {
                                (self.san.snapshot_image(&sid), r.size_bytes)
                            }
                            Some((Err(e), _)) => return Err(e),
                            _ => return Err(not_found("snapshot", snap)),
                        }
                    }
                    Source::Volume(vol) => {
                        let found = VolumeId::parse(vol).map(|v| (self.san.volume(&v), v));
                        match found {
                            Some((Ok(Some(r)), vid)) => {
                                (self.san.volume_image(&vid), r.capacity_bytes)
                            }
                            Some((Err(e), _)) => return Err(e),
                            _ => return Err(not_found("volume", vol)),
                        }
                    }
                };
                let size = range.size_from_source(had)?;
                self.san.ensure_room(size, &format!("volume {name:?}"))?;
                self.san.copy_image(&from, &image, size).await?;
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

    pub(super) async fn delete_volume(
        &self,
        req: DeleteVolumeRequest,
    ) -> Result<DeleteVolumeResponse> {
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

    pub(super) async fn publish(
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

    pub(super) async fn unpublish(
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

    pub(super) fn validate(
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

    pub(super) fn list_volumes(&self, req: ListVolumesRequest) -> Result<ListVolumesResponse> {
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

    pub(super) fn capacity(&self, req: GetCapacityRequest) -> Result<GetCapacityResponse> {
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

    pub(super) async fn create_snapshot(
        &self,
        req: CreateSnapshotRequest,
    ) -> Result<CreateSnapshotResponse> {
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

    pub(super) async fn delete_snapshot(
        &self,
        req: DeleteSnapshotRequest,
    ) -> Result<DeleteSnapshotResponse> {
        let raw = required(&req.snapshot_id, "snapshot_id")?;
        if let Some(id) = SnapshotId::parse(raw) {
            // Restored volumes are full copies: a snapshot is never in use.
            let _guard = self.lock.lock().await;
            self.san.remove_snapshot(&id)?;
        }
        Ok(DeleteSnapshotResponse {})
    }

    pub(super) fn list_snapshots(
        &self,
        req: ListSnapshotsRequest,
    ) -> Result<ListSnapshotsResponse> {
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

    pub(super) fn get_snapshot(&self, req: GetSnapshotRequest) -> Result<GetSnapshotResponse> {
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

    pub(super) async fn expand(
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
