//! Retrying a conditional write that lost to a concurrent writer: exponential backoff with full
//! jitter (each wait a random time between zero and `min(cap, base × 2^attempt)`, AWS
//! Architecture Blog, "Exponential Backoff and Jitter"), bounded by the time the invocation has
//! left rather than by a count. On Lambda that time is the invocation's deadline
//! (`lambda_runtime::Context::deadline`), which the Lambda glue sets for the whole handling of
//! one event with [`within`]; elsewhere a default budget applies.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The budget of work that runs outside [`within`] (the emulator's own requests, tests).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

/// What a retry loop leaves of the deadline for answering (an error frame, a response).
pub const MARGIN: Duration = Duration::from_millis(300);

/// First wait's upper bound.
const BASE: Duration = Duration::from_millis(5);

/// Largest wait's upper bound.
const CAP: Duration = Duration::from_millis(400);

/// Runs `work` with `deadline` as the time it must finish by (one invocation's deadline).
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the work running now: the one [`within`] set, else [`DEFAULT_BUDGET`] from
/// now.
pub fn deadline() -> Instant {
    DEADLINE
        .try_with(|d| *d)
        .unwrap_or_else(|_| Instant::now() + DEFAULT_BUDGET)
}

/// When work that must still answer or hand on should stop: the current [`deadline`] less
/// [`MARGIN`].
pub fn work_until() -> Instant {
    let deadline = deadline();
    deadline.checked_sub(MARGIN).unwrap_or(deadline)
}

/// The deadline `remaining` from now, for a Lambda context's deadline in epoch milliseconds.
pub fn deadline_in(epoch_deadline_ms: u64, now_epoch_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(epoch_deadline_ms.saturating_sub(now_epoch_ms))
}

/// Waits between the attempts of one operation.
#[derive(Debug)]
pub struct Backoff {
    attempt: u32,
    until: Instant,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// Backoff within the current [`deadline`], less [`MARGIN`].
    pub fn new() -> Self {
        Self {
            attempt: 0,
            until: work_until(),
        }
    }

    /// Waits before the next attempt; `false`, at once, when the time left does not allow one.
    pub async fn wait(&mut self) -> bool {
        let bound = BASE.saturating_mul(1 << self.attempt.min(16)).min(CAP);
        self.attempt = self.attempt.saturating_add(1);
        let wait = bound.mul_f64(unit_random());
        if Instant::now() + wait >= self.until {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }
}

/// The result of one attempt at a conditional write.
#[derive(Debug)]
pub enum Attempt<S, T> {
    /// Written (or nothing needed writing): the outcome.
    Done(T),
    /// Another writer won: the state to try again with.
    Conflict(S),
}

/// The one compare-and-swap loop: runs `attempt` (read, decide, write conditionally) until it is
/// done, backing off after every conflict for as long as the current [`deadline`] allows, and then
/// answers `busy()`. The state goes into each attempt and comes back with a conflict, so that an
/// attempt's future owns what it uses and stays `Send` wherever its captures are.
pub async fn until_written<S, T, E, Fut>(
    mut state: S,
    mut attempt: impl FnMut(S) -> Fut,
    busy: impl FnOnce() -> E,
) -> Result<T, E>
where
    Fut: Future<Output = Result<Attempt<S, T>, E>>,
{
    let mut backoff = Backoff::new();
    loop {
        match attempt(state).await? {
            Attempt::Done(out) => return Ok(out),
            Attempt::Conflict(again) => state = again,
        }
        if !backoff.wait().await {
            return Err(busy());
        }
    }
}

/// A number in [0, 1): SplitMix64 over a counter with a random per-process start, so that the
/// processes of one deployment do not wait in step and no wait costs a system call.
fn unit_random() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_or(u64::from(std::process::id()), |()| u64::from_le_bytes(b))
    });
    let mut z = seed.wrapping_add(STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    // The top 53 bits as the mantissa of a number in [0, 1).
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_grow_with_full_jitter_and_stop_at_the_deadline() {
        let start = Instant::now();
        let mut b = within(start + Duration::from_secs(5), async { Backoff::new() }).await;
        let mut waits = Vec::new();
        loop {
            let before = Instant::now();
            if !b.wait().await {
                break;
            }
            waits.push(Instant::now() - before);
        }
        assert!(Instant::now() < start + Duration::from_secs(5) - MARGIN);
        for (i, w) in waits.iter().enumerate() {
            let bound = BASE.saturating_mul(1 << i.min(16)).min(CAP);
            assert!(*w <= bound, "wait {i} was {w:?}, over {bound:?}");
        }
        // 5 s less the margin, at most 400 ms a wait: many attempts, not a small count.
        assert!(waits.len() > 15, "{} attempts", waits.len());
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(
            distinct.len() > waits.len() / 2,
            "waits are jittered: {waits:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_the_default_budget_applies() {
        let d = deadline() - Instant::now();
        assert_eq!(d, DEFAULT_BUDGET);
        let inner = within(Instant::now() + Duration::from_millis(50), async {
            deadline() - Instant::now()
        })
        .await;
        assert_eq!(inner, Duration::from_millis(50));
    }

    #[test]
    fn random_units_stay_in_range() {
        for _ in 0..10_000 {
            let u = unit_random();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }
}
