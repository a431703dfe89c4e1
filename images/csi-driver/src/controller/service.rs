//! The gRPC Controller service: one log line per call, the work in
//! `array`.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;
use tonic::{Request, Response, Status};

use super::array::{Inner, requested_source};
use crate::loopdev;
use crate::proto::csi::controller_server::Controller;
use crate::proto::csi::controller_service_capability::{self, rpc};
use crate::proto::csi::*;
use crate::rpc::handle;
use crate::san::San;

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
