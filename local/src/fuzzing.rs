//! The RFC 6455 decoder against `tungstenite`: the entry point of the `websocket_frames` fuzz
//! target, and the comparison the differential test (`local/tests/emulator/codec_differential.rs`) runs on
//! generated streams. Both read a client's byte stream (server role) and must deliver the same
//! messages and end the same way, but for the differences [`compare`] lists.

use crate::websocket::decoder::{Decoder, FrameLimits, Message, ReadError, close_code};
use std::io::{self, Read, Write};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::{Error, error::ProtocolError};

/// How reading a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The bytes ran out without a close frame.
    Eof,
    /// A close frame came (the last message); reading stops there.
    Closed,
    /// The connection is failed with this close code; the reason is for the report only.
    Failed(u16, String),
}

/// What a decoder made of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Messages in order (binary ones by length, pongs without payload, as [`Message`] has them).
    pub messages: Vec<Message>,
    /// How it ended.
    pub end: End,
}

/// The RFC 6455 decoder reading `stream` handed over in chunks of the sizes in `chunks` (used
/// in turn; a size of 0 counts as 1).
fn decode_ours(stream: &[u8], limits: FrameLimits, chunks: &[usize]) -> Decoded {
    let mut decoder = Decoder::new(limits);
    let mut messages = Vec::new();
    let mut rest = stream;
    let mut sizes = chunks.iter().copied().cycle();
    let end = loop {
        match decoder.next_message() {
            Ok(Some(m)) => {
                let close = matches!(m, Message::Close(_));
                messages.push(m);
                if close {
                    break End::Closed;
                }
            }
            Ok(None) if rest.is_empty() => break End::Eof,
            Ok(None) => {
                let n = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
                decoder.extend(&rest[..n]);
                rest = &rest[n..];
            }
            Err(ReadError::Protocol(code, reason)) => break End::Failed(code, reason.into()),
            Err(e) => break End::Failed(0, e.to_string()),
        }
    };
    Decoded { messages, end }
}

/// A client's bytes for `tungstenite`, read `chunk` bytes at a time; what it writes is dropped.
struct Pipe<'a> {
    rest: &'a [u8],
    chunk: usize,
}

impl Read for Pipe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.chunk.max(1)).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

impl Write for Pipe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What `tungstenite` reports as the reason of a close frame whose code a peer may not send
/// (it delivers the frame with code 1002 and this reason instead of failing).
const TUNGSTENITE_INVALID_CODE: &str = "Protocol violation";

/// `tungstenite` (server role, the same limits) reading `stream`, `chunk` bytes per read. Its
/// errors become the close codes RFC 6455 gives them: protocol errors 1002, capacity 1009,
/// UTF-8 1007.
fn decode_tungstenite(stream: &[u8], limits: FrameLimits, chunk: usize) -> Decoded {
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message))
        .max_frame_size(Some(limits.max_frame.min(limits.max_message)));
    let pipe = Pipe {
        rest: stream,
        chunk,
    };
    let mut ws = WebSocket::from_raw_socket(pipe, Role::Server, Some(config));
    let mut messages = Vec::new();
    let end = loop {
        use tungstenite::Message as M;
        match ws.read() {
            Ok(M::Text(t)) => messages.push(Message::Text(t.as_str().to_owned())),
            Ok(M::Binary(b)) => messages.push(Message::Binary(b.len())),
            Ok(M::Ping(p)) => messages.push(Message::Ping(p.to_vec())),
            Ok(M::Pong(_)) => messages.push(Message::Pong),
            Ok(M::Close(None)) => {
                messages.push(Message::Close(None));
                break End::Closed;
            }
            Ok(M::Close(Some(f)))
                if f.code == CloseCode::Protocol && f.reason == TUNGSTENITE_INVALID_CODE =>
            {
                break End::Failed(close_code::PROTOCOL, "invalid close code".into());
            }
            Ok(M::Close(Some(f))) => {
                messages.push(Message::Close(Some(f.code.into())));
                break End::Closed;
            }
            Ok(M::Frame(_)) => break End::Failed(0, "a raw frame".into()),
            Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => break End::Eof,
            Err(Error::Protocol(e)) => break End::Failed(close_code::PROTOCOL, e.to_string()),
            Err(Error::Capacity(e)) => break End::Failed(close_code::TOO_BIG, e.to_string()),
            Err(Error::Utf8(e)) => break End::Failed(close_code::INVALID_DATA, e),
            Err(e) => break End::Failed(0, e.to_string()),
        }
    };
    Decoded { messages, end }
}

/// Reasons for which our decoder fails a frame on its header alone; `tungstenite` reads the
/// payload first and checks the frame size before them, so for these it may instead wait for
/// the payload (and see the stream end) or report the frame as too big.
const HEADER_FAULTS: &[&str] = &[
    "reserved bits set without an extension",
    "client frames must be masked",
    "frame length has its top bit set",
    "control frames cannot be fragmented",
    "control frame payload over 125 bytes",
];

/// Decodes `stream` with both, ours fed in `chunks`, `tungstenite` `chunk` bytes per read, and
/// says how they disagree, if they do. Accepted differences, both deliberate on our side:
/// - a frame with a fault in its header ([`HEADER_FAULTS`]) is failed with 1002 as soon as the
///   header is read, so where `tungstenite` sees the stream end in its payload, or checks its
///   size first and reports 1009, we report 1002 (the messages before it must still agree);
/// - a close frame with the code 1002 and `tungstenite`'s stand-in reason for an invalid code
///   is the one case its report is ambiguous: either a valid close or a failure is accepted.
pub fn compare(stream: &[u8], limits: FrameLimits, chunks: &[usize]) -> Result<Decoded, String> {
    let ours = decode_ours(stream, limits, chunks);
    let theirs = decode_tungstenite(stream, limits, chunks.first().copied().unwrap_or(1));
    if ours == theirs {
        return Ok(ours);
    }
    let same_messages = ours.messages == theirs.messages;
    let accepted = match (&ours.end, &theirs.end) {
        // The same code: the reasons are each library's own words.
        (End::Failed(a, _), End::Failed(b, _)) if a == b && same_messages => true,
        (
            End::Failed(close_code::PROTOCOL, reason),
            End::Eof | End::Failed(close_code::TOO_BIG, _),
        ) if same_messages && HEADER_FAULTS.contains(&reason.as_str()) => true,
        (End::Closed, End::Failed(close_code::PROTOCOL, reason))
            if reason == "invalid close code"
                && ours.messages.last() == Some(&Message::Close(Some(close_code::PROTOCOL)))
                && ours.messages[..ours.messages.len() - 1] == theirs.messages[..] =>
        {
            true
        }
        _ => false,
    };
    if accepted {
        Ok(ours)
    } else {
        Err(format!("ours: {ours:?}\ntungstenite: {theirs:?}"))
    }
}

/// The fuzz target: the first byte picks the limits and the read sizes, the rest is the stream.
/// The decoder must agree with `tungstenite` ([`compare`]) and with itself fed byte by byte.
pub fn websocket_frames(data: &[u8]) {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let limits = FrameLimits {
        max_message: if pick & 0x80 == 0 { 1 << 20 } else { 300 },
        max_frame: if pick & 0x40 == 0 { 1 << 20 } else { 200 },
        read_chunk: 4096,
    };
    let chunk = usize::from(pick & 0x3F) + 1;
    let whole = match compare(stream, limits, &[chunk]) {
        Ok(d) => d,
        Err(diff) => panic!("the decoder and tungstenite disagree\n{diff}"),
    };
    assert_eq!(decode_ours(stream, limits, &[1]), whole, "byte by byte");
}
