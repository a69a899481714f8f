//! Post/redirect/get: a form that changes something answers with a redirect to its page, and
//! what the change did ("Đã ghi nhận 12 số phiếu.") is said once by that page. Reloading the
//! page, or going back to it, therefore never posts the form again (a paper batch recorded
//! twice would read as duplicate forms), and the page's address can be bookmarked.
//!
//! The message waits here, in memory, under the session's CSRF token (secret to the session,
//! so one person never reads another's), until the page is drawn or a few minutes pass.
//! Bounded: a session holds at most one message, and the whole at most [`HELD_MAX`].

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::response::{IntoResponse, Redirect, Response};

use super::door::Visitor;

/// Sessions whose message waits at once; past it the oldest is forgotten.
const HELD_MAX: usize = 4096;
/// What the messages held may take together (a box kept can be a province's list of serials);
/// past it the oldest are forgotten.
const HELD_BYTES_MAX: usize = 64 * 1024 * 1024;
/// A message not read by then is forgotten (the redirect is followed within a second).
const HELD_FOR: Duration = Duration::from_secs(300);

/// What a form's change said, for its page to show once.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Said {
    /// The sentence, in Vietnamese.
    pub(super) message: String,
    /// What the form's box should hold again (lines that could not be taken), if anything.
    pub(super) kept: String,
    /// The form's other fields as they were sent (name, value), to be chosen again: a refusal
    /// does not reset the person or the reason picked.
    pub(super) kept_fields: Vec<(String, String)>,
    /// An enrollment code just issued, for its slip: a secret shown once, so it waits here
    /// (wiped when dropped) rather than in the page's address.
    pub(super) slip: Option<CodeSlip>,
    /// The sentence refuses what was asked: a page shows it as an error, not as news.
    pub(super) refused: bool,
}

impl Said {
    /// What `self` and a later `next` said, together: both sentences, and the box holding
    /// `self`'s lines then those of `next`'s not already there (each line as many times as
    /// either held it); `next`'s fields and slip where it has them.
    fn and(self, next: Said) -> Said {
        let message = match (self.message.is_empty(), next.message.is_empty()) {
            (_, true) => self.message,
            (true, false) => next.message,
            (false, false) if self.message == next.message => next.message,
            (false, false) => format!("{} {}", self.message, next.message),
        };
        // Counted, not searched: this runs under the lock every page's message waits on, and
        // two boxes can be 20,000 lines each.
        let mut kept: Vec<&str> = self.kept.lines().collect();
        let mut already: HashMap<&str, usize> = HashMap::new();
        for line in &kept {
            *already.entry(line).or_default() += 1;
        }
        for line in next.kept.lines() {
            match already.get_mut(line).filter(|n| **n > 0) {
                Some(n) => *n -= 1,
                None => kept.push(line),
            }
        }
        Said {
            message,
            kept: kept.join("\n"),
            kept_fields: if next.kept_fields.is_empty() {
                self.kept_fields
            } else {
                next.kept_fields
            },
            slip: next.slip.or(self.slip),
            refused: self.refused || next.refused,
        }
    }

    /// The bytes it holds, about.
    fn size(&self) -> usize {
        self.message.len()
            + self.kept.len()
            + self
                .kept_fields
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// What the printed slip of a new enrollment code shows.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct CodeSlip {
    pub(super) enumerator_name: String,
    pub(super) intake_address: String,
    pub(super) code: zeroize::Zeroizing<String>,
    /// When the code stops enrolling, in the campaign's zone, as people read it.
    pub(super) valid_until: String,
}

/// The messages waiting for their page, one per session.
#[derive(Default)]
pub(super) struct Messages {
    held: Mutex<HashMap<String, (Instant, Said)>>,
}

impl Messages {
    /// Keeps `said` for `v`'s next page and answers with a redirect (303) to `page`, a path
    /// within the visitor's campaign when they are in one.
    pub(super) fn redirect(&self, v: &Visitor, page: &str, said: Said) -> Response {
        self.keep(&v.csrf, said);
        Redirect::to(&v.at(page)).into_response()
    }

    /// [`Messages::redirect`] with a message only.
    pub(super) fn done(&self, v: &Visitor, page: &str, message: impl Into<String>) -> Response {
        let said = Said {
            message: message.into(),
            ..Said::default()
        };
        self.redirect(v, page, said)
    }

    fn keep(&self, session: &str, said: Said) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        held.retain(|_, (at, _)| now.duration_since(*at) < HELD_FOR);
        // Two forms sent at once from one session (two tabs, a retry on a flaky link): the
        // page drawn next says what both did and keeps both boxes, not the last one's alone.
        let said = match held.remove(session) {
            Some((_, waiting)) => waiting.and(said),
            None => said,
        };
        let mut bytes: usize = held.values().map(|(_, s)| s.size()).sum();
        while !held.is_empty() && (held.len() >= HELD_MAX || bytes + said.size() > HELD_BYTES_MAX) {
            let Some(oldest) = held
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, gone)) = held.remove(&oldest) {
                bytes -= gone.size();
            }
        }
        held.insert(session.to_string(), (now, said));
    }

    /// What waits for `v`'s page, taken: a reload shows the page without it.
    pub(super) fn take(&self, v: &Visitor) -> Option<Said> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let (at, said) = held.remove(&v.csrf)?;
        (at.elapsed() < HELD_FOR).then_some(said)
    }

    /// The message (if any) and what the form's box should hold again, for a page whose form
    /// keeps what could not be taken.
    pub(super) fn take_with_kept(&self, v: &Visitor) -> (Option<String>, String) {
        let said = self.take(v).unwrap_or_default();
        (
            (!said.message.is_empty()).then_some(said.message),
            said.kept,
        )
    }

    /// The message alone, for pages whose form keeps nothing.
    pub(super) fn take_message(&self, v: &Visitor) -> Option<String> {
        self.take(v).map(|s| s.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_read_once_and_only_by_its_session() {
        let m = Messages::default();
        let said = Said {
            message: "Đã ghi nhận 3 số phiếu.".into(),
            kept: "QT24-x".into(),
            ..Said::default()
        };
        m.keep("session-a", said.clone());
        let held = |s: &str| m.held.lock().unwrap().remove(s).map(|(_, said)| said);
        assert_eq!(held("session-b"), None);
        assert_eq!(held("session-a"), Some(said));
        assert_eq!(held("session-a"), None);
    }

    #[test]
    fn the_messages_held_are_bounded() {
        let m = Messages::default();
        for n in 0..HELD_MAX + 10 {
            m.keep(&format!("s{n}"), Said::default());
        }
        let held = m.held.lock().unwrap();
        assert_eq!(held.len(), HELD_MAX);
        assert!(held.contains_key(&format!("s{}", HELD_MAX + 9)));
        assert!(!held.contains_key("s0"));
    }

    #[test]
    fn two_forms_sent_at_once_are_both_said_and_both_boxes_kept() {
        let m = Messages::default();
        let said = |message: &str, kept: &str| Said {
            message: message.into(),
            kept: kept.into(),
            ..Said::default()
        };
        // The box as typed, sent twice: one request took the recording back, the other found
        // it gone; either may arrive last.
        m.keep("s", said("Đã huỷ 2 số.", "QT24-1\nQT24-1\nQT24-7\nQT24-8"));
        m.keep("s", said("Không còn.", "QT24-1\nQT24-1"));
        let both = m.held.lock().unwrap().remove("s").unwrap().1;
        assert_eq!(both.message, "Đã huỷ 2 số. Không còn.");
        assert_eq!(both.kept, "QT24-1\nQT24-1\nQT24-7\nQT24-8");
        m.keep("s", said("Không còn.", "QT24-1\nQT24-1"));
        m.keep("s", said("Đã huỷ 2 số.", "QT24-1\nQT24-1\nQT24-7\nQT24-8"));
        let both = m.held.lock().unwrap().remove("s").unwrap().1;
        assert_eq!(both.kept, "QT24-1\nQT24-1\nQT24-7\nQT24-8");
        // Read once, the next page starts afresh.
        m.keep("s", said("Một.", "a"));
        assert_eq!(
            m.held.lock().unwrap().remove("s").unwrap().1,
            said("Một.", "a")
        );
    }

    #[test]
    fn the_bytes_held_are_bounded() {
        let m = Messages::default();
        let big = |n: usize| Said {
            kept: "x".repeat(n),
            ..Said::default()
        };
        for n in 0..5 {
            m.keep(&format!("s{n}"), big(HELD_BYTES_MAX / 4));
        }
        let held = m.held.lock().unwrap();
        assert!(held.values().map(|(_, s)| s.size()).sum::<usize>() <= HELD_BYTES_MAX);
        assert!(held.contains_key("s4") && !held.contains_key("s0"));
    }
}
