//! Registration with the kubelet, done by the driver itself (the job
//! node-driver-registrar does elsewhere; it cannot be built here).
//!
//! The kubelet's plugin watcher notices a socket in
//! `/var/lib/kubelet/plugins_registry/`, calls `GetInfo` on it, dials the
//! CSI endpoint it names, asks `NodeGetInfo`, fills the node's CSINode
//! object (which the external-attacher needs before it attaches anything)
//! and reports back with `NotifyRegistrationStatus`. API:
//! k8s.io/kubelet `pkg/apis/pluginregistration/v1/api.proto`.

use std::path::PathBuf;

use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use crate::DRIVER_NAME;
use crate::error::Result;
use crate::proto::pluginregistration::registration_server::Registration;
use crate::proto::pluginregistration::{
    InfoRequest, PluginInfo, RegistrationStatus, RegistrationStatusResponse,
};
use crate::rpc::handle;

/// `PluginInfo.type` for a CSI driver.
pub const CSI_PLUGIN_TYPE: &str = "CSIPlugin";
/// The CSI versions the driver speaks, as the kubelet expects them.
pub const SUPPORTED_VERSIONS: [&str; 1] = ["1.0.0"];

/// The registration service of one node plugin.
#[derive(Debug, Clone)]
pub struct RegistrationService {
    /// The CSI socket as the kubelet sees it (a host path, not the path in
    /// this container).
    pub kubelet_endpoint: PathBuf,
    /// Where a refused registration is reported, so the process can exit.
    pub refused: mpsc::Sender<String>,
}

#[tonic::async_trait]
impl Registration for RegistrationService {
    async fn get_info(
        &self,
        _request: Request<InfoRequest>,
    ) -> std::result::Result<Response<PluginInfo>, Status> {
        let endpoint = self.kubelet_endpoint.display().to_string();
        handle(
            "Registration.GetInfo",
            String::new(),
            async move {
                Ok(PluginInfo {
                    r#type: CSI_PLUGIN_TYPE.into(),
                    name: DRIVER_NAME.into(),
                    // A plain path: the kubelet dials it as a unix socket.
                    endpoint,
                    supported_versions: SUPPORTED_VERSIONS
                        .iter()
                        .map(|v| (*v).to_owned())
                        .collect(),
                })
            },
            |i| format!("{} {} endpoint={}", i.r#type, i.name, i.endpoint),
        )
        .await
    }

    async fn notify_registration_status(
        &self,
        request: Request<RegistrationStatus>,
    ) -> std::result::Result<Response<RegistrationStatusResponse>, Status> {
        let status = request.into_inner();
        let refused = self.refused.clone();
        let subject = format!("registered={}", status.plugin_registered);
        handle(
            "Registration.NotifyRegistrationStatus",
            subject,
            async move {
                if !status.plugin_registered {
                    // Exit non-zero so the pod restarts where everyone sees
                    // it, instead of a plugin the kubelet ignores.
                    let _ = refused.send(status.error.clone()).await;
                }
                Result::Ok(RegistrationStatusResponse {})
            },
            |_| String::new(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn get_info_names_the_driver_and_a_plain_socket_path() {
        let (tx, _rx) = mpsc::channel(1);
        let s = RegistrationService {
            kubelet_endpoint: "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock".into(),
            refused: tx,
        };
        let info = s
            .get_info(Request::new(InfoRequest {}))
            .await
            .expect("info")
            .into_inner();
        assert_eq!(info.r#type, "CSIPlugin");
        assert_eq!(info.name, DRIVER_NAME);
        assert_eq!(
            info.endpoint,
            "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock"
        );
        assert_eq!(info.supported_versions, vec!["1.0.0".to_owned()]);
    }

    #[tokio::test]
    async fn a_refusal_is_passed_on_and_a_success_is_not() {
        let (tx, mut rx) = mpsc::channel(1);
        let s = RegistrationService {
            kubelet_endpoint: "/x.sock".into(),
            refused: tx,
        };
        s.notify_registration_status(Request::new(RegistrationStatus {
            plugin_registered: true,
            error: String::new(),
        }))
        .await
        .expect("ok");
        assert!(rx.try_recv().is_err());
        s.notify_registration_status(Request::new(RegistrationStatus {
            plugin_registered: false,
            error: "version mismatch".into(),
        }))
        .await
        .expect("ok");
        assert_eq!(rx.try_recv().ok(), Some("version mismatch".to_owned()));
    }
}
