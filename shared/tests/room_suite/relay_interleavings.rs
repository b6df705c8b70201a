//! The stored relay under API Gateway's real semantics: every frame is its own invocation, they run
//! in parallel and unordered, `$disconnect` is late or lost. Hundreds of seeded schedules, each with
//! a delay injected before every store call and every post, and after each one the checks an
//! in-order collider would pass: every message delivered exactly once and in order per sender, no
//! socket closed, no error frame, no room over two members, no ghost once the grace has passed.
//!
//! A failing schedule prints its seed; `RELAY_SEED=<n>` replays that one alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use room::adapters::memory::MemoryRoomStore;
use room::domain::ids::{ClientId, ConnectionId, RoomId};
use room::domain::room::Millis;
use room::ports::{
    Clock, Connections, Hooked, PostError, StoreCall, StoreError, StoreFuture, StoreHook,
};
use room::service::rooms::JoinReply;
use room::testing::FakeConnections;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::relay::{RelayWorld, register, send};

/// SplitMix64: a tiny deterministic generator, so a seed replays its schedule.
#[derive(Debug)]
struct Rng(Mutex<u64>);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(Mutex::new(seed))
    }
    fn next(&self) -> u64 {
        let mut s = self.0.lock().unwrap();
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }
    /// A delay of 0 to `max_ms` milliseconds (0 a third of the time: no delay is a schedule too).
    async fn pause(&self, max_ms: u64) {
        let ms = self.below(3 * (max_ms + 1) / 2).saturating_sub(max_ms / 2);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// The relay's clock follows tokio's (paused) clock, so the grace passes when the test says so.
#[derive(Debug)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> Millis {
        1_700_000_000_000 + u64::try_from(self.start.elapsed().as_millis()).unwrap()
    }
}

/// A seeded delay before every call of the memory store (the keep-alive's scan aside), checking
/// every written room.
#[derive(Debug)]
struct Slow {
    rng: Arc<Rng>,
    oversized: Mutex<Vec<usize>>,
}

type SlowStore = Hooked<Slow>;

impl StoreHook for Slow {
    async fn around<'a, T: Send + 'a>(
        &'a self,
        call: StoreCall<'a>,
        run: StoreFuture<'a, T>,
    ) -> Result<T, StoreError> {
        if !matches!(call, StoreCall::RegisteredConnections) {
            self.rng.pause(4).await;
        }
        if let Some(r) = call.written_room()
            && r.members.len() > 2
        {
            self.oversized.lock().unwrap().push(r.members.len());
        }
        run.await
    }
}

/// Recorded connections with a seeded delay before every management API call.
#[derive(Debug)]
struct SlowConnections {
    inner: FakeConnections,
    rng: Arc<Rng>,
}

#[async_trait]
impl Connections for SlowConnections {
    async fn post(&self, connection: &ConnectionId, frame: &str) -> Result<(), PostError> {
        self.rng.pause(6).await;
        self.inner.post(connection, frame).await
    }
    async fn is_open(&self, connection: &ConnectionId) -> Result<bool, PostError> {
        self.rng.pause(6).await;
        self.inner.is_open(connection).await
    }
    async fn close(&self, connection: &ConnectionId) {
        self.inner.close(connection).await;
    }
}

fn message(side: &str, i: usize) -> String {
    json!({"type": "candidate", "label": 0, "id": "0", "candidate": format!("{side}-{i}")})
        .to_string()
}

/// How the `$disconnect` of a dropped socket arrives.
#[derive(Debug, Clone, Copy)]
enum Disconnect {
    OnTime,
    Late,
    Lost,
}

#[derive(Debug, Default)]
struct Totals {
    messages: usize,
    drops: usize,
    lost_disconnects: usize,
}

type World = RelayWorld<SlowStore, SlowConnections>;

impl World {
    /// The schedule's generator, the one that delays the store's calls and the posts.
    fn rng(&self) -> &Rng {
        &self.conns.rng
    }
}

fn world(seed: u64) -> World {
    let rng = Arc::new(Rng::new(seed));
    let store = Arc::new(Hooked::new(
        Arc::new(MemoryRoomStore::new()),
        Slow {
            rng: rng.clone(),
            oversized: Mutex::new(Vec::new()),
        },
    ));
    let conns = Arc::new(SlowConnections {
        inner: FakeConnections::default(),
        rng,
    });
    let clock = Arc::new(TokioClock {
        start: tokio::time::Instant::now(),
    });
    World::new(store, conns, clock)
}

async fn join(w: &World, room: &RoomId) -> Result<ClientId, String> {
    for _ in 0..2 {
        match w
            .service
            .join(room, false)
            .await
            .map_err(|e| e.to_string())?
        {
            JoinReply::Joined { client_id, .. } => return Ok(client_id),
            // What the deployed join does on a full room: members whose socket is gone start
            // their grace; the newcomer tries again once it has passed.
            JoinReply::Full => {
                w.relay.detach_dead(room).await.map_err(|e| e.to_string())?;
                tokio::time::sleep(w.settings.limits.reconnect_grace + Duration::from_secs(1))
                    .await;
            }
            other => return Err(format!("join: {other:?}")),
        }
    }
    Err("room full of ghosts after the grace".to_owned())
}

/// One side of a call: registers and sends its messages at once (as AppRTCMobile sends what it
/// gathered before registering), each frame an invocation of its own; the socket may drop once
/// and come back on a new connection.
async fn side(
    w: Arc<World>,
    room: RoomId,
    client: ClientId,
    name: &'static str,
    count: usize,
    drop_after: Option<(usize, Disconnect)>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut background = Vec::new();
    let mut conn = format!("{name}0");
    w.conns.inner.open(&conn);
    let spawn_register = |conn: &str| {
        let (w, conn, r) = (
            w.clone(),
            ConnectionId::new(conn),
            register(room.as_str(), client.as_str()),
        );
        tokio::spawn(async move { w.relay.on_frame(&conn, &r).await })
    };
    let mut registering = Some(spawn_register(&conn));
    for i in 0..count {
        if let Some((at, how)) = drop_after
            && at == i
        {
            // The socket drops once the server has handled what it sent (its `register` too); a
            // phone reconnects later than the invocations of its old socket's frames run.
            if let Some(r) = registering.take() {
                r.await.expect("register task");
            }
            w.conns.inner.vanish(&conn);
            let old = ConnectionId::new(conn.clone());
            let notify = |w: &Arc<World>| {
                let (w, old) = (w.clone(), old.clone());
                tokio::spawn(async move { w.relay.on_disconnect(&old).await })
            };
            if matches!(how, Disconnect::OnTime) {
                background.push(notify(&w));
            }
            conn = format!("{name}1");
            w.conns.inner.open(&conn);
            background.push(spawn_register(&conn));
            if matches!(how, Disconnect::Late) {
                w.rng().pause(20).await;
                background.push(notify(&w));
            }
        }
        w.relay
            .on_frame(&ConnectionId::new(conn.clone()), &send(&message(name, i)))
            .await;
        w.rng().pause(3).await;
    }
    background.extend(registering);
    background
}

fn received(w: &World, conns: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for c in conns {
        for f in w.conns.inner.take(c) {
            let v: Value = serde_json::from_str(&f).map_err(|e| e.to_string())?;
            if v["error"] != "" {
                return Err(format!("error frame on {c}: {f}"));
            }
            let m: Value = serde_json::from_str(v["msg"].as_str().unwrap_or_default())
                .map_err(|e| format!("{e}: {f}"))?;
            out.push(m["candidate"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(out)
}

/// An error unless the relay closed no socket.
fn no_socket_closed(w: &World) -> Result<(), String> {
    let closed = w.conns.inner.closed();
    if closed.is_empty() {
        Ok(())
    } else {
        Err(format!("sockets closed: {closed:?}"))
    }
}

/// The seeds to run: `$RELAY_SEED` alone when it is set, else `0..count`.
fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("RELAY_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (0..count).collect(),
    }
}

async fn schedule(seed: u64, totals: &mut Totals) -> Result<(), String> {
    let w = Arc::new(world(seed));
    let room = RoomId::parse(&format!("room{seed}")).map_err(|e| e.to_string())?;
    let a = join(&w, &room).await?;
    let b = join(&w, &room).await?;
    let (na, nb) = (2 + w.rng().below(7) as usize, 2 + w.rng().below(7) as usize);
    let how = match w.rng().below(3) {
        0 => Disconnect::OnTime,
        1 => Disconnect::Late,
        _ => Disconnect::Lost,
    };
    // In one schedule out of two, B's socket drops mid-call and comes back.
    let b_drop = (w.rng().below(2) == 0).then(|| (w.rng().below(nb as u64) as usize, how));
    let ta = tokio::spawn(side(w.clone(), room.clone(), a.clone(), "a", na, None));
    let tb = tokio::spawn(side(w.clone(), room.clone(), b.clone(), "b", nb, b_drop));
    let mut background = ta.await.map_err(|e| e.to_string())?;
    background.extend(tb.await.map_err(|e| e.to_string())?);
    for t in background {
        t.await.map_err(|e| e.to_string())?;
    }
    totals.messages += na + nb;
    if let Some((_, how)) = b_drop {
        totals.drops += 1;
        totals.lost_disconnects += usize::from(matches!(how, Disconnect::Lost));
    }
    let expect = |side: &str, n: usize| (0..n).map(|i| format!("{side}-{i}")).collect::<Vec<_>>();
    let at_b = received(&w, &["b0", "b1"])?;
    if at_b != expect("a", na) {
        return Err(format!("B received {at_b:?}, A sent {na}"));
    }
    let at_a = received(&w, &["a0"])?;
    if at_a != expect("b", nb) {
        return Err(format!("A received {at_a:?}, B sent {nb}"));
    }
    no_socket_closed(&w)?;
    // Both phones vanish; each $disconnect arrives or is lost. After the grace, a newcomer gets in.
    for c in ["a0", "b0", "b1"] {
        w.conns.inner.vanish(c);
        if w.rng().below(2) == 0 {
            w.relay.on_disconnect(&c.into()).await;
        }
    }
    let grace = w.settings.limits.reconnect_grace;
    tokio::time::sleep(grace + Duration::from_secs(1)).await;
    join(&w, &room).await?;
    let oversized = w.store.hook().oversized.lock().unwrap().clone();
    if !oversized.is_empty() {
        return Err(format!("rooms written with {oversized:?} members"));
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn every_message_arrives_once_in_order_under_parallel_unordered_invocations() {
    let seeds = seeds(400);
    let mut totals = Totals::default();
    let mut failures = Vec::new();
    for &seed in &seeds {
        if let Err(e) = schedule(seed, &mut totals).await {
            failures.push(format!("seed {seed}: {e}"));
        }
    }
    println!(
        "{} schedules, {} messages, {} dropped sockets ({} $disconnect lost), {} failed",
        seeds.len(),
        totals.messages,
        totals.drops,
        totals.lost_disconnects,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} schedules failed; first: {}\n{}",
        failures.len(),
        seeds.len(),
        failures.first().map_or("", String::as_str),
        failures.join("\n")
    );
}

/// The burst schedule: both sides register and send 16 frames at the same instant, every frame
/// its own invocation started at once (as on as many Lambda instances as there are frames), with
/// the seeded delays before every store call and post deciding who gets where first. Nothing
/// orders these frames, so only the set is checked: each exactly once, no error frame, no socket
/// closed.
async fn burst(seed: u64) -> Result<(), String> {
    const FRAMES: usize = 16;
    let w = Arc::new(world(seed));
    let room = RoomId::parse(&format!("burst{seed}")).map_err(|e| e.to_string())?;
    let a = join(&w, &room).await?;
    let b = join(&w, &room).await?;
    let mut tasks = Vec::new();
    for (client, name) in [(&a, "a"), (&b, "b")] {
        let conn = format!("{name}0");
        w.conns.inner.open(&conn);
        let frames = std::iter::once(register(room.as_str(), client.as_str()))
            .chain((0..FRAMES).map(|i| send(&message(name, i))));
        for f in frames {
            let (w, conn) = (w.clone(), ConnectionId::new(conn.clone()));
            tasks.push(tokio::spawn(
                async move { w.relay.on_frame(&conn, &f).await },
            ));
        }
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let expect = |side: &str| sorted((0..FRAMES).map(|i| format!("{side}-{i}")).collect());
    let at_b = sorted(received(&w, &["b0"])?);
    if at_b != expect("a") {
        return Err(format!("B received {at_b:?}"));
    }
    let at_a = sorted(received(&w, &["a0"])?);
    if at_a != expect("b") {
        return Err(format!("A received {at_a:?}"));
    }
    no_socket_closed(&w)?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_frames_on_as_many_invocations_arrives_exactly_once() {
    let seeds = seeds(300);
    let mut failures = Vec::new();
    for &seed in &seeds {
        if let Err(e) = burst(seed).await {
            failures.push(format!("seed {seed}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} burst schedules failed; first: {}",
        failures.len(),
        seeds.len(),
        failures.first().map_or("", String::as_str)
    );
}
