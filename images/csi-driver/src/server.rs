//! Serving: the CSI socket, and in node mode the kubelet registration
//! socket, until SIGTERM (the pod is deleted) or until the kubelet refuses
//! the registration (then the process exits 1 so the pod restarts where
//! someone notices).

use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;
use std::sync::Arc;

use tokio::io::DuplexStream;
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::transport::Server;

use crate::authority;
use crate::cli::Serve;
use crate::controller::ControllerService;
use crate::error::{Error, Result};
use crate::ext4;
use crate::identity::IdentityService;
use crate::node::NodeService;
use crate::proto::csi::controller_server::ControllerServer;
use crate::proto::csi::identity_server::IdentityServer;
use crate::proto::csi::node_server::NodeServer;
use crate::proto::pluginregistration::registration_server::RegistrationServer;
use crate::registration::RegistrationService;
use crate::rpc::log;
use crate::san::San;
use crate::{CSI_SPEC_VERSION, DRIVER_NAME, VENDOR_VERSION};

/// How serving ended.
#[derive(Debug)]
pub enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// The kubelet said no; its error.
    RegistrationRefused(String),
}

/// Bind a unix socket at `path`, replacing a stale one (a previous run's
/// socket outlives its process and would make bind fail with EADDRINUSE).
///
/// # Errors
/// [`Error::Io`], also when something that is not a socket is in the way.
pub fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(Error::io("remove the stale socket", path))?;
        }
        Ok(_) => {
            return Err(Error::FailedPrecondition(format!(
                "{} exists and is not a socket: refusing to replace it",
                path.display()
            )));
        }
        Err(_) => {}
    }
    UnixListener::bind(path).map_err(Error::io("listen on", path))
}

/// Accept kubelet connections on the registration socket and hand each to
/// the gRPC server through [`authority::relay`].
async fn accept_rewriting(
    listener: UnixListener,
    conns: mpsc::Sender<std::io::Result<DuplexStream>>,
) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                log(format_args!("registration socket: accept failed: {e}"));
                continue;
            }
        };
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        if conns.send(Ok(theirs)).await.is_err() {
            return; // the server stopped
        }
        tokio::spawn(async move {
            if let Err(e) = authority::relay(client, ours).await {
                log(format_args!("registration connection: {e}"));
            }
        });
    }
}

/// Serve until told to stop.
///
/// # Errors
/// [`Error::Io`] when a socket cannot be bound, [`Error::Internal`] when
/// the gRPC server fails.
pub async fn serve(config: Serve, san: Arc<San>) -> Result<Stopped> {
    let online_expansion = ext4::has_cap_sys_resource();
    log(format_args!(
        "{DRIVER_NAME} {VENDOR_VERSION} (CSI spec {CSI_SPEC_VERSION}) mode={:?} node={} san={} endpoint={} expansion={}",
        config.mode,
        config
            .node_id
            .as_ref()
            .map_or("-".to_owned(), ToString::to_string),
        san.root().display(),
        config.endpoint.display(),
        if online_expansion {
            "online"
        } else {
            "offline (no CAP_SYS_RESOURCE: the kernel refuses to grow a mounted ext4)"
        }
    ));
    let node = match (&config.node_id, config.mode.node()) {
        (Some(id), true) => {
            san.register_node(id)?;
            Some(NodeService::new(id.clone(), san.clone()))
        }
        _ => None,
    };
    let controller = config
        .mode
        .controller()
        .then(|| ControllerService::new(san.clone(), online_expansion));
    let identity = IdentityService {
        controller: config.mode.controller(),
        online_expansion,
        san: san.clone(),
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let csi_listener = bind(&config.endpoint)?;
    let csi = Server::builder()
        .add_service(IdentityServer::new(identity))
        .add_optional_service(controller.map(ControllerServer::new))
        .add_optional_service(node.map(NodeServer::new))
        .serve_with_incoming_shutdown(
            UnixListenerStream::new(csi_listener),
            stopped(stop_rx.clone()),
        );
    let csi = tokio::spawn(csi);

    let (refused_tx, mut refused_rx) = mpsc::channel(1);
    let registration = match &config.registration {
        Some(reg) => {
            let listener = bind(&reg.socket)?;
            log(format_args!(
                "registration socket {} announces {}",
                reg.socket.display(),
                reg.kubelet_endpoint.display()
            ));
            let service = RegistrationService {
                kubelet_endpoint: reg.kubelet_endpoint.clone(),
                refused: refused_tx,
            };
            // Each kubelet connection goes through the authority rewrite
            // (crate::authority says why) to the gRPC server on an
            // in-process pipe.
            let (conns_tx, conns_rx) = mpsc::channel::<std::io::Result<DuplexStream>>(4);
            tokio::spawn(accept_rewriting(listener, conns_tx));
            Some(tokio::spawn(
                Server::builder()
                    .add_service(RegistrationServer::new(service))
                    .serve_with_incoming_shutdown(
                        ReceiverStream::new(conns_rx),
                        stopped(stop_rx.clone()),
                    ),
            ))
        }
        None => {
            drop(refused_tx);
            None
        }
    };
    log(format_args!("serving CSI on {}", config.endpoint.display()));

    let mut term = signal(SignalKind::terminate()).map_err(Error::io("watch", "SIGTERM"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::io("watch", "SIGINT"))?;
    let why = tokio::select! {
        _ = term.recv() => Stopped::Signal,
        _ = int.recv() => Stopped::Signal,
        Some(error) = refused_rx.recv() => Stopped::RegistrationRefused(error),
    };
    let _ = stop_tx.send(true);
    for (name, task) in [("CSI", Some(csi)), ("registration", registration)] {
        if let Some(task) = task {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log(format_args!("{name} server ended with an error: {e}")),
                Err(e) => log(format_args!("{name} server task failed: {e}")),
            }
        }
    }
    // Sockets of a stopped plugin would make the kubelet dial a dead end.
    let _ = std::fs::remove_file(&config.endpoint);
    if let Some(reg) = &config.registration {
        let _ = std::fs::remove_file(&reg.socket);
    }
    Ok(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bind_replaces_a_stale_socket_but_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("sub/csi.sock");
        let first = bind(&sock).expect("bind");
        drop(first); // the socket file stays, as after a crash
        assert!(sock.exists());
        let _second = bind(&sock).expect("rebind over the stale socket");
        let file = dir.path().join("not-a-socket");
        std::fs::write(&file, "data").expect("write");
        assert!(matches!(bind(&file), Err(Error::FailedPrecondition(_))));
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "data");
    }
}
