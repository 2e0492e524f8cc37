//! **weft**: one epoll reactor, for high-concurrency network servers on Linux.
//!
//! Using it takes five steps:
//!
//! 1. Make a [`Runtime`] and give it your main future with [`Runtime::block_on`].
//! 2. Bind a [`net::TcpListener`] and `accept` connections.
//! 3. [`spawn`] a task per connection; read and write with the stream's async methods.
//! 4. Bound what may hang with [`time::timeout`]; pace work with [`time::sleep`] and
//!    [`time::interval`].
//! 5. Keep the loop free: CPU-heavy or blocking work goes to [`spawn_blocking`], files to
//!    [`fs`] (both run on the blocking pool). If a poll still hogs the loop, the stall detector
//!    prints one line naming the task ([`Builder::stall_threshold`]).
//!
//! ```
//! use std::time::Duration;
//! use weft::net::{TcpListener, TcpStream};
//!
//! weft::Runtime::new()?.block_on(async {
//!     // 2. listen
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!
//!     // 3. a task per connection: echo what arrives
//!     let server = weft::spawn(async move {
//!         let (mut conn, _) = listener.accept().await?;
//!         let mut buf = [0; 1024];
//!         loop {
//!             let n = conn.read(&mut buf).await?;
//!             if n == 0 {
//!                 return Ok::<(), std::io::Error>(());
//!             }
//!             conn.write_all(&buf[..n]).await?;
//!         }
//!     });
//!
//!     // a client, bounded in time (step 4)
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut reply = [0; 5];
//!     weft::time::timeout(Duration::from_secs(5), client.read_exact(&mut reply)).await??;
//!     assert_eq!(&reply, b"hello");
//!     drop(client);
//!     server.await??;
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ```
//! weft::Runtime::new()?.block_on(async {
//!     // 5. hashing on the pool; the loop keeps serving meanwhile
//!     let digest = weft::spawn_blocking(|| (0..1_000_000u64).fold(0, |h, i| h ^ i.rotate_left(7)))
//!         .await
//!         .unwrap();
//!     let path = std::env::temp_dir().join("weft-tutorial.txt");
//!     weft::fs::write(&path, digest.to_string()).await?;
//!     assert_eq!(weft::fs::read_to_string(&path).await?, digest.to_string());
//!     weft::fs::remove_file(&path).await
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Tasks talk through [`sync`]: a [`sync::oneshot`] per reply, [`sync::mpsc`] queues (bounded
//! ones make fast senders wait), [`sync::Notify`], an async [`sync::Mutex`] that may be held
//! across `.await`, and a [`sync::WaitGroup`]. Synchronous code (a plain thread) uses their
//! `blocking_*` methods.
//!
//! ```
//! use weft::sync::{mpsc, oneshot};
//!
//! weft::Runtime::new()?.block_on(async {
//!     let (jobs, mut inbox) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(16);
//!     weft::spawn(async move {
//!         while let Some((n, reply)) = inbox.recv().await {
//!             let _ = reply.send(n * n);
//!         }
//!     });
//!     let (reply, answer) = oneshot::channel();
//!     jobs.send((12, reply)).await.unwrap();
//!     assert_eq!(answer.await, Ok(144));
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The same loop runs **coroutines** too ([`coroutines`], [`go`]): code written in `std::io`
//! style (`read`, `write_all`, `sleep`, `join`) on its own stack, which parks instead of
//! blocking; coroutines and async tasks share the scheduler, reactor and timers, and wait on
//! each other.
//!
//! ```
//! use std::io::{Read, Write};
//! use weft::coroutines::net::TcpStream;
//!
//! weft::Runtime::new()?.block_on(async {
//!     let listener = weft::net::TcpListener::bind("127.0.0.1:0")?; // async side
//!     let addr = listener.local_addr()?;
//!     let client = weft::go(move || -> std::io::Result<Vec<u8>> {
//!         let mut stream = TcpStream::connect(addr)?; // parks the coroutine, not the thread
//!         stream.write_all(b"ping")?;
//!         let mut reply = vec![0; 4];
//!         stream.read_exact(&mut reply)?;
//!         Ok(reply)
//!     });
//!     let (mut conn, _) = listener.accept().await?;
//!     let mut ping = [0; 4];
//!     conn.read_exact(&mut ping).await?;
//!     conn.write_all(b"pong").await?;
//!     assert_eq!(client.await.unwrap()?, b"pong"); // async awaits a coroutine
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Signals arrive as streams ([`signal::ctrl_c`], [`signal::signal`]);
//! [`Runtime::metrics`] counts tasks, polls, stalls and pool threads.
//!
//! The reactor runs on edge-triggered `epoll` by default; `WEFT_BACKEND=poll` (or
//! [`Builder::backend`]) switches to the `poll(2)` fallback. The crates underneath are
//! `weft-reactor` (readiness, timers, wake-ups; knows only `Waker`) and `weft-runtime` (tasks,
//! scheduler, blocking pool, `net`, `time`, `fs`, `signal`, `sync`).

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]

pub use weft_runtime::{
    fs, net, signal, spawn, spawn_blocking, spawn_local, sync, task, time, yield_now, Backend,
    Builder, Handle, JoinError, JoinHandle, Runtime, RuntimeMetrics,
};

pub use weft_coroutines as coroutines;
pub use weft_coroutines::go;

/// The async I/O traits weft's streams implement (from `futures-io`), for code generic over
/// runtimes. weft's own types also have inherent `read`, `write`, `read_exact` and `write_all`.
///
/// [`os_error_code`](io::os_error_code) finds the `errno` behind an error weft added context to (the address in a
/// failed `bind` or `connect`), where `raw_os_error` sees only the outer error.
pub mod io {
    pub use futures_io::{AsyncRead, AsyncWrite};
    pub use weft_runtime::os_error_code;
}
