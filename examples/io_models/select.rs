//! Step 2 of the C10K story: non-blocking sockets multiplexed with `select(2)`.
//!
//! ```text
//! cargo run --release --example io_select -- --addr 127.0.0.1:7000
//! ```
//!
//! The model: every socket is non-blocking, so no call ever sleeps except one, `select`, which
//! takes three bitmaps of descriptors (read, write, error interest) and sleeps until at least
//! one of them is ready. It overwrites the bitmaps with the subset that is ready; the loop
//! serves those and goes round again. One thread, any number of connections.
//!
//! What it costs:
//!
//! - **O(highest descriptor) per call, however few are ready.** Each call copies the bitmaps
//!   into the kernel, which walks every descriptor up to `nfds`, calls its driver's `poll`
//!   method and hangs a wait-queue entry on it, sleeps, then unhooks all of them and copies the
//!   bitmaps back. Then user space walks the bitmaps again to find the ready few. With 10,000
//!   idle clients and one busy one, every event pays for 10,001 descriptors.
//! - **The bitmaps are destroyed by the call**, so the loop rebuilds them every time (below).
//! - **`FD_SETSIZE` = 1024.** `fd_set` is a fixed array of 1024 bits. Setting bit 1024 or above
//!   writes past the end of the struct: memory corruption in C, a panic in Rust's `libc`
//!   (`FD_SET` checks). Raising `ulimit -n` does not help: the *number* of the descriptor is
//!   what counts, so a server with 1,000 open files cannot even select on one more socket. This
//!   example refuses such connections, with a message, instead of corrupting memory.
//!
//! Try the limit: `ulimit -n 4096` and `echo_load --conns 1100` against this server.

#[path = "common.rs"]
mod common;

use std::os::raw::c_int;

use common::{Conns, Status};

fn main() {
    let listener = common::listen("io_select", true);
    let mut conns = Conns::default();
    let mut buf = vec![0; common::BUF_SIZE];
    loop {
        // Rebuild the interest sets: the previous call overwrote them with its answer.
        // SAFETY: an all-zero fd_set is the valid empty set (FD_ZERO writes the same).
        let (mut readable, mut writable): (libc::fd_set, libc::fd_set) =
            unsafe { std::mem::zeroed() };
        let mut max = listener;
        // SAFETY: `listener` was checked against FD_SETSIZE below, like every connection.
        unsafe { libc::FD_SET(listener, &mut readable) };
        for conn in conns.iter() {
            let set = match conn.status() {
                Status::Write => &mut writable, // Output is pending: wait for room first.
                _ => &mut readable,
            };
            // SAFETY: only descriptors below FD_SETSIZE are ever admitted into `conns`.
            unsafe { libc::FD_SET(conn.fd, set) };
            max = max.max(conn.fd);
        }

        // Sleep until something is ready. `nfds` is the highest descriptor plus one: the
        // kernel scans every bit below it.
        let (no_errors, no_timeout) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: both sets are live fd_sets; null pointers mean "no exception set, no timeout".
        let ready =
            unsafe { libc::select(max + 1, &mut readable, &mut writable, no_errors, no_timeout) };
        if ready < 0 {
            match common::errno() {
                libc::EINTR => continue,
                _ => common::fail("select", std::io::Error::last_os_error()),
            }
        }

        // Now walk the answer, from 0 to `max`, to find the few descriptors that are ready.
        for fd in 0..=max {
            // SAFETY: `fd <= max < FD_SETSIZE`, and both sets are live.
            let hit = unsafe { libc::FD_ISSET(fd, &readable) || libc::FD_ISSET(fd, &writable) };
            if !hit {
                continue;
            }
            if fd == listener {
                while let Some(new) = common::accept(listener, true) {
                    admit(&mut conns, new);
                }
            } else if let Some(conn) = conns.get(fd) {
                // Level-triggered: one read per wake-up is enough. If bytes are left, the next
                // `select` reports the socket again.
                if conn.echo(&mut buf, false) == Status::Closed {
                    conns.remove(fd);
                }
            }
        }
    }
}

/// Keeps connection `fd` if `select` can watch it; otherwise closes it and says why.
fn admit(conns: &mut Conns, fd: c_int) {
    if fd as usize >= libc::FD_SETSIZE {
        eprintln!(
            "io_select: refusing a connection: it got descriptor {fd}, and select() can only watch \
             descriptors below FD_SETSIZE = {} (fd_set is a fixed {}-bit array). Closing it. Use \
             poll or epoll for more connections.",
            libc::FD_SETSIZE,
            libc::FD_SETSIZE
        );
        // SAFETY: `fd` was just accepted and is owned by nobody else.
        unsafe { libc::close(fd) };
        return;
    }
    conns.insert(fd);
}
