//! Room, client and connection identifiers.
//!
//! Both follow the original route rule `[a-zA-Z0-9_-]+` (case-sensitive) with an explicit upper
//! bound, so an id is always safe inside a URL path, a log field and a DynamoDB key.

use std::fmt;

/// Longest room or client id accepted anywhere (path, frame, event).
pub const MAX_ID_LEN: usize = 128;

/// The id the room server gives the virtual second member of a `debug=loopback` room
/// (also the id the iOS client registers with).
pub const LOOPBACK_CLIENT_ID: &str = "LOOPBACK_CLIENT_ID";

/// The id the original web client's loopback helper registers with (lower case).
pub const WEB_LOOPBACK_CLIENT_ID: &str = "loopback_client_id";

/// Bytes of randomness in an issued client id (128 bits).
const ISSUED_ID_BYTES: usize = 16;

/// Why a string is not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is empty.
    #[error("id is empty")]
    Empty,
    /// The id is longer than [`MAX_ID_LEN`].
    #[error("id is longer than {MAX_ID_LEN} characters")]
    TooLong,
    /// The id has a character outside `[A-Za-z0-9_-]`.
    #[error("id may only contain A-Z, a-z, 0-9, '_' and '-'")]
    BadCharacter,
}

fn validate(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Box<str>);

        impl $name {
            /// Validates `s` and wraps it.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                validate(s)?;
                Ok(Self(s.into()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// A room name chosen by the user; `[A-Za-z0-9_-]{1,128}`, case-sensitive.
    RoomId
);
id_type!(
    /// A client id issued by `join` (or one of the two loopback ids).
    ClientId
);

/// A relay connection: an API Gateway connection id, or the name of a socket of this process.
/// Opaque: its transport makes it, and it is only compared, stored and handed back.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(String);

impl ConnectionId {
    /// The connection its transport calls `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId({:?})", self.0)
    }
}

impl PartialEq<&str> for ConnectionId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::borrow::Borrow<str> for ConnectionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ConnectionId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for ConnectionId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl ClientId {
    /// A fresh id of 128 random bits, written as 22 characters of URL-safe Base64.
    pub fn from_random(bytes: [u8; ISSUED_ID_BYTES]) -> Self {
        use base64::Engine as _;
        Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(bytes)
                .into(),
        )
    }

    /// The virtual loopback member of a `debug=loopback` room.
    pub fn loopback() -> Self {
        Self(LOOPBACK_CLIENT_ID.into())
    }

    /// Whether this is one of the two spellings the clients use for the loopback peer.
    pub fn is_loopback(&self) -> bool {
        &*self.0 == LOOPBACK_CLIENT_ID || &*self.0 == WEB_LOOPBACK_CLIENT_ID
    }

    /// Whether this id names the member the room records as `recorded` (a [`Self::canonical`]
    /// id), without making the canonical copy.
    pub fn names(&self, recorded: &ClientId) -> bool {
        if self.is_loopback() {
            &*recorded.0 == LOOPBACK_CLIENT_ID
        } else {
            self == recorded
        }
    }

    /// The id under which the room records this client: both loopback spellings map to
    /// [`LOOPBACK_CLIENT_ID`].
    pub fn canonical(&self) -> Self {
        if self.is_loopback() {
            Self::loopback()
        } else {
            self.clone()
        }
    }
}

/// Number of random bytes an [`crate::ports::IdSource`] must provide per client id.
pub const CLIENT_ID_RANDOM_BYTES: usize = ISSUED_ID_BYTES;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_original_charset() {
        assert!(RoomId::parse("Az09-_").is_ok());
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(RoomId::parse(""), Err(IdError::Empty));
        assert_eq!(RoomId::parse("a.b"), Err(IdError::BadCharacter));
        assert_eq!(RoomId::parse("a b"), Err(IdError::BadCharacter));
        assert_eq!(RoomId::parse("ä"), Err(IdError::BadCharacter));
        assert_eq!(RoomId::parse("../x"), Err(IdError::BadCharacter));
        assert_eq!(RoomId::parse(&"a".repeat(129)), Err(IdError::TooLong));
        assert!(RoomId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn issued_ids_are_22_url_safe_characters() {
        let id = ClientId::from_random([0xff; 16]);
        assert_eq!(id.as_str().len(), 22);
        assert!(ClientId::parse(id.as_str()).is_ok());
    }

    #[test]
    fn both_loopback_spellings_map_to_one_member() {
        let web = ClientId::parse(WEB_LOOPBACK_CLIENT_ID).unwrap_or_else(|e| panic!("{e}"));
        assert!(web.is_loopback());
        assert_eq!(web.canonical(), ClientId::loopback());
    }
}
