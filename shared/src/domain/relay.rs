//! Relay rules for a relay whose sockets live outside this process (API Gateway WebSockets): the
//! connection id of each member and the frames waiting for its peer are kept in the room record,
//! with the collider's semantics (docs/protocol.md §3.6). Pure functions, like the room rules.
//!
//! Every frame is its own invocation, and invocations run in parallel, so each rule decides on the
//! room as it is inside the conditional write that acts on it. Per sender, frames keep their order:
//! a frame goes straight to the peer's connection only while nothing of the sender's waits and
//! nobody is delivering its queue; otherwise it joins the queue, and the one invocation holding
//! the queue's [`Lease`] delivers it in order, removing frames only once they were posted.

use super::ids::ClientId;
use super::room::{
    Lease, Member, Millis, Presence, Room, RoomLimits, RoomSlot, away, departed, needs_pruning,
    prune,
};

/// Result of registering a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// The id is not a live member of the room.
    NotMember,
    /// Another connection is registered for this id (it may be dead: the caller checks).
    Taken(String),
    /// Registered. Each flag says the caller now holds the lease on that member's queue and
    /// must deliver it ([`next_batch`]).
    Attached {
        /// The registering member's own queue (frames parked before the registration).
        flush_own: bool,
        /// The peer (whose queue waited for this registration), when its queue is to be delivered.
        flush_peer: Option<ClientId>,
        /// Connections of clients that left the room and still had one: the caller closes them.
        evict: Vec<String>,
    },
}

/// What becomes of a frame from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    /// Post it to this connection now (nothing of the sender's waits).
    Direct(String),
    /// Queued behind earlier frames or until the peer registers; nothing more to do.
    Queued,
    /// Queued, and the caller now holds the queue's lease: it delivers the queue.
    Flush,
    /// Nobody to deliver to (and the sender cannot queue).
    Drop,
    /// The sender's queue is at its cap.
    QueueFull,
}

/// The next step of delivering a member's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Post these frames, in order, to this connection, then call [`next_batch`] with how many
    /// were posted.
    Post {
        /// The peer's connection.
        connection: String,
        /// The frames, oldest first.
        frames: Vec<String>,
    },
    /// Done: the lease is released (the queue is empty, its peer is not registered, or the lease
    /// was lost to another invocation).
    Done,
}

/// Caps on one member's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most frames.
    pub max_frames: usize,
    /// Most bytes.
    pub max_bytes: usize,
    /// How long a lease lasts without renewal.
    pub lease: Millis,
}

fn lease_free(m: &Member, now: Millis) -> bool {
    m.lease.is_none_or(|l| now >= l.until)
}

fn holds(m: &Member, token: u64) -> bool {
    m.lease.is_some_and(|l| l.owner == token)
}

/// Takes the lease on `sender`'s queue if it has frames, its peer is registered and nobody else
/// delivers it.
fn claim(
    sender: &mut Member,
    peer_registered: bool,
    token: u64,
    now: Millis,
    q: &QueueLimits,
) -> bool {
    if sender.queued.is_empty() || !peer_registered || !lease_free(sender, now) {
        return false;
    }
    sender.lease = Some(Lease {
        owner: token,
        until: now.saturating_add(q.lease),
    });
    true
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
    pub conn: &'a str,
    /// A previous connection of this id known to be dead, which may be replaced.
    pub stale: Option<&'a str>,
    /// Frames that arrived on the connection before its registration, in order.
    pub parked: &'a [String],
    /// The connection closed before its registration was handled: it registers (its frames
    /// count, as the socket had sent them) and leaves at once, keeping its place for the grace.
    pub closed: bool,
}

/// Registers `r.conn` for `r.client` and appends the frames parked for it to its queue. `token`
/// identifies the caller for the leases it may take.
pub fn attach(
    slot: &mut RoomSlot,
    r: &Registering<'_>,
    token: u64,
    now: Millis,
    q: &QueueLimits,
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
    if let Some(existing) = &me.connection
        && existing != r.conn
        && Some(existing.as_str()) != r.stale
    {
        if r.closed {
            // A newer socket of this id is registered: this one only had frames to deliver.
            me.queued.extend_from_slice(r.parked);
            let peer_registered = peer.is_some_and(|p| p.connection.is_some());
            return Attach::Attached {
                flush_own: claim(me, peer_registered, token, now, q),
                flush_peer: None,
                evict: Vec::new(),
            };
        }
        return Attach::Taken(existing.clone());
    }
    me.queued.extend_from_slice(r.parked);
    if r.closed {
        me.connection = None;
        if me.presence != Presence::Virtual {
            me.presence = away(now, limits);
        }
    } else {
        me.connection = Some(r.conn.to_owned());
        if me.presence != Presence::Virtual {
            me.presence = Presence::Connected;
            me.received.clear();
        }
    }
    let peer_registered = peer.as_ref().is_some_and(|p| p.connection.is_some());
    let flush_own = claim(me, peer_registered, token, now, q);
    let flush_peer = match peer {
        Some(p) if !r.closed => claim(p, true, token, now, q).then(|| p.id.clone()),
        _ => None,
    };
    let evict = if r.closed {
        Vec::new()
    } else {
        room.departed
            .iter_mut()
            .filter_map(|d| d.connection.take())
            .collect()
    };
    Attach::Attached {
        flush_own,
        flush_peer,
        evict,
    }
}

/// The connection `conn` closed: its member keeps its place for the reconnect grace. Returns the
/// member, if the connection was registered.
pub fn detach(
    slot: &mut RoomSlot,
    conn: &str,
    now: Millis,
    limits: &RoomLimits,
) -> Option<ClientId> {
    let room = slot.as_mut()?;
    let m = room
        .members
        .iter_mut()
        .find(|m| m.connection.as_deref() == Some(conn))?;
    m.connection = None;
    if m.presence != Presence::Virtual {
        m.presence = away(now, limits);
    }
    Some(m.id.clone())
}

/// The connection a frame from `from` goes straight to when that changes nothing in the room:
/// nothing in it is due for pruning, the sender is a member whose queue is empty and not being
/// delivered, and its peer is registered. [`send`] decides [`Send::Direct`] through this, so a
/// caller may read a stored room in place (no copy, no write) and fall back to [`send`] on `None`.
pub fn direct_route<'a>(room: &'a Room, from: &ClientId, now: Millis) -> Option<&'a str> {
    if needs_pruning(room, now) {
        return None;
    }
    let me = room.members.iter().position(|m| from.names(&m.id))?;
    let peer = room.members.iter().enumerate().find(|(i, _)| *i != me)?.1;
    let me = &room.members[me];
    if me.queued.is_empty() && lease_free(me, now) {
        peer.connection.as_deref()
    } else {
        None
    }
}

/// Decides what becomes of `frame` from `from`, queueing it where it must wait. `queue` is false
/// for a frame that is only worth delivering now (`bye`). A member that just left may still send
/// its `bye` straight to the peer.
pub fn send(
    slot: &mut RoomSlot,
    from: &ClientId,
    frame: &str,
    queue: bool,
    token: u64,
    now: Millis,
    q: &QueueLimits,
) -> Send {
    prune(slot, now);
    if let Some(c) = slot.as_ref().and_then(|room| direct_route(room, from, now)) {
        return Send::Direct(c.to_owned());
    }
    let id = from.canonical();
    let was_here = departed(slot, &id, now);
    let Some(room) = slot else {
        return Send::Drop;
    };
    let Some((me, peer)) = pair(&mut room.members, &id) else {
        return match room.members.iter().find_map(|m| m.connection.clone()) {
            Some(c) if was_here => Send::Direct(c),
            _ => Send::Drop,
        };
    };
    let peer_registered = peer.is_some_and(|p| p.connection.is_some());
    if !queue && !peer_registered {
        return Send::Drop;
    }
    let bytes: usize = me.queued.iter().map(String::len).sum();
    if me.queued.len() >= q.max_frames || bytes + frame.len() > q.max_bytes {
        return Send::QueueFull;
    }
    me.queued.push(frame.to_owned());
    if claim(me, peer_registered, token, now, q) {
        Send::Flush
    } else {
        Send::Queued
    }
}

/// One step of delivering `sender`'s queue under the lease `token`: removes the `delivered` frames
/// the previous step posted, then hands out the rest (renewing the lease) or releases the lease.
/// Removal happens only once a post succeeded, so a holder that dies loses nothing: its lease
/// expires and the next sender or registration delivers the queue again.
pub fn next_batch(
    slot: &mut RoomSlot,
    sender: &ClientId,
    token: u64,
    delivered: usize,
    now: Millis,
    q: &QueueLimits,
) -> Batch {
    let Some(room) = slot.as_mut() else {
        return Batch::Done;
    };
    let id = sender.canonical();
    let Some((me, peer)) = pair(&mut room.members, &id) else {
        return Batch::Done;
    };
    if !holds(me, token) {
        return Batch::Done;
    }
    me.queued.drain(..delivered.min(me.queued.len()));
    match peer.and_then(|p| p.connection.clone()) {
        Some(connection) if !me.queued.is_empty() => {
            me.lease = Some(Lease {
                owner: token,
                until: now.saturating_add(q.lease),
            });
            Batch::Post {
                connection,
                frames: me.queued.clone(),
            }
        }
        _ => {
            me.lease = None;
            Batch::Done
        }
    }
}

/// Releases the lease `token` holds on `sender`'s queue, keeping the frames (after a failed post).
pub fn release(slot: &mut RoomSlot, sender: &ClientId, token: u64) {
    let id = sender.canonical();
    if let Some(me) = slot
        .as_mut()
        .and_then(|r| r.members.iter_mut().find(|m| m.id == id))
        && holds(me, token)
    {
        me.lease = None;
    }
}

/// Members whose queue has frames, a registered peer and no delivery in progress (for the sweep).
pub fn stuck(slot: &RoomSlot, now: Millis) -> Vec<ClientId> {
    let Some(room) = slot.as_ref().filter(|r| now < r.expires_at) else {
        return Vec::new();
    };
    let peer_registered = |m: &Member| {
        room.members
            .iter()
            .any(|p| p.id != m.id && p.connection.is_some())
    };
    room.members
        .iter()
        .filter(|m| !m.queued.is_empty() && lease_free(m, now) && peer_registered(m))
        .map(|m| m.id.clone())
        .collect()
}

/// Takes the lease on `sender`'s queue if it can be delivered now (for the sweep).
pub fn claim_queue(
    slot: &mut RoomSlot,
    sender: &ClientId,
    token: u64,
    now: Millis,
    q: &QueueLimits,
) -> bool {
    prune(slot, now);
    let id = sender.canonical();
    let Some((me, peer)) = slot.as_mut().and_then(|r| pair(&mut r.members, &id)) else {
        return false;
    };
    let peer_registered = peer.is_some_and(|p| p.connection.is_some());
    claim(me, peer_registered, token, now, q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::room::{JoinOutcome, join, leave};

    fn id(s: &str) -> ClientId {
        ClientId::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    const Q: QueueLimits = QueueLimits {
        max_frames: 10,
        max_bytes: 100,
        lease: 5_000,
    };

    fn reg<'a>(
        client: &'a ClientId,
        conn: &'a str,
        stale: Option<&'a str>,
        parked: &'a [String],
    ) -> Registering<'a> {
        Registering {
            client,
            conn,
            stale,
            parked,
            closed: false,
        }
    }

    fn attached(flush_own: bool, flush_peer: Option<&str>) -> Attach {
        Attach::Attached {
            flush_own,
            flush_peer: flush_peer.map(id),
            evict: Vec::new(),
        }
    }

    #[test]
    fn frames_queue_until_the_peer_registers_and_its_registration_delivers_them() {
        let l = RoomLimits::default();
        let mut slot = None;
        assert!(matches!(
            join(&mut slot, &id("a"), false, 0, &l),
            JoinOutcome::Joined { .. }
        ));
        assert_eq!(
            attach(&mut slot, &reg(&id("a"), "ca", None, &[]), 1, 0, &Q, &l),
            attached(false, None)
        );
        join(&mut slot, &id("b"), false, 0, &l);
        assert_eq!(
            send(&mut slot, &id("a"), "f1", true, 2, 0, &Q),
            Send::Queued
        );
        assert_eq!(
            attach(&mut slot, &reg(&id("b"), "cb", None, &[]), 3, 0, &Q, &l),
            attached(false, Some("a"))
        );
        // While b's registration delivers a's queue, a's next frame waits behind it.
        assert_eq!(
            send(&mut slot, &id("a"), "f2", true, 4, 0, &Q),
            Send::Queued
        );
        assert_eq!(
            next_batch(&mut slot, &id("a"), 3, 0, 0, &Q),
            Batch::Post {
                connection: "cb".into(),
                frames: vec!["f1".into(), "f2".into()]
            }
        );
        assert_eq!(next_batch(&mut slot, &id("a"), 3, 2, 0, &Q), Batch::Done);
        assert_eq!(
            send(&mut slot, &id("a"), "f3", true, 5, 0, &Q),
            Send::Direct("cb".into())
        );
        assert_eq!(
            attach(&mut slot, &reg(&id("b"), "cb2", None, &[]), 6, 0, &Q, &l),
            Attach::Taken("cb".into())
        );
        assert_eq!(
            attach(
                &mut slot,
                &reg(&id("b"), "cb2", Some("cb"), &[]),
                6,
                0,
                &Q,
                &l
            ),
            attached(false, None)
        );
        assert_eq!(detach(&mut slot, "cb2", 0, &l), Some(id("b")));
        assert_eq!(
            send(&mut slot, &id("a"), "f4", true, 7, 0, &Q),
            Send::Queued
        );
    }

    /// Rooms driven through random joins, registrations, sends, deliveries, closes, leaves and
    /// clock steps: wherever [`direct_route`] answers, [`send`] decides the same frame the same
    /// way and changes nothing, and wherever `send` sends a member's frame straight on without a
    /// change, `direct_route` had answered (the in-place read misses no direct frame).
    #[test]
    fn direct_route_answers_exactly_where_send_goes_direct_without_a_change() {
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
                match next(8) {
                    0 => drop(join(&mut slot, who, next(4) == 0, now, &l)),
                    1 => {
                        let conn = format!("c{step}");
                        drop(attach(
                            &mut slot,
                            &reg(who, &conn, None, &[]),
                            step,
                            now,
                            &Q,
                            &l,
                        ));
                    }
                    2 => drop(send(&mut slot, who, "f", next(2) == 0, step, now, &Q)),
                    3 => drop(next_batch(&mut slot, who, next(step + 1), 1, now, &Q)),
                    4 => {
                        let conn = format!("c{}", next(step + 1));
                        drop(detach(&mut slot, &conn, now, &l));
                    }
                    5 => drop(leave(&mut slot, who, now, &l)),
                    _ => now += next(400),
                }
                for from in &clients {
                    checked += 1;
                    let mut after = slot.clone();
                    let decided = send(&mut after, from, "g", true, 1_000 + step, now, &Q);
                    let route = slot.as_ref().and_then(|r| direct_route(r, from, now));
                    if let Some(c) = route {
                        direct += 1;
                        assert_eq!(decided, Send::Direct(c.to_owned()));
                        assert_eq!(after, slot, "a direct frame changes nothing");
                    } else if let Send::Direct(_) = decided {
                        let member = slot
                            .as_ref()
                            .is_some_and(|r| r.members.iter().any(|m| from.names(&m.id)));
                        assert!(
                            after != slot || !member,
                            "send went direct for a member without a change, route did not"
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
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        attach(&mut slot, &reg(&id("a"), "ca", None, &[]), 1, 0, &Q, &l);
        attach(&mut slot, &reg(&id("b"), "cb", None, &[]), 2, 0, &Q, &l);
        // b hangs up (`/leave` or `bye`) with its socket still open: it may still send its bye.
        leave(&mut slot, &id("b"), 10, &l);
        assert_eq!(
            send(&mut slot, &id("b"), "bye", false, 3, 10, &Q),
            Send::Direct("ca".into())
        );
        join(&mut slot, &id("c"), false, 20, &l);
        let Attach::Attached { evict, .. } =
            attach(&mut slot, &reg(&id("c"), "cc", None, &[]), 4, 20, &Q, &l)
        else {
            panic!("c registers");
        };
        assert_eq!(evict, ["cb"]);
        // Once only: a later registration has nothing left to close.
        detach(&mut slot, "cc", 30, &l);
        let Attach::Attached { evict, .. } =
            attach(&mut slot, &reg(&id("c"), "cc2", None, &[]), 5, 30, &Q, &l)
        else {
            panic!("c registers again");
        };
        assert!(evict.is_empty(), "{evict:?}");
    }

    #[test]
    fn frames_parked_before_a_registration_are_delivered_first_and_in_order() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        attach(&mut slot, &reg(&id("b"), "cb", None, &[]), 1, 0, &Q, &l);
        let parked = ["p1".to_owned(), "p2".to_owned()];
        assert_eq!(
            attach(&mut slot, &reg(&id("a"), "ca", None, &parked), 2, 0, &Q, &l),
            attached(true, None)
        );
        assert_eq!(
            send(&mut slot, &id("a"), "f3", true, 3, 0, &Q),
            Send::Queued
        );
        let Batch::Post { frames, .. } = next_batch(&mut slot, &id("a"), 2, 0, 0, &Q) else {
            panic!("nothing to post");
        };
        assert_eq!(frames, ["p1", "p2", "f3"]);
    }

    #[test]
    fn a_failed_delivery_keeps_the_frames_and_an_expired_lease_is_taken_over() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        attach(&mut slot, &reg(&id("a"), "ca", None, &[]), 1, 0, &Q, &l);
        assert_eq!(
            send(&mut slot, &id("a"), "f1", true, 2, 0, &Q),
            Send::Queued
        );
        attach(&mut slot, &reg(&id("b"), "cb", None, &[]), 3, 0, &Q, &l);
        // The holder posted one frame of two, then its invocation died.
        assert_eq!(
            send(&mut slot, &id("a"), "f2", true, 4, 0, &Q),
            Send::Queued
        );
        assert!(matches!(
            next_batch(&mut slot, &id("a"), 3, 0, 0, &Q),
            Batch::Post { .. }
        ));
        release(&mut slot, &id("a"), 99);
        assert_eq!(
            send(&mut slot, &id("a"), "f3", true, 5, 1, &Q),
            Send::Queued
        );
        assert_eq!(
            send(&mut slot, &id("a"), "f4", true, 6, Q.lease + 1, &Q),
            Send::Flush
        );
        let Batch::Post { frames, .. } = next_batch(&mut slot, &id("a"), 6, 0, Q.lease + 1, &Q)
        else {
            panic!("nothing to post");
        };
        assert_eq!(frames, ["f1", "f2", "f3", "f4"]);
        assert_eq!(
            next_batch(&mut slot, &id("a"), 3, 4, Q.lease + 1, &Q),
            Batch::Done,
            "lost lease"
        );
    }

    #[test]
    fn a_member_that_left_may_still_send_its_bye_but_not_queue() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        attach(&mut slot, &reg(&id("a"), "ca", None, &[]), 1, 0, &Q, &l);
        leave(&mut slot, &id("b"), 0, &l);
        assert_eq!(
            send(&mut slot, &id("b"), "bye", false, 2, 0, &Q),
            Send::Direct("ca".into())
        );
        assert_eq!(
            send(&mut slot, &id("x"), "bye", false, 2, 0, &Q),
            Send::Drop
        );
        let after = crate::domain::room::millis(l.reconnect_grace);
        assert_eq!(
            send(&mut slot, &id("b"), "bye", false, 2, after, &Q),
            Send::Drop
        );
    }

    #[test]
    fn a_dead_connection_detached_late_keeps_the_place_for_the_grace_then_frees_it() {
        let l = RoomLimits::default();
        let grace = crate::domain::room::millis(l.reconnect_grace);
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        attach(&mut slot, &reg(&id("a"), "ca", None, &[]), 1, 0, &Q, &l);
        attach(&mut slot, &reg(&id("b"), "cb", None, &[]), 2, 0, &Q, &l);
        // b's socket is found dead at t=100 (its disconnect event never came).
        assert_eq!(detach(&mut slot, "cb", 100, &l), Some(id("b")));
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
