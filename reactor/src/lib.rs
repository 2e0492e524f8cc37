//! weft's reactor: edge-triggered readiness, a timing wheel and cross-thread wake-ups, for any
//! front end that speaks [`std::task::Waker`].
//!
//! It knows nothing of tasks or coroutines. A front end:
//!
//! 1. creates a [`Reactor`] (the driver, owned by one loop thread) and hands out its [`Handle`];
//! 2. registers each socket once with [`Handle::register`], getting a [`Registration`];
//! 3. performs I/O as *try the syscall, and on `EAGAIN` clear readiness and wait*
//!    ([`Registration::poll_ready`], [`Registration::clear_readiness`]);
//! 4. arms timers with [`TimerEntry`];
//! 5. calls [`Reactor::turn`] whenever it has nothing to run, and [`Handle::wake`] from other
//!    threads to interrupt it.
//!
//! ```
//! use std::os::fd::AsFd;
//! use std::task::{Context, Poll, Waker};
//! use weft_reactor::{Backend, Direction, Reactor};
//!
//! let mut reactor = Reactor::new(Backend::Epoll)?;
//! let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
//! let registration = reactor.handle().register(a.as_fd())?;
//! let mut cx = Context::from_waker(Waker::noop());
//!
//! reactor.turn(Some(std::time::Duration::ZERO))?;
//! assert!(registration.poll_ready(&mut cx, Direction::Read).is_pending());
//!
//! std::io::Write::write_all(&mut b, b"ping")?;
//! reactor.turn(None)?; // returns: `a` became readable
//! assert!(matches!(registration.poll_ready(&mut cx, Direction::Read), Poll::Ready(Ok(_))));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! All `libc` lives in [`sys`]; its module docs state the backend contract.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]

mod error;
mod hub;
mod reactor;
mod readiness;
mod sync;
pub mod sys;
mod timer;
mod token;

pub use error::{os_error_code, with_context};
pub use hub::Hub;
pub use reactor::{Handle, Reactor, Registration};
pub use readiness::{Direction, ReadyEvent, WakeHook};
pub use sys::socket;
pub use sys::unix_socket;
pub use sys::Backend;
pub use timer::TimerEntry;
