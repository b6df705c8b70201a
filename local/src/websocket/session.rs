//! A relay session: serves one relay WebSocket, moving frames between the socket and the relay
//! (`room::adapters::sockets`), sending pings, and closing on the relay's request or at
//! shutdown. One task per socket; nothing here decides anything.

use super::decoder::{FrameLimits, Message, ReadError, close_code};
use super::handshake::Upgrade;
use super::socket::WebSocket;
use crate::app::App;
use crate::body::{PeerIp, reply};
use axum::extract::State;
use axum::response::Response;
use room::adapters::sockets::{CloseReason, ConnReceiver};
use room::domain::message::{RelayError, ServerFrame};

pub(crate) async fn upgrade(State(app): State<App>, PeerIp(peer): PeerIp, ws: Upgrade) -> Response {
    let too_many = |what| {
        reply(room::http::error_response(&room::http::ApiError::TooMany {
            what,
            retry_after: 60,
        }))
    };
    if let Some(ip) = peer
        && !app.limiter.allow_connection(ip)
    {
        return too_many("too many connections from this address; retry in a minute");
    }
    if app.limiter.socket().is_none() {
        return too_many("the server holds its maximum number of sockets; retry later");
    }
    ws.on_upgrade(websocket_limits(&app), move |socket| {
        let tracker = app.sockets.clone();
        // Tracked so that shutdown waits for the close frame to go out.
        tracker.track_future(serve(app, socket))
    })
}

/// Limits of every WebSocket: a message may be twice the relay's limit (JSON escaping) plus its
/// envelope.
pub(crate) fn websocket_limits(app: &App) -> FrameLimits {
    let max_message = app.settings.limits.max_message_bytes * 2 + 1024;
    FrameLimits {
        max_message,
        max_frame: max_message,
        read_chunk: app.options.ws_read_buffer,
    }
}

/// Longest wait for a close frame to go out.
const GOODBYE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A close frame to send.
type Close = (u16, &'static str);

async fn serve(app: App, mut socket: WebSocket) {
    let limiter = app.limiter.clone();
    let Some(_slot) = limiter.socket() else {
        let _ = socket.close(close_code::AGAIN, "too many sockets").await;
        return;
    };
    let mut bucket = crate::ops::limits::MessageBucket::new(&limiter.limits());
    let (mut session, rx) = app.relay.open();
    let ConnReceiver {
        mut frames,
        close: close_signal,
    } = rx;
    let mut shutdown = app.shutdown.clone();
    if *shutdown.borrow_and_update() {
        let _ = socket.close(close_code::AWAY, "server shutting down").await;
        return;
    }
    let mut ping = tokio::time::interval(app.options.ping_interval);
    ping.tick().await;
    let mut unanswered_pings = 0u8;
    let goodbye = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Binary(_)) => {
                        if let Some(m) = report(&app, &mut socket, &RelayError::Binary).await { break m; }
                        continue;
                    }
                    Ok(Message::Ping(payload)) => {
                        unanswered_pings = 0;
                        if socket.pong(&payload).await.is_err() { break None; }
                        continue;
                    }
                    Ok(Message::Pong) => {
                        unanswered_pings = 0;
                        continue;
                    }
                    // Answered with a close frame (RFC 6455 §5.5.1).
                    Ok(Message::Close(_)) => break Some((close_code::NORMAL, "")),
                    Err(ReadError::Protocol(code, reason)) => {
                        tracing::debug!(code, reason, "WebSocket protocol error");
                        break Some((code, reason));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "socket read failed");
                        break None;
                    }
                };
                unanswered_pings = 0;
                if !bucket.take() {
                    if let Some(m) = report(&app, &mut socket, &RelayError::RateLimited).await {
                        break m;
                    }
                    continue;
                }
                // Registered before this frame and still fine: it was a `send`.
                let sending = session.registration().is_some();
                match app.relay.on_text(&mut session, &text).await {
                    Ok(()) if sending => app.metrics.queued(),
                    Ok(()) => {}
                    Err(e) => {
                        if let Some(m) = report(&app, &mut socket, &e).await {
                            break m;
                        }
                    }
                }
            }
            batch = frames.recv_all() => {
                // Everything waiting goes out in one write. A reader that stopped reading blocks
                // the write: the relay's close request and shutdown still end it (the frames in
                // flight are abandoned, so no close frame follows).
                for frame in &batch {
                    socket.feed_text(frame);
                }
                app.metrics.relayed(batch.len());
                drop(batch);
                let write = socket.flush();
                tokio::select! {
                    written = write => if written.is_err() { break None },
                    reason = close_signal.wait() => {
                        tracing::info!(?reason, "closing a socket stuck in a write");
                        break None;
                    }
                    _ = shutdown.changed() => break None,
                }
            }
            reason = close_signal.wait() => {
                if reason == CloseReason::Removed {
                    // Its own DELETE, usually: the frames it sent just before (the `bye` of a
                    // hang-up) may still be unread, and must reach the peer.
                    drain(&app, &mut session, &mut socket).await;
                }
                break Some(match reason {
                    CloseReason::Removed => (close_code::NORMAL, ""),
                    CloseReason::SlowReader => (close_code::POLICY, "slow reader: outbound queue full"),
                });
            }
            _ = ping.tick() => {
                if unanswered_pings >= 2 {
                    break Some((close_code::AWAY, "no pong received"));
                }
                unanswered_pings += 1;
                if socket.ping().await.is_err() {
                    break None;
                }
            }
            _ = shutdown.changed() => {
                break Some((close_code::AWAY, "server shutting down"));
            }
        }
    };
    if let Some((code, reason)) = goodbye {
        // A peer that does not read cannot hold the task: the close frame gets a bounded wait.
        let _ = tokio::time::timeout(GOODBYE_WAIT, socket.close(code, reason)).await;
    }
    app.relay.on_close(session).await;
}

/// Longest time, and most frames, handled from a socket after its client was removed.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
const DRAIN_FRAMES: usize = 16;

/// Handles the text frames a removed client sent before its removal, until its close frame, the
/// end of the stream, or the drain bounds.
async fn drain(app: &App, session: &mut room::adapters::sockets::Session, socket: &mut WebSocket) {
    let deadline = tokio::time::sleep(DRAIN_WAIT);
    tokio::pin!(deadline);
    for _ in 0..DRAIN_FRAMES {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Ok(Message::Text(t)) => {
                    let _ = app.relay.on_text(session, &t).await;
                }
                Ok(Message::Close(_)) | Err(_) => return,
                Ok(_) => {}
            },
            () = &mut deadline => return,
        }
    }
}

/// Sends an error frame; returns the close frame when this error ends the socket.
async fn report(app: &App, socket: &mut WebSocket, e: &RelayError) -> Option<Option<Close>> {
    app.relay.count_ws_error();
    app.metrics.refused_frame(e);
    let sent = socket
        .send_text(ServerFrame::Error(e).encode().as_bytes())
        .await
        .is_ok();
    if !sent {
        return Some(None);
    }
    e.closes_socket().then_some(Some((close_code::NORMAL, "")))
}
