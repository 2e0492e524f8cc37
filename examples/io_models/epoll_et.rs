//! Step 5b of the C10K story: `epoll(7)`, edge-triggered (`EPOLLET`), the mode weft's reactor
//! uses.
//!
//! ```text
//! cargo run --release --example io_epoll_et -- --addr 127.0.0.1:7000
//! ```
//!
//! The model: the same kernel-side interest list and ready list as level-triggered epoll (see
//! `io_epoll_lt`), but a socket is reported only when its state *changes*: new bytes arrive,
//! room appears in the send buffer, the peer hangs up. Once reported it leaves the ready list
//! for good; it comes back only with the next change.
//!
//! What that buys:
//!
//! - **Register once, never modify.** Each connection is added for `EPOLLIN | EPOLLOUT |
//!   EPOLLRDHUP | EPOLLET` at accept time and left alone. Going from "waiting for input" to
//!   "waiting for room" and back costs no `epoll_ctl` at all: the loop just remembers which
//!   one it needs, and ignores edges it does not care about.
//! - **Nothing re-polled.** The kernel does not re-check reported sockets on every wait.
//!
//! The trap that comes with it, the one every edge-triggered program must get right:
//!
//! - **Drain until `EAGAIN`.** An edge says "something changed", once. If the loop reads 4 KiB
//!   of a 64 KiB burst and waits again, no new edge comes for the 60 KiB already there, and the
//!   connection hangs forever. So every notification is served until `read` (or `accept`, or
//!   `write`) would block. (A short read on a stream socket also shows the queue is empty:
//!   `benches/src/raw.rs` uses that to save the final `EAGAIN` read; this example keeps the
//!   plain rule.)
//! - **Fairness is now yours.** Draining means one fast sender can keep the loop reading for a
//!   long time while everyone else waits. Real loops cap the work per event and remember to
//!   come back (weft's cooperative budget does exactly that).
//! - **`EPOLLONESHOT`** is the multi-threaded cousin: report once, then disarm until
//!   re-armed with `EPOLL_CTL_MOD`, so two threads never serve one socket at once.

#[path = "common.rs"]
mod common;

use common::{Conns, Epoll};
use libc::{EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLL_CTL_ADD};

fn main() {
    let listener = common::listen("io_epoll_et", true);
    let epoll = Epoll::new();
    epoll.ctl(EPOLL_CTL_ADD, listener, EPOLLIN | EPOLLET);
    let mut conns = Conns::default();
    let mut buf = vec![0; common::BUF_SIZE];
    let mut events = common::events();
    loop {
        for event in epoll.wait(&mut events, -1) {
            let fd = event.u64 as i32;
            // Readable, writable, hung up: whatever the edge was, serve the socket until it
            // would block. `serve` accepts until EAGAIN on the listener (an edge-triggered
            // listener that accepted only one connection would strand the rest of the queue),
            // and on a connection writes what is pending, then reads and echoes until EAGAIN.
            // An output edge while we wait for input (or the reverse) costs one EAGAIN read.
            // No interest change ever: a connection with pending output simply waits for the
            // EPOLLOUT edge the kernel sends when room appears.
            conns.serve(listener, fd, &mut buf, |new| {
                epoll.ctl(
                    EPOLL_CTL_ADD,
                    new,
                    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                );
            });
        }
    }
}
