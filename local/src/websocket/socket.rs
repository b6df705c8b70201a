//! One WebSocket connection, server side, shaped for many idle sockets: each read lands in one
//! buffer per worker thread, whole frames are taken out of it at once by the [`Decoder`], and
//! outgoing frames are assembled per batch and freed once written.

use super::decoder::{Decoder, FrameLimits, MAX_CONTROL_PAYLOAD, Message, ReadError, encode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

thread_local! {
    /// Each worker thread's read buffer: sockets read into it and keep only unfinished frames.
    static READ_CHUNK: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
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
    pub fn new(io: Io, limits: FrameLimits) -> Self {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::websocket::decoder::close_code;
    use crate::websocket::handshake::accept_key;
    use tokio::io::AsyncReadExt as _;

    const LIMITS: FrameLimits = FrameLimits {
        max_message: 1024,
        max_frame: 1024,
        read_chunk: 7,
    };

    /// A client frame with the given first byte, payload and mask, as `tungstenite` writes it
    /// (so the socket is tested against another implementation's frames, not its own).
    fn client_frame(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let header = tungstenite::protocol::frame::FrameHeader {
            is_final: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: OpCode::from(b0 & 0x0f),
            mask: Some(mask),
        };
        let frame = tungstenite::protocol::frame::Frame::from_payload(
            header,
            bytes::Bytes::copy_from_slice(payload),
        );
        let mut out = Vec::new();
        frame
            .format(&mut out)
            .unwrap_or_else(|e| panic!("frame: {e}"));
        out
    }

    async fn read_all(bytes: Vec<u8>, limits: FrameLimits) -> (Vec<Message>, Option<ReadError>) {
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
            let limits = FrameLimits {
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
