//! Abuse limits of the emulator: joins and WebSocket connections per client address per minute,
//! sockets in total, and messages per second per socket. Clients on loopback are not limited, so
//! local tests and benchmarks measure the server, not the limiter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The limits; every value is a documented setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseLimits {
    /// `POST /join` per client address per minute.
    pub joins_per_minute: u32,
    /// WebSocket upgrades per client address per minute.
    pub connections_per_minute: u32,
    /// Open WebSockets in total.
    pub max_sockets: usize,
    /// Frames per second one socket may send (sustained).
    pub messages_per_second: u32,
    /// Frames one socket may send in a burst.
    pub message_burst: u32,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        Self {
            joins_per_minute: 60,
            connections_per_minute: 120,
            max_sockets: 20_000,
            messages_per_second: 50,
            message_burst: 200,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    joins: u32,
    connections: u32,
}

/// Shared counters.
#[derive(Debug)]
pub struct Limiter {
    limits: AbuseLimits,
    windows: Mutex<HashMap<IpAddr, Window>>,
    sockets: AtomicUsize,
}

/// Entries kept before old windows are dropped (bounds the limiter's own memory).
const MAX_TRACKED: usize = 100_000;
const MINUTE: Duration = Duration::from_secs(60);

impl Limiter {
    /// A limiter with `limits`.
    pub fn new(limits: AbuseLimits) -> Self {
        Self {
            limits,
            windows: Mutex::new(HashMap::new()),
            sockets: AtomicUsize::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> AbuseLimits {
        self.limits
    }

    fn count(&self, ip: IpAddr, pick: impl Fn(&mut Window) -> &mut u32, max: u32) -> bool {
        if ip.is_loopback() {
            return true;
        }
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| now.duration_since(w.start) < MINUTE);
        }
        let w = windows.entry(ip).or_insert(Window {
            start: now,
            joins: 0,
            connections: 0,
        });
        if now.duration_since(w.start) >= MINUTE {
            *w = Window {
                start: now,
                joins: 0,
                connections: 0,
            };
        }
        let n = pick(w);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// Counts a join from `ip`; `false` when over the limit.
    pub fn allow_join(&self, ip: IpAddr) -> bool {
        self.count(ip, |w| &mut w.joins, self.limits.joins_per_minute)
    }

    /// Counts a WebSocket connection attempt from `ip`; `false` when over the limit.
    pub fn allow_connection(&self, ip: IpAddr) -> bool {
        self.count(
            ip,
            |w| &mut w.connections,
            self.limits.connections_per_minute,
        )
    }

    /// Sockets open now.
    pub fn open_sockets(&self) -> usize {
        self.sockets.load(Ordering::Relaxed)
    }

    /// Takes a socket slot; `None` when all are in use. The slot is returned on drop.
    pub fn socket(&self) -> Option<SocketSlot<'_>> {
        let mut n = self.sockets.load(Ordering::Relaxed);
        loop {
            if n >= self.limits.max_sockets {
                return None;
            }
            match self
                .sockets
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(SocketSlot(&self.sockets)),
                Err(actual) => n = actual,
            }
        }
    }
}

/// One open socket's place in the total.
#[derive(Debug)]
pub struct SocketSlot<'a>(&'a AtomicUsize);

impl Drop for SocketSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Token bucket for one socket's frames.
#[derive(Debug)]
pub struct MessageBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl MessageBucket {
    /// A full bucket.
    pub fn new(limits: &AbuseLimits) -> Self {
        let burst = f64::from(limits.message_burst.max(1));
        Self {
            tokens: burst,
            rate: f64::from(limits.messages_per_second.max(1)),
            burst,
            last: Instant::now(),
        }
    }

    /// Takes one token; `false` when the socket sends too fast.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_limits_spare_loopback() {
        let l = Limiter::new(AbuseLimits {
            joins_per_minute: 2,
            ..AbuseLimits::default()
        });
        let ip: IpAddr = "192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(l.allow_join(ip) && l.allow_join(ip));
        assert!(!l.allow_join(ip));
        assert!(l.allow_connection(ip), "separate counters");
        let lo: IpAddr = "127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!((0..10).all(|_| l.allow_join(lo)));
    }

    #[test]
    fn socket_slots_are_bounded_and_returned() {
        let l = Limiter::new(AbuseLimits {
            max_sockets: 1,
            ..AbuseLimits::default()
        });
        let first = l.socket();
        assert!(first.is_some());
        assert!(l.socket().is_none());
        drop(first);
        assert!(l.socket().is_some());
    }

    #[test]
    fn bursts_then_the_rate() {
        let mut b = MessageBucket::new(&AbuseLimits {
            message_burst: 3,
            messages_per_second: 1,
            ..AbuseLimits::default()
        });
        assert!((0..3).all(|_| b.take()));
        assert!(!b.take());
    }
}
