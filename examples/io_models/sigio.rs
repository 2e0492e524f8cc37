//! Step 4a of the C10K story: signal-driven I/O with `SIGIO` (`O_ASYNC`).
//!
//! ```text
//! cargo run --release --example io_sigio -- --addr 127.0.0.1:7000
//! ```
//!
//! The idea: instead of asking "who is ready?" over and over, let the kernel *tell* us. With
//! `fcntl(fd, F_SETOWN, pid)` and the `O_ASYNC` flag, the kernel sends the owner a `SIGIO`
//! whenever the socket's state changes (bytes arrived, room to write, hang-up, a connection to
//! accept). The process sleeps in `sigsuspend` and needs no interest list at all.
//!
//! Why it does not work on its own, and what this example shows by counting:
//!
//! - **Plain `SIGIO` does not say which descriptor.** It only says "something, somewhere".
//! - **Standard signals do not queue, they coalesce.** A signal is one pending *bit*: while
//!   `SIGIO` is pending (or blocked while the loop works), ten more sockets becoming ready add
//!   nothing. Ten events, one signal.
//! - **So readiness is lost unless the loop scans.** A loop that did one unit of work per
//!   signal would serve one socket and leave nine hanging forever: no further signal comes for
//!   bytes that are already there (signals are edges, like `EPOLLET`). The only correct
//!   program rescans *every* descriptor with `poll` after each signal, and keeps scanning until
//!   a scan finds nothing: O(connections) per wake-up, exactly the cost we wanted to escape.
//!
//! The loop counts signals taken and readiness events found by the scans, and prints both when
//! the last client leaves: under load, events far outnumber signals. Every event beyond the
//! signal count is one a scan-less loop would have lost.
//!
//! Other traps: a signal handler may run between any two instructions, so it may only touch
//! async-signal-safe state (an atomic counter here); and the block / check / `sigsuspend`
//! dance below is what avoids sleeping through a signal that arrived just before the sleep.

#[path = "common.rs"]
mod common;

use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

use common::Conns;

/// Signals delivered so far. The handler may only do async-signal-safe work: one atomic add.
static SIGNALS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigio(_signal: c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

fn main() {
    let listener = common::listen("io_sigio", true);
    // SAFETY: an all-zero sigaction is a valid plain C value; we then fill in the handler,
    // which only does an atomic add (async-signal-safe), and an empty mask.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigio as extern "C" fn(c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        common::cvt(libc::sigaction(libc::SIGIO, &action, std::ptr::null_mut()))
            .unwrap_or_else(|e| common::fail("sigaction", e));
    }
    // SIGIO stays blocked while the loop works and is let in only inside `sigsuspend`: a signal
    // raised while we scan waits as pending, instead of being missed between scan and sleep.
    let mut wait_mask = common::block(&[libc::SIGIO]);
    // SAFETY: `wait_mask` is a live sigset_t.
    unsafe { libc::sigdelset(&mut wait_mask, libc::SIGIO) };
    common::signal_on_io(listener, 0); // 0: plain SIGIO, no descriptor number attached.

    let mut conns = Conns::default();
    let mut buf = vec![0; common::BUF_SIZE];
    // `seen` starts out of step with SIGNALS so that the loop scans once before its first
    // sleep: clients that connected before O_ASYNC was set raised no signal, and never will.
    let (mut seen, mut events, mut scans) = (u64::MAX, 0u64, 0u64);
    let mut live = 0usize;
    loop {
        if SIGNALS.load(Ordering::Relaxed) == seen {
            // Atomically unblock SIGIO and sleep; returns (with SIGIO blocked again) after the
            // handler has run.
            // SAFETY: `wait_mask` is a live sigset_t.
            unsafe { libc::sigsuspend(&wait_mask) };
        }
        seen = SIGNALS.load(Ordering::Relaxed);

        // The fallback scan that makes this correct: which descriptors are ready, really?
        // Repeat until a scan comes back empty, since serving one socket can take long enough
        // for others to become ready (their signals merging into one pending bit).
        loop {
            scans += 1;
            let ready = common::scan(listener, &conns);
            if ready.is_empty() {
                break;
            }
            events += ready.len() as u64;
            for fd in ready {
                conns.serve(listener, fd, &mut buf, |new| common::signal_on_io(new, 0));
            }
        }

        let now = conns.iter().count();
        if now == 0 && live > 0 {
            report(seen, events, scans);
        }
        live = now;
    }
}

/// Prints how many signals carried how many readiness events.
fn report(signals: u64, events: u64, scans: u64) {
    println!(
        "io_sigio: {signals} SIGIO signals for {events} readiness events ({scans} poll scans); \
         {} events arrived while a signal was already pending and were merged into it: \
         one-event-per-signal would have lost them",
        events.saturating_sub(signals)
    );
}
