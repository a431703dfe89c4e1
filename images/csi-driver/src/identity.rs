//! The CSI Identity service: who the driver is and what it offers.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto::csi::identity_server::Identity;
use crate::proto::csi::plugin_capability::{
    self, Service, VolumeExpansion, service, volume_expansion,
};
use crate::proto::csi::{
    GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse, GetPluginInfoRequest,
    GetPluginInfoResponse, PluginCapability, ProbeRequest, ProbeResponse,
};
use crate::rpc::handle;
use crate::san::San;
use crate::{CSI_SPEC_VERSION, DRIVER_NAME, VENDOR_VERSION};

/// The Identity service of one driver process.
#[derive(Debug, Clone)]
pub struct IdentityService {
    /// Whether this process serves the Controller service.
    pub controller: bool,
    /// Whether volumes can grow while published (see `ext4`).
    pub online_expansion: bool,
    /// The SAN, whose reachability is the driver's health.
    pub san: Arc<San>,
}

impl IdentityService {
    fn capabilities(&self) -> Vec<PluginCapability> {
        let mut caps = Vec::new();
        if self.controller {
            caps.push(PluginCapability {
                r#type: Some(plugin_capability::Type::Service(Service {
                    r#type: service::Type::ControllerService as i32,
                })),
            });
        }
        // No VOLUME_ACCESSIBILITY_CONSTRAINTS: network-attached storage,
        // every node reaches every volume.
        let expansion = if self.online_expansion {
            volume_expansion::Type::Online
        } else {
            volume_expansion::Type::Offline
        };
        caps.push(PluginCapability {
            r#type: Some(plugin_capability::Type::VolumeExpansion(VolumeExpansion {
                r#type: expansion as i32,
            })),
        });
        caps
    }
}

#[tonic::async_trait]
impl Identity for IdentityService {
    async fn get_plugin_info(
        &self,
        _request: Request<GetPluginInfoRequest>,
    ) -> Result<Response<GetPluginInfoResponse>, Status> {
        handle(
            "GetPluginInfo",
            String::new(),
            async {
                Ok(GetPluginInfoResponse {
                    name: DRIVER_NAME.into(),
                    vendor_version: VENDOR_VERSION.into(),
                    manifest: HashMap::from([("csi-spec".to_owned(), CSI_SPEC_VERSION.to_owned())]),
                })
            },
            |r| format!("{} {}", r.name, r.vendor_version),
        )
        .await
    }

    async fn get_plugin_capabilities(
        &self,
        _request: Request<GetPluginCapabilitiesRequest>,
    ) -> Result<Response<GetPluginCapabilitiesResponse>, Status> {
        let capabilities = self.capabilities();
        let expansion = if self.online_expansion {
            "online"
        } else {
            "offline"
        };
        let controller = self.controller;
        handle(
            "GetPluginCapabilities",
            String::new(),
            async { Ok(GetPluginCapabilitiesResponse { capabilities }) },
            move |_| format!("controller={controller} expansion={expansion}"),
        )
        .await
    }

    async fn probe(
        &self,
        _request: Request<ProbeRequest>,
    ) -> Result<Response<ProbeResponse>, Status> {
        let san = self.san.clone();
        handle(
            "Probe",
            String::new(),
            async move {
                // A node whose SAN mount went away cannot serve a volume.
                san.free_bytes().map_err(|e| {
                    crate::error::Error::FailedPrecondition(format!(
                        "the SAN is not reachable: {}",
                        e.chain()
                    ))
                })?;
                Ok(ProbeResponse { ready: Some(true) })
            },
            |_| "ready".into(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(controller: bool, online_expansion: bool) -> (tempfile::TempDir, IdentityService) {
        let dir = tempfile::tempdir().expect("tempdir");
        let san = Arc::new(San::open(dir.path()).expect("san"));
        (
            dir,
            IdentityService {
                controller,
                online_expansion,
                san,
            },
        )
    }

    #[test]
    fn capabilities_follow_mode_and_expansion() {
        let (_d, s) = service(true, true);
        let caps = s.capabilities();
        assert_eq!(caps.len(), 2);
        assert!(matches!(
            caps[1].r#type,
            Some(plugin_capability::Type::VolumeExpansion(VolumeExpansion { r#type })) if r#type == volume_expansion::Type::Online as i32
        ));
        let (_d, s) = service(false, false);
        let caps = s.capabilities();
        assert_eq!(caps.len(), 1, "a node plugin offers no controller service");
        assert!(matches!(
            caps[0].r#type,
            Some(plugin_capability::Type::VolumeExpansion(VolumeExpansion { r#type })) if r#type == volume_expansion::Type::Offline as i32
        ));
    }

    #[tokio::test]
    async fn plugin_info_names_the_driver() {
        let (_d, s) = service(true, true);
        let info = s
            .get_plugin_info(Request::new(GetPluginInfoRequest {}))
            .await
            .expect("info")
            .into_inner();
        assert_eq!(info.name, "loop.csi.storage-e2e.test");
        assert_eq!(info.vendor_version, env!("CARGO_PKG_VERSION"));
        let probe = s
            .probe(Request::new(ProbeRequest {}))
            .await
            .expect("probe")
            .into_inner();
        assert_eq!(probe.ready, Some(true));
    }
}
