//! Step 5a of the C10K story: `epoll(7)`, level-triggered (the default).
//!
//! ```text
//! cargo run --release --example io_epoll_lt -- --addr 127.0.0.1:7000
//! ```
//!
//! The model: the interest set moves *into the kernel*. `epoll_create1` makes an epoll
//! instance; `epoll_ctl(ADD/MOD/DEL)` edits its interest list once per change, not once per
//! wait; the kernel hooks a callback on each socket's wait queue at `ADD` time, and when a
//! socket becomes ready that callback appends it to the instance's ready list. `epoll_wait`
//! just copies out the ready list. A wait costs O(ready), not O(watched): 10,000 idle sockets
//! cost nothing per event (see the flat epoll line in the benchmark).
//!
//! Level-triggered means `epoll_wait` behaves like a faster `poll`: a socket that is still
//! readable is reported again by the next wait (the kernel re-checks it and puts it back on the
//! ready list). So, like `select` and `poll`, the loop may read once per wake-up and leave the
//! rest for later, which gives natural fairness between connections.
//!
//! What it costs and where the traps are:
//!
//! - **A syscall per interest change.** Blocked on output means switching the interest to
//!   `EPOLLOUT` (`EPOLL_CTL_MOD`) and back afterwards: two extra syscalls that `poll` did by
//!   editing an array. Edge-triggered mode (`io_epoll_et`) registers once and never modifies.
//! - **Re-reporting.** Every level-triggered wait re-polls each socket it reported last time,
//!   to decide whether it is still ready: a little more work per event than edge-triggered.
//! - **Close removes a registration only when the last descriptor of the open file goes.** If a
//!   socket was `dup`ed (or inherited by a child after `fork`), closing our descriptor leaves the
//!   registration alive and events keep coming for a number that now means something else.
//!   `EPOLL_CTL_DEL` before `close` is the safe habit when descriptors are shared.
//! - **Thundering herd.** Several threads waiting on one listener all wake for one connection;
//!   `EPOLLEXCLUSIVE` (or one listener per thread with `SO_REUSEPORT`) is the fix.

#[path = "common.rs"]
mod common;

use common::{Conns, Epoll, Status};
use libc::{EPOLLIN, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_MOD};

fn main() {
    let listener = common::listen("io_epoll_lt", true);
    let epoll = Epoll::new();
    epoll.ctl(EPOLL_CTL_ADD, listener, EPOLLIN);
    let mut conns = Conns::default();
    let mut buf = vec![0; common::BUF_SIZE];
    let mut events = common::events();
    loop {
        for event in epoll.wait(&mut events, -1) {
            let fd = event.u64 as i32;
            if fd == listener {
                // Level-triggered: accepting one per wake-up would be correct too, but a burst
                // of connects is served faster by emptying the queue now.
                while let Some(new) = common::accept(listener, true) {
                    epoll.ctl(EPOLL_CTL_ADD, new, EPOLLIN);
                    conns.insert(new);
                }
                continue;
            }
            let Some(conn) = conns.get(fd) else {
                continue;
            };
            let before = conn.status();
            // One read per wake-up: anything left is reported by the next `epoll_wait`.
            match conn.echo(&mut buf, false) {
                // `close` takes the socket out of the epoll set (it was never duplicated).
                Status::Closed => conns.remove(fd),
                // Blocked on output: wait for room instead of input. Left on EPOLLIN, the
                // loop would be woken for input it refuses to read, over and over: a busy loop.
                Status::Write if before == Status::Read => epoll.ctl(EPOLL_CTL_MOD, fd, EPOLLOUT),
                Status::Read if before == Status::Write => epoll.ctl(EPOLL_CTL_MOD, fd, EPOLLIN),
                _ => {}
            }
        }
    }
}
