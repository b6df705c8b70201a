//! The relay WebSocket: moves frames between a socket and `room::relay`, sends pings, and closes
//! on the hub's request or at shutdown. One task per socket; nothing here decides anything.

use crate::App;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use room::relay::frame::{RelayError, error_frame};
use room::relay::hub::CloseReason;

pub async fn upgrade(
    State(app): State<App>,
    crate::routes::PeerIp(peer): crate::routes::PeerIp,
    ws: WebSocketUpgrade,
) -> Response {
    let too_many = |what| {
        room::http::error_response(&room::http::ApiError::TooMany {
            what,
            retry_after: 60,
        })
        .map(axum::body::Body::from)
        .into_response()
    };
    if let Some(ip) = peer
        && !app.limiter.allow_connection(ip)
    {
        return too_many("too many connections from this address; retry in a minute");
    }
    if app.limiter.socket().is_none() {
        return too_many("the server holds its maximum number of sockets; retry later");
    }
    let max = app.settings.limits.max_message_bytes * 2 + 1024;
    ws.read_buffer_size(app.options.ws_read_buffer)
        .write_buffer_size(2048)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let tracker = app.sockets.clone();
            async move {
                // Tracked so that shutdown waits for the close frame to go out.
                tracker.track_future(serve(app, socket)).await;
            }
        })
}

/// Longest wait for a close frame to go out.
const GOODBYE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

async fn serve(app: App, mut socket: WebSocket) {
    let limiter = app.limiter.clone();
    let Some(_slot) = limiter.socket() else {
        let _ = socket
            .send(close(close_code::AGAIN, "too many sockets"))
            .await;
        return;
    };
    let mut bucket = crate::limits::MessageBucket::new(&limiter.limits());
    let (mut session, rx) = app.relay.open();
    let room::relay::hub::ConnReceiver {
        mut frames,
        close: close_signal,
    } = rx;
    let mut shutdown = app.shutdown.clone();
    if *shutdown.borrow_and_update() {
        let _ = socket
            .send(close(close_code::AWAY, "server shutting down"))
            .await;
        return;
    }
    let mut ping = tokio::time::interval(app.options.ping_interval);
    ping.tick().await;
    let mut unanswered_pings = 0u8;
    let goodbye = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        if let Some(m) = report(&app, &mut socket, &RelayError::Binary).await { break m; }
                        continue;
                    }
                    Some(Ok(Message::Pong(_) | Message::Ping(_))) => {
                        unanswered_pings = 0;
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Err(e)) => {
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
                if let Err(e) = app.relay.on_text(&mut session, text.as_str()).await
                    && let Some(m) = report(&app, &mut socket, &e).await
                {
                    break m;
                }
            }
            frame = frames.recv() => {
                let Some(frame) = frame else { break None };
                // Queue everything already waiting, then write it in one flush. A reader that
                // stopped reading blocks the write: the hub's close request and shutdown still
                // end it (the frame in flight is abandoned, so no close frame follows).
                let write = async {
                    let mut next = Some(frame);
                    while let Some(frame) = next.take() {
                        if let Ok(text) = Utf8Bytes::try_from(frame) {
                            socket.feed(Message::Text(text)).await?;
                        }
                        next = frames.try_recv();
                    }
                    socket.flush().await
                };
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
                    CloseReason::Removed | CloseReason::Evicted => close(close_code::NORMAL, ""),
                    CloseReason::SlowReader => close(close_code::POLICY, "slow reader: outbound queue full"),
                });
            }
            _ = ping.tick() => {
                if unanswered_pings >= 2 {
                    break Some(close(close_code::AWAY, "no pong received"));
                }
                unanswered_pings += 1;
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            _ = shutdown.changed() => {
                break Some(close(close_code::AWAY, "server shutting down"));
            }
        }
    };
    if let Some(m) = goodbye {
        // A peer that does not read cannot hold the task: the close frame gets a bounded wait.
        let _ = tokio::time::timeout(GOODBYE_WAIT, socket.send(m)).await;
    }
    app.relay.on_close(session).await;
}

/// Longest time, and most frames, handled from a socket after its client was removed.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(500);
const DRAIN_FRAMES: usize = 16;

/// Handles the text frames a removed client sent before its removal, until its close frame, the
/// end of the stream, or the drain bounds.
async fn drain(app: &App, session: &mut room::relay::Session, socket: &mut WebSocket) {
    let deadline = tokio::time::sleep(DRAIN_WAIT);
    tokio::pin!(deadline);
    for _ in 0..DRAIN_FRAMES {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    let _ = app.relay.on_text(session, t.as_str()).await;
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            () = &mut deadline => return,
        }
    }
}

/// Sends an error frame; returns the close message when this error ends the socket.
async fn report(app: &App, socket: &mut WebSocket, e: &RelayError) -> Option<Option<Message>> {
    app.relay.count_ws_error();
    let sent = socket
        .send(Message::Text(error_frame(e).into()))
        .await
        .is_ok();
    if !sent {
        return Some(None);
    }
    e.closes_socket()
        .then(|| Some(close(close_code::NORMAL, "")))
}
