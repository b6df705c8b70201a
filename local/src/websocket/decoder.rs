//! Received bytes into messages, and messages into frames (RFC 6455 §5), with no I/O: the socket,
//! the fuzz target and the differential test against `tungstenite` drive it alike. An idle
//! connection holds no buffer here: only the bytes of an unfinished frame are kept (in a buffer
//! sized to them, freed when the frame completes). The frame header's bytes come from
//! `tungstenite`, which keeps no state for them; the reading and buffering are ours.

use std::io;
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::OpCode;

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
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;

/// Size limits of one socket's frames and messages.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
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
pub(crate) fn unmask(payload: &mut [u8], mask: [u8; 4], offset: usize) {
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
pub(crate) fn encode(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8]) {
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

/// The reading state of one connection: unfinished bytes and a message being assembled.
/// Bytes go in with [`Decoder::extend`], messages come out of [`Decoder::next_message`].
#[derive(Debug)]
pub struct Decoder {
    pub(crate) limits: FrameLimits,
    /// Bytes read and not yet taken (from `start` on); empty and unallocated between frames.
    pub(crate) unread: Vec<u8>,
    /// How much of `unread` was taken already.
    start: usize,
    /// A fragmented message being assembled: whether it is text, and its bytes so far.
    fragments: Option<(bool, Vec<u8>)>,
}

impl Decoder {
    /// A decoder with nothing read yet.
    pub fn new(limits: FrameLimits) -> Self {
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
