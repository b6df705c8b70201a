//! Relay rules for a relay whose sockets live outside this process (API Gateway WebSockets), with
//! the collider's semantics (docs/protocol.md §3.6). Pure functions, like the room rules.
//!
//! The room record holds who is in the room and which connection each member registered; it
//! changes only on membership events (join, leave, register, a socket gone). The frames a member
//! sends while its peer cannot take them wait in that member's [`MemberQueue`], a record of its
//! own that frames are appended to without reading it first, so a burst of frames from one call
//! never writes the room record and never conflicts with itself.
//!
//! Every frame is its own invocation, and invocations run in parallel. Per sender, frames keep
//! their order as far as the invocations' order allows: a frame goes straight to the peer's
//! connection only while the sender's queue is [idle](MemberQueue::idle); otherwise it joins the
//! queue, and the one invocation holding the queue's [`Lease`] delivers it in order, removing
//! frames only once they were posted. The lease is given up only by a [step](MemberQueue::step)
//! that finds the queue empty, in the same write, so a frame appended meanwhile is never left
//! behind: either the holder's next step sees it, or its appender finds the lease free and
//! delivers it itself.

use super::ids::{ClientId, ConnectionId};
use super::room::{
    Member, Millis, Presence, Room, RoomLimits, RoomSlot, away, needs_pruning, prune,
};

/// Result of registering a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// The id is not a live member of the room.
    NotMember,
    /// Another connection is registered for this id (it may be dead: the caller checks).
    Taken(ConnectionId),
    /// Registered. The caller delivers what waits in the registering member's queue and in its
    /// peer's, now that the registration may have made either deliverable.
    Attached {
        /// The other member, whose queue may now be delivered to this connection.
        peer: Option<ClientId>,
        /// Connections of clients that left the room and still had one: the caller closes them.
        evict: Vec<ConnectionId>,
    },
}

/// What becomes of a frame from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// Post it to this connection now (nothing of the sender's waits).
    Direct(ConnectionId),
    /// Append it to the sender's queue: it waits behind earlier frames or for the peer.
    Queue,
    /// Nobody to deliver to (and the sender cannot queue).
    Drop,
}

/// Most frames one delivery step hands out.
pub const BATCH: usize = 64;

/// A claim on delivering one member's queue, held by one invocation until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The holder's token.
    pub owner: u64,
    /// Epoch milliseconds after which another invocation may take it over.
    pub until: Millis,
}

/// Caps on one member's queue, and how long a delivery lease lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most frames.
    pub max_frames: usize,
    /// Most bytes.
    pub max_bytes: usize,
    /// How long a lease lasts without renewal.
    pub lease: Millis,
}

/// The frames one member sent that wait for its peer, oldest first, and who delivers them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberQueue {
    /// The frames, oldest first.
    pub frames: Vec<String>,
    /// Their bytes.
    pub bytes: usize,
    /// Who is delivering them.
    pub lease: Option<Lease>,
    /// How many times a holder that could not finish handed the queue on to a fresh invocation
    /// since it was last emptied ([`MemberQueue::release`]).
    pub handoffs: u32,
}

/// How many times a queue is handed off to a fresh invocation before it waits for the next frame,
/// registration or keep-alive sweep: each hand-off runs a whole invocation of retries, so a peer
/// that cannot take frames for that long is not retried without end.
pub const MAX_HANDOFFS: u32 = 3;

/// What appending a frame to a queue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Appended. `delivering`: a live lease is held, and its holder will post the frame.
    Queued {
        /// Someone holds the lease.
        delivering: bool,
    },
    /// The queue is at its cap; nothing was appended.
    Full,
}

/// The next step of delivering a member's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The caller holds the lease: post these frames, in order, then take the next step with
    /// how many were posted.
    Deliver(Vec<String>),
    /// Nothing waits; the caller's lease, if it had one, is released.
    Done,
    /// Another invocation holds the lease and delivers the queue (or the caller lost its lease).
    Busy,
}

fn lease_free(lease: Option<Lease>, now: Millis) -> bool {
    lease.is_none_or(|l| now >= l.until)
}

impl MemberQueue {
    /// Whether a frame may go straight to the peer: nothing waits and nobody delivers.
    pub fn idle(&self, now: Millis) -> bool {
        self.frames.is_empty() && lease_free(self.lease, now)
    }

    /// Whether someone holds a lease that has not expired.
    pub fn delivering(&self, now: Millis) -> bool {
        !lease_free(self.lease, now)
    }

    /// Appends `frame` within the caps.
    pub fn append(&mut self, frame: &str, now: Millis, q: &QueueLimits) -> Appended {
        if self.frames.len() >= q.max_frames || self.bytes + frame.len() > q.max_bytes {
            return Appended::Full;
        }
        self.frames.push(frame.to_owned());
        self.bytes += frame.len();
        Appended::Queued {
            delivering: self.delivering(now),
        }
    }

    /// Appends frames that were accepted earlier (a connection's parked frames joining its
    /// member's queue at registration): no cap, they were capped when parked.
    pub fn extend(&mut self, frames: &[String]) {
        self.frames.extend_from_slice(frames);
        self.bytes += frames.iter().map(String::len).sum::<usize>();
    }

    /// One step of delivering this queue for the invocation `token`: when it holds the lease,
    /// removes the `delivered` frames its previous step handed out; then, if frames remain and
    /// the lease is free or its own, takes or renews the lease and hands out up to [`BATCH`] of
    /// them; if none remain, releases its lease. Frames are removed only once posted, so a holder that dies
    /// loses nothing: its lease expires and the next step of anyone delivers them again.
    pub fn step(&mut self, token: u64, delivered: usize, now: Millis, q: &QueueLimits) -> Step {
        let holds = self.lease.is_some_and(|l| l.owner == token);
        if holds {
            let n = delivered.min(self.frames.len());
            let bytes: usize = self.frames.drain(..n).map(|f| f.len()).sum();
            self.bytes = self.bytes.saturating_sub(bytes);
        } else if delivered > 0 || !lease_free(self.lease, now) {
            return Step::Busy;
        }
        if self.frames.is_empty() {
            if holds {
                self.lease = None;
                self.handoffs = 0;
            }
            return Step::Done;
        }
        self.lease = Some(Lease {
            owner: token,
            until: now.saturating_add(q.lease),
        });
        Step::Deliver(self.frames.iter().take(BATCH).cloned().collect())
    }
}

impl MemberQueue {
    /// Gives up the lease `token` holds, keeping the frames (a delivery that cannot go on). With
    /// `hand_off`, frames waiting and fewer than [`MAX_HANDOFFS`] hand-offs so far, the queue is
    /// handed off: the write counts it, and the host starts a fresh invocation that delivers it.
    /// Returns whether it was handed off.
    pub fn release(&mut self, token: u64, hand_off: bool) -> bool {
        if self.lease.is_none_or(|l| l.owner != token) {
            return false;
        }
        self.lease = None;
        let handed = hand_off && !self.frames.is_empty() && self.handoffs < MAX_HANDOFFS;
        if handed {
            self.handoffs += 1;
        }
        handed
    }
}

/// Splits the room into the member `id` and the other one.
fn pair<'a>(
    members: &'a mut [Member],
    id: &ClientId,
) -> Option<(&'a mut Member, Option<&'a mut Member>)> {
    let i = members.iter().position(|m| &m.id == id)?;
    let (left, right) = members.split_at_mut(i);
    let (me, rest) = right.split_first_mut()?;
    let other = left.iter_mut().chain(rest.iter_mut()).next();
    Some((me, other))
}

/// A registration being applied.
#[derive(Debug, Clone, Copy)]
pub struct Registering<'a> {
    /// The id the connection registers as.
    pub client: &'a ClientId,
    /// The connection.
    pub conn: &'a ConnectionId,
    /// A previous connection of this id known to be dead, which may be replaced.
    pub stale: Option<&'a ConnectionId>,
    /// The connection closed before its registration was handled: it registers (its frames
    /// count, as the socket had sent them) and leaves at once, keeping its place for the grace.
    pub closed: bool,
}

/// Registers `r.conn` for `r.client`. The frames parked on the connection join the member's
/// queue in the same write (the store does that part).
pub fn attach(
    slot: &mut RoomSlot,
    r: &Registering<'_>,
    now: Millis,
    limits: &RoomLimits,
) -> Attach {
    prune(slot, now);
    let Some(room) = slot else {
        return Attach::NotMember;
    };
    let id = r.client.canonical();
    let Some((me, peer)) = pair(&mut room.members, &id) else {
        return Attach::NotMember;
    };
    let peer = peer.map(|p| p.id.clone());
    if let Some(existing) = &me.connection
        && existing != r.conn
        && Some(existing) != r.stale
    {
        if r.closed {
            // A newer socket of this id is registered: this one only had frames to deliver.
            return Attach::Attached {
                peer,
                evict: Vec::new(),
            };
        }
        return Attach::Taken(existing.clone());
    }
    if r.closed {
        me.connection = None;
        if me.presence != Presence::Virtual {
            me.presence = away(now, limits);
        }
    } else {
        me.connection = Some(r.conn.clone());
        if me.presence != Presence::Virtual {
            me.presence = Presence::Connected;
            me.received.clear();
        }
    }
    let evict = if r.closed {
        Vec::new()
    } else {
        room.departed
            .iter_mut()
            .filter_map(|d| d.connection.take())
            .collect()
    };
    Attach::Attached { peer, evict }
}

/// The connection `conn` closed: its member keeps its place for the reconnect grace. Returns the
/// member, if the connection was registered.
pub fn detach(
    slot: &mut RoomSlot,
    conn: &ConnectionId,
    now: Millis,
    limits: &RoomLimits,
) -> Option<ClientId> {
    let room = slot.as_mut()?;
    let m = room
        .members
        .iter_mut()
        .find(|m| m.connection.as_ref() == Some(conn))?;
    m.connection = None;
    if m.presence != Presence::Virtual {
        m.presence = away(now, limits);
    }
    Some(m.id.clone())
}

/// The connection of `from`'s peer, when `from` is a member and its peer is registered and
/// nothing in the room is due for pruning. [`send`] decides [`Forward::Direct`] for an idle queue
/// through this, so a caller may read a stored room in place (no copy) and fall back to
/// [`send`] on `None`.
pub fn direct_route<'a>(room: &'a Room, from: &ClientId, now: Millis) -> Option<&'a ConnectionId> {
    if needs_pruning(room, now) {
        return None;
    }
    let me = room.members.iter().position(|m| from.names(&m.id))?;
    let peer = room.members.iter().enumerate().find(|(i, _)| *i != me)?.1;
    peer.connection.as_ref()
}

/// [`send`] for a frame whose [`direct_route`] answered `peer`: straight on while the sender's
/// queue is idle, queued behind it otherwise. Lets a caller read the queue and the room at once.
pub fn send_routed(peer: ConnectionId, idle: bool) -> Forward {
    if idle {
        Forward::Direct(peer)
    } else {
        Forward::Queue
    }
}

/// The connection of `sender`'s registered peer in `slot`, if any (who a queue is delivered to).
pub fn peer_connection(slot: &RoomSlot, sender: &ClientId, now: Millis) -> Option<ConnectionId> {
    let mut slot = slot.clone();
    prune(&mut slot, now);
    let id = sender.canonical();
    let room = slot.as_ref()?;
    room.members.iter().any(|m| m.id == id).then_some(())?;
    room.members
        .iter()
        .find(|m| m.id != id)
        .and_then(|m| m.connection.clone())
}

/// Decides what becomes of a frame from `from`, given whether `from`'s queue is idle. `queue`
/// is false for a frame that is only worth delivering now (`bye`). A member that just left may
/// still send its `bye` straight to the peer. Changes nothing: queueing is the store's append.
pub fn send(slot: &RoomSlot, from: &ClientId, idle: bool, queue: bool, now: Millis) -> Forward {
    if idle && let Some(c) = slot.as_ref().and_then(|room| direct_route(room, from, now)) {
        return Forward::Direct(c.clone());
    }
    let mut slot = slot.clone();
    prune(&mut slot, now);
    let id = from.canonical();
    let was_here = super::room::departed(&slot, &id, now);
    let Some(room) = slot.as_mut() else {
        return Forward::Drop;
    };
    let Some((_, peer)) = pair(&mut room.members, &id) else {
        return match room.members.iter().find_map(|m| m.connection.clone()) {
            Some(c) if was_here => Forward::Direct(c),
            _ => Forward::Drop,
        };
    };
    let peer = peer.and_then(|p| p.connection.clone());
    match peer {
        None if !queue => Forward::Drop,
        Some(c) if idle => Forward::Direct(c),
        _ => Forward::Queue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::SignalingMessage;
    use crate::domain::room::{JoinOutcome, is_member, join, leave, millis, post_message};

    fn id(s: &str) -> ClientId {
        ClientId::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    const Q: QueueLimits = QueueLimits {
        max_frames: 10,
        max_bytes: 100,
        lease: 5_000,
    };

    fn c(id: &str) -> ConnectionId {
        ConnectionId::new(id)
    }

    fn reg<'a>(
        client: &'a ClientId,
        conn: &'a ConnectionId,
        stale: Option<&'a ConnectionId>,
    ) -> Registering<'a> {
        Registering {
            client,
            conn,
            stale,
            closed: false,
        }
    }

    /// A room joined by `a` and `b` at time 0, with the sockets `c<name>` of `registered`.
    fn members_of_a_call(registered: &[&str], l: &RoomLimits) -> RoomSlot {
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, l);
        join(&mut slot, &id("b"), false, 0, l);
        for name in registered {
            register(&mut slot, name, 0, l);
        }
        slot
    }

    fn attached(peer: Option<&str>) -> Attach {
        Attach::Attached {
            peer: peer.map(id),
            evict: Vec::new(),
        }
    }

    /// `name` registers its socket `c<name>` at `now`.
    fn register(slot: &mut RoomSlot, name: &str, now: Millis, l: &RoomLimits) {
        let conn = c(&format!("c{name}"));
        assert!(matches!(
            attach(slot, &reg(&id(name), &conn, None), now, l),
            Attach::Attached { .. }
        ));
    }

    fn msg(t: &str) -> SignalingMessage {
        SignalingMessage::parse(format!("{{\"type\":\"{t}\"}}"), 1024)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The register deadline drops a joiner that never registered, not a registered member. (How
    /// a closed socket's place is kept for the reconnect grace:
    /// `a_dead_connection_detached_late_keeps_the_place_for_the_grace_then_frees_it`.)
    #[test]
    fn a_joiner_that_never_registers_expires_and_a_registered_member_stays() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        register(&mut slot, "a", 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        let later = millis(l.register_deadline);
        assert!(is_member(&slot, &id("b"), later - 1));
        assert!(!is_member(&slot, &id("b"), later));
        assert!(is_member(&slot, &id("a"), later));
        assert_eq!(
            join(&mut slot, &id("c"), false, later, &l),
            JoinOutcome::Joined {
                is_initiator: false,
                messages: Vec::new()
            },
            "c takes the expired joiner's place; a stays the initiator"
        );
        assert!(slot.as_ref().is_some_and(|r| r.members[0].initiator));
    }

    #[test]
    fn an_offer_handed_to_a_joiner_that_never_registers_goes_to_the_next_joiner() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        register(&mut slot, "a", 0, &l);
        post_message(&mut slot, &id("a"), &msg("offer"), 0, &l);
        let JoinOutcome::Joined { messages, .. } = join(&mut slot, &id("ghost"), false, 0, &l)
        else {
            panic!("ghost not admitted")
        };
        assert_eq!(messages.len(), 1);
        let later = millis(l.register_deadline);
        assert_eq!(
            join(&mut slot, &id("c"), false, later, &l),
            JoinOutcome::Joined {
                is_initiator: false,
                messages: vec![msg("offer").into_string()]
            }
        );
        // A joiner that registers keeps what it got: nothing comes back later.
        register(&mut slot, "c", later, &l);
        assert!(
            slot.as_ref()
                .is_some_and(|r| r.members.iter().all(|m| m.received.is_empty()))
        );
    }

    #[test]
    fn frames_queue_until_the_peer_registers_then_go_straight_on() {
        let l = RoomLimits::default();
        let mut slot = None;
        assert!(matches!(
            join(&mut slot, &id("a"), false, 0, &l),
            JoinOutcome::Joined { .. }
        ));
        assert_eq!(
            attach(&mut slot, &reg(&id("a"), &c("ca"), None), 0, &l),
            attached(None)
        );
        join(&mut slot, &id("b"), false, 0, &l);
        assert_eq!(send(&slot, &id("a"), true, true, 0), Forward::Queue);
        assert_eq!(
            attach(&mut slot, &reg(&id("b"), &c("cb"), None), 0, &l),
            attached(Some("a"))
        );
        // While a's queue is not idle, a's frames queue behind it.
        assert_eq!(send(&slot, &id("a"), false, true, 0), Forward::Queue);
        assert_eq!(
            send(&slot, &id("a"), true, true, 0),
            Forward::Direct("cb".into())
        );
        assert_eq!(
            attach(&mut slot, &reg(&id("b"), &c("cb2"), None), 0, &l),
            Attach::Taken("cb".into())
        );
        assert_eq!(
            attach(&mut slot, &reg(&id("b"), &c("cb2"), Some(&c("cb"))), 0, &l),
            attached(Some("a"))
        );
        assert_eq!(detach(&mut slot, &c("cb2"), 0, &l), Some(id("b")));
        assert_eq!(send(&slot, &id("a"), true, true, 0), Forward::Queue);
        assert_eq!(
            send(&slot, &id("a"), true, false, 0),
            Forward::Drop,
            "a bye waits for nobody"
        );
    }

    #[test]
    fn a_queue_is_delivered_in_order_by_one_holder_and_released_only_when_empty() {
        let mut q = MemberQueue::default();
        assert_eq!(q.step(1, 0, 0, &Q), Step::Done, "nothing to deliver");
        assert_eq!(
            q.append("f1", 0, &Q),
            Appended::Queued { delivering: false }
        );
        assert_eq!(q.step(1, 0, 0, &Q), Step::Deliver(vec!["f1".into()]));
        assert!(!q.idle(0));
        // Appended behind a delivery in progress: the holder's next step hands it out.
        assert_eq!(q.append("f2", 0, &Q), Appended::Queued { delivering: true });
        assert_eq!(q.step(2, 0, 0, &Q), Step::Busy, "one holder at a time");
        assert_eq!(q.step(1, 1, 0, &Q), Step::Deliver(vec!["f2".into()]));
        assert_eq!(q.step(1, 1, 0, &Q), Step::Done);
        assert!(q.idle(0));
        assert_eq!(q.bytes, 0);
        assert_eq!(q.lease, None);
    }

    #[test]
    fn a_holder_that_died_loses_nothing_and_its_lease_is_taken_over_when_it_expires() {
        let mut q = MemberQueue::default();
        q.append("f1", 0, &Q);
        q.append("f2", 0, &Q);
        assert!(matches!(q.step(1, 0, 0, &Q), Step::Deliver(_)));
        // Holder 1 posted one frame, then died before its next step.
        assert_eq!(q.step(2, 0, Q.lease - 1, &Q), Step::Busy);
        assert_eq!(
            q.step(2, 0, Q.lease, &Q),
            Step::Deliver(vec!["f1".into(), "f2".into()])
        );
        assert_eq!(
            q.step(1, 1, Q.lease, &Q),
            Step::Busy,
            "a lost lease removes nothing"
        );
        assert_eq!(q.frames.len(), 2);
    }

    #[test]
    fn a_queue_refuses_frames_over_its_caps() {
        let mut q = MemberQueue::default();
        for _ in 0..Q.max_frames {
            assert!(matches!(q.append("f", 0, &Q), Appended::Queued { .. }));
        }
        assert_eq!(q.append("f", 0, &Q), Appended::Full);
        let mut q = MemberQueue::default();
        assert_eq!(
            q.append(&"x".repeat(Q.max_bytes + 1), 0, &Q),
            Appended::Full
        );
        assert!(q.frames.is_empty());
    }

    /// Rooms driven through random joins, registrations, closes, leaves and clock steps:
    /// wherever [`direct_route`] answers for an idle queue, [`send`] decides the same, and
    /// wherever `send` goes direct for a member with an idle queue, `direct_route` had answered
    /// unless something was due for pruning.
    #[test]
    fn direct_route_answers_exactly_where_send_goes_direct() {
        let l = RoomLimits {
            reconnect_grace: std::time::Duration::from_millis(300),
            register_deadline: std::time::Duration::from_millis(500),
            ..RoomLimits::default()
        };
        let clients = [id("a"), id("b"), ClientId::loopback(), id("c")];
        let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let (mut checked, mut direct) = (0, 0);
        for _ in 0..200 {
            let mut slot = None;
            let mut now: Millis = 1_000;
            for step in 0..60_u64 {
                let who = &clients[usize::try_from(next(4)).unwrap_or(0)];
                match next(6) {
                    0 => drop(join(&mut slot, who, next(4) == 0, now, &l)),
                    1 => {
                        let conn = ConnectionId::new(format!("c{step}"));
                        drop(attach(&mut slot, &reg(who, &conn, None), now, &l));
                    }
                    2 => {
                        let conn = format!("c{}", next(step + 1));
                        drop(detach(&mut slot, &ConnectionId::new(conn), now, &l));
                    }
                    3 => drop(leave(&mut slot, who, now, &l)),
                    _ => now += next(400),
                }
                for from in &clients {
                    checked += 1;
                    let decided = send(&slot, from, true, true, now);
                    let route = slot.as_ref().and_then(|r| direct_route(r, from, now));
                    if let Some(c) = route {
                        direct += 1;
                        assert_eq!(decided, send_routed(c.to_owned(), true));
                        assert_eq!(
                            send(&slot, from, false, true, now),
                            send_routed(c.to_owned(), false),
                            "a busy queue: the frame waits behind it"
                        );
                    } else if let Forward::Direct(_) = decided {
                        let member = slot
                            .as_ref()
                            .is_some_and(|r| r.members.iter().any(|m| from.names(&m.id)));
                        let pruning = slot.as_ref().is_some_and(|r| needs_pruning(r, now));
                        assert!(
                            !member || pruning,
                            "send went direct for a member, route did not"
                        );
                    }
                }
            }
        }
        assert!(
            direct * 40 > checked,
            "{direct} direct of {checked}: too few to say much"
        );
    }

    #[test]
    fn the_next_registration_closes_the_socket_a_departed_client_left_registered() {
        let l = RoomLimits::default();
        let mut slot = members_of_a_call(&["a", "b"], &l);
        // b hangs up (`/leave` or `bye`) with its socket still open: it may still send its bye.
        leave(&mut slot, &id("b"), 10, &l);
        assert_eq!(
            send(&slot, &id("b"), true, false, 10),
            Forward::Direct("ca".into())
        );
        join(&mut slot, &id("c"), false, 20, &l);
        let Attach::Attached { evict, .. } =
            attach(&mut slot, &reg(&id("c"), &c("cc"), None), 20, &l)
        else {
            panic!("c registers");
        };
        assert_eq!(evict, ["cb"]);
        // Once only: a later registration has nothing left to close.
        detach(&mut slot, &c("cc"), 30, &l);
        let Attach::Attached { evict, .. } =
            attach(&mut slot, &reg(&id("c"), &c("cc2"), None), 30, &l)
        else {
            panic!("c registers again");
        };
        assert!(evict.is_empty(), "{evict:?}");
    }

    #[test]
    fn a_member_that_left_may_still_send_its_bye_but_not_queue() {
        let l = RoomLimits::default();
        let mut slot = members_of_a_call(&["a"], &l);
        leave(&mut slot, &id("b"), 0, &l);
        assert_eq!(
            send(&slot, &id("b"), true, false, 0),
            Forward::Direct("ca".into())
        );
        assert_eq!(send(&slot, &id("x"), true, false, 0), Forward::Drop);
        let after = crate::domain::room::millis(l.reconnect_grace);
        assert_eq!(send(&slot, &id("b"), true, false, after), Forward::Drop);
    }

    #[test]
    fn a_dead_connection_detached_late_keeps_the_place_for_the_grace_then_frees_it() {
        let l = RoomLimits::default();
        let grace = crate::domain::room::millis(l.reconnect_grace);
        let mut slot = members_of_a_call(&["a", "b"], &l);
        // b's socket is found dead at t=100 (its disconnect event never came).
        assert_eq!(detach(&mut slot, &c("cb"), 100, &l), Some(id("b")));
        assert_eq!(join(&mut slot, &id("c"), false, 100, &l), JoinOutcome::Full);
        assert_eq!(
            join(&mut slot, &id("c"), false, 100 + grace - 1, &l),
            JoinOutcome::Full
        );
        assert!(matches!(
            join(&mut slot, &id("c"), false, 100 + grace, &l),
            JoinOutcome::Joined {
                is_initiator: false,
                ..
            }
        ));
    }
}
