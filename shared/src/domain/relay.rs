//! Relay rules for a relay whose sockets live outside this process (API Gateway WebSockets): the
//! connection id of each member and the frames waiting for its peer are kept in the room record,
//! with the collider's semantics (spec §3.6). Pure functions, like the room rules.

use super::ids::ClientId;
use super::room::{Millis, Presence, RoomLimits, RoomSlot, away, prune};

/// Result of registering a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// The id is not a live member of the room.
    NotMember,
    /// Another connection is registered for this id (it may be dead: the caller checks).
    Taken(String),
    /// Registered; these frames, queued by the other member, go to the new connection now.
    Attached {
        /// Frames in order.
        flush: Vec<String>,
    },
}

/// Where a frame from a client goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To this connection.
    Connection(String),
    /// Onto the sender's queue (the peer has not registered).
    Queue,
    /// Nowhere (nobody else in the room, and the sender is not a member to queue for).
    Drop,
}

/// Registers `conn` for `client`. `stale` is a previous connection known to be dead, which may be
/// replaced.
pub fn attach(
    slot: &mut RoomSlot,
    client: &ClientId,
    conn: &str,
    stale: Option<&str>,
    now: Millis,
) -> Attach {
    prune(slot, now);
    let Some(room) = slot else {
        return Attach::NotMember;
    };
    let id = client.canonical();
    let Some(i) = room.members.iter().position(|m| m.id == id) else {
        return Attach::NotMember;
    };
    if let Some(existing) = &room.members[i].connection
        && existing != conn
        && Some(existing.as_str()) != stale
    {
        return Attach::Taken(existing.clone());
    }
    let me = &mut room.members[i];
    me.connection = Some(conn.to_owned());
    if me.presence != Presence::Virtual {
        me.presence = Presence::Connected;
        me.received.clear();
    }
    let flush = room
        .members
        .iter_mut()
        .filter(|m| m.id != id)
        .flat_map(|m| std::mem::take(&mut m.queued))
        .collect();
    Attach::Attached { flush }
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

/// Where a frame from `from` goes now.
pub fn route(slot: &RoomSlot, from: &ClientId, now: Millis) -> Route {
    let id = from.canonical();
    let Some(room) = slot.as_ref().filter(|r| now < r.expires_at) else {
        return Route::Drop;
    };
    match room.members.iter().find(|m| m.id != id) {
        Some(peer) => match &peer.connection {
            Some(c) => Route::Connection(c.clone()),
            None if room.members.iter().any(|m| m.id == id) => Route::Queue,
            None => Route::Drop,
        },
        None if room.members.iter().any(|m| m.id == id) => Route::Queue,
        None => Route::Drop,
    }
}

/// Appends `frame` to `from`'s queue; `false` when the queue is at its cap (or `from` is gone).
pub fn enqueue(
    slot: &mut RoomSlot,
    from: &ClientId,
    frame: &str,
    max_count: usize,
    max_bytes: usize,
) -> bool {
    let id = from.canonical();
    let Some(m) = slot
        .as_mut()
        .and_then(|r| r.members.iter_mut().find(|m| m.id == id))
    else {
        return false;
    };
    let bytes: usize = m.queued.iter().map(String::len).sum();
    if m.queued.len() >= max_count || bytes + frame.len() > max_bytes {
        return false;
    }
    m.queued.push(frame.to_owned());
    true
}

/// Removes members whose registered connection is known to be dead (missed disconnect event).
pub fn remove_dead(slot: &mut RoomSlot, dead: &[String]) -> bool {
    let Some(room) = slot.as_mut() else {
        return false;
    };
    let before = room.members.len();
    room.members
        .retain(|m| m.connection.as_ref().is_none_or(|c| !dead.contains(c)));
    let changed = room.members.len() != before;
    if changed {
        super::room::settle(slot);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::room::{JoinOutcome, join};

    fn id(s: &str) -> ClientId {
        ClientId::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn frames_queue_until_the_peer_registers_then_flush_once() {
        let l = RoomLimits::default();
        let mut slot = None;
        assert!(matches!(
            join(&mut slot, &id("a"), false, 0, &l),
            JoinOutcome::Joined { .. }
        ));
        assert_eq!(
            attach(&mut slot, &id("a"), "ca", None, 0),
            Attach::Attached { flush: vec![] }
        );
        join(&mut slot, &id("b"), false, 0, &l);
        assert_eq!(route(&slot, &id("a"), 0), Route::Queue);
        assert!(enqueue(&mut slot, &id("a"), "f1", 10, 100));
        assert_eq!(
            attach(&mut slot, &id("b"), "cb", None, 0),
            Attach::Attached {
                flush: vec!["f1".into()]
            }
        );
        assert_eq!(route(&slot, &id("a"), 0), Route::Connection("cb".into()));
        assert_eq!(
            attach(&mut slot, &id("b"), "cb2", None, 0),
            Attach::Taken("cb".into())
        );
        assert_eq!(
            attach(&mut slot, &id("b"), "cb2", Some("cb"), 0),
            Attach::Attached { flush: vec![] }
        );
        assert_eq!(detach(&mut slot, "cb2", 0, &l), Some(id("b")));
        assert_eq!(route(&slot, &id("a"), 0), Route::Queue);
    }

    #[test]
    fn dead_connections_free_the_room() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), false, 0, &l);
        join(&mut slot, &id("b"), false, 0, &l);
        attach(&mut slot, &id("a"), "ca", None, 0);
        attach(&mut slot, &id("b"), "cb", None, 0);
        assert!(remove_dead(&mut slot, &["cb".to_owned()]));
        assert!(matches!(
            join(&mut slot, &id("c"), false, 0, &l),
            JoinOutcome::Joined {
                is_initiator: false,
                ..
            }
        ));
    }
}
