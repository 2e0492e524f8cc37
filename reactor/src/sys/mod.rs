//! Everything that talks to the kernel. Nothing outside this module names `libc::`.
//!
//! # The backend contract
//!
//! A backend is a *selector*: it watches file descriptors and reports readiness. Every backend
//! provides, with these exact semantics:
//!
//! 1. `register(fd, token)`: watch `fd` for read, write, read-closed (peer sent FIN) and errors,
//!    reporting them under `token`. A descriptor is registered once, for both directions.
//! 2. `deregister(fd)`: stop watching `fd`. Events already collected may still name its token;
//!    the layer above drops them by generation (see `token.rs`).
//! 3. `select(events, timeout)`: wait until at least one event or until `timeout` (`None` waits
//!    forever; sub-millisecond timeouts are honoured), and fill `events`.
//! 4. **Edge semantics.** A readiness is reported once per *edge*: after reporting readable, the
//!    backend stays quiet about reading until new data arrives (epoll `EPOLLET`) or until the
//!    layer above says it drained the socket with `rearm(fd, token, interest)` (the `poll(2)`
//!    backend emulates edges this way; for epoll `rearm` is free).
//!
//! The wake-up half (an `eventfd`) is in [`notify`]; socket creation is in [`socket`] and
//! [`unix_socket`]; signal handlers are in [`signal`].

use std::io;
use std::time::Duration;

pub(crate) mod epoll;
pub mod notify;
pub(crate) mod poll;
mod raw;
pub mod signal;
pub mod socket;
pub mod unix_socket;

/// Runs a libc call and turns the C convention (`-1` and `errno`) into an `io::Result`.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)* ) ) => {{
        // SAFETY: every call site passes arguments that satisfy the named libc function's
        // contract, and says how in a SAFETY comment above the `syscall!`.
        #[allow(unused_unsafe, clippy::undocumented_unsafe_blocks)]
        let res = unsafe { libc::$fn($($arg, )*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;

/// Readiness bits a backend reports for one descriptor (see `readiness.rs` for their meaning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventBits(pub(crate) u8);

/// The values of `READABLE` and `WRITABLE` are epoll's own (`EPOLLIN`, `EPOLLOUT`), so the epoll
/// backend decodes the common event (data or buffer space, nothing else) with one mask; the
/// other values only have to stay clear of them and of `readiness.rs`'s `SHUTDOWN` bit.
impl EventBits {
    pub(crate) const READABLE: u8 = 0x01;
    pub(crate) const URGENT: u8 = 0x02;
    pub(crate) const WRITABLE: u8 = 0x04;
    pub(crate) const ERROR: u8 = 0x08;
    pub(crate) const WRITE_CLOSED: u8 = 0x10;
    pub(crate) const READ_CLOSED: u8 = 0x20;
}

/// One reported event: the registration token and what became ready.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    pub(crate) token: u64,
    pub(crate) bits: EventBits,
}

/// The buffers one driver thread reuses across waits. The epoll backend leaves its events in
/// the kernel's own layout (decoded while dispatching, saving a copy per event); the poll
/// backend fills `ready`.
#[derive(Debug, Default)]
pub(crate) struct Events {
    epoll: Vec<libc::epoll_event>,
    pollfds: Vec<libc::pollfd>,
    pollfd_tokens: Vec<u64>,
    ready: Vec<Event>,
}

impl Events {
    /// Calls `f` for every event the last `select` reported.
    // Its one caller, the hub's wait, is modelled under loom and does not call it.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline]
    pub(crate) fn for_each(&self, mut f: impl FnMut(Event)) {
        self.epoll().for_each(&mut f);
        self.ready().for_each(f);
    }

    /// The events the epoll backend reported, decoded one by one. The driver loops over these
    /// and over [`ready`](Events::ready) separately, so that each loop gets its own inlined copy
    /// of the per-event work (a closure called from two loops is compiled out of line).
    #[inline]
    pub(crate) fn epoll(&self) -> impl Iterator<Item = Event> + '_ {
        self.epoll.iter().map(epoll::event_of)
    }

    /// The events the poll backend (or a test) reported.
    #[inline]
    pub(crate) fn ready(&self) -> impl Iterator<Item = Event> + '_ {
        self.ready.iter().copied()
    }

    /// `true` when the last `select` reported nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.epoll.is_empty() && self.ready.is_empty()
    }

    /// A buffer holding just `event`, for tests of the dispatch logic.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn synthetic(event: Event) -> Events {
        Events {
            ready: vec![event],
            ..Events::default()
        }
    }

    /// Under loom: adds an event of a modelled wait to those the last `select` reported
    /// (`Reactor::turn_with`).
    #[cfg(loom)]
    pub(crate) fn add_modelled(&mut self, event: Event) {
        self.ready.push(event);
    }

    /// Room for `capacity` events per wait.
    pub(crate) fn with_capacity(capacity: usize) -> Events {
        Events {
            epoll: Vec::with_capacity(capacity),
            ..Events::default()
        }
    }
}

/// Which direction a drained descriptor should be re-armed for (`poll(2)` backend only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

/// Which demultiplexer a reactor uses.
///
/// `Epoll` is the default. `Poll` is the portable `poll(2)` fallback, kept so the same runtime
/// can measure the select/poll/epoll argument and so CI exercises a second backend. The
/// environment variable `WEFT_BACKEND=epoll|poll` overrides the default for a whole process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// Edge-triggered `epoll(7)`: O(ready) per wait.
    #[default]
    Epoll,
    /// `poll(2)` with edge emulation: O(registered) per wait.
    Poll,
}

impl Backend {
    /// The backend named by `WEFT_BACKEND`, or `None` when it is unset.
    ///
    /// # Errors
    /// A value other than `epoll` or `poll` is an `InvalidInput` error naming the variable.
    pub fn from_env() -> io::Result<Option<Backend>> {
        match std::env::var("WEFT_BACKEND") {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Ok(v) if v.eq_ignore_ascii_case("epoll") => Ok(Some(Backend::Epoll)),
            Ok(v) if v.eq_ignore_ascii_case("poll") => Ok(Some(Backend::Poll)),
            Ok(v) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WEFT_BACKEND={v:?}: expected `epoll` or `poll`"),
            )),
            Err(e) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("WEFT_BACKEND: {e}"),
            )),
        }
    }
}

/// The selector a reactor drives: one of the backends, chosen at run time.
#[derive(Debug)]
pub(crate) enum Selector {
    Epoll(epoll::Selector),
    Poll(poll::Selector),
}

impl Selector {
    pub(crate) fn new(backend: Backend) -> io::Result<Selector> {
        Ok(match backend {
            Backend::Epoll => Selector::Epoll(epoll::Selector::new()?),
            Backend::Poll => Selector::Poll(poll::Selector::new()?),
        })
    }

    /// Adds `fd`; returns whether the thread waiting in the selector must be woken for the
    /// registration to take effect (only the `poll` backend, whose list is built per wait).
    pub(crate) fn register(&self, fd: i32, token: u64) -> io::Result<bool> {
        match self {
            Selector::Epoll(s) => s.register(fd, token).map(|()| false),
            Selector::Poll(s) => s.register(fd, token),
        }
    }

    /// The epoll descriptor, for a hub to watch (`None` for `poll`, which cannot be nested).
    pub(crate) fn epoll_fd(&self) -> Option<i32> {
        match self {
            Selector::Epoll(s) => Some(s.raw_fd()),
            Selector::Poll(_) => None,
        }
    }

    /// Adds the wake-up eventfd (read interest only where the backend can say so).
    pub(crate) fn register_wakeup(&self, fd: i32, token: u64) -> io::Result<()> {
        match self {
            Selector::Epoll(s) => s.register_readable(fd, token),
            Selector::Poll(s) => s.register(fd, token).map(drop),
        }
    }

    pub(crate) fn deregister(&self, fd: i32) -> io::Result<()> {
        match self {
            Selector::Epoll(s) => s.deregister(fd),
            Selector::Poll(s) => s.deregister(fd),
        }
    }

    /// Re-arms a drained direction; returns `true` when a thread blocked in `select` must be
    /// woken to see it.
    #[inline]
    pub(crate) fn rearm(&self, fd: i32, token: u64, interest: Interest) -> bool {
        match self {
            Selector::Epoll(_) => false,
            Selector::Poll(s) => s.rearm(fd, token, interest),
        }
    }

    pub(crate) fn select(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Selector::Epoll(s) => s.select(events, timeout),
            Selector::Poll(s) => s.select(events, timeout),
        }
    }
}

/// `Duration` to `timespec`, saturating.
pub(crate) fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}
