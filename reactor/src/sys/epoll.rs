//! The edge-triggered `epoll(7)` backend.
//!
//! OS notes that bite:
//! - Each socket is added once with `EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET`. With `EPOLLET`
//!   the kernel reports a direction again only after a new wake-up on the socket (new data, new
//!   buffer space), so the layer above must drain until `EAGAIN` (or see a short read) before it
//!   waits again. No `epoll_ctl` is needed per operation.
//! - `EPOLLRDHUP` means the peer shut down its writing half (sent FIN). It can arrive on the same
//!   edge as the last data; there is no later edge, so a reader must keep reading until EOF.
//! - `EPOLLPRI` means TCP urgent data (`MSG_OOB`) is pending. A read stops short at the urgent
//!   mark with more data queued behind it, so a short read then does not prove the socket
//!   drained; the bit (`URGENT`) turns that shortcut off.
//! - `EPOLLHUP` and `EPOLLERR` are always reported, whether asked for or not.
//! - `epoll_wait` takes a timeout in whole milliseconds and rounds it *up* to the clock
//!   granularity; a 0.3 ms deadline becomes 1 ms. `epoll_pwait2` (Linux 5.11) takes a
//!   `timespec`, so sub-millisecond deadlines are honoured where the kernel has it; we probe for
//!   it once (ENOSYS) and fall back to `epoll_wait` with the timeout rounded up, never down, so a
//!   timer never fires early and the loop never spins on a 0 ms timeout.
//! - Closing a descriptor removes it from the interest list only once every duplicate of it is
//!   closed, so deregistration is explicit (`EPOLL_CTL_DEL`) before close.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{raw, syscall, timespec, Event, EventBits, Events};

#[derive(Debug)]
pub(crate) struct Selector {
    epfd: OwnedFd,
    /// Cleared the first time `epoll_pwait2` answers `ENOSYS`.
    has_pwait2: AtomicBool,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: no pointers: flags only.
        let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: `epoll_create1` just returned this descriptor; nothing else owns it.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Selector {
            epfd,
            has_pwait2: AtomicBool::new(true),
        })
    }

    /// The epoll descriptor itself (a hub watches it: see `hub.rs`).
    pub(crate) fn raw_fd(&self) -> i32 {
        self.epfd.as_raw_fd()
    }

    pub(crate) fn register(&self, fd: i32, token: u64) -> io::Result<()> {
        self.add(
            fd,
            token,
            libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET,
        )
    }

    /// Adds `fd` for reading only (edge-triggered): the wake-up eventfd, and a reactor's
    /// epoll set in a hub. An eventfd is always writable, and every read of it would report
    /// that again, waking a hub for nothing.
    pub(crate) fn register_readable(&self, fd: i32, token: u64) -> io::Result<()> {
        self.add(fd, token, libc::EPOLLIN | libc::EPOLLET)
    }

    fn add(&self, fd: i32, token: u64, events: i32) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: events as u32,
            u64: token,
        };
        // SAFETY: `self.epfd` is our open epoll descriptor; `event` lives on this stack for the
        // call.
        syscall!(epoll_ctl(
            self.epfd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd,
            &mut event
        ))?;
        Ok(())
    }

    pub(crate) fn deregister(&self, fd: i32) -> io::Result<()> {
        // The event argument is ignored for EPOLL_CTL_DEL (non-null before Linux 2.6.9).
        let mut unused = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `self.epfd` is our open epoll descriptor; `unused` lives on this stack for
        // the call.
        syscall!(epoll_ctl(
            self.epfd.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            &mut unused
        ))?;
        Ok(())
    }

    pub(crate) fn select(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        let buf = &mut events.epoll;
        buf.clear();
        let capacity = buf.capacity().max(1) as i32;
        if buf.capacity() == 0 {
            buf.reserve(1);
        }
        let n = match self.wait(buf.as_mut_ptr(), capacity, timeout) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        // SAFETY: the kernel initialised the first `n` entries, and `n <= capacity`.
        unsafe { buf.set_len(n) };
        events.ready.clear();
        Ok(())
    }

    fn wait(
        &self,
        buf: *mut libc::epoll_event,
        capacity: i32,
        timeout: Option<Duration>,
    ) -> io::Result<i32> {
        let epfd = self.epfd.as_raw_fd();
        if let Some(t) = timeout.filter(|t| !t.is_zero()) {
            if self.has_pwait2.load(Ordering::Relaxed) {
                let ts = timespec(t);
                // SAFETY: `buf` has room for `capacity` events; `ts` outlives the call; a null
                // sigmask means "leave the mask alone", as with epoll_wait.
                let res = unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        epfd,
                        buf,
                        capacity,
                        &ts as *const libc::timespec,
                        std::ptr::null::<libc::sigset_t>(),
                        0usize,
                    )
                };
                if res >= 0 {
                    return Ok(res as i32);
                }
                let err = io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::ENOSYS) {
                    return Err(err);
                }
                self.has_pwait2.store(false, Ordering::Relaxed);
            }
        }
        // A raw system call: glibc's `epoll_wait` is a cancellation point, which costs extra
        // work on every call once the process has a second thread (see `socket::recv`).
        // SAFETY: `epoll_wait(epfd, buf, capacity, timeout)`: `buf` has room for `capacity`
        // events.
        let ret = unsafe {
            raw::syscall6(
                libc::SYS_epoll_wait,
                epfd as usize,
                buf as usize,
                capacity as usize,
                millis_rounded_up(timeout) as isize as usize,
                0,
                0,
            )
        };
        raw::result(ret).map(|n| n as i32)
    }
}

/// `epoll_wait`'s timeout: -1 forever, else whole milliseconds rounded up.
fn millis_rounded_up(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            ms.min(i32::MAX as u128) as i32
        }
    }
}

/// The event bits of one `epoll_event`.
#[inline]
pub(crate) fn event_of(e: &libc::epoll_event) -> Event {
    Event {
        token: e.u64,
        bits: bits_of(e.events),
    }
}

/// Every epoll bit that [`translate`] reads sits in the low five bits, except `EPOLLRDHUP`.
const LOW_BITS: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;
/// `EPOLLRDHUP` moved down next to the low bits: a 6-bit table index.
const RDHUP_SHIFT: u32 = RDHUP.trailing_zeros() - LOW_BITS.count_ones();

/// [`translate`] for every 6-bit index, so the hot path is a mask, a shift and a load.
const BITS: [u8; 64] = {
    let mut table = [0u8; 64];
    let mut i = 0;
    while i < 64 {
        let events = (i as u32 & LOW_BITS) | ((i as u32) << RDHUP_SHIFT & RDHUP);
        table[i] = translate(events);
        i += 1;
    }
    table
};

/// The epoll bits that map onto [`EventBits`] unchanged.
const PLAIN: u32 = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
const _: () = assert!(
    EventBits::READABLE as u32 == libc::EPOLLIN as u32
        && EventBits::WRITABLE as u32 == libc::EPOLLOUT as u32
);

/// The common event (`EPOLLIN` and/or `EPOLLOUT`, nothing else that [`translate`] reads) is its
/// own translation: a mask and a test. Anything else goes through the table.
#[inline]
fn bits_of(events: u32) -> EventBits {
    if events & ((LOW_BITS | RDHUP) & !PLAIN) == 0 {
        return EventBits((events & PLAIN) as u8);
    }
    EventBits(BITS[((events & LOW_BITS) | ((events & RDHUP) >> RDHUP_SHIFT)) as usize])
}

/// What each epoll bit means for readiness (see `readiness.rs`).
const fn translate(events: u32) -> u8 {
    let e = events as i32;
    let mut bits = 0;
    if e & libc::EPOLLIN != 0 {
        bits |= EventBits::READABLE;
    }
    if e & libc::EPOLLPRI != 0 {
        bits |= EventBits::READABLE | EventBits::URGENT;
    }
    if e & libc::EPOLLOUT != 0 {
        bits |= EventBits::WRITABLE;
    }
    if e & libc::EPOLLRDHUP != 0 {
        bits |= EventBits::READ_CLOSED | EventBits::READABLE;
    }
    if e & libc::EPOLLHUP != 0 {
        bits |= EventBits::READ_CLOSED
            | EventBits::WRITE_CLOSED
            | EventBits::READABLE
            | EventBits::WRITABLE;
    }
    if e & libc::EPOLLERR != 0 {
        bits |= EventBits::ERROR | EventBits::READABLE | EventBits::WRITABLE;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_never_down() {
        assert_eq!(millis_rounded_up(None), -1);
        assert_eq!(millis_rounded_up(Some(Duration::ZERO)), 0);
        assert_eq!(millis_rounded_up(Some(Duration::from_micros(300))), 1);
        assert_eq!(millis_rounded_up(Some(Duration::from_micros(1001))), 2);
        assert_eq!(
            millis_rounded_up(Some(Duration::from_secs(1 << 40))),
            i32::MAX
        );
    }

    #[test]
    fn the_table_agrees_with_the_rules_for_every_combination() {
        let all = [
            libc::EPOLLIN,
            libc::EPOLLPRI,
            libc::EPOLLOUT,
            libc::EPOLLERR,
            libc::EPOLLHUP,
            libc::EPOLLRDHUP,
        ];
        for mask in 0..1u32 << all.len() {
            let mut events = libc::EPOLLET as u32;
            for (i, bit) in all.iter().enumerate() {
                if mask & 1 << i != 0 {
                    events |= *bit as u32;
                }
            }
            assert_eq!(bits_of(events).0, translate(events), "events {events:#x}");
        }
        assert_eq!(bits_of(libc::EPOLLIN as u32).0, EventBits::READABLE);
        assert_eq!(bits_of(libc::EPOLLOUT as u32).0, EventBits::WRITABLE);
    }

    #[test]
    fn hangup_reads_as_both_directions_closed() {
        let b = bits_of(libc::EPOLLHUP as u32).0;
        assert_eq!(
            b & (EventBits::READ_CLOSED | EventBits::WRITE_CLOSED),
            EventBits::READ_CLOSED | EventBits::WRITE_CLOSED
        );
    }
}
