//! Port-forwards from 127.0.0.1 to a pod, through the Kubernetes API (what
//! `kubectl port-forward` does). Tier 2 reaches Prometheus and Grafana this
//! way, so the HTTP probes tier 1 proves against published container ports
//! run unchanged against pods, and no traffic leaves loopback.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// A running forward; stops when dropped.
#[derive(Debug)]
pub struct PortForward {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl PortForward {
    /// Listen on an ephemeral port of 127.0.0.1 and forward each connection
    /// to `port` of `pod`. A new API stream is opened per connection, so a
    /// forward survives the probe's connection churn; it does not follow
    /// the pod when it is replaced (start a new forward to the new pod).
    ///
    /// # Errors
    /// [`Error::Io`] when the local port cannot be bound.
    pub async fn start(api: Api<Pod>, pod: &str, port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("binding a local port-forward", "127.0.0.1:0", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the local port-forward address", "127.0.0.1:0", e))?;
        let pod = pod.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let api = api.clone();
                let pod = pod.clone();
                tokio::spawn(async move {
                    let Ok(mut fwd) = api.portforward(&pod, &[port]).await else {
                        return;
                    };
                    if let Some(mut upstream) = fwd.take_stream(port) {
                        let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                    }
                    drop(fwd);
                });
            }
        });
        Ok(Self { local, task })
    }

    /// `http://127.0.0.1:<port>` for the forward.
    pub fn url(&self) -> String {
        format!("http://{}", self.local)
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}
