//! Stackful coroutines on weft's event loop: write blocking-looking code (`read`, `write_all`,
//! `sleep`, `join`) and get an event-driven server.
//!
//! A coroutine is a weft task whose poll resumes its own stack (with
//! [corosensei](https://docs.rs/corosensei)); when the code on it waits, the stack suspends and
//! the loop runs other tasks and coroutines. So coroutines and async tasks share one scheduler,
//! reactor, timer wheel, blocking pool and cooperative budget, and wait on each other freely.
//!
//! Using it takes five steps:
//!
//! 1. On a runtime's thread (inside `Runtime::block_on`, a task or a coroutine), start a
//!    coroutine with [`go`] (or [`Builder`] for a name and a stack size).
//! 2. Use [`net`]'s `TcpListener`, `TcpStream` and `UdpSocket` (or `UnixListener`,
//!    `UnixStream` and `UnixDatagram`) as you would `std::net`'s:
//!    they implement `std::io::Read` and `Write`, and park the coroutine instead of the thread.
//! 3. Wait with [`sleep`], [`yield_now`], [`JoinHandle::join`], or any future with
//!    [`block_on`]; push blocking or CPU-heavy work to the pool with [`blocking`].
//! 4. Collect results: a coroutine [`join`](JoinHandle::join)s, async code `.await`s the
//!    [`JoinHandle`], a plain thread `join`s (and blocks). Panics arrive as a `JoinError`.
//! 5. Talk through channels shared with async code ([`sync`]: `rx.blocking_recv()` here,
//!    `rx.recv().await` there), and wait on several of them, or a timeout, with [`Select`].
//!
//! ```
//! use std::io::{Read, Write};
//! use weft_coroutines::net::{TcpListener, TcpStream};
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let server = weft_coroutines::go(|| -> std::io::Result<()> {
//!         let listener = TcpListener::bind("127.0.0.1:0")?;
//!         let addr = listener.local_addr()?;
//!         // a coroutine per connection, std::io style
//!         weft_coroutines::go(move || {
//!             let mut conn = TcpStream::connect(addr).unwrap();
//!             conn.write_all(b"hello").unwrap();
//!         });
//!         let (mut conn, _) = listener.accept()?;
//!         let mut got = String::new();
//!         conn.read_to_string(&mut got)?;
//!         assert_eq!(got, "hello");
//!         Ok(())
//!     });
//!     server.await.unwrap() // async code awaits a coroutine
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Threads and `Send`
//!
//! A started coroutine never leaves the thread that runs it (its stack holds whatever it holds,
//! `Rc`s included, and thread-locals stay consistent); the closure given to [`go`] and the
//! result must be `Send`, because where a coroutine starts is the scheduler's choice:
//!
//! ```compile_fail
//! let shared = std::rc::Rc::new(5);
//! weft_coroutines::go(move || *shared); // error: `Rc<i32>` cannot be sent between threads
//! ```
//!
//! Two coroutines on one thread interleave only where they wait, so a `RefCell` borrow or a
//! `std::sync::Mutex` guard held across a wait can make the next coroutine panic or deadlock:
//! do not hold them across `read`, `sleep`, `join` and friends.
//!
//! # Stacks
//!
//! Each coroutine gets a stack of [`DEFAULT_STACK_SIZE`] (256 KiB) usable bytes unless
//! [`Builder::stack_size`] says otherwise, with a guard page below it. Only touched pages cost
//! memory (a coroutine parked in a `read` touches a few KiB). Default-sized stacks are pooled
//! per thread, so spawning usually makes no system call. The guard page is made with
//! `MADV_GUARD_INSTALL` where the kernel has it (Linux 6.13+), so the number of live
//! coroutines is not capped by `vm.max_map_count`; older kernels fall back to `mprotect`,
//! which costs two maps per stack (about 32,000 stacks at the default limit). Running out of
//! memory or maps makes [`Builder::spawn`] return an `io::Error`.
//!
//! A stack overflow hits the guard page; a signal handler (on an alternate signal stack)
//! prints `weft: coroutine "name" (id N) overflowed its 256 KiB stack; aborting` and aborts
//! the process. An overflowed stack cannot be unwound, so the process cannot go on.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]

mod coroutine;
mod join;
pub mod net;
mod overflow;
mod park;
pub mod select;
mod spawn;
mod stack;
pub mod sync;
mod sys;
mod wait;

pub use coroutine::in_coroutine;
pub use join::JoinHandle;
pub use select::Select;
pub use spawn::{go, spawn, Builder};
pub use stack::DEFAULT_STACK_SIZE;
pub use wait::{block_on, blocking, sleep, yield_now};
pub use weft_runtime::JoinError;

/// Compile-time facts: handles cross threads when their output does; streams are shareable.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<JoinHandle<u8>>();
    send_sync::<net::TcpStream>();
    send_sync::<net::TcpListener>();
    send_sync::<net::UdpSocket>();
    send_sync::<net::UnixStream>();
    send_sync::<net::UnixListener>();
    send_sync::<net::UnixDatagram>();
    send_sync::<Builder>();
    // A select over sendable arms can be awaited in a `weft::spawn`ed task.
    fn _select_is_send(rx: &mut sync::mpsc::Receiver<u8>, tx: &sync::mpsc::Sender<u8>) {
        fn send<T: Send>(_: &T) {}
        let select = Select::new()
            .recv(rx, |v| v.is_some())
            .send(tx, 1, |r| r.is_ok())
            .timeout(std::time::Duration::ZERO, || false);
        send(&std::future::IntoFuture::into_future(select));
    }
}
