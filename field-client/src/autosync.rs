//! Syncing by itself when the network comes back. The app calls [`Client::sync_if_back`] on a
//! timer (every few seconds); [`AutoSync`] decides when a try is due, so that a tablet without
//! signal does not wake its radio every tick: after each failed try the wait doubles, up to a
//! ceiling, and it starts again from the floor once the intake answers. While the enumerator
//! keys, a due try waits for a pause in the keys (a sync's CPU on a cheap tablet slows the keys'
//! saving), but never longer than [`KEYING_DEFERS_AT_MOST`]: work still leaves while someone
//! keys without stopping.

use std::time::{Duration, Instant};

use crate::{Client, ClientError, Progress, RetryPolicy, SyncReport};

/// Keys saved within this long count as keying: a due try waits.
pub const KEYING_PAUSE: Duration = Duration::from_secs(3);
/// A try put off for keying goes anyway once it has waited this long.
pub const KEYING_DEFERS_AT_MOST: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct AutoSync {
    floor: Duration,
    ceiling: Duration,
    wait: Duration,
    next_try: Option<Instant>,
    /// When an answer was last saved on the tablet.
    last_key: Option<Instant>,
    /// Since when a due try has been waiting for a pause in the keys.
    waiting_for_pause: Option<Instant>,
    /// Tries made while the intake could not be reached (for the app's status line).
    pub failed_tries: u32,
}

impl AutoSync {
    pub fn new(floor: Duration, ceiling: Duration) -> AutoSync {
        AutoSync {
            floor,
            ceiling,
            wait: floor,
            next_try: None,
            last_key: None,
            waiting_for_pause: None,
            failed_tries: 0,
        }
    }

    /// An answer was saved at `at`.
    pub fn keyed(&mut self, at: Instant) {
        self.last_key = self.last_key.max(Some(at));
    }

    /// Whether to try now: due, and the enumerator not keying (or kept waiting long enough).
    pub fn may_try(&mut self, now: Instant) -> bool {
        if !self.due(now) {
            return false;
        }
        let keying = self
            .last_key
            .is_some_and(|k| now.saturating_duration_since(k) < KEYING_PAUSE);
        if keying {
            let since = *self.waiting_for_pause.get_or_insert(now);
            if now.saturating_duration_since(since) < KEYING_DEFERS_AT_MOST {
                return false;
            }
        }
        self.waiting_for_pause = None;
        true
    }

    pub fn due(&self, now: Instant) -> bool {
        self.next_try.is_none_or(|t| now >= t)
    }

    /// How long until the next try, when the intake could not be reached at the last one.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        (self.failed_tries > 0)
            .then(|| self.next_try.map(|t| t.saturating_duration_since(now)))
            .flatten()
    }

    fn reached(&mut self, now: Instant) {
        self.waiting_for_pause = None;
        self.wait = self.floor;
        self.failed_tries = 0;
        self.next_try = Some(now + self.floor);
    }

    fn missed(&mut self, now: Instant) {
        self.waiting_for_pause = None;
        self.failed_tries += 1;
        self.next_try = Some(now + self.wait);
        self.wait = (self.wait * 2).min(self.ceiling);
    }
}

impl Default for AutoSync {
    /// Ten seconds after a success; up to five minutes apart without signal.
    fn default() -> Self {
        AutoSync::new(Duration::from_secs(10), Duration::from_secs(300))
    }
}

impl Client {
    /// One small round trip to the intake (`/v1/health`): is the network back?
    pub fn intake_reachable(&self, timeout: Duration) -> bool {
        let Ok(e) = self.enrollment() else {
            return false;
        };
        let url = format!("{}{}", e.intake_url, sync_protocol::api::PATH_HEALTH);
        matches!(self.http.get(url).timeout(timeout).send(), Ok(r) if r.status().is_success())
    }

    /// What the app's timer calls. When a try is due and something waits to be sent, asks the
    /// intake whether it can be reached and, if so, syncs. `Ok(None)`: nothing was due, nothing
    /// waited, or there was no network (try again later; nothing is lost meanwhile).
    pub fn sync_if_back(
        &mut self,
        auto: &mut AutoSync,
        policy: RetryPolicy,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Option<SyncReport>, ClientError> {
        let now = Instant::now();
        if !auto.may_try(now) || self.pending()?.events_total == 0 {
            return Ok(None);
        }
        if !self.intake_reachable(policy.request_timeout.min(Duration::from_secs(10))) {
            auto.missed(now);
            return Ok(None);
        }
        match self.sync(policy, progress) {
            Ok(report) => {
                auto.reached(Instant::now());
                Ok(Some(report))
            }
            Err(ClientError::Network(_)) => {
                auto.missed(Instant::now());
                Ok(None)
            }
            Err(other) => {
                auto.reached(Instant::now());
                Err(other)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_without_signal_and_reset_once_reached() {
        let mut auto = AutoSync::new(Duration::from_secs(10), Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(auto.due(t0));
        let mut t = t0;
        let mut waits = Vec::new();
        for _ in 0..5 {
            auto.missed(t);
            let next = auto.next_try.unwrap();
            waits.push((next - t).as_secs());
            assert!(!auto.due(next - Duration::from_millis(1)) && auto.due(next));
            t = next;
        }
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        auto.reached(t);
        assert_eq!((auto.next_try.unwrap() - t).as_secs(), 10);
        assert_eq!(auto.retry_in(t), None, "reached: nothing to wait for");
        auto.missed(t);
        assert_eq!(
            (auto.next_try.unwrap() - t).as_secs(),
            10,
            "the back-off starts again from the floor"
        );
    }

    #[test]
    fn a_due_try_waits_for_a_pause_in_the_keys_but_not_for_ever() {
        let mut auto = AutoSync::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert!(auto.may_try(t0), "nobody keying: due at once");
        auto.reached(t0);
        // A keyer who pauses: the try due at 10 s waits for the pause after the last key.
        auto.keyed(t0 + s(9));
        assert!(!auto.may_try(t0 + s(10)));
        assert!(!auto.may_try(t0 + s(11)));
        assert!(auto.may_try(t0 + s(12)), "3 s without a key");
        auto.reached(t0 + s(12));
        // A keyer who never stops: the try waits a minute, then goes between two keys.
        let due = t0 + s(22);
        let mut tried = None;
        for tick in 0..100u64 {
            let now = due + s(tick);
            auto.keyed(now - Duration::from_millis(150));
            if auto.may_try(now) {
                tried = Some(tick);
                break;
            }
        }
        assert_eq!(tried, Some(60), "put off for keying at most a minute");
        // A key saved long ago does not hold anything back.
        auto.reached(due + s(60));
        assert!(auto.may_try(due + s(70)));
        // Nor does the wait for a pause outlive the keying it waited for.
        auto.reached(due + s(70));
        auto.keyed(due + s(80));
        assert!(!auto.may_try(due + s(80)));
        assert!(auto.may_try(due + s(83)));
        auto.reached(due + s(83));
        auto.keyed(due + s(93));
        assert!(!auto.may_try(due + s(93)), "a new wait starts from nothing");
    }
}
