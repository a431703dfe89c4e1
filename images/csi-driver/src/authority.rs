//! The kubelet's registration call, made acceptable to the Rust HTTP/2
//! stack.
//!
//! Why this exists: the kubelet's plugin watcher dials the registration
//! socket with gRPC-Go's passthrough target, so its requests carry the
//! socket's path as the HTTP/2 `:authority`
//! (pkg/kubelet/pluginmanager/operationexecutor/operation_generator.go at
//! v1.35.8 and v1.36.4 sets no authority; kubernetes#108254, whose fix
//! kubernetes PR #112597 covered only the kubelet's CSI client). A path is
//! not an authority (RFC 3986 3.2), and the `h2` crate under tonic refuses
//! such a request as malformed with RST_STREAM PROTOCOL_ERROR (h2
//! src/server.rs, "malformed authority"), so the kubelet never learns the
//! driver exists and no volume can be attached. Node-driver-registrar
//! (Go) is not served on these machines.
//!
//! So the registration socket is served through this small proxy: it reads
//! the kubelet's HTTP/2 frames, decodes each request header block (HPACK,
//! with the kubelet's dynamic table), replaces `:authority` with
//! `localhost` (what the kubelet's own CSI client sends since PR #112597),
//! encodes the block again without touching any table (every field a
//! literal without indexing, RFC 7541 6.2.2) and passes every other frame,
//! and everything the server answers, through unchanged.

use fluke_hpack::Decoder;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The HTTP/2 client connection preface (RFC 9113 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// What `:authority` becomes.
pub const AUTHORITY: &[u8] = b"localhost";

const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The smallest SETTINGS_MAX_FRAME_SIZE a peer may announce (RFC 9113
/// 6.5.2): rewritten blocks are split at it, so they fit whatever the
/// server allows.
const MAX_FRAME: usize = 16_384;
/// A header block larger than this is not a registration call.
const MAX_BLOCK: usize = 64 * 1024;

/// Why a connection could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// The peer did not start with the HTTP/2 preface.
    #[error("the client did not start with the HTTP/2 connection preface")]
    Preface,
    /// A frame broke the rules the rewrite relies on.
    #[error("malformed HTTP/2 frame: {0}")]
    Frame(String),
    /// The header block did not decode.
    #[error("undecodable header block: {0}")]
    Hpack(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One connection's request-side state: the kubelet's HPACK table and a
/// header block whose CONTINUATION frames have not all arrived.
pub struct Rewriter {
    decoder: Decoder<'static>,
    pending: Option<(u32, u8, Vec<u8>)>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Rewriter {
    /// A rewriter for a new connection.
    pub fn new() -> Self {
        Self {
            decoder: Decoder::new(),
            pending: None,
        }
    }

    /// Take one frame from the client (`head`: the 9-byte frame header)
    /// and return what to send to the server instead: the frame itself,
    /// nothing (a header block still waiting for its CONTINUATION), or a
    /// rewritten header block.
    ///
    /// # Errors
    /// [`RewriteError`] for frames that break HTTP/2's framing rules or a
    /// header block that does not decode.
    pub fn frame(&mut self, head: [u8; 9], payload: Vec<u8>) -> Result<Vec<u8>, RewriteError> {
        let kind = head[3];
        let flags = head[4];
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        match (kind, self.pending.take()) {
            (HEADERS, None) => {
                let fragment = header_fragment(flags, &payload)?;
                self.block(stream, flags, fragment.to_vec())
            }
            (CONTINUATION, Some((s, first_flags, mut block))) if s == stream => {
                block.extend_from_slice(&payload);
                if block.len() > MAX_BLOCK {
                    return Err(RewriteError::Frame("header block too large".into()));
                }
                self.block(stream, first_flags | (flags & END_HEADERS), block)
            }
            (_, Some((s, _, _))) => Err(RewriteError::Frame(format!(
                "frame type {kind} while stream {s}'s header block awaits its CONTINUATION"
            ))),
            (CONTINUATION, None) => Err(RewriteError::Frame(
                "CONTINUATION without a header block".into(),
            )),
            _ => {
                let mut out = head.to_vec();
                out.extend_from_slice(&payload);
                Ok(out)
            }
        }
    }

    fn block(&mut self, stream: u32, flags: u8, block: Vec<u8>) -> Result<Vec<u8>, RewriteError> {
        if flags & END_HEADERS == 0 {
            self.pending = Some((stream, flags, block));
            return Ok(Vec::new());
        }
        let fields = self
            .decoder
            .decode(&block)
            .map_err(|e| RewriteError::Hpack(format!("{e:?}")))?;
        let mut encoded = Vec::with_capacity(block.len());
        for (name, value) in &fields {
            let value: &[u8] = if name == b":authority" {
                AUTHORITY
            } else {
                value
            };
            literal(name, value, &mut encoded);
        }
        Ok(frames(stream, flags & END_STREAM, &encoded))
    }
}

/// The header block fragment of a HEADERS frame: without padding and
/// priority fields (RFC 9113 6.2), which the rewritten frame drops.
fn header_fragment(flags: u8, payload: &[u8]) -> Result<&[u8], RewriteError> {
    let mut start = 0;
    let mut end = payload.len();
    if flags & PADDED != 0 {
        let pad = usize::from(*payload.first().ok_or_else(short)?);
        start += 1;
        end = end.checked_sub(pad).ok_or_else(short)?;
    }
    if flags & PRIORITY != 0 {
        start += 5;
    }
    payload.get(start..end).ok_or_else(short)
}

fn short() -> RewriteError {
    RewriteError::Frame("HEADERS frame shorter than its padding and priority fields".into())
}

/// A field as "literal header field without indexing, new name" (RFC 7541
/// 6.2.2): no dynamic table entry, so the server's table never depends on
/// what this proxy did.
fn literal(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.push(0x00);
    for s in [name, value] {
        integer(s.len(), 7, 0x00, out);
        out.extend_from_slice(s);
    }
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 5.1).
fn integer(mut value: usize, n: u8, mask: u8, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(mask | value as u8);
        return;
    }
    out.push(mask | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

/// `block` as one HEADERS frame (END_HEADERS) or, when larger than
/// [`MAX_FRAME`], HEADERS plus CONTINUATION frames.
fn frames(stream: u32, end_stream: u8, block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 18);
    let chunks: Vec<&[u8]> = if block.is_empty() {
        vec![&[][..]]
    } else {
        block.chunks(MAX_FRAME).collect()
    };
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let kind = if i == 0 { HEADERS } else { CONTINUATION };
        let mut flags = if i == last { END_HEADERS } else { 0 };
        if i == 0 {
            flags |= end_stream;
        }
        let len = chunk.len() as u32;
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.push(kind);
        out.push(flags);
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// Relay one connection: `client` (the kubelet) to `server` (the tonic
/// registration service), rewriting requests, answers passed back as
/// they are. Ends when either side closes.
///
/// # Errors
/// [`RewriteError`] when the client's bytes are not HTTP/2 as the rewrite
/// expects, or a side fails.
pub async fn relay<C, S>(client: C, server: S) -> Result<(), RewriteError>
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut server_rd, mut server_wr) = tokio::io::split(server);
    let requests = async {
        let mut preface = [0u8; 24];
        client_rd.read_exact(&mut preface).await?;
        if &preface != PREFACE {
            return Err(RewriteError::Preface);
        }
        server_wr.write_all(&preface).await?;
        let mut rewriter = Rewriter::new();
        loop {
            let mut head = [0u8; 9];
            match client_rd.read_exact(&mut head).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e.into()),
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            if len > MAX_BLOCK {
                return Err(RewriteError::Frame(format!("a {len}-byte frame")));
            }
            let mut payload = vec![0u8; len];
            client_rd.read_exact(&mut payload).await?;
            let out = rewriter.frame(head, payload)?;
            if !out.is_empty() {
                server_wr.write_all(&out).await?;
            }
        }
        server_wr.shutdown().await?;
        Ok::<_, RewriteError>(())
    };
    let answers = async {
        tokio::io::copy(&mut server_rd, &mut client_wr).await?;
        client_wr.shutdown().await?;
        Ok::<_, RewriteError>(())
    };
    let (r, a) = tokio::join!(requests, answers);
    r.and(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: usize, kind: u8, flags: u8, stream: u32) -> [u8; 9] {
        let l = (len as u32).to_be_bytes();
        let s = stream.to_be_bytes();
        [l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]]
    }

    fn decode_frames(bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
            let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]);
            out.push((rest[3], rest[4], stream, rest[9..9 + len].to_vec()));
            rest = &rest[9 + len..];
        }
        out
    }

    /// The kubelet's request headers, HPACK-encoded as a client would
    /// (fluke-hpack's encoder indexes them into its dynamic table).
    fn kubelet_block(enc: &mut fluke_hpack::Encoder<'_>) -> Vec<u8> {
        let fields: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", b"/pluginregistration.Registration/GetInfo"),
            (
                b":authority",
                b"/var/lib/kubelet/plugins_registry/loop.csi.storage-e2e.test-reg.sock",
            ),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
        ];
        enc.encode(fields)
    }

    #[test]
    fn the_authority_becomes_localhost_and_every_other_field_stays() {
        let mut enc = fluke_hpack::Encoder::new();
        let mut rw = Rewriter::new();
        // Twice: the second block refers to the kubelet's dynamic table.
        for _ in 0..2 {
            let block = kubelet_block(&mut enc);
            let out = rw
                .frame(head(block.len(), HEADERS, END_HEADERS, 1), block)
                .expect("rewritten");
            let frames = decode_frames(&out);
            assert_eq!(frames.len(), 1);
            let (kind, flags, stream, payload) = &frames[0];
            assert_eq!((*kind, *flags, *stream), (HEADERS, END_HEADERS, 1));
            let fields = Decoder::new().decode(payload).expect("decodes alone");
            let get = |n: &[u8]| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
            assert_eq!(get(b":authority").as_deref(), Some(AUTHORITY));
            assert_eq!(
                get(b":path").as_deref(),
                Some(&b"/pluginregistration.Registration/GetInfo"[..])
            );
            assert_eq!(fields.len(), 6);
        }
    }

    #[test]
    fn padding_priority_and_continuations_are_folded_into_one_block() {
        let mut enc = fluke_hpack::Encoder::new();
        let block = kubelet_block(&mut enc);
        let (a, b) = block.split_at(10);
        let mut first = vec![3u8]; // pad length
        first.extend_from_slice(&[0, 0, 0, 0, 16]); // priority
        first.extend_from_slice(a);
        first.extend_from_slice(&[0, 0, 0]); // padding
        let mut rw = Rewriter::new();
        let held = rw
            .frame(
                head(first.len(), HEADERS, PADDED | PRIORITY | END_STREAM, 3),
                first,
            )
            .expect("held");
        assert!(held.is_empty(), "waits for its CONTINUATION");
        let out = rw
            .frame(head(b.len(), CONTINUATION, END_HEADERS, 3), b.to_vec())
            .expect("rewritten");
        let frames = decode_frames(&out);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].1, END_HEADERS | END_STREAM);
        let fields = Decoder::new().decode(&frames[0].3).expect("decodes");
        assert!(fields.contains(&(b":authority".to_vec(), AUTHORITY.to_vec())));
    }

    #[test]
    fn other_frames_pass_unchanged_and_broken_sequences_are_refused() {
        let mut rw = Rewriter::new();
        let data = vec![0, 0, 0, 0, 0];
        let out = rw
            .frame(head(5, 0x0, END_STREAM, 1), data.clone())
            .expect("data");
        assert_eq!(&out[9..], &data[..]);
        assert!(
            rw.frame(head(1, CONTINUATION, END_HEADERS, 1), vec![0])
                .is_err()
        );
        let mut enc = fluke_hpack::Encoder::new();
        let block = kubelet_block(&mut enc);
        rw.frame(head(block.len(), HEADERS, 0, 1), block)
            .expect("held");
        assert!(rw.frame(head(5, 0x0, 0, 1), data).is_err());
    }

    #[test]
    fn integers_use_the_prefix_then_seven_bit_groups() {
        let mut out = Vec::new();
        integer(10, 7, 0, &mut out);
        assert_eq!(out, [10]);
        out.clear();
        integer(1337, 5, 0, &mut out);
        assert_eq!(out, [31, 154, 10], "RFC 7541 C.1.2");
    }

    #[test]
    fn large_blocks_are_split_into_continuations() {
        let block = vec![0u8; MAX_FRAME + 5];
        let frames = decode_frames(&frames(7, END_STREAM, &block));
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[0].0, frames[0].1), (HEADERS, END_STREAM));
        assert_eq!((frames[1].0, frames[1].1), (CONTINUATION, END_HEADERS));
        assert_eq!(frames[0].3.len() + frames[1].3.len(), block.len());
    }
}
