//! The gRPC code build.rs generates from the CSI spec and the kubelet's
//! plugin-registration API (see build.rs for where the .proto files come
//! from). Generated code is not held to the crate's lints.

/// CSI (`csi.v1`): Identity, Controller and Node services and messages.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod csi {
    tonic::include_proto!("csi.v1");
}

/// The kubelet's plugin registration (`pluginregistration`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pluginregistration {
    tonic::include_proto!("pluginregistration");
}
