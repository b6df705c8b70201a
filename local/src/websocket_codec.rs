//! The server side of RFC 6455, shaped for many idle sockets.
//!
//! An idle socket holds no buffer: each read lands in one buffer per worker thread, whole frames
//! are taken out of it at once, and only the bytes of an unfinished frame are kept (in a buffer
//! sized to them, freed when the frame completes). Outgoing frames are assembled per batch and
//! freed once written. No extension or subprotocol is negotiated.
//!
//! [`Upgrade`] is the handshake (an axum extractor); [`WebSocket`] reads and writes frames;
//! [`Decoder`] turns received bytes into messages (no I/O, so the fuzz target and the differential
//! test against `tungstenite` drive it directly). The accept key and the frame header's bytes come
//! from `tungstenite`, which keeps no state for them; the reading and buffering are ours.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// Close codes used here (RFC 6455 §7.4.1).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (shutdown, missed pongs).
    pub const AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL: u16 = 1002;
    /// A data type the endpoint does not accept (API Gateway: binary frames).
    pub const UNSUPPORTED: u16 = 1003;
    /// A text message that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// A message against policy (a slow reader).
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// Try again later (no room for another socket).
    pub const AGAIN: u16 = 1013;
}

/// Largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
fn accept_key(key: &[u8]) -> String {
    tungstenite::handshake::derive_accept_key(key)
}

/// A valid WebSocket opening handshake, ready to be answered with 101.
#[derive(Debug)]
pub struct Upgrade {
    accept: String,
    on_upgrade: OnUpgrade,
}

/// Why a request is not a WebSocket handshake; `room::http` answers it.
pub use room::http::HandshakeError;

/// Whether a comma-separated header lists `token` (case-insensitive).
fn lists_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

impl Upgrade {
    /// Checks the opening handshake of RFC 6455 §4.2.1.
    pub fn from_parts(parts: &mut Parts) -> Result<Self, HandshakeError> {
        if parts.method != Method::GET {
            return Err(HandshakeError::Method);
        }
        if !lists_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(HandshakeError::Connection);
        }
        if !lists_token(&parts.headers, header::UPGRADE, "websocket") {
            return Err(HandshakeError::UpgradeHeader);
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(HandshakeError::Version);
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(HandshakeError::Key);
        };
        let accept = accept_key(key.as_bytes());
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(HandshakeError::NotUpgradable)?;
        Ok(Self { accept, on_upgrade })
    }

    /// Answers 101 and runs `serve` on the socket once the connection is handed over.
    pub fn on_upgrade<F, Fut>(self, limits: Limits, serve: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { accept, on_upgrade } = self;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve(WebSocket::new(TokioIo::new(upgraded), limits)).await,
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
            }
        });
        let mut res = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        res
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts)
            .map_err(|e| crate::http::reply(room::http::handshake_error_response(e)))
    }
}

/// Limits of one socket.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest message (all its frames together), bytes.
    pub max_message: usize,
    /// Largest single frame, bytes (API Gateway's is smaller than its message limit).
    pub max_frame: usize,
    /// Bytes asked of the socket per read (the per-thread buffer's size).
    pub read_chunk: usize,
}

/// A message from the client. Pings are handed up so the caller answers them with
/// [`WebSocket::pong`] between its own writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, checked to be UTF-8.
    Text(String),
    /// A binary message (its length).
    Binary(usize),
    /// A ping and its payload.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// A close frame and its status code, if it had one.
    Close(Option<u16>),
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadError {
    /// The connection ended without a close frame.
    Eof,
    /// The connection failed.
    Io(io::Error),
    /// The client broke the protocol; the socket should be closed with this code and reason.
    Protocol(u16, &'static str),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Eof => f.write_str("connection closed without a close frame"),
            Self::Io(e) => write!(f, "read failed: {e}"),
            Self::Protocol(code, reason) => write!(f, "protocol error {code}: {reason}"),
        }
    }
}

impl std::error::Error for ReadError {}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A frame header as sent by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Header bytes, mask included.
    size: usize,
    /// Payload bytes.
    len: usize,
}

/// Parses a client frame header from the start of `buf`; `Ok(None)` if more bytes are needed.
fn parse_header(buf: &[u8], max_frame: usize) -> Result<Option<Header>, ReadError> {
    let protocol = |reason| Err(ReadError::Protocol(close_code::PROTOCOL, reason));
    let mut cursor = io::Cursor::new(buf);
    // Its only error is a reserved opcode (reading from a slice cannot fail).
    let Some((header, len)) = FrameHeader::parse(&mut cursor)
        .map_err(|_| ReadError::Protocol(close_code::PROTOCOL, "unknown opcode"))?
    else {
        return Ok(None);
    };
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return protocol("reserved bits set without an extension");
    }
    let Some(mask) = header.mask else {
        return protocol("client frames must be masked");
    };
    if len >> 63 != 0 {
        return protocol("frame length has its top bit set");
    }
    let fin = header.is_final;
    let opcode = u8::from(header.opcode);
    if let OpCode::Control(_) = header.opcode {
        if !fin {
            return protocol("control frames cannot be fragmented");
        }
        if len > MAX_CONTROL_PAYLOAD as u64 {
            return protocol("control frame payload over 125 bytes");
        }
    }
    let len = match usize::try_from(len) {
        Ok(n) if n <= max_frame => n,
        _ => return Err(ReadError::Protocol(close_code::TOO_BIG, "frame too big")),
    };
    Ok(Some(Header {
        fin,
        opcode,
        mask,
        // At most 14 bytes.
        size: cursor.position() as usize,
        len,
    }))
}

/// Unmasks `payload` in place, continuing the mask at `offset`.
fn unmask(payload: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[(offset + i) % 4];
    }
}

/// Whether a close code may be sent by a peer (RFC 6455 §7.4).
/// 1012 (service restart) and 1013 (try again later) are registered with IANA since the RFC;
/// this server sends 1013 itself.
fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1013 | 3000..=4999)
}

/// Appends a server (unmasked) frame.
fn encode(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
    let header = FrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: None,
    };
    // Writing into a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

thread_local! {
    /// Each worker thread's read buffer: sockets read into it and keep only unfinished frames.
    static READ_CHUNK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The reading state of one connection: unfinished bytes and a message being assembled.
/// Bytes go in with [`Decoder::extend`], messages come out of [`Decoder::next_message`].
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    /// Bytes read and not yet taken (from `start` on); empty and unallocated between frames.
    unread: Vec<u8>,
    /// How much of `unread` was taken already.
    start: usize,
    /// A fragmented message being assembled: whether it is text, and its bytes so far.
    fragments: Option<(bool, Vec<u8>)>,
}

impl Decoder {
    /// A decoder with nothing read yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            unread: Vec::new(),
            start: 0,
            fragments: None,
        }
    }

    /// Appends bytes read from the socket to the unfinished ones.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.unread.drain(..self.start);
            self.start = 0;
        }
        self.unread.extend_from_slice(bytes);
    }

    /// Whether the decoder holds no buffer: no unfinished frame and no fragmented message.
    pub fn is_idle(&self) -> bool {
        self.unread.capacity() == 0 && self.fragments.is_none()
    }

    /// Takes the next whole message out of the unread bytes, handling fragments; `Ok(None)` when
    /// more bytes are needed. After an error the decoder is not to be used again.
    pub fn next_message(&mut self) -> Result<Option<Message>, ReadError> {
        loop {
            let unread = &self.unread[self.start..];
            let max_frame = self.limits.max_frame.min(self.limits.max_message);
            let Some(h) = parse_header(unread, max_frame)? else {
                return Ok(None);
            };
            let end = h.size + h.len;
            if unread.len() < end {
                // Room for the rest of this frame, so reads do not reallocate on the way.
                let missing = end - unread.len();
                self.unread.reserve(missing);
                return Ok(None);
            }
            let payload = &mut self.unread[self.start + h.size..self.start + end];
            let message = match h.opcode {
                OP_TEXT | OP_BINARY if self.fragments.is_some() => {
                    return Err(ReadError::Protocol(
                        close_code::PROTOCOL,
                        "a new message began before the fragmented one ended",
                    ));
                }
                OP_TEXT | OP_BINARY => {
                    unmask(payload, h.mask, 0);
                    let text = h.opcode == OP_TEXT;
                    if h.fin {
                        Some(finish(text, payload.to_vec())?)
                    } else {
                        if text {
                            check_utf8_prefix(payload, 0)?;
                        }
                        self.fragments = Some((text, payload.to_vec()));
                        None
                    }
                }
                OP_CONTINUATION => {
                    let Some((text, mut data)) = self.fragments.take() else {
                        return Err(ReadError::Protocol(
                            close_code::PROTOCOL,
                            "a continuation frame without a message to continue",
                        ));
                    };
                    if data.len() + payload.len() > self.limits.max_message {
                        return Err(ReadError::Protocol(close_code::TOO_BIG, "message too big"));
                    }
                    unmask(payload, h.mask, 0);
                    let before = data.len();
                    data.extend_from_slice(payload);
                    if h.fin {
                        Some(finish(text, data)?)
                    } else {
                        if text {
                            check_utf8_prefix(&data, before)?;
                        }
                        self.fragments = Some((text, data));
                        None
                    }
                }
                OP_PING => {
                    unmask(payload, h.mask, 0);
                    Some(Message::Ping(payload.to_vec()))
                }
                OP_PONG => Some(Message::Pong),
                // A close frame: `parse_header` lets no other opcode through.
                _ => {
                    unmask(payload, h.mask, 0);
                    Some(close_message(payload)?)
                }
            };
            self.consume(end);
            if message.is_some() {
                return Ok(message);
            }
        }
    }

    /// Marks `n` more bytes as taken; frees the buffer once nothing is left in it.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.unread.len() {
            self.unread = Vec::new();
            self.start = 0;
        }
    }
}

/// Fails a fragmented text message as soon as its bytes cannot begin UTF-8 text (RFC 6455 §8.1),
/// rather than at its last fragment. `data[..checked]` passed this check before: it is valid but
/// for a character cut at its end (at most 3 bytes), so the check resumes at the first character
/// start among its last 3 bytes.
fn check_utf8_prefix(data: &[u8], checked: usize) -> Result<(), ReadError> {
    let mut from = checked.saturating_sub(3);
    while from < checked && data[from] & 0xC0 == 0x80 {
        from += 1;
    }
    match std::str::from_utf8(&data[from..]) {
        Err(e) if e.error_len().is_some() => Err(ReadError::Protocol(
            close_code::INVALID_DATA,
            "text message is not UTF-8",
        )),
        _ => Ok(()),
    }
}

/// One WebSocket connection, server side.
#[derive(Debug)]
pub struct WebSocket<Io = TokioIo<Upgraded>> {
    io: Io,
    decoder: Decoder,
    /// Frames queued by [`WebSocket::feed_text`], not yet written.
    out: Vec<u8>,
}

impl<Io: AsyncRead + AsyncWrite + Unpin> WebSocket<Io> {
    /// Wraps a connection whose handshake is done.
    pub fn new(io: Io, limits: Limits) -> Self {
        Self {
            io,
            decoder: Decoder::new(limits),
            out: Vec::new(),
        }
    }

    /// The next message. Cancel-safe: bytes read are kept until a message is whole.
    pub async fn recv(&mut self) -> Result<Message, ReadError> {
        loop {
            if let Some(m) = self.decoder.next_message()? {
                return Ok(m);
            }
            self.fill().await?;
        }
    }

    /// Reads once from the socket, appending to the unfinished bytes.
    async fn fill(&mut self) -> Result<(), ReadError> {
        let chunk = self.decoder.limits.read_chunk.max(64);
        poll_fn(|cx| {
            READ_CHUNK.with(|cell| {
                let mut buf = cell.borrow_mut();
                if buf.len() < chunk {
                    buf.resize(chunk, 0);
                }
                let mut rb = ReadBuf::new(&mut buf[..chunk]);
                ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb)).map_err(ReadError::Io)?;
                if rb.filled().is_empty() {
                    return Poll::Ready(Err(ReadError::Eof));
                }
                self.decoder.extend(rb.filled());
                Poll::Ready(Ok(()))
            })
        })
        .await
    }

    /// Queues a text frame; [`WebSocket::flush`] writes what is queued.
    pub fn feed_text(&mut self, text: &[u8]) {
        encode(&mut self.out, OpCode::Data(Data::Text), text);
    }

    /// Writes every queued frame, then frees the queue.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.io.write_all(&self.out).await?;
            self.out = Vec::new();
        }
        self.io.flush().await
    }

    /// Writes one text frame (after anything queued).
    pub async fn send_text(&mut self, text: &[u8]) -> io::Result<()> {
        self.feed_text(text);
        self.flush().await
    }

    /// Writes a ping.
    pub async fn ping(&mut self) -> io::Result<()> {
        encode(&mut self.out, OpCode::Control(Control::Ping), b"");
        self.flush().await
    }

    /// Answers a ping with its payload (truncated to what a control frame carries).
    pub async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        let n = payload.len().min(MAX_CONTROL_PAYLOAD);
        encode(&mut self.out, OpCode::Control(Control::Pong), &payload[..n]);
        self.flush().await
    }

    /// Writes a close frame with `code` and `reason` (cut to fit a control frame).
    pub async fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let mut payload = code.to_be_bytes().to_vec();
        let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..cut]);
        encode(&mut self.out, OpCode::Control(Control::Close), &payload);
        self.flush().await?;
        self.io.shutdown().await
    }
}

/// A whole data message.
fn finish(text: bool, data: Vec<u8>) -> Result<Message, ReadError> {
    if !text {
        return Ok(Message::Binary(data.len()));
    }
    String::from_utf8(data)
        .map(Message::Text)
        .map_err(|_| ReadError::Protocol(close_code::INVALID_DATA, "text message is not UTF-8"))
}

/// A close frame's payload: empty, or a valid code and a UTF-8 reason.
fn close_message(payload: &[u8]) -> Result<Message, ReadError> {
    match payload {
        [] => Ok(Message::Close(None)),
        [_] => Err(ReadError::Protocol(
            close_code::PROTOCOL,
            "close frame with a one-byte payload",
        )),
        [hi, lo, reason @ ..] => {
            // The reason first, as `tungstenite` does, so a frame with both faults gets one code.
            if std::str::from_utf8(reason).is_err() {
                return Err(ReadError::Protocol(
                    close_code::INVALID_DATA,
                    "close reason is not UTF-8",
                ));
            }
            let code = u16::from_be_bytes([*hi, *lo]);
            if !valid_close_code(code) {
                return Err(ReadError::Protocol(
                    close_code::PROTOCOL,
                    "invalid close code",
                ));
            }
            Ok(Message::Close(Some(code)))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    const LIMITS: Limits = Limits {
        max_message: 1024,
        max_frame: 1024,
        read_chunk: 7,
    };

    /// A client frame with the given first byte, payload and mask.
    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 65535 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        unmask(&mut p, mask, 0);
        out.extend_from_slice(&p);
        out
    }

    async fn read_all(bytes: Vec<u8>, limits: Limits) -> (Vec<Message>, Option<ReadError>) {
        let (mut client, server) = tokio::io::duplex(64);
        // The server may stop reading at a protocol error, so the client's writes may fail.
        let writer = tokio::spawn(async move {
            let _ = client.write_all(&bytes).await;
            let _ = client.shutdown().await;
            let mut rest = Vec::new();
            let _ = client.read_to_end(&mut rest).await;
        });
        let mut ws = WebSocket::new(server, limits);
        let mut got = Vec::new();
        let err = loop {
            match ws.recv().await {
                Ok(m) => got.push(m),
                Err(ReadError::Eof) => break None,
                Err(e) => break Some(e),
            }
        };
        assert!(ws.decoder.unread.is_empty() || err.is_some());
        drop(ws);
        writer.await.unwrap();
        (got, err)
    }

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[tokio::test]
    async fn frames_split_across_reads_and_joined_in_one_read_come_out_whole() {
        let big = "é".repeat(300);
        let mut bytes = client_frame(0x81, b"hello", [1, 2, 3, 4]);
        bytes.extend(client_frame(0x81, big.as_bytes(), [9, 8, 7, 6]));
        bytes.extend(client_frame(0x89, b"p", [5, 5, 5, 5]));
        bytes.extend(client_frame(0x8A, b"", [0, 0, 0, 1]));
        bytes.extend(client_frame(0x82, &[0, 1, 2], [1, 1, 1, 1]));
        bytes.extend(client_frame(0x88, &1000u16.to_be_bytes(), [3, 3, 3, 3]));
        for chunk in [LIMITS.read_chunk, 64 * 1024] {
            let limits = Limits {
                read_chunk: chunk,
                ..LIMITS
            };
            let (got, err) = read_all(bytes.clone(), limits).await;
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                got,
                vec![
                    Message::Text("hello".into()),
                    Message::Text(big.clone()),
                    Message::Ping(b"p".to_vec()),
                    Message::Pong,
                    Message::Binary(3),
                    Message::Close(Some(1000)),
                ]
            );
        }
    }

    #[tokio::test]
    async fn fragments_are_joined_around_control_frames() {
        let mut bytes = client_frame(0x01, b"he", [1, 2, 3, 4]);
        bytes.extend(client_frame(0x89, b"", [1, 2, 3, 4]));
        bytes.extend(client_frame(0x00, b"ll", [4, 3, 2, 1]));
        bytes.extend(client_frame(0x80, b"o", [7, 7, 7, 7]));
        let (got, err) = read_all(bytes, LIMITS).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(
            got,
            vec![Message::Ping(vec![]), Message::Text("hello".into())]
        );
    }

    #[tokio::test]
    async fn protocol_violations_have_their_close_codes() {
        let long_ping = vec![b'x'; 126];
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (client_frame(0xC1, b"x", [1, 2, 3, 4]), close_code::PROTOCOL),
            (vec![0x81, 0x01, b'x'], close_code::PROTOCOL),
            (client_frame(0x83, b"x", [1, 2, 3, 4]), close_code::PROTOCOL),
            (client_frame(0x09, b"", [1, 2, 3, 4]), close_code::PROTOCOL),
            (
                client_frame(0x89, &long_ping, [1, 2, 3, 4]),
                close_code::PROTOCOL,
            ),
            (client_frame(0x80, b"x", [1, 2, 3, 4]), close_code::PROTOCOL),
            (
                [
                    client_frame(0x01, b"x", [1, 2, 3, 4]),
                    client_frame(0x81, b"y", [1, 2, 3, 4]),
                ]
                .concat(),
                close_code::PROTOCOL,
            ),
            (
                client_frame(0x81, &[0xff, 0xfe], [1, 2, 3, 4]),
                close_code::INVALID_DATA,
            ),
            (
                client_frame(0x81, &[b'x'; 1025], [1, 2, 3, 4]),
                close_code::TOO_BIG,
            ),
            (
                [
                    client_frame(0x01, &[b'x'; 1000], [1, 2, 3, 4]),
                    client_frame(0x80, &[b'x'; 25], [1, 2, 3, 4]),
                ]
                .concat(),
                close_code::TOO_BIG,
            ),
            (
                vec![0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
                close_code::PROTOCOL,
            ),
            (client_frame(0x88, &[3], [1, 2, 3, 4]), close_code::PROTOCOL),
            (
                client_frame(0x88, &1005u16.to_be_bytes(), [1, 2, 3, 4]),
                close_code::PROTOCOL,
            ),
            (
                client_frame(0x88, &[0x03, 0xE8, 0xff], [1, 2, 3, 4]),
                close_code::INVALID_DATA,
            ),
        ];
        for (i, (bytes, code)) in cases.into_iter().enumerate() {
            let (_, err) = read_all(bytes, LIMITS).await;
            match err {
                Some(ReadError::Protocol(c, _)) => assert_eq!(c, code, "case {i}"),
                other => panic!("case {i}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn server_frames_use_the_shortest_length_and_no_mask() {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut ws = WebSocket::new(server, LIMITS);
        ws.feed_text(b"hi");
        ws.feed_text(&[b'a'; 200]);
        ws.feed_text(&[b'b'; 70_000]);
        ws.flush().await.unwrap();
        assert!(ws.out.capacity() == 0, "the write queue is freed");
        ws.close(close_code::AWAY, "bye").await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        let mut want = vec![0x81, 2, b'h', b'i', 0x81, 126, 0, 200];
        want.extend([b'a'; 200]);
        want.extend([0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        want.extend([b'b'; 70_000]);
        want.extend([0x88, 5, 0x03, 0xE9, b'b', b'y', b'e']);
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn an_idle_socket_holds_no_buffer_between_frames() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut ws = WebSocket::new(server, LIMITS);
        let frame = client_frame(0x81, &[b'z'; 300], [1, 2, 3, 4]);
        client.write_all(&frame[..100]).await.unwrap();
        client.write_all(&frame[100..]).await.unwrap();
        assert_eq!(ws.recv().await.unwrap(), Message::Text("z".repeat(300)));
        assert!(ws.decoder.is_idle());
    }
}
