//! The node plugin over its real sockets, as the kubelet meets it: the
//! registration socket answers GetInfo with the CSI socket's kubelet-side
//! path, the CSI socket answers, and a refused registration ends the
//! process's serving with the kubelet's error (and removes both sockets).
//! No mounts: runs as any user.

use std::sync::Arc;
use std::time::Duration;

use storage_e2e_csi::DRIVER_NAME;
use storage_e2e_csi::cli::{Mode, Registration, Serve};
use storage_e2e_csi::ids::NodeId;
use storage_e2e_csi::proto::csi::identity_client::IdentityClient;
use storage_e2e_csi::proto::csi::node_client::NodeClient;
use storage_e2e_csi::proto::csi::{GetPluginInfoRequest, NodeGetInfoRequest};
use storage_e2e_csi::proto::pluginregistration::registration_client::RegistrationClient;
use storage_e2e_csi::proto::pluginregistration::{InfoRequest, RegistrationStatus};
use storage_e2e_csi::san::San;
use storage_e2e_csi::server::{Stopped, serve};
use tonic::transport::{Channel, Endpoint};

async fn connect(path: &std::path::Path) -> Channel {
    let endpoint = Endpoint::from_shared(format!("unix://{}", path.display())).expect("endpoint");
    for _ in 0..100 {
        if let Ok(c) = endpoint.connect().await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing serves on {}", path.display());
}

#[tokio::test]
async fn a_node_plugin_registers_and_stops_when_the_kubelet_refuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let san_dir = dir.path().join("san");
    std::fs::create_dir(&san_dir).expect("mkdir");
    let san = Arc::new(San::open(&san_dir).expect("san"));
    let csi_socket = dir.path().join("csi/csi.sock");
    let reg_socket = dir.path().join("plugins_registry/reg.sock");
    let config = Serve {
        mode: Mode::Node,
        endpoint: csi_socket.clone(),
        san: san_dir.clone(),
        node_id: Some(NodeId::parse("kind-worker").expect("node")),
        registration: Some(Registration {
            socket: reg_socket.clone(),
            kubelet_endpoint: "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock".into(),
        }),
    };
    let serving = tokio::spawn(serve(config, san));

    let mut reg = RegistrationClient::new(connect(&reg_socket).await);
    let info = reg
        .get_info(InfoRequest {})
        .await
        .expect("GetInfo")
        .into_inner();
    assert_eq!(info.r#type, "CSIPlugin");
    assert_eq!(info.name, DRIVER_NAME);
    assert_eq!(
        info.endpoint,
        "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock"
    );
    assert_eq!(info.supported_versions, vec!["1.0.0".to_owned()]);

    // What the kubelet does next: Identity and NodeGetInfo on the CSI socket.
    let csi = connect(&csi_socket).await;
    let plugin = IdentityClient::new(csi.clone())
        .get_plugin_info(GetPluginInfoRequest {})
        .await
        .expect("GetPluginInfo")
        .into_inner();
    assert_eq!(plugin.name, DRIVER_NAME);
    let node = NodeClient::new(csi)
        .node_get_info(NodeGetInfoRequest {})
        .await
        .expect("NodeGetInfo")
        .into_inner();
    assert_eq!(node.node_id, "kind-worker");
    assert!(
        san_dir.join("nodes/kind-worker.json").is_file(),
        "the node registered on the SAN"
    );

    reg.notify_registration_status(RegistrationStatus {
        plugin_registered: false,
        error: "plugin name already registered".into(),
    })
    .await
    .expect("NotifyRegistrationStatus");
    let stopped = tokio::time::timeout(Duration::from_secs(10), serving)
        .await
        .expect("serving ends after a refusal")
        .expect("task")
        .expect("serve");
    assert!(
        matches!(&stopped, Stopped::RegistrationRefused(e) if e == "plugin name already registered"),
        "{stopped:?}"
    );
    assert!(
        !csi_socket.exists() && !reg_socket.exists(),
        "sockets removed"
    );
}
