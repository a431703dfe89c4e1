//! The registration call as the kubelet really makes it: gRPC-Go dials the
//! socket path and sends that path as the HTTP/2 `:authority`
//! (kubernetes#108254). Spoken here frame by frame, since no Rust HTTP/2
//! client will send such an authority. Through the driver's registration
//! socket it must get an answer; straight to a plain tonic server the same
//! bytes must be refused, or the rewrite would be proving nothing.

use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use storage_e2e_csi::DRIVER_NAME;
use storage_e2e_csi::authority::PREFACE;
use storage_e2e_csi::cli::{Mode, Registration, Serve};
use storage_e2e_csi::ids::NodeId;
use storage_e2e_csi::proto::pluginregistration::PluginInfo;
use storage_e2e_csi::proto::pluginregistration::registration_server::RegistrationServer;
use storage_e2e_csi::registration::RegistrationService;
use storage_e2e_csi::san::San;
use storage_e2e_csi::server::serve;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};

const REG_SOCKET_AS_AUTHORITY: &[u8] =
    b"/var/lib/kubelet/plugins_registry/loop.csi.storage-e2e.test-reg.sock";
const KUBELET_ENDPOINT: &str = "/var/lib/kubelet/plugins/loop.csi.storage-e2e.test/csi.sock";

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Preface, empty SETTINGS, then GetInfo on stream 1 with the socket path
/// as `:authority` and an empty InfoRequest (gRPC frame: no compression,
/// length 0).
fn kubelet_get_info() -> Vec<u8> {
    let mut enc = fluke_hpack::Encoder::new();
    let fields: Vec<(&[u8], &[u8])> = vec![
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/pluginregistration.Registration/GetInfo"),
        (b":authority", REG_SOCKET_AS_AUTHORITY),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ];
    let block = enc.encode(fields);
    let mut out = PREFACE.to_vec();
    out.extend(frame(0x4, 0, 0, &[])); // SETTINGS
    out.extend(frame(0x1, 0x4, 1, &block)); // HEADERS, END_HEADERS
    out.extend(frame(0x0, 0x1, 1, &[0, 0, 0, 0, 0])); // DATA, END_STREAM
    out
}

/// What came back on stream 1.
#[derive(Debug, Default)]
struct Answer {
    /// RST_STREAM error code, if the stream was reset.
    reset: Option<u32>,
    /// Response header and trailer fields.
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    /// The gRPC message bytes (after the 5-byte prefix).
    message: Vec<u8>,
}

async fn exchange(socket: &std::path::Path) -> Answer {
    let mut s = UnixStream::connect(socket).await.expect("connect");
    s.write_all(&kubelet_get_info()).await.expect("write");
    let mut answer = Answer::default();
    let mut decoder = fluke_hpack::Decoder::new();
    let read = async {
        loop {
            let mut head = [0u8; 9];
            if s.read_exact(&mut head).await.is_err() {
                return;
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let (kind, flags) = (head[3], head[4]);
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            let mut payload = vec![0u8; len];
            s.read_exact(&mut payload).await.expect("payload");
            match (kind, stream) {
                (0x4, 0) if flags & 0x1 == 0 => {
                    // ACK the server's SETTINGS, as a client must.
                    s.write_all(&frame(0x4, 0x1, 0, &[])).await.expect("ack");
                }
                (0x1, 1) => {
                    let fields = decoder.decode(&payload).expect("response headers");
                    answer.fields.extend(fields);
                    if flags & 0x1 != 0 {
                        return;
                    }
                }
                (0x0, 1) => answer
                    .message
                    .extend_from_slice(payload.get(5..).unwrap_or(&[])),
                (0x3, 1) => {
                    answer.reset = Some(u32::from_be_bytes([
                        payload[0], payload[1], payload[2], payload[3],
                    ]));
                    return;
                }
                (0x7, _) => return, // GOAWAY
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s");
    answer
}

fn field<'a>(a: &'a Answer, name: &[u8]) -> Option<&'a [u8]> {
    a.fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

async fn wait_for(path: &std::path::Path) {
    for _ in 0..100 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn the_kubelets_get_info_is_answered_through_the_registration_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let san_dir = dir.path().join("san");
    std::fs::create_dir(&san_dir).expect("mkdir");
    let san = Arc::new(San::open(&san_dir).expect("san"));
    let reg_socket = dir.path().join("plugins_registry/reg.sock");
    let config = Serve {
        mode: Mode::Node,
        endpoint: dir.path().join("csi/csi.sock"),
        san: san_dir,
        node_id: Some(NodeId::parse("kind-worker").expect("node")),
        registration: Some(Registration {
            socket: reg_socket.clone(),
            kubelet_endpoint: KUBELET_ENDPOINT.into(),
        }),
    };
    let serving = tokio::spawn(serve(config, san));
    wait_for(&reg_socket).await;

    let answer = exchange(&reg_socket).await;
    assert_eq!(answer.reset, None, "{answer:?}");
    assert_eq!(field(&answer, b":status"), Some(&b"200"[..]), "{answer:?}");
    assert_eq!(
        field(&answer, b"grpc-status"),
        Some(&b"0"[..]),
        "{answer:?}"
    );
    let info = PluginInfo::decode(answer.message.as_slice()).expect("PluginInfo");
    assert_eq!(info.name, DRIVER_NAME);
    assert_eq!(info.endpoint, KUBELET_ENDPOINT);
    serving.abort();
}

/// The negative control: the same bytes straight to tonic are refused, so
/// the test above passes because of the rewrite.
#[tokio::test]
async fn the_same_call_to_a_plain_tonic_server_is_reset_as_malformed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("plain.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let service = RegistrationService {
        kubelet_endpoint: KUBELET_ENDPOINT.into(),
        refused: tx,
    };
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RegistrationServer::new(service))
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
    );
    let answer = exchange(&socket).await;
    // RST_STREAM PROTOCOL_ERROR (RFC 9113 7: 0x1).
    assert_eq!(answer.reset, Some(0x1), "{answer:?}");
    assert!(answer.message.is_empty());
    server.abort();
}
