//! Signaling messages and the collider frames that carry them.
//!
//! A signaling message is an opaque JSON text that clients exchange (offer, answer, candidates,
//! bye). The server never interprets SDP, but it refuses what would break a receiving client:
//! texts that are not a JSON object with a known string `type` (iOS crashes on them, Android
//! aborts the call).
//!
//! The collider's WebSocket frames (docs/protocol.md §3.3–3.5) are named by direction: what a
//! client sends ([`ClientFrame`]), what the server sends ([`ServerFrame`]); with the error texts
//! and which errors close the socket. Each frame is decoded into a fresh value (no stale fields).

use crate::domain::ids::IdError;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// The `type` values real clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// SDP offer.
    Offer,
    /// SDP answer.
    Answer,
    /// One ICE candidate.
    Candidate,
    /// Candidates withdrawn (Android, iOS).
    RemoveCandidates,
    /// The peer hangs up.
    Bye,
}

impl MessageKind {
    fn from_type(t: &str) -> Option<Self> {
        Some(match t {
            "offer" => Self::Offer,
            "answer" => Self::Answer,
            "candidate" => Self::Candidate,
            "remove-candidates" => Self::RemoveCandidates,
            "bye" => Self::Bye,
            _ => return None,
        })
    }
}

/// Why a text is not an acceptable signaling message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Empty body or `msg`.
    #[error("message is empty")]
    Empty,
    /// Longer than the configured maximum.
    #[error("message is larger than {max} bytes")]
    TooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// Not UTF-8.
    #[error("message is not valid UTF-8")]
    NotUtf8,
    /// Not a JSON object, or its `type` is missing or not a string.
    #[error("message is not a JSON object with a string 'type': {0}")]
    NotJson(String),
    /// A `type` no client understands.
    #[error("message type '{0}' is not one of offer, answer, candidate, remove-candidates, bye")]
    UnknownType(String),
}

/// A validated signaling message; keeps the original text byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalingMessage {
    text: String,
    kind: MessageKind,
}

impl SignalingMessage {
    /// Validates raw bytes (an HTTP body).
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> Result<Self, MessageError> {
        if bytes.len() > max_len {
            return Err(MessageError::TooLarge { max: max_len });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| MessageError::NotUtf8)?;
        Self::parse(text.to_owned(), max_len)
    }

    /// Validates a text (an HTTP body or a WebSocket `msg`).
    pub fn parse(text: String, max_len: usize) -> Result<Self, MessageError> {
        if text.is_empty() {
            return Err(MessageError::Empty);
        }
        if text.len() > max_len {
            return Err(MessageError::TooLarge { max: max_len });
        }
        if nesting_depth(&text) > MAX_DEPTH {
            return Err(MessageError::NotJson(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let TypeOnly(t) =
            serde_json::from_str(&text).map_err(|e| MessageError::NotJson(e.to_string()))?;
        let kind = MessageKind::from_type(&t).ok_or(MessageError::UnknownType(truncate(&t)))?;
        Ok(Self { text, kind })
    }

    /// What kind of message this is.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The message exactly as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Takes the text out.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// Deepest nesting a message may have. Real messages nest at most three levels
/// (`remove-candidates`); a limit keeps hostile input from reaching clients' parsers.
pub const MAX_DEPTH: usize = 32;

/// Deepest `[`/`{` nesting of a JSON text, ignoring brackets inside strings. Strings are jumped
/// over with a fast search for their closing quote (most of a message is string content: SDP,
/// candidates), so this pass costs little next to parsing.
fn nesting_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => match string_end(text, i + 1) {
                Some(after) => {
                    i = after;
                    continue;
                }
                // Unterminated: the parser rejects it.
                None => return max,
            },
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// The index just past the quote that closes a string whose content starts at `from` (a char
/// boundary): the first `"` not escaped by an odd run of backslashes.
fn string_end(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    loop {
        let quote = at + text.get(at..)?.find('"')?;
        let backslashes = bytes[from..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(quote + 1);
        }
        at = quote + 1;
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

/// Reads only the `type` member of a JSON object, skipping everything else without building it.
struct TypeOnly(String);

impl<'de> serde::Deserialize<'de> for TypeOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypeOnly;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with a string 'type'")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TypeOnly, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "type" {
                        found = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                found
                    .map(TypeOnly)
                    .ok_or_else(|| de::Error::missing_field("type"))
            }
        }
        d.deserialize_map(V)
    }
}

/// A frame from a client, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"cmd":"register","roomid":…,"clientid":…}`
    Register {
        /// Room id as sent.
        room: String,
        /// Client id as sent.
        client: String,
    },
    /// `{"cmd":"send","msg":…}`
    Send {
        /// The signaling message text.
        msg: String,
    },
    /// Any other (or a missing) `cmd`.
    Unknown,
}

/// Everything that makes the relay answer with an error frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The frame is not a JSON object of the expected shape.
    #[error("websocket.JSON.Receive error: {0}")]
    Decode(String),
    /// `register` without ids.
    #[error("Invalid register request: missing 'clientid' or 'roomid'")]
    MissingIds,
    /// `register` with an id outside `[A-Za-z0-9_-]{1,128}`.
    #[error("Invalid register request: {0}")]
    InvalidId(IdError),
    /// `send` without `msg`.
    #[error("Invalid send request: missing 'msg'")]
    MissingMsg,
    /// `send` whose `msg` is not a signaling message a client can handle.
    #[error("Invalid send request: {0}")]
    InvalidMessage(MessageError),
    /// Unknown `cmd`.
    #[error("Invalid message: unexpected 'cmd'")]
    UnexpectedCmd,
    /// Second `register` on one socket.
    #[error("Duplicated register request")]
    DuplicateRegisterRequest,
    /// The id already has a live socket.
    #[error("Duplicated registration")]
    DuplicateRegistration,
    /// Two other clients hold the room.
    #[error("Max room capacity reached")]
    RoomFull,
    /// `send` before `register`.
    #[error("Client not registered")]
    NotRegistered,
    /// The id was not issued by `/join` for this room (or has left it).
    #[error("Unknown client id for this room: join the room first")]
    NotIssued,
    /// The peer's queue is at its cap.
    #[error("Too many messages queued for the client")]
    QueueFull,
    /// The frame is larger than the limit.
    #[error("Frame is larger than {0} bytes")]
    TooLarge(usize),
    /// Only text frames carry JSON.
    #[error("websocket.JSON.Receive error: binary frames are not supported")]
    Binary,
    /// Too many frames per second from this socket.
    #[error("Too many messages per second")]
    RateLimited,
    /// The room store failed.
    #[error("Service temporarily unavailable, retry")]
    Unavailable,
}

impl RelayError {
    /// Whether the server closes the socket after the error frame (as the original does).
    pub fn closes_socket(&self) -> bool {
        !matches!(
            self,
            Self::UnexpectedCmd | Self::InvalidMessage(_) | Self::QueueFull | Self::RateLimited
        )
    }
}

/// Decodes one text frame. Keys match case-insensitively, unknown keys are ignored, `null` counts
/// as missing, and a non-string value is an error.
pub fn decode(text: &str) -> Result<ClientFrame, RelayError> {
    let raw: RawFrame =
        serde_json::from_str(text).map_err(|e| RelayError::Decode(e.to_string()))?;
    match raw.cmd.as_deref() {
        Some("register") => match (raw.roomid, raw.clientid) {
            (Some(room), Some(client)) if !room.is_empty() && !client.is_empty() => {
                Ok(ClientFrame::Register { room, client })
            }
            _ => Err(RelayError::MissingIds),
        },
        Some("send") => match raw.msg {
            Some(msg) if !msg.is_empty() => Ok(ClientFrame::Send { msg }),
            _ => Err(RelayError::MissingMsg),
        },
        _ => Ok(ClientFrame::Unknown),
    }
}

/// A frame to a client: always both keys, both strings (docs/protocol.md §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerFrame<'a> {
    /// A signaling message relayed from the peer (`{"msg":<message>,"error":""}`).
    Message(&'a str),
    /// An error frame (`{"msg":"","error":<text>}`).
    Error(&'a RelayError),
}

impl ServerFrame<'_> {
    /// The frame's text.
    pub fn encode(self) -> String {
        match self {
            Self::Message(msg) => encode(msg, ""),
            Self::Error(e) => encode("", &e.to_string()),
        }
    }
}

/// What the keep-alive sweep of the deployed relay sends to every registered connection: traffic
/// that resets API Gateway's idle timeout and that every AppRTC client drops without a word. The
/// web client and iOS check `error` first and only log it; Android checks `msg` first and hands
/// the candidate to WebRTC, which cannot parse it, and only logs the failure. An empty `msg`, an
/// unknown `type`, a binary frame or text that is not JSON would each end the call on Android or
/// crash iOS (`docs/aws.md`, "Keep-alive").
pub const KEEPALIVE_FRAME: &str = r#"{"msg":"{\"type\":\"candidate\",\"label\":0,\"id\":\"keepalive\",\"candidate\":\"keepalive\"}","error":"keepalive"}"#;

fn encode(msg: &str, error: &str) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        msg: &'a str,
        error: &'a str,
    }
    serde_json::to_string(&Out { msg, error })
        .unwrap_or_else(|_| "{\"msg\":\"\",\"error\":\"encoding failed\"}".to_owned())
}

#[derive(Default)]
struct RawFrame {
    cmd: Option<String>,
    roomid: Option<String>,
    clientid: Option<String>,
    msg: Option<String>,
}

impl<'de> serde::Deserialize<'de> for RawFrame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFrame;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFrame, A::Error> {
                let mut out = RawFrame::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = if key.eq_ignore_ascii_case("cmd") {
                        &mut out.cmd
                    } else if key.eq_ignore_ascii_case("roomid") {
                        &mut out.roomid
                    } else if key.eq_ignore_ascii_case("clientid") {
                        &mut out.clientid
                    } else if key.eq_ignore_ascii_case("msg") {
                        &mut out.msg
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    *slot = map.next_value::<Option<String>>()?;
                }
                Ok(out)
            }
        }
        d.deserialize_map(V).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod frame_tests {
    use super::*;

    #[test]
    fn decodes_compact_and_pretty_frames() {
        let pretty =
            "{\n  \"cmd\" : \"register\",\n  \"roomid\" : \"r\",\n  \"clientid\" : \"c\"\n}";
        assert_eq!(
            decode(pretty),
            Ok(ClientFrame::Register {
                room: "r".into(),
                client: "c".into()
            })
        );
        assert_eq!(
            decode(r#"{"CMD":"send","Msg":"x"}"#),
            Ok(ClientFrame::Send { msg: "x".into() })
        );
    }

    #[test]
    fn errors_and_socket_fate() {
        assert_eq!(
            decode(r#"{"cmd":"register","roomid":"w6"}"#),
            Err(RelayError::MissingIds)
        );
        assert_eq!(decode(r#"{"cmd":"send"}"#), Err(RelayError::MissingMsg));
        assert_eq!(
            decode(r#"{"cmd":"send","msg":null}"#),
            Err(RelayError::MissingMsg)
        );
        assert_eq!(decode(r#"{"cmd":"ping"}"#), Ok(ClientFrame::Unknown));
        assert!(matches!(decode("not json"), Err(RelayError::Decode(_))));
        assert!(matches!(
            decode(r#"{"cmd":"send","msg":{"type":"offer"}}"#),
            Err(RelayError::Decode(_))
        ));
        assert!(!RelayError::UnexpectedCmd.closes_socket());
        assert!(RelayError::MissingMsg.closes_socket());
    }

    #[test]
    fn server_frames_have_both_keys() {
        assert_eq!(
            ServerFrame::Message("a\"b").encode(),
            r#"{"msg":"a\"b","error":""}"#
        );
        assert_eq!(
            ServerFrame::Error(&RelayError::RoomFull).encode(),
            r#"{"msg":"","error":"Max room capacity reached"}"#
        );
    }
}
#[cfg(test)]
mod frame_deep_tests {
    #[test]
    fn deeply_nested_unknown_fields_are_an_error_or_ignored_never_a_crash() {
        let text = format!(
            "{{\"cmd\":\"x\",\"pad\":{}1{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(super::decode(&text), Ok(super::ClientFrame::Unknown));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1024;

    #[test]
    fn nesting_ignores_brackets_in_strings_and_escaped_quotes() {
        assert_eq!(nesting_depth(r#"{"a":[1,{"b":2}]}"#), 3);
        assert_eq!(nesting_depth(r#"{"a":"[[[{{{"}"#), 1);
        assert_eq!(nesting_depth(r#"{"a":"x\"[[[","b":[]}"#), 2);
        assert_eq!(nesting_depth(r#"{"a":"x\\\\","b":[[]]}"#), 3);
        assert_eq!(nesting_depth(r#"{"a":"é[","b":{}}"#), 2);
        assert_eq!(nesting_depth(r#"{"a":"unterminated [[["#), 1);
        assert_eq!(nesting_depth(&"[".repeat(40)), 40);
        let deep = format!(
            "{{\"type\":\"offer\",\"x\":{}1{}}}",
            "[".repeat(32),
            "]".repeat(32)
        );
        assert!(matches!(
            SignalingMessage::parse(deep, MAX),
            Err(MessageError::NotJson(_))
        ));
        let ok = format!(
            "{{\"type\":\"offer\",\"x\":{}1{}}}",
            "[".repeat(31),
            "]".repeat(31)
        );
        assert!(SignalingMessage::parse(ok, MAX).is_ok());
    }

    #[test]
    fn accepts_every_client_type_and_keeps_text() {
        for t in ["offer", "answer", "candidate", "remove-candidates", "bye"] {
            let text = format!("{{ \"type\" : \"{t}\", \"sdp\": \"é\" }}");
            let m = SignalingMessage::parse(text.clone(), MAX).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(m.as_str(), text);
        }
    }

    #[test]
    fn rejects_what_breaks_clients() {
        let cases = [
            ("", "empty"),
            ("hello", "json"),
            ("[\"offer\"]", "json"),
            ("{\"type\":1}", "json"),
            ("{\"sdp\":\"x\"}", "json"),
            ("{\"type\":\"foo\"}", "type"),
            ("{\"type\":\"offer\"} x", "json"),
        ];
        for (text, why) in cases {
            let err = SignalingMessage::parse(text.to_owned(), MAX).err();
            assert!(err.is_some(), "{text:?} accepted ({why})");
        }
    }

    #[test]
    fn enforces_size_and_utf8() {
        let big = format!("{{\"type\":\"offer\",\"sdp\":\"{}\"}}", "a".repeat(MAX));
        assert_eq!(
            SignalingMessage::parse(big, MAX),
            Err(MessageError::TooLarge { max: MAX })
        );
        assert_eq!(
            SignalingMessage::from_bytes(b"{\"type\":\"offer\",\"sdp\":\"\xff\"}", MAX),
            Err(MessageError::NotUtf8)
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "{{\"type\":\"offer\",\"x\":{}{}}}",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(SignalingMessage::parse(deep, 1 << 20).is_err());
    }
}
