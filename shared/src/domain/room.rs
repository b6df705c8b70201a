//! The room rules of the original room server (docs/protocol.md §2.9) plus the ghost rules that
//! replace its missing departure detection. Pure functions over a [`Room`] value: no I/O, no clock
//! reads.

use super::ids::{ClientId, ConnectionId};
use super::message::SignalingMessage;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Milliseconds since the UNIX epoch.
pub type Millis = u64;

/// Converts a duration to milliseconds, saturating.
pub fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Limits and deadlines that the room rules apply. Every value is a documented setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomLimits {
    /// A room record lives this long after its last write (the original: 24 h).
    pub room_ttl: Duration,
    /// A joiner that has not registered its WebSocket within this time is removed.
    pub register_deadline: Duration,
    /// A member whose socket closed is removed unless it re-registers within this time.
    pub reconnect_grace: Duration,
    /// Largest signaling message in bytes.
    pub max_message_bytes: usize,
    /// Most messages saved for one waiting member.
    pub max_saved_messages: usize,
    /// Most bytes saved for one waiting member.
    pub max_saved_bytes: usize,
}

impl Default for RoomLimits {
    fn default() -> Self {
        Self {
            room_ttl: Duration::from_secs(24 * 3600),
            register_deadline: Duration::from_secs(60),
            reconnect_grace: Duration::from_secs(10),
            max_message_bytes: 64 * 1024,
            max_saved_messages: 256,
            max_saved_bytes: 256 * 1024,
        }
    }
}

/// Whether a member's WebSocket is known to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Presence {
    /// Joined, not yet registered; removed after `until`.
    Pending {
        /// Deadline in epoch milliseconds.
        until: Millis,
    },
    /// Registered on the relay.
    Connected,
    /// Socket closed; removed after `until` unless it re-registers.
    Away {
        /// Deadline in epoch milliseconds.
        until: Millis,
    },
    /// The virtual loopback member; lives as long as the real member.
    Virtual,
}

impl Presence {
    fn expired(self, now: Millis) -> bool {
        match self {
            Self::Pending { until } | Self::Away { until } => now >= until,
            Self::Connected | Self::Virtual => false,
        }
    }
}

/// One occupant of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The issued id.
    pub id: ClientId,
    /// Whether this member is (now) the initiator.
    pub initiator: bool,
    /// Messages posted while alone, handed once to the next joiner.
    pub saved: Vec<String>,
    /// Relay state, for ghost removal.
    pub presence: Presence,
    /// The relay connection registered for this member (an API Gateway connection id, or a
    /// socket of this process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionId>,
    /// The saved messages this member was handed at join, kept until it registers: if it never
    /// does, they go back to the other member for the next joiner (an offer is not lost to a
    /// ghost).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub received: Vec<String>,
}

/// A member that left (`/leave`, `bye`, collider `DELETE`) a moment ago: it may still deliver
/// its own `bye` to the peer until `until`, but holds no place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departed {
    /// The id it had.
    pub id: ClientId,
    /// Epoch milliseconds.
    pub until: Millis,
    /// The relay connection it still had registered, which the next registration in the room
    /// closes (the departed client's socket must not linger once someone else takes the room).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionId>,
}

impl Member {
    fn saved_bytes(&self) -> usize {
        self.saved.iter().map(String::len).sum()
    }
}

/// A stored room: at most two members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    /// Occupants, first joiner first.
    pub members: Vec<Member>,
    /// After this instant the record counts as absent.
    pub expires_at: Millis,
    /// Members that left within the reconnect grace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departed: Vec<Departed>,
}

/// Members per room.
pub const ROOM_CAPACITY: usize = 2;

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Admitted.
    Joined {
        /// First in the room.
        is_initiator: bool,
        /// The other member's saved messages, handed over now and cleared.
        messages: Vec<String>,
    },
    /// Two members already.
    Full,
    /// The id is already a member (only by a random collision).
    Duplicate,
}

/// What a message post did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Saved for the next joiner.
    Saved,
    /// The room has a peer: deliver through the relay.
    Forward,
    /// No such room.
    UnknownRoom,
    /// The sender is not a member.
    UnknownClient,
    /// The saved list is at its cap.
    SavedListFull,
}

/// What a leave did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveOutcome {
    /// Removed.
    Left,
    /// No such room.
    UnknownRoom,
    /// Not a member.
    UnknownClient,
}

/// A room as read from a store, or absent. Rules take `&mut RoomSlot` so that they can create and
/// delete the record.
pub type RoomSlot = Option<Room>;

pub(crate) fn deadline(now: Millis, d: Duration) -> Millis {
    now.saturating_add(millis(d))
}

/// Whether [`prune`] would change `room` at `now`: the record expired, or a member's or a
/// departed client's deadline passed. A rule may read a room for which this is false without
/// pruning a copy of it first.
pub fn needs_pruning(room: &Room, now: Millis) -> bool {
    now >= room.expires_at
        || room.departed.iter().any(|d| now >= d.until)
        || room.members.iter().any(|m| m.presence.expired(now))
}

/// Drops members whose presence deadline passed and the whole record once it expired; keeps the
/// invariants (a loopback member never stays alone, a lone member is the initiator).
pub fn prune(slot: &mut RoomSlot, now: Millis) {
    let Some(room) = slot else { return };
    if !needs_pruning(room, now) {
        return;
    }
    if now >= room.expires_at {
        *slot = None;
        return;
    }
    room.departed.retain(|d| now < d.until);
    let before = room.members.len();
    let mut returned = Vec::new();
    room.members.retain_mut(|m| {
        let expired = m.presence.expired(now);
        if expired && matches!(m.presence, Presence::Pending { .. }) {
            returned.append(&mut m.received);
        }
        !expired
    });
    if !returned.is_empty()
        && let Some(sender) = room
            .members
            .iter_mut()
            .find(|m| m.presence != Presence::Virtual)
    {
        returned.append(&mut sender.saved);
        sender.saved = returned;
    }
    if room.members.len() != before {
        settle(slot);
    }
}

/// Restores the invariants after a removal.
pub(crate) fn settle(slot: &mut RoomSlot) {
    let Some(room) = slot else { return };
    if room.members.iter().all(|m| m.presence == Presence::Virtual) {
        *slot = None;
        return;
    }
    if let [survivor] = room.members.as_mut_slice() {
        survivor.initiator = true;
    }
}

pub(crate) fn touch(room: &mut Room, now: Millis, limits: &RoomLimits) {
    room.expires_at = deadline(now, limits.room_ttl);
}

/// Admits `client` if there is room (docs/protocol.md §2.3), handing over the other member's saved
/// messages.
pub fn join(
    slot: &mut RoomSlot,
    client: &ClientId,
    loopback: bool,
    now: Millis,
    limits: &RoomLimits,
) -> JoinOutcome {
    prune(slot, now);
    let newcomer = |initiator| Member {
        id: client.clone(),
        initiator,
        saved: Vec::new(),
        presence: Presence::Pending {
            until: deadline(now, limits.register_deadline),
        },
        connection: None,
        received: Vec::new(),
    };
    let Some(room) = slot else {
        let mut members = vec![newcomer(true)];
        if loopback {
            members.push(Member {
                id: ClientId::loopback(),
                initiator: false,
                saved: Vec::new(),
                presence: Presence::Virtual,
                connection: None,
                received: Vec::new(),
            });
        }
        let mut room = Room {
            members,
            expires_at: 0,
            departed: Vec::new(),
        };
        touch(&mut room, now, limits);
        *slot = Some(room);
        return JoinOutcome::Joined {
            is_initiator: true,
            messages: Vec::new(),
        };
    };
    if room.members.iter().any(|m| &m.id == client) {
        return JoinOutcome::Duplicate;
    }
    if room.members.len() >= ROOM_CAPACITY {
        return JoinOutcome::Full;
    }
    let messages: Vec<String> = room
        .members
        .iter_mut()
        .flat_map(|m| std::mem::take(&mut m.saved))
        .collect();
    let mut joiner = newcomer(false);
    joiner.received = messages.clone();
    room.members.push(joiner);
    touch(room, now, limits);
    JoinOutcome::Joined {
        is_initiator: false,
        messages,
    }
}

/// Saves or routes a message from `client` (docs/protocol.md §2.4).
pub fn post_message(
    slot: &mut RoomSlot,
    client: &ClientId,
    message: &SignalingMessage,
    now: Millis,
    limits: &RoomLimits,
) -> MessageOutcome {
    prune(slot, now);
    let Some(room) = slot else {
        return MessageOutcome::UnknownRoom;
    };
    if !room.members.iter().any(|m| &m.id == client) {
        return MessageOutcome::UnknownClient;
    }
    if room.members.len() > 1 {
        return MessageOutcome::Forward;
    }
    let Some(sender) = room.members.first_mut() else {
        return MessageOutcome::UnknownClient;
    };
    if sender.saved.len() >= limits.max_saved_messages
        || sender.saved_bytes() + message.as_str().len() > limits.max_saved_bytes
    {
        return MessageOutcome::SavedListFull;
    }
    sender.saved.push(message.as_str().to_owned());
    touch(room, now, limits);
    MessageOutcome::Saved
}

/// Removes `client` (docs/protocol.md §2.5): the loopback member goes with it, a survivor becomes
/// initiator.
/// The id is remembered for the reconnect grace, so that its own `bye` may still reach the peer.
pub fn leave(
    slot: &mut RoomSlot,
    client: &ClientId,
    now: Millis,
    limits: &RoomLimits,
) -> LeaveOutcome {
    prune(slot, now);
    let Some(room) = slot else {
        return LeaveOutcome::UnknownRoom;
    };
    let Some(i) = room.members.iter().position(|m| &m.id == client) else {
        return LeaveOutcome::UnknownClient;
    };
    let gone = room.members.remove(i);
    if !client.is_loopback() {
        room.departed.retain(|d| &d.id != client);
        room.departed.push(Departed {
            id: client.clone(),
            until: deadline(now, limits.reconnect_grace),
            connection: gone.connection,
        });
    }
    settle(slot);
    LeaveOutcome::Left
}

/// Whether `client` left `slot` within the reconnect grace.
pub fn departed(slot: &RoomSlot, client: &ClientId, now: Millis) -> bool {
    slot.as_ref()
        .is_some_and(|r| r.departed.iter().any(|d| &d.id == client && now < d.until))
}

/// Whether `client` is a live member (either loopback spelling counts for the loopback member).
/// Decides on the pruned room, like every rule: the loopback member of a room whose real member
/// expired is gone too.
pub fn is_member(slot: &RoomSlot, client: &ClientId, now: Millis) -> bool {
    let mut pruned = slot.clone();
    prune(&mut pruned, now);
    let id = client.canonical();
    pruned.is_some_and(|room| room.members.iter().any(|m| m.id == id))
}

/// Presence for a socket that just closed.
pub fn away(now: Millis, limits: &RoomLimits) -> Presence {
    Presence::Away {
        until: deadline(now, limits.reconnect_grace),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ClientId {
        ClientId::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn msg(t: &str) -> SignalingMessage {
        SignalingMessage::parse(format!("{{\"type\":\"{t}\"}}"), 1024)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const NOW: Millis = 1_000_000;

    /// A room joined by `names`, in order, at [`NOW`].
    fn joined(names: &[&str], l: &RoomLimits) -> RoomSlot {
        let mut slot = None;
        for name in names {
            join(&mut slot, &id(name), false, NOW, l);
        }
        slot
    }

    #[test]
    fn first_join_is_initiator_second_gets_saved_messages_third_is_full() {
        let l = RoomLimits::default();
        let mut slot = None;
        assert!(matches!(
            join(&mut slot, &id("a"), false, NOW, &l),
            JoinOutcome::Joined {
                is_initiator: true,
                ..
            }
        ));
        assert_eq!(
            post_message(&mut slot, &id("a"), &msg("offer"), NOW, &l),
            MessageOutcome::Saved
        );
        assert_eq!(
            join(&mut slot, &id("b"), false, NOW, &l),
            JoinOutcome::Joined {
                is_initiator: false,
                messages: vec![msg("offer").into_string()]
            }
        );
        assert_eq!(join(&mut slot, &id("c"), false, NOW, &l), JoinOutcome::Full);
        assert_eq!(
            post_message(&mut slot, &id("b"), &msg("answer"), NOW, &l),
            MessageOutcome::Forward
        );
    }

    #[test]
    fn leave_promotes_the_survivor_and_empties_the_room() {
        let l = RoomLimits::default();
        let mut slot = joined(&["a", "b"], &l);
        assert_eq!(leave(&mut slot, &id("a"), NOW, &l), LeaveOutcome::Left);
        assert!(slot.as_ref().is_some_and(|r| r.members[0].initiator));
        assert_eq!(
            leave(&mut slot, &id("x"), NOW, &l),
            LeaveOutcome::UnknownClient
        );
        assert_eq!(leave(&mut slot, &id("b"), NOW, &l), LeaveOutcome::Left);
        assert_eq!(slot, None);
        assert_eq!(
            leave(&mut slot, &id("b"), NOW, &l),
            LeaveOutcome::UnknownRoom
        );
    }

    #[test]
    fn loopback_room_is_full_and_empties_with_its_member() {
        let l = RoomLimits::default();
        let mut slot = None;
        join(&mut slot, &id("a"), true, NOW, &l);
        assert!(is_member(
            &slot,
            &id(crate::domain::ids::WEB_LOOPBACK_CLIENT_ID),
            NOW
        ));
        assert_eq!(join(&mut slot, &id("b"), false, NOW, &l), JoinOutcome::Full);
        assert_eq!(leave(&mut slot, &id("a"), NOW, &l), LeaveOutcome::Left);
        assert_eq!(slot, None);
    }

    #[test]
    fn saved_list_is_capped() {
        let l = RoomLimits {
            max_saved_messages: 2,
            ..RoomLimits::default()
        };
        let mut slot = joined(&["a"], &l);
        for _ in 0..2 {
            assert_eq!(
                post_message(&mut slot, &id("a"), &msg("candidate"), NOW, &l),
                MessageOutcome::Saved
            );
        }
        assert_eq!(
            post_message(&mut slot, &id("a"), &msg("candidate"), NOW, &l),
            MessageOutcome::SavedListFull
        );
    }

    #[test]
    fn expired_room_counts_as_absent() {
        let l = RoomLimits::default();
        let mut slot = joined(&["a"], &l);
        let gone = NOW + millis(l.room_ttl);
        assert_eq!(
            post_message(&mut slot, &id("a"), &msg("offer"), gone, &l),
            MessageOutcome::UnknownRoom
        );
    }
}
