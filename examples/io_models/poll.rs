//! Step 3 of the C10K story: `poll(2)`, select without the 1024 ceiling.
//!
//! ```text
//! cargo run --release --example io_poll -- --addr 127.0.0.1:7000
//! ```
//!
//! The model: an array of `struct pollfd { fd, events, revents }`. The caller says what it wants
//! in `events`; `poll` sleeps until something is ready and writes the answer into `revents`,
//! leaving `events` alone, so the array is kept from one call to the next and only edited when
//! a connection comes, goes, or changes what it waits for.
//!
//! What it fixes over `select`: no `FD_SETSIZE` (descriptor 50,000 is fine), no bitmaps to
//! rebuild, and the array holds only the descriptors you watch, not every number below the
//! highest.
//!
//! What it does not fix, and why epoll exists: **every call still costs O(watched)**. The kernel
//! copies the whole array in, calls every descriptor's `poll` method, registers on every wait
//! queue, sleeps, unregisters from all of them and copies the array back, and then user space
//! scans all of `revents`. The kernel keeps no memory of the interest between calls, because the
//! interface gives it nowhere to keep it. With thousands of idle connections and a few busy
//! ones (the normal shape of a server on the Internet), almost all of that work is wasted.
//! The demultiplexer benchmark shows the line climbing with N.

#[path = "common.rs"]
mod common;

use common::{Conns, Status};

fn main() {
    let listener = common::listen("io_poll", true);
    let mut conns = Conns::default();
    let mut buf = vec![0; common::BUF_SIZE];
    // Entry 0 is the listener; connections follow in no particular order.
    let mut fds = vec![libc::pollfd {
        fd: listener,
        events: libc::POLLIN,
        revents: 0,
    }];
    loop {
        // SAFETY: `fds` is a live array of `fds.len()` pollfd entries; -1 waits forever.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            match common::errno() {
                libc::EINTR => continue,
                _ => common::fail("poll", std::io::Error::last_os_error()),
            }
        }
        // Scan every entry for the few with `revents` set. Backwards, so that `swap_remove`
        // only moves an entry that was already looked at, and new connections pushed at the
        // end wait for the next round.
        let mut left = ready;
        for i in (0..fds.len()).rev() {
            if left == 0 {
                break; // The kernel said how many; stop once they are all found.
            }
            let pollfd = fds[i];
            if pollfd.revents == 0 {
                continue;
            }
            left -= 1;
            if pollfd.fd == listener {
                while let Some(fd) = common::accept(listener, true) {
                    conns.insert(fd);
                    fds.push(libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    });
                }
                continue;
            }
            // POLLHUP and POLLERR arrive whatever `events` said; reading reports them.
            let Some(conn) = conns.get(pollfd.fd) else {
                continue;
            };
            // Level-triggered like select: one read per wake-up, the rest is reported again.
            match conn.echo(&mut buf, false) {
                Status::Closed => {
                    conns.remove(pollfd.fd);
                    fds.swap_remove(i);
                }
                // Blocked on output: ask for POLLOUT only, so we stop reading (and stop being
                // woken for input we would not read) until the client drains its side.
                Status::Write => fds[i].events = libc::POLLOUT,
                Status::Read => fds[i].events = libc::POLLIN,
            }
        }
    }
}
