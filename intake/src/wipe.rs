//! Memory that held a secret is wiped when it is freed — only that memory.
//!
//! Passwords and the ministry key's passphrase pass through buffers this program does not own:
//! hyper's read buffer, serde's intermediate strings, argon2's working memory. Our own copies
//! are `Zeroizing`; these others are wiped by the allocator: [`WipingAllocator`] zeroes every
//! block freed while the thread is marked as handling a secret ([`secret`], [`WipeWhile`]).
//! Everything else is freed as usual, at no cost — wiping every free (glibc's `M_PERTURB`, used
//! before) cost the server a sixth of its CPU.
//!
//! The marks: a connection that carried a password or the passphrase is marked from the moment
//! the request is recognised until the connection is dropped (its buffers with it); the blocking
//! work that checks a password or unlocks the key is marked while it runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

thread_local! {
    static WIPING: Cell<bool> = const { Cell::new(false) };
}

fn wiping() -> bool {
    // During a thread's teardown the mark is gone: nothing secret is freed then.
    WIPING.try_with(Cell::get).unwrap_or(false)
}

fn set_wiping(on: bool) -> bool {
    WIPING.try_with(|w| w.replace(on)).unwrap_or(false)
}

/// The system allocator, zeroing what is freed while the thread is marked.
pub struct WipingAllocator;

unsafe impl GlobalAlloc for WipingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if wiping() {
            wipe(ptr, layout.size());
        }
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !wiping() {
            return System.realloc(ptr, layout, new_size);
        }
        // A move would leave the old block behind unwiped: copy, then wipe and free it.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = System.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            wipe(ptr, layout.size());
            System.dealloc(ptr, layout);
        }
        new
    }
}

/// Zeroes `len` bytes at `ptr` in a way the compiler may not drop as a dead store.
unsafe fn wipe(ptr: *mut u8, len: usize) {
    for i in 0..len {
        std::ptr::write_volatile(ptr.add(i), 0);
    }
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// Marks this thread as handling a secret until the guard is dropped.
pub fn secret() -> SecretGuard {
    SecretGuard {
        before: set_wiping(true),
    }
}

pub struct SecretGuard {
    before: bool,
}

impl Drop for SecretGuard {
    fn drop(&mut self) {
        set_wiping(self.before);
    }
}

/// A flag a connection's requests raise when one of them carries a secret.
pub type SecretFlag = Arc<AtomicBool>;

/// Raises the connection's flag, and marks the thread for the rest of the current poll.
pub fn carried_secret(flag: &SecretFlag) {
    flag.store(true, Ordering::Relaxed);
    set_wiping(true);
}

/// A connection's future, polled (and dropped) with the thread marked once its flag is raised.
pub struct WipeWhile<F> {
    inner: Option<Pin<Box<F>>>,
    flag: SecretFlag,
}

impl<F> WipeWhile<F> {
    pub fn new(inner: F, flag: SecretFlag) -> Self {
        WipeWhile {
            inner: Some(Box::pin(inner)),
            flag,
        }
    }
}

impl<F: Future> Future for WipeWhile<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let before = set_wiping(self.flag.load(Ordering::Relaxed));
        let polled = match self.inner.as_mut() {
            Some(inner) => inner.as_mut().poll(cx),
            None => Poll::Pending,
        };
        set_wiping(before);
        polled
    }
}

impl<F> Unpin for WipeWhile<F> {}

impl<F> Drop for WipeWhile<F> {
    fn drop(&mut self) {
        let before = set_wiping(self.flag.load(Ordering::Relaxed));
        // The connection's buffers go with it, wiped if they held a secret.
        drop(self.inner.take());
        set_wiping(before);
    }
}
