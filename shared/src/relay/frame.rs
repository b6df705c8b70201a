//! The collider WebSocket protocol (docs/protocol.md §3.3–3.5): client frames, server frames, error texts and
//! which errors close the socket. Each frame is decoded into a fresh value (no stale fields).

use crate::domain::ids::IdError;
use crate::domain::message::MessageError;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// A decoded client frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
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
pub fn decode(text: &str) -> Result<Command, RelayError> {
    let raw: RawFrame =
        serde_json::from_str(text).map_err(|e| RelayError::Decode(e.to_string()))?;
    match raw.cmd.as_deref() {
        Some("register") => match (raw.roomid, raw.clientid) {
            (Some(room), Some(client)) if !room.is_empty() && !client.is_empty() => {
                Ok(Command::Register { room, client })
            }
            _ => Err(RelayError::MissingIds),
        },
        Some("send") => match raw.msg {
            Some(msg) if !msg.is_empty() => Ok(Command::Send { msg }),
            _ => Err(RelayError::MissingMsg),
        },
        _ => Ok(Command::Unknown),
    }
}

/// Encodes a server frame: always both keys, both strings (docs/protocol.md §3.4).
pub fn encode(msg: &str, error: &str) -> String {
    #[derive(serde::Serialize)]
    struct Out<'a> {
        msg: &'a str,
        error: &'a str,
    }
    serde_json::to_string(&Out { msg, error })
        .unwrap_or_else(|_| "{\"msg\":\"\",\"error\":\"encoding failed\"}".to_owned())
}

/// Encodes an error frame.
pub fn error_frame(e: &RelayError) -> String {
    encode("", &e.to_string())
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
mod tests {
    use super::*;

    #[test]
    fn decodes_compact_and_pretty_frames() {
        let pretty =
            "{\n  \"cmd\" : \"register\",\n  \"roomid\" : \"r\",\n  \"clientid\" : \"c\"\n}";
        assert_eq!(
            decode(pretty),
            Ok(Command::Register {
                room: "r".into(),
                client: "c".into()
            })
        );
        assert_eq!(
            decode(r#"{"CMD":"send","Msg":"x"}"#),
            Ok(Command::Send { msg: "x".into() })
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
        assert_eq!(decode(r#"{"cmd":"ping"}"#), Ok(Command::Unknown));
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
        assert_eq!(encode("a\"b", ""), r#"{"msg":"a\"b","error":""}"#);
        assert_eq!(
            error_frame(&RelayError::RoomFull),
            r#"{"msg":"","error":"Max room capacity reached"}"#
        );
    }
}
#[cfg(test)]
mod deep_tests {
    #[test]
    fn deeply_nested_unknown_fields_are_an_error_or_ignored_never_a_crash() {
        let text = format!(
            "{{\"cmd\":\"x\",\"pad\":{}1{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(super::decode(&text), Ok(super::Command::Unknown));
    }
}
