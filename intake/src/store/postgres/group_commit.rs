//! Group commit on PostgreSQL, within one intake process: concurrent writes to one schema share
//! a transaction, so that they share its `BEGIN`, its `COMMIT` and the flush of the log that
//! commit waits for.
//!
//! A write runs at once, in a transaction of its own, while fewer than [`GROUPS_AT_ONCE`] of
//! this schema's transactions are writing: alone, a write waits for nobody. When that many are,
//! it waits; the next caller to find a place free takes every write waiting then (up to
//! [`MAX_GROUP`]) and runs them one after the other in one transaction. Several transactions
//! stay open at once because PostgreSQL runs each on a process of its own: one group at a time
//! would leave the database one core.
//!
//! A group has no savepoints: each would cost a round trip per write, and PostgreSQL aborts a
//! whole transaction at its first error anyway. So a group is all or nothing: if any of its
//! writes fails, the group is rolled back and each of its writes is run again alone, with a
//! lone write's retries (a deadlock, a race to a key). A write's outcome is what it would have
//! been alone; one failing write costs its group one more attempt, never its result. A group
//! whose `COMMIT` itself fails is not run again: the connection may have dropped after the
//! database committed, and a write run twice could count twice (an alert's count) or answer
//! "failed" for what was stored. Each of its callers hears the error, as a lone write's would.
//!
//! A caller leads a group only while its own write is still waiting, so a write done in another
//! caller's group is answered as soon as that group ends.
//!
//! Several processes still never both accept one `seq`: a write locks what it judges, as alone,
//! and a group holds those locks until its one commit.

use std::{
    any::Any,
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
};

use crate::store::StoreError;

/// This process's transactions writing to one schema at once; more writes wait to be grouped.
/// Measured on 2 cores (docs/benchmarks.md, session 26): at 8 senders, 4 stores 1.2 batches a
/// transaction at the speed of no grouping, and 2 stores 1.9 but is slower (the database is left
/// fewer processes to run on); at 32 senders, 4 stores 3.0–3.5 and was faster than no grouping
/// in every alternated pair.
pub(super) const GROUPS_AT_ONCE: usize = 4;
/// Most writes that share one transaction: a group's first write waits for its last.
pub(super) const MAX_GROUP: usize = 16;

/// What a write returns.
pub(super) type Written = Result<Box<dyn Any + Send>, StoreError>;

/// How a database runs writes (`W`, a write's closure): one alone, with a lone write's retries,
/// or several in one transaction, where any error fails them all.
pub(super) trait Writer<W> {
    fn alone(&self, write: &W) -> Written;
    fn together(&self, writes: &[&W]) -> Result<Vec<Box<dyn Any + Send>>, GroupFailed>;
}

/// Why a group stored nothing, or may not have.
pub(super) enum GroupFailed {
    /// Before its commit (a write failed, or the transaction could not begin): nothing was
    /// stored, and each write is run again alone.
    BeforeCommit,
    /// At its commit: whether it was stored is not known, so no write is run again; each caller
    /// hears what the database said (as a [`StoreError::Postgres`]).
    AtCommit(String),
}

/// The writes of one schema waiting for a group, and the groups being written.
pub(super) struct GroupCommit<W> {
    state: Mutex<State<W>>,
    /// Signalled when a group ends (its writes' outcomes are set, and a place is free).
    ended: Condvar,
}

impl<W> Default for GroupCommit<W> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State {
                waiting: VecDeque::new(),
                writing: 0,
            }),
            ended: Condvar::new(),
        }
    }
}

struct State<W> {
    waiting: VecDeque<Arc<Waiting<W>>>,
    writing: usize,
}

struct Waiting<W> {
    write: W,
    /// Set, under the state's lock, when a group takes this write.
    taken: AtomicBool,
    /// Set, under the state's lock, when the group that took this write has ended.
    outcome: Mutex<Option<Outcome>>,
}

enum Outcome {
    Done(Written),
    /// Its group failed: the write is to be run again alone.
    RunAlone,
}

impl<W> GroupCommit<W> {
    /// Runs `write` alone or in a group, and returns once it is committed (or has failed).
    pub(super) fn write(&self, db: &impl Writer<W>, write: W) -> Written {
        let mine = Arc::new(Waiting {
            write,
            taken: AtomicBool::new(false),
            outcome: Mutex::new(None),
        });
        let mut state = lock(&self.state);
        state.waiting.push_back(mine.clone());
        let outcome = loop {
            if let Some(outcome) = lock(&mine.outcome).take() {
                break outcome;
            }
            if state.writing < GROUPS_AT_ONCE && !mine.taken.load(Ordering::Relaxed) {
                let take = state.waiting.len().min(MAX_GROUP);
                let group: Vec<Arc<Waiting<W>>> = state.waiting.drain(..take).collect();
                for waiting in &group {
                    waiting.taken.store(true, Ordering::Relaxed);
                }
                state.writing += 1;
                drop(state);
                let outcomes = run(db, &group);
                state = lock(&self.state);
                state.writing -= 1;
                for (waiting, outcome) in group.iter().zip(outcomes) {
                    *lock(&waiting.outcome) = Some(outcome);
                }
                self.ended.notify_all();
                continue;
            }
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        };
        drop(state);
        match outcome {
            Outcome::Done(written) => written,
            Outcome::RunAlone => db.alone(&mine.write),
        }
    }
}

#[cfg(test)]
impl<W> GroupCommit<W> {
    /// Writes waiting for a place.
    pub(super) fn waiting(&self) -> usize {
        lock(&self.state).waiting.len()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A group's outcomes, one per write. A panic is caught so that it strands no other caller:
/// every write of its group is run again by its own caller, where it panics again if it is the
/// one that did.
fn run<W>(db: &impl Writer<W>, group: &[Arc<Waiting<W>>]) -> Vec<Outcome> {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match group {
        [one] => vec![Outcome::Done(db.alone(&one.write))],
        _ => {
            let writes: Vec<&W> = group.iter().map(|w| &w.write).collect();
            match db.together(&writes) {
                Ok(values) => values.into_iter().map(|v| Outcome::Done(Ok(v))).collect(),
                Err(GroupFailed::BeforeCommit) => group.iter().map(|_| Outcome::RunAlone).collect(),
                Err(GroupFailed::AtCommit(error)) => group
                    .iter()
                    .map(|_| Outcome::Done(Err(StoreError::Postgres(error.clone()))))
                    .collect(),
            }
        }
    }));
    ran.unwrap_or_else(|_| group.iter().map(|_| Outcome::RunAlone).collect())
}

#[cfg(test)]
mod tests {
    //! The queue's rules, with writes that are plain tags and a database that records the groups
    //! it is given and holds them until told, so that the test decides when writes overlap. The
    //! same paths run against PostgreSQL in `postgres.rs`'s tests.
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Recorder {
        groups: Mutex<Groups>,
        held: Mutex<bool>,
        released: Condvar,
        running: AtomicUsize,
        /// Tags that fail (alone, and so any group they are in).
        failing: Vec<usize>,
        panicking: Vec<usize>,
        /// Tags whose group's commit fails, its outcome unknown.
        commit_fails: Vec<usize>,
    }

    impl Recorder {
        fn run(&self, tags: Vec<usize>) -> Result<Vec<Box<dyn Any + Send>>, StoreError> {
            self.groups.lock().unwrap().push(tags.clone());
            self.running.fetch_add(1, Ordering::SeqCst);
            let mut held = self.held.lock().unwrap();
            while *held {
                held = self.released.wait(held).unwrap();
            }
            drop(held);
            self.running.fetch_sub(1, Ordering::SeqCst);
            if tags.iter().any(|t| self.panicking.contains(t)) {
                panic!("a write that panics");
            }
            if tags.iter().any(|t| self.failing.contains(t)) {
                return Err(StoreError::Corrupt(format!("{tags:?} failed")));
            }
            Ok(tags
                .into_iter()
                .map(|t| Box::new(t) as Box<dyn Any + Send>)
                .collect())
        }
    }

    impl Writer<usize> for Recorder {
        fn alone(&self, write: &usize) -> Written {
            self.run(vec![*write]).map(|mut v| v.remove(0))
        }
        fn together(&self, writes: &[&usize]) -> Result<Vec<Box<dyn Any + Send>>, GroupFailed> {
            let tags: Vec<usize> = writes.iter().map(|w| **w).collect();
            if tags.iter().any(|t| self.commit_fails.contains(t)) {
                self.run(tags).map_err(|_| GroupFailed::BeforeCommit)?;
                return Err(GroupFailed::AtCommit("the connection was lost".into()));
            }
            self.run(tags).map_err(|_| GroupFailed::BeforeCommit)
        }
    }

    /// The tags of each group a database was given, in order.
    type Groups = Vec<Vec<usize>>;
    /// What a caller got: its write's value, or the error (or "panicked").
    type CallerGot = Result<usize, String>;

    /// Starts `tags` as concurrent writes while the first [`GROUPS_AT_ONCE`] are held, then
    /// lets everything go; returns each caller's outcome, by tag, and the groups run.
    fn overlapping(recorder: Recorder, tags: Vec<usize>) -> (Vec<(usize, CallerGot)>, Groups) {
        let commit = Arc::new(GroupCommit::default());
        let recorder = Arc::new(recorder);
        *recorder.held.lock().unwrap() = true;
        let (answered, answers) = std::sync::mpsc::channel();
        let start = |tag: usize| {
            let (commit, recorder, answered) = (commit.clone(), recorder.clone(), answered.clone());
            std::thread::spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    commit.write(&*recorder, tag)
                }));
                let outcome = match outcome {
                    Ok(Ok(v)) => Ok(*v.downcast::<usize>().unwrap()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("panicked".to_string()),
                };
                answered.send((tag, outcome)).unwrap();
            })
        };
        let mut threads: Vec<_> = tags[..GROUPS_AT_ONCE].iter().map(|t| start(*t)).collect();
        while recorder.running.load(Ordering::SeqCst) < GROUPS_AT_ONCE {
            std::thread::yield_now();
        }
        threads.extend(tags[GROUPS_AT_ONCE..].iter().map(|t| start(*t)));
        // Every other write is waiting for a place before any is let go.
        while lock(&commit.state).waiting.len() < tags.len() - GROUPS_AT_ONCE {
            std::thread::yield_now();
        }
        *recorder.held.lock().unwrap() = false;
        recorder.released.notify_all();
        // A caller left waiting fails the test instead of hanging it.
        let mut outcomes: Vec<_> = threads
            .iter()
            .map(|_| {
                answers
                    .recv_timeout(std::time::Duration::from_secs(30))
                    .expect("every caller is answered")
            })
            .collect();
        outcomes.sort_by_key(|(tag, _)| *tag);
        let groups = recorder.groups.lock().unwrap().clone();
        (outcomes, groups)
    }

    #[test]
    fn writes_that_wait_for_a_place_share_one_transaction() {
        let tags: Vec<usize> = (100..100 + GROUPS_AT_ONCE + 5).collect();
        let (outcomes, groups) = overlapping(Recorder::default(), tags.clone());
        // The first writes ran alone, at once; the five that waited went as one group.
        assert_eq!(groups.len(), GROUPS_AT_ONCE + 1, "{groups:?}");
        assert!(groups[..GROUPS_AT_ONCE].iter().all(|g| g.len() == 1));
        let mut grouped = groups[GROUPS_AT_ONCE].clone();
        grouped.sort();
        assert_eq!(grouped, tags[GROUPS_AT_ONCE..]);
        // Each caller has its own write's value.
        assert!(outcomes.iter().all(|(tag, o)| o.as_ref() == Ok(tag)));
    }

    #[test]
    fn a_group_is_never_larger_than_its_bound() {
        let tags: Vec<usize> = (200..200 + GROUPS_AT_ONCE + MAX_GROUP + 3).collect();
        let (outcomes, groups) = overlapping(Recorder::default(), tags);
        assert!(groups.iter().all(|g| g.len() <= MAX_GROUP), "{groups:?}");
        assert!(groups.iter().any(|g| g.len() == MAX_GROUP), "{groups:?}");
        assert!(outcomes.iter().all(|(tag, o)| o.as_ref() == Ok(tag)));
    }

    #[test]
    fn a_failing_write_fails_alone_and_its_group_is_run_again_write_by_write() {
        let first_grouped = 300 + GROUPS_AT_ONCE;
        let failing = first_grouped + 1;
        let recorder = Recorder {
            failing: vec![failing],
            ..Recorder::default()
        };
        let tags: Vec<usize> = (300..first_grouped + 4).collect();
        let (outcomes, groups) = overlapping(recorder, tags);
        for (tag, outcome) in &outcomes {
            if *tag == failing {
                assert_eq!(
                    outcome.as_ref().unwrap_err(),
                    &format!("stored data is inconsistent: [{failing}] failed")
                );
            } else {
                assert_eq!(outcome.as_ref(), Ok(tag));
            }
        }
        // The failed group, then each of its writes alone.
        let failed = groups.iter().position(|g| g.len() > 1).unwrap();
        let mut in_group = groups[failed].clone();
        in_group.sort();
        assert_eq!(
            in_group,
            (first_grouped..first_grouped + 4).collect::<Vec<_>>()
        );
        let mut again: Vec<usize> = groups[failed + 1..].iter().flatten().copied().collect();
        again.sort();
        assert_eq!(again, in_group);
        assert!(groups[failed + 1..].iter().all(|g| g.len() == 1));
    }

    #[test]
    fn a_write_that_panics_panics_its_own_caller_and_strands_nobody() {
        // One that runs alone at once, one in a group.
        let panicking = vec![400, 400 + GROUPS_AT_ONCE + 1];
        let recorder = Recorder {
            panicking: panicking.clone(),
            ..Recorder::default()
        };
        let tags: Vec<usize> = (400..400 + GROUPS_AT_ONCE + 3).collect();
        let (outcomes, _) = overlapping(recorder, tags);
        for (tag, outcome) in &outcomes {
            if panicking.contains(tag) {
                assert_eq!(outcome, &Err("panicked".to_string()));
            } else {
                assert_eq!(outcome.as_ref(), Ok(tag));
            }
        }
    }

    #[test]
    fn a_group_whose_commit_fails_is_not_run_again_and_each_caller_hears_it() {
        let first_grouped = 500 + GROUPS_AT_ONCE;
        let recorder = Recorder {
            commit_fails: vec![first_grouped],
            ..Recorder::default()
        };
        let tags: Vec<usize> = (500..first_grouped + 3).collect();
        let (outcomes, groups) = overlapping(recorder, tags);
        for (tag, outcome) in &outcomes {
            if *tag >= first_grouped {
                assert_eq!(
                    outcome,
                    &Err("database error: the connection was lost".to_string())
                );
            } else {
                assert_eq!(outcome.as_ref(), Ok(tag));
            }
        }
        // Nothing of the group was run a second time.
        assert_eq!(groups.len(), GROUPS_AT_ONCE + 1, "{groups:?}");
    }
}
