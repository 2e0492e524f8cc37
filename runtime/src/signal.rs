//! Unix signals as async events: [`ctrl_c`] for the common case, [`signal`] for any signal as
//! a stream.
//!
//! ```
//! use weft_runtime::signal::{signal, SignalKind};
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let mut hangups = signal(SignalKind::hangup())?;
//!     // Here a test raises it; in production, `kill -HUP <pid>` would.
//!     weft_reactor::sys::signal::raise(SignalKind::hangup().as_raw())?;
//!     hangups.recv().await; // e.g. reload the configuration
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # What a receiver sees
//!
//! Signals are *coalesced*: the OS merges deliveries of a standard signal that arrive before
//! its handler runs, and weft merges deliveries that arrive before a receiver next looks. A
//! receiver is told *at least once* after every delivery that follows its creation, never
//! how many there were. Every receiver hears every delivery: several receivers of one signal,
//! in one runtime or in several, are all woken.
//!
//! # How
//!
//! The handler (process-wide, in `weft_reactor::sys::signal`) sets a flag and writes to an
//! eventfd. Each [`Signal`] registers its own duplicate of that eventfd with its runtime's
//! reactor. The first receiver to see it readable empties it, takes the flags, bumps each
//! flagged signal's *generation* and wakes that signal's receivers; a receiver reports a signal
//! whenever the generation has moved past the one it last reported. The eventfd is shared, so
//! a receiver whose reactor reported nothing still hears about the signal through the wake.
//!
//! Installing a handler is permanent for the process: a handled SIGINT no longer kills it,
//! even after every receiver is gone (see `weft_reactor::sys::signal`).

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
// Process-wide statics: std's primitives (loom's cannot live in a `static`); this state is
// not part of any loom model.
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use slab::Slab;
use weft_reactor::sys::signal as sys;
use weft_reactor::{Direction, Registration};

use crate::context;

/// Which signal to listen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// A signal by number (`SIGRTMIN + n` for real-time signals, for instance).
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// SIGINT: interrupt from the terminal (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(sys::SIGINT)
    }

    /// SIGTERM: a polite request to terminate (what `kill` and service managers send).
    pub const fn terminate() -> SignalKind {
        SignalKind(sys::SIGTERM)
    }

    /// SIGHUP: the terminal hung up; daemons take it as "reload your configuration".
    pub const fn hangup() -> SignalKind {
        SignalKind(sys::SIGHUP)
    }

    /// SIGQUIT: quit from the terminal (Ctrl-\).
    pub const fn quit() -> SignalKind {
        SignalKind(sys::SIGQUIT)
    }

    /// SIGUSR1.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(sys::SIGUSR1)
    }

    /// SIGUSR2.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(sys::SIGUSR2)
    }

    /// SIGCHLD: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(sys::SIGCHLD)
    }

    /// SIGPIPE: a write to a pipe or socket nobody reads.
    pub const fn pipe() -> SignalKind {
        SignalKind(sys::SIGPIPE)
    }

    /// SIGALRM: an `alarm(2)` timer expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(sys::SIGALRM)
    }

    /// SIGWINCH: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(sys::SIGWINCH)
    }

    /// SIGIO: signal-driven I/O is possible.
    pub const fn io() -> SignalKind {
        SignalKind(sys::SIGIO)
    }
}

/// Starts listening for `kind` on the current runtime. The process-wide handler is installed
/// now (the first time for this signal), so a signal that arrives after this call is reported
/// even before the first `recv`.
///
/// # Errors
/// Outside a runtime; a signal that cannot be handled (SIGKILL, SIGSTOP, SIGSEGV, SIGBUS,
/// SIGILL, SIGFPE) or an invalid number (`InvalidInput`); out of descriptors.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let reactor = context::reactor()?;
    sys::register(kind.0)?;
    let fd = sys::subscribe()?;
    let registration = reactor.register(fd.as_fd())?;
    let slot = &SLOTS[kind.0 as usize];
    let key = waiters(slot).insert(None);
    // A delivery still pending from before (nobody listened, or nobody polled since) goes to
    // the receivers that exist, before this one takes its starting generation: it would
    // otherwise count as a delivery to this one on its first poll.
    broadcast();
    let seen = {
        let _taking = waiters(slot);
        slot.generation.load(Ordering::SeqCst)
    };
    Ok(Signal {
        registration,
        fd,
        kind,
        seen,
        key,
    })
}

/// Waits for Ctrl-C (SIGINT). The handler is installed when this is called, not when the future
/// is first polled; from then on, SIGINT no longer terminates the process.
///
/// ```no_run
/// weft_runtime::Runtime::new()?.block_on(async {
///     let server = weft_runtime::spawn(async { /* serve */ });
///     weft_runtime::signal::ctrl_c().await?;
///     server.abort(); // shut down cleanly
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// The future fails with an error outside a runtime, or if the runtime shuts down first.
pub fn ctrl_c() -> CtrlC {
    CtrlC {
        state: match signal(SignalKind::interrupt()) {
            Ok(signal) => Ok(signal),
            Err(e) => Err(Some(e)),
        },
    }
}

/// The future of [`ctrl_c`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct CtrlC {
    state: Result<Signal, Option<io::Error>>,
}

impl Future for CtrlC {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            Ok(signal) => signal
                .poll_recv(cx)
                .map(|got| got.ok_or_else(|| io::Error::other(shut_down()))),
            Err(e) => Poll::Ready(Err(e.take().expect("CtrlC polled after it completed"))),
        }
    }
}

/// A listener for one signal, from [`signal`]: [`recv`](Signal::recv) it, or use it as a
/// [`Stream`](futures_core::Stream) of `()`.
pub struct Signal {
    /// Declared before `fd`: deregistered before the descriptor closes.
    registration: Registration,
    fd: OwnedFd,
    kind: SignalKind,
    /// The generation last reported.
    seen: u64,
    /// This receiver's waker slot in `SLOTS[kind]`.
    key: usize,
}

impl Signal {
    /// Waits for the next delivery (deliveries since the last `recv` count, coalesced into
    /// one). `None` once the runtime has shut down.
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (see [`recv`](Signal::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let slot = &SLOTS[self.kind.0 as usize];
        loop {
            if self.take_news(slot) {
                return Poll::Ready(Some(()));
            }
            // Register before looking again, so a broadcast that lands after this look finds
            // the waker (it bumps the generation before it takes the wakers).
            {
                let mut waiters = waiters(slot);
                let waker = &mut waiters[self.key];
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
            }
            if self.take_news(slot) {
                return Poll::Ready(Some(()));
            }
            match self.registration.poll_ready(cx, Direction::Read) {
                Poll::Ready(Ok(event)) => {
                    sys::drain(self.fd.as_fd());
                    self.registration.clear_readiness(event);
                    broadcast();
                }
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    fn take_news(&mut self, slot: &Slot) -> bool {
        let generation = slot.generation.load(Ordering::SeqCst);
        if generation == self.seen {
            return false;
        }
        self.seen = generation;
        true
    }
}

impl futures_core::Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let waker = waiters(&SLOTS[self.kind.0 as usize]).remove(self.key);
        drop(waker);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("seen", &self.seen)
            .finish()
    }
}

/// What all receivers of one signal share.
struct Slot {
    /// Bumped once per drained burst of this signal.
    generation: AtomicU64,
    /// One slot per live receiver: the waker of its last `Pending` poll.
    waiters: Mutex<Slab<Option<Waker>>>,
}

static SLOTS: [Slot; sys::NSIG] = [const {
    Slot {
        generation: AtomicU64::new(0),
        waiters: Mutex::new(Slab::new()),
    }
}; sys::NSIG];

fn waiters(slot: &Slot) -> MutexGuard<'_, Slab<Option<Waker>>> {
    slot.waiters.lock().unwrap_or_else(|e| e.into_inner())
}

/// Passes every pending signal on to its receivers: new generation first, then the wakes.
/// The flag is taken and the generation bumped under the slot's lock, so a new receiver that
/// reads its starting generation under that lock sees both or neither.
fn broadcast() {
    let mut wake = Vec::new();
    for (signum, slot) in SLOTS.iter().enumerate().skip(1) {
        if !sys::is_pending(signum as i32) {
            continue;
        }
        let mut waiting = waiters(slot);
        if sys::take_pending(signum as i32) {
            slot.generation.fetch_add(1, Ordering::SeqCst);
            wake.extend(waiting.iter_mut().filter_map(|(_, w)| w.take()));
        }
    }
    wake.into_iter().for_each(Waker::wake);
}

fn shut_down() -> &'static str {
    "weft runtime shut down while waiting for a signal"
}
