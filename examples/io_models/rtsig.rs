//! Step 4b of the C10K story: real-time signals (`F_SETSIG` + `sigtimedwait`), the Linux 2.2/2.4
//! answer that nginx's `rtsig` event module used before epoll existed.
//!
//! ```text
//! cargo run --release --example io_rtsig -- --addr 127.0.0.1:7000
//! WEFT_RTSIG_QUEUE=16 cargo run --release --example io_rtsig   # force queue overflows
//! ```
//!
//! The fix for plain `SIGIO` (see `io_sigio`): `fcntl(fd, F_SETSIG, SIGRTMIN + n)` makes the
//! kernel send a *real-time* signal instead. Real-time signals **queue** (one entry per event,
//! none merged) and carry a `siginfo_t` whose `si_fd` names the descriptor and `si_band` the
//! poll bits. Block the signal and take them synchronously with `sigtimedwait`: no handler, no
//! async-signal-safety worries, one syscall per event that names the socket, O(1) whatever the
//! number of idle connections. On paper, epoll before epoll.
//!
//! Its costs and traps:
//!
//! - **The queue is finite.** Pending signals count against `RLIMIT_SIGPENDING` (per user, all
//!   processes together). When it is full the kernel cannot queue the event, so it raises plain
//!   `SIGIO` instead: "I lost some". The program must then assume *anything* may be ready: throw
//!   away the queue (it is now an incomplete history) and fall back to a full `poll` scan, the
//!   O(connections) cost at exactly the moment the server is busiest. This example does that;
//!   set `WEFT_RTSIG_QUEUE` to a small number to watch it happen under `echo_load`.
//! - **Stale signals.** A queued signal can outlive its descriptor; by the time it is taken the
//!   number may belong to a new connection. Serving a socket that is not ready costs one
//!   `EAGAIN` read, so this loop shrugs; code that trusts `si_band` must not.
//! - **One signal per event, one syscall per signal.** No batching: a busy socket costs a
//!   `sigtimedwait` per state change, where `epoll_wait` returns hundreds of events at once.
//! - **Edges only**, like `EPOLLET`: serve each socket until `EAGAIN`.

#[path = "common.rs"]
mod common;

use common::Conns;

fn main() {
    let listener = common::listen("io_rtsig", true);
    // SIGRTMIN() skips the real-time signals glibc keeps for itself; +1 leaves one spare.
    let rtsig = libc::SIGRTMIN() + 1;
    // Blocked: queued signals wait for `sigtimedwait` instead of running a handler.
    common::block(&[rtsig, libc::SIGIO]);
    if let Some(queue) = std::env::var("WEFT_RTSIG_QUEUE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        let limit = libc::rlimit {
            rlim_cur: queue,
            rlim_max: queue,
        };
        // SAFETY: `limit` is a live rlimit; lowering our own limit needs no privilege.
        common::cvt(unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &limit) })
            .unwrap_or_else(|e| common::fail("setrlimit(RLIMIT_SIGPENDING)", e));
    }
    common::signal_on_io(listener, rtsig);
    let mut conns = Conns::default();
    let mut buf = vec![0; common::BUF_SIZE];
    // A client that connected before F_SETSIG was set raised no signal: look once now.
    conns.serve(listener, listener, &mut buf, |new| {
        common::signal_on_io(new, rtsig)
    });

    let wanted = common::sigset(&[rtsig, libc::SIGIO]);
    let only_rtsig = common::sigset(&[rtsig]);
    let (mut signals, mut overflows, mut reported) = (0u64, 0u64, 0u64);
    let second = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: an all-zero siginfo_t is a valid plain C value for the kernel to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: the set, `info` and the timeout are live for the call.
        let signal = unsafe { libc::sigtimedwait(&wanted, &mut info, &second) };
        if signal == rtsig {
            signals += 1;
            // The signal names its socket (`si_fd`); `si_band` (POLLIN, POLLOUT, POLLHUP...)
            // says why, but serving until EAGAIN covers every case, so only the fd matters.
            conns.serve(listener, common::si_fd(&info), &mut buf, |new| {
                common::signal_on_io(new, rtsig)
            });
        } else if signal == libc::SIGIO {
            // The queue overflowed: events were dropped, nobody knows which. Empty the queue
            // (zero timeout), then scan everything until a scan finds nothing ready.
            overflows += 1;
            let now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: as above; a null `info` is allowed.
            while unsafe { libc::sigtimedwait(&only_rtsig, std::ptr::null_mut(), &now) } > 0 {}
            loop {
                let ready = common::scan(listener, &conns);
                if ready.is_empty() {
                    break;
                }
                for fd in ready {
                    conns.serve(listener, fd, &mut buf, |new| {
                        common::signal_on_io(new, rtsig)
                    });
                }
            }
        } else if signals + overflows != reported {
            // A quiet second (or EINTR): say what happened since the last report.
            reported = signals + overflows;
            println!("io_rtsig: {signals} real-time signals taken, {overflows} queue overflows (each one a poll() scan of every connection)");
        }
    }
}
