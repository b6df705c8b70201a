//! The generators' relay sockets: just enough RFC 6455 for a load (frames masked once and written
//! as they are, one read buffer per socket, pings answered), instead of a general WebSocket
//! client, so that the generator costs less than the server it measures. Plus the set-up every
//! relay generator shares: rooms joined, both clients registered, registrations proven.

use crate::{http_client, join};
use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, stream};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The masking key of every frame a generator sends (RFC 6455 §5.3 asks clients for one; the
/// server unmasks whatever it is).
const MASK: [u8; 4] = [0x5a, 0x17, 0xc3, 0x9e];

/// How long a registration may take to be proven by a relayed frame (the AWS path parks frames
/// and runs invocations in any order; this bounds a set-up that would otherwise hang).
const REGISTER_WAIT: Duration = Duration::from_secs(10);

/// A masked client frame, built once and written as many times as needed.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader, coding::OpCode};
    let header = FrameHeader {
        opcode: OpCode::from(opcode),
        mask: Some(MASK),
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    Frame::from_payload(header, bytes::Bytes::copy_from_slice(payload))
        .format(&mut out)
        .map_or_else(
            |e| panic!("a frame of {} bytes: {e}", payload.len()),
            |()| out,
        )
}

/// The masked `{"cmd":"send","msg":…}` frame for `msg`.
pub fn send_frame(msg: &str) -> Vec<u8> {
    client_frame(
        0x1,
        serde_json::json!({"cmd": "send", "msg": msg})
            .to_string()
            .as_bytes(),
    )
}

/// Whether a relayed text frame is a message rather than an error (`"error":""`).
pub fn is_message(text: &[u8]) -> bool {
    text.windows(10).any(|w| w == b"\"error\":\"\"")
}

/// One relay socket of a generator.
#[derive(Debug)]
pub struct RelaySocket {
    tcp: TcpStream,
    /// Bytes read and not yet parsed, from `start` on.
    buf: Vec<u8>,
    start: usize,
}

impl RelaySocket {
    /// Opens `/ws` on `addr` (opening handshake by hand) and registers `client` in `room`.
    pub async fn registered(addr: &str, room: &str, client: &str) -> Result<Self> {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        tcp.write_all(
            format!(
                "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
        let mut buf = Vec::with_capacity(4096);
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if tcp.read_buf(&mut buf).await? == 0 {
                bail!("the server closed during the handshake");
            }
        };
        if !buf.starts_with(b"HTTP/1.1 101") {
            bail!(
                "handshake refused: {}",
                String::from_utf8_lossy(&buf[..head_end])
            );
        }
        let mut socket = Self {
            tcp,
            buf,
            start: head_end,
        };
        let reg =
            serde_json::json!({"cmd": "register", "roomid": room, "clientid": client}).to_string();
        socket.send(&client_frame(0x1, reg.as_bytes())).await?;
        Ok(socket)
    }

    /// Writes a frame as it is.
    pub async fn send(&mut self, frame: &[u8]) -> Result<()> {
        Ok(self.tcp.write_all(frame).await?)
    }

    /// The payload of the next text frame, message or error (pings answered on the way); the end
    /// of the socket fails.
    pub async fn next_text(&mut self) -> Result<&[u8]> {
        let payload = loop {
            if let Some((opcode, range)) = server_frame(&self.buf[self.start..]) {
                let payload = self.start + range.start..self.start + range.end;
                self.start = payload.end;
                match opcode {
                    0x1 => break payload,
                    0x9 => {
                        let pong = client_frame(0xA, &self.buf[payload]);
                        self.send(&pong).await?;
                    }
                    0xA => {}
                    op => bail!("socket ended (opcode {op})"),
                }
                continue;
            }
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
            }
            self.buf.reserve(4096);
            if self.tcp.read_buf(&mut self.buf).await? == 0 {
                bail!("the server closed the socket");
            }
        };
        Ok(&self.buf[payload])
    }

    /// Waits for the next relayed message; an error frame or the end of the socket fails.
    pub async fn recv_text(&mut self) -> Result<()> {
        let text = self.next_text().await?;
        if is_message(text) {
            return Ok(());
        }
        bail!("error frame: {}", String::from_utf8_lossy(text));
    }
}

/// A whole server frame at the start of `buf`: its opcode and where its payload is.
fn server_frame(buf: &[u8]) -> Option<(u8, std::ops::Range<usize>)> {
    let [b0, b1, ..] = *buf else { return None };
    let (len, head) = match b1 & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => {
            let b: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(b)).ok()?, 10)
        }
        n => (usize::from(n), 2),
    };
    (buf.len() >= head + len).then_some((b0 & 0x0f, head..head + len))
}

/// `rooms` rooms named `{prefix}-{i}` on the server at `base` (plain HTTP), each joined by two
/// clients whose sockets are registered. Registration has no acknowledgement: `proof` (a send
/// frame) relayed from the first socket to the second proves both.
pub async fn registered_rooms(
    base: &str,
    rooms: usize,
    prefix: &str,
    concurrency: usize,
    proof: &[u8],
) -> Result<Vec<(RelaySocket, RelaySocket)>> {
    let client = http_client();
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    stream::iter(0..rooms)
        .map(|i| {
            let (client, addr) = (client.clone(), addr.clone());
            let room = format!("{prefix}-{i}");
            async move {
                let a = join(&client, base, &room).await?;
                let b = join(&client, base, &room).await?;
                let mut wa = RelaySocket::registered(&addr, &room, &a).await?;
                let mut wb = RelaySocket::registered(&addr, &room, &b).await?;
                wa.send(proof).await?;
                tokio::time::timeout(REGISTER_WAIT, wb.recv_text())
                    .await
                    .with_context(|| format!("{room}: no frame relayed after registration"))??;
                Ok::<_, anyhow::Error>((wa, wb))
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}
