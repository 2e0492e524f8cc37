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
use std::task::{Context, Poll, Waker};

use slab::Slab;
use weft_reactor::sys::signal as sys;
use weft_reactor::{Direction, Registration};

use crate::context;
use crate::shim::{lock, AtomicU64, Mutex, MutexGuard, Ordering};

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
    let (key, seen) = slot(kind).join(broadcast);
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
        let (registration, fd) = (&self.registration, &self.fd);
        let poll_edge = |cx: &mut Context<'_>| match registration.poll_ready(cx, Direction::Read) {
            Poll::Ready(Ok(event)) => {
                sys::drain(fd.as_fd());
                registration.clear_readiness(event);
                Poll::Ready(true)
            }
            Poll::Ready(Err(_)) => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
        };
        slot(self.kind).poll_recv(self.key, &mut self.seen, cx, poll_edge, broadcast)
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
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
        let waker = slot(self.kind).waiters().remove(self.key);
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

/// What all receivers of one signal share. The process-wide parts (the handler's pending
/// flags, the eventfd) come in as closures, so loom can model this logic without them.
struct Slot {
    /// Bumped once per drained burst of this signal.
    generation: AtomicU64,
    /// One slot per live receiver: the waker of its last `Pending` poll.
    waiters: Mutex<Slab<Option<Waker>>>,
}

impl Slot {
    #[cfg(not(loom))]
    const fn new() -> Slot {
        Slot {
            generation: AtomicU64::new(0),
            waiters: Mutex::new(Slab::new()),
        }
    }

    #[cfg(loom)]
    fn new() -> Slot {
        Slot {
            generation: AtomicU64::new(0),
            waiters: Mutex::new(Slab::new()),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, Slab<Option<Waker>>> {
        lock(&self.waiters)
    }

    /// A new receiver: its key among the waiters and its starting generation. `broadcast`
    /// passes on every pending signal first: a delivery still pending from before (nobody
    /// listened, or nobody polled since) goes to the receivers that exist, before this one
    /// takes its starting generation; it would otherwise count as a delivery to this one on its
    /// first poll. The generation is read under the lock under which [`Slot::pass_on`] bumps it.
    fn join(&self, broadcast: impl FnOnce()) -> (usize, u64) {
        let key = self.waiters().insert(None);
        broadcast();
        let _taking = self.waiters();
        (key, self.generation.load(Ordering::SeqCst))
    }

    /// Whether the generation moved past `seen` (and moves `seen` up to it).
    fn take_news(&self, seen: &mut u64) -> bool {
        let generation = self.generation.load(Ordering::SeqCst);
        if generation == *seen {
            return false;
        }
        *seen = generation;
        true
    }

    /// [`Signal::poll_recv`] of receiver `key`, which last reported generation `seen`.
    /// `poll_edge` polls its eventfd: `Ready(true)` when it was readable (and is drained now),
    /// `Ready(false)` when the runtime is gone. `broadcast` passes on the pending signals.
    fn poll_recv(
        &self,
        key: usize,
        seen: &mut u64,
        cx: &mut Context<'_>,
        mut poll_edge: impl FnMut(&mut Context<'_>) -> Poll<bool>,
        mut broadcast: impl FnMut(),
    ) -> Poll<Option<()>> {
        loop {
            if self.take_news(seen) {
                return Poll::Ready(Some(()));
            }
            // Register before looking again, so a broadcast that lands after this look finds
            // the waker (it bumps the generation before it takes the wakers).
            {
                let mut waiters = self.waiters();
                let waker = &mut waiters[key];
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
            }
            if self.take_news(seen) {
                return Poll::Ready(Some(()));
            }
            match poll_edge(cx) {
                Poll::Ready(true) => broadcast(),
                Poll::Ready(false) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Passes this signal on to its receivers if `take_pending` (the handler's flag, taken)
    /// says it arrived: bumps the generation and moves the wakers into `wake`, both under the
    /// lock, so a new receiver that reads its starting generation under that lock sees both or
    /// neither.
    fn pass_on(&self, take_pending: impl FnOnce() -> bool, wake: &mut Vec<Waker>) {
        let mut waiting = self.waiters();
        if take_pending() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            wake.extend(waiting.iter_mut().filter_map(|(_, w)| w.take()));
        }
    }
}

/// Process-wide, like the handlers: std's primitives, whose constructors are `const`.
#[cfg(not(loom))]
static SLOTS: [Slot; sys::NSIG] = [const { Slot::new() }; sys::NSIG];

// Under loom, whose primitives cannot be built in a `static`, one set per model execution.
#[cfg(loom)]
loom::lazy_static! {
    static ref SLOTS: Vec<Slot> = (0..sys::NSIG).map(|_| Slot::new()).collect();
}

/// The slot of `kind` (a number `sys::register` accepted, so in range).
fn slot(kind: SignalKind) -> &'static Slot {
    &SLOTS[kind.0 as usize]
}

/// Passes every pending signal on to its receivers: new generation first, then the wakes
/// (after every lock is released).
fn broadcast() {
    let mut wake = Vec::new();
    for (signum, slot) in SLOTS.iter().enumerate().skip(1) {
        if sys::is_pending(signum as i32) {
            slot.pass_on(|| sys::take_pending(signum as i32), &mut wake);
        }
    }
    wake.into_iter().for_each(Waker::wake);
}

fn shut_down() -> &'static str {
    "weft runtime shut down while waiting for a signal"
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    /// As `signal` documents: a delivery still pending when a receiver is created goes to the
    /// receivers that exist, not to the new one; one that arrives afterwards reaches it even
    /// before it first polls.
    #[test]
    fn a_delivery_pending_at_creation_goes_to_the_older_receivers_only() {
        let slot = Slot::new();
        let pending = AtomicBool::new(false);
        let broadcast = || {
            let mut wake = Vec::new();
            slot.pass_on(|| pending.swap(false, Ordering::SeqCst), &mut wake);
            wake.into_iter().for_each(Waker::wake);
        };
        let (_, mut older) = slot.join(broadcast);
        pending.store(true, Ordering::SeqCst);
        let (_, mut new) = slot.join(broadcast);
        assert!(slot.take_news(&mut older), "the older receiver missed it");
        assert!(!slot.take_news(&mut new), "a delivery from before counted");
        pending.store(true, Ordering::SeqCst);
        broadcast();
        assert!(slot.take_news(&mut new));
        assert!(slot.take_news(&mut older));
    }
}

/// Model checks of the slot logic (`RUSTFLAGS="--cfg loom" cargo test -p weft-runtime
/// --release --lib loom`). The handler is a thread that sets a pending flag and then writes the
/// eventfd, waking every receiver's registration. The first receiver to poll its registration
/// drains the shared counter; the others' reactors then report nothing (epoll re-checks a
/// descriptor before it reports it), so they hear of the signal only through the slot.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::future::poll_fn;
    use std::sync::Arc;

    use loom::sync::atomic::AtomicBool;
    use loom::thread;

    use super::*;
    use crate::sync::loom_util::{block_on, poll_once, TestWaker};

    /// One signal number: its slot, the handler's pending flag, and the eventfd: its counter
    /// (set: readable) and each receiver's registration (the waker of its last `Pending`).
    struct Model {
        slot: Slot,
        pending: AtomicBool,
        eventfd: Mutex<(bool, Vec<Option<Waker>>)>,
    }

    /// A receiver: its key, the generation it last reported, and its registration.
    struct Receiver {
        key: usize,
        seen: u64,
        edge: usize,
    }

    impl Model {
        fn new() -> Arc<Model> {
            Arc::new(Model {
                slot: Slot::new(),
                pending: AtomicBool::new(false),
                eventfd: Mutex::new((false, Vec::new())),
            })
        }

        /// `signal()`: registers with the reactor, then joins the slot.
        fn receiver(&self) -> Receiver {
            let edge = {
                let mut eventfd = lock(&self.eventfd);
                eventfd.1.push(None);
                eventfd.1.len() - 1
            };
            let (key, seen) = self.slot.join(|| self.broadcast());
            Receiver { key, seen, edge }
        }

        /// The handler: the flag, then the eventfd write, which reaches every registration.
        fn deliver(&self) {
            self.pending.store(true, Ordering::SeqCst);
            let wake: Vec<Waker> = {
                let mut eventfd = lock(&self.eventfd);
                eventfd.0 = true;
                eventfd.1.iter_mut().filter_map(Option::take).collect()
            };
            wake.into_iter().for_each(Waker::wake);
        }

        /// `broadcast` for this one signal. The flag is taken with a compare-and-swap where
        /// `sys::take_pending` swaps (the same result for a flag): loom can let a `swap` that
        /// races a `store` read a value it could never read (tokio-rs/loom#254).
        fn broadcast(&self) {
            let mut wake = Vec::new();
            let take_pending = || {
                self.pending
                    .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            };
            self.slot.pass_on(take_pending, &mut wake);
            wake.into_iter().for_each(Waker::wake);
        }

        fn poll_recv(&self, receiver: &mut Receiver, cx: &mut Context<'_>) -> Poll<Option<()>> {
            let poll_edge = |cx: &mut Context<'_>| {
                let mut eventfd = lock(&self.eventfd);
                if std::mem::take(&mut eventfd.0) {
                    Poll::Ready(true)
                } else {
                    eventfd.1[receiver.edge] = Some(cx.waker().clone());
                    Poll::Pending
                }
            };
            self.slot
                .poll_recv(receiver.key, &mut receiver.seen, cx, poll_edge, || {
                    self.broadcast()
                })
        }

        fn recv(&self, receiver: &mut Receiver) -> Option<()> {
            block_on(poll_fn(|cx| self.poll_recv(receiver, cx)))
        }
    }

    /// Two receivers wait, each on its own thread, while the signal arrives: whichever sees the
    /// edge first takes the pending flag and passes it on, and the other, whether it already
    /// registered its waker, is registering it, or has not polled yet, is told too (a receiver
    /// left waiting deadlocks the model).
    #[test]
    fn loom_signal_every_receiver_hears_a_delivery_racing_its_poll() {
        loom::model(|| {
            let model = Model::new();
            let (mut first, mut second) = (model.receiver(), model.receiver());
            let handler = {
                let model = model.clone();
                thread::spawn(move || model.deliver())
            };
            let other = {
                let model = model.clone();
                thread::spawn(move || model.recv(&mut second))
            };
            assert_eq!(model.recv(&mut first), Some(()));
            assert_eq!(other.join().unwrap(), Some(()));
            handler.join().unwrap();
            assert_eq!(model.slot.generation.load(Ordering::SeqCst), 1);
        });
    }

    /// A receiver is created while the signal arrives and an older receiver waits for it: the
    /// older one is told; the delivery is passed on once; the new one's first poll reports it
    /// exactly when it was passed on after the new one read its starting generation (never a
    /// spurious report); and a delivery after the new one's creation always reaches it.
    #[test]
    fn loom_signal_delivery_racing_a_new_receiver() {
        loom::model(|| {
            let model = Model::new();
            let mut older = model.receiver();
            let handler = {
                let model = model.clone();
                thread::spawn(move || model.deliver())
            };
            let waiting = {
                let model = model.clone();
                thread::spawn(move || model.recv(&mut older))
            };
            let mut new = model.receiver();
            assert_eq!(waiting.join().unwrap(), Some(()));
            handler.join().unwrap();
            let started = new.seen;
            let waker = TestWaker::new();
            let first = poll_once(
                std::pin::pin!(poll_fn(|cx| model.poll_recv(&mut new, cx))),
                &waker,
            );
            let generation = model.slot.generation.load(Ordering::SeqCst);
            assert_eq!(first.is_ready(), generation > started);
            assert_eq!(generation, 1, "one delivery, passed on once");
            model.deliver();
            assert_eq!(model.recv(&mut new), Some(()));
        });
    }
}
