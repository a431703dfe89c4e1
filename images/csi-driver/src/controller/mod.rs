//! The CSI Controller service: the storage array's management plane.
//! Creates, copies, grows and deletes images on the SAN, and records which
//! node a volume is attached to, refusing a second node as a cloud disk
//! does (that refusal is what makes Kubernetes' Multi-Attach handling, the
//! 6-minute force detach and the out-of-service taint observable).
//!
//! Every state change happens under one lock: the CO may retry a slow call
//! while the first is still running, and the answer to the retry must be
//! the result of the first, not a race with it.
//!
//! - `array`: what the storage array does (the SAN's images and the
//!   attachment records), each RPC's logic behind one lock;
//! - `service`: the gRPC Controller service, one line of log per call.

mod array;
mod service;
#[cfg(test)]
mod tests;

pub use service::{CAPABILITIES, ControllerService};
