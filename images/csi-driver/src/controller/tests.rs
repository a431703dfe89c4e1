//! Unit tests of the Controller service, on a SAN in a temp dir.

use std::sync::Arc;

use tonic::Request;

use super::*;
use crate::capacity::MIB;
use crate::ids::{NodeId, VolumeId};
use crate::proto::csi::controller_server::Controller as _;
use crate::proto::csi::volume_capability::access_mode::Mode;
use crate::proto::csi::volume_capability::{AccessMode as ProtoMode, AccessType, MountVolume};
use crate::proto::csi::volume_content_source::{self, SnapshotSource};
use crate::proto::csi::*;
use crate::san::{self, San};

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
    let e =
        f.c.controller_publish_volume(Request::new(publish_req(&v.volume_id, "fake-node-id-1")))
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
