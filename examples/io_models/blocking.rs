//! Step 1 of the C10K story: blocking I/O, one thread per connection.
//!
//! ```text
//! cargo run --release --example io_blocking -- --addr 127.0.0.1:7000
//! ```
//!
//! The model: every `read(2)` and `write(2)` blocks until it can make progress, so a thread can
//! serve exactly one connection, and the server makes one thread per client. There is no
//! demultiplexer in user space at all: the *kernel's scheduler* is the demultiplexer. When bytes
//! arrive the kernel wakes the one thread sleeping in `read` on that socket.
//!
//! Why it is the simplest model there is: the code reads top to bottom like the protocol, state
//! lives on the stack, and a slow client only ever slows its own thread.
//!
//! What it costs (the reason the C10K problem existed):
//!
//! - **Memory per connection.** Each thread owns a stack. glibc's default is 8 MiB of address
//!   space, Rust's `std::thread` asks for 2 MiB; only touched pages are committed, but the
//!   kernel still needs a task struct, a kernel stack (16 KiB) and a mapping per thread. Ten
//!   thousand idle clients means ten thousand sleeping threads. We ask for 64 KiB stacks below,
//!   which is plenty for this loop and keeps 10,000 threads at 640 MiB of address space.
//! - **A context switch per event.** Every wake-up is a full switch between threads: save
//!   registers, switch stacks, and often lose warm caches. An event loop handles the next ready
//!   socket without leaving its thread.
//! - **Limits.** `kernel.threads-max`, `RLIMIT_NPROC` and `vm.max_map_count` cap the number of
//!   clients, and hitting them fails `pthread_create` (we then drop the connection).
//! - **Slow clients are cheap to launch at you.** A client that connects and sends nothing pins
//!   a thread forever ("slowloris"); real servers add timeouts (`SO_RCVTIMEO`).
//!
//! In the demultiplexer benchmark (`docs/io-models.md`) this model's cost per event is flat in
//! N, because the scheduler only touches the thread it wakes, but each event is a thread switch.

#[path = "common.rs"]
mod common;

use common::{Conn, Status};

/// Stack size of each connection thread. The read buffer lives on the heap.
const STACK: usize = 64 * 1024;

/// Read buffer per connection: every thread needs its own.
const BUF: usize = 16 * 1024;

fn main() {
    // A blocking listener: `accept` sleeps until a client arrives.
    let listener = common::listen("io_blocking", false);
    loop {
        let Some(fd) = common::accept(listener, false) else {
            continue;
        };
        // The connection is owned before the thread exists: if spawning fails, dropping the
        // closure drops `conn`, which closes the socket instead of leaking it.
        let mut conn = Conn::new(fd);
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{fd}"))
            .stack_size(STACK)
            .spawn(move || {
                let mut buf = vec![0; BUF];
                // A blocking socket never says EAGAIN: each `read` sleeps until bytes arrive,
                // each `write` until the kernel took all of them, so one step at a time is the
                // whole protocol. `echo` returns `Closed` at end of stream.
                while conn.echo(&mut buf, false) != Status::Closed {}
            });
        if let Err(e) = spawned {
            eprintln!("io_blocking: cannot start a thread for fd {fd}, closing it: {e}");
        }
    }
}
