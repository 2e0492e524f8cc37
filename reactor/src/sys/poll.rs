//! The `poll(2)` backend: the portable fallback, and the baseline the epoll argument is measured
//! against.
//!
//! `poll` is level-triggered and stateless: every call hands the kernel the whole descriptor
//! list (O(registered) per wait, the cost epoll was built to remove). To give the layer above the
//! same edge semantics as `EPOLLET`, a direction is *disarmed* once reported and stays quiet
//! until the reactor re-arms it after draining the socket to `EAGAIN`. A descriptor with both
//! directions disarmed is skipped entirely (a negative `fd` tells `poll` to ignore the entry),
//! because `POLLHUP`/`POLLERR` are reported even for an empty interest set and would otherwise
//! wake the loop forever for a closed socket nobody is reading.
//!
//! Registration changes made while another thread is blocked in `poll` only take effect at the
//! next call; `rearm` says when the caller must wake that thread.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{syscall, timespec, Event, EventBits, Events, Interest};

const READ_INTEREST: i16 = libc::POLLIN | libc::POLLRDHUP;
const WRITE_INTEREST: i16 = libc::POLLOUT;

#[derive(Debug)]
pub(crate) struct Selector {
    table: Mutex<Table>,
    /// Set while some thread is inside `poll`.
    polling: AtomicBool,
}

#[derive(Debug, Default)]
struct Table {
    /// `fd -> (token, armed interest)`.
    entries: HashMap<i32, (u64, i16)>,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        Ok(Selector {
            table: Mutex::new(Table::default()),
            polling: AtomicBool::new(false),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns whether a thread blocked in `poll` must be woken to see the new descriptor.
    pub(crate) fn register(&self, fd: i32, token: u64) -> io::Result<bool> {
        let mut table = self.table();
        if table.entries.contains_key(&fd) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("poll backend: descriptor {fd} is already registered"),
            ));
        }
        table
            .entries
            .insert(fd, (token, READ_INTEREST | WRITE_INTEREST));
        // a thread already inside `poll` has its list built without this descriptor
        Ok(self.polling.load(Ordering::SeqCst))
    }

    pub(crate) fn deregister(&self, fd: i32) -> io::Result<()> {
        match self.table().entries.remove(&fd) {
            Some(_) => Ok(()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("poll backend: descriptor {fd} is not registered"),
            )),
        }
    }

    pub(crate) fn rearm(&self, fd: i32, token: u64, interest: Interest) -> bool {
        let mut table = self.table();
        if let Some((t, armed)) = table.entries.get_mut(&fd) {
            if *t == token {
                *armed |= match interest {
                    Interest::Read => READ_INTEREST,
                    Interest::Write => WRITE_INTEREST,
                };
            }
        }
        self.polling.load(Ordering::SeqCst)
    }

    pub(crate) fn select(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        events.epoll.clear();
        events.pollfds.clear();
        events.pollfd_tokens.clear();
        {
            let table = self.table();
            for (&fd, &(token, armed)) in &table.entries {
                events.pollfds.push(libc::pollfd {
                    fd: if armed == 0 { -1 } else { fd },
                    events: armed,
                    revents: 0,
                });
                events.pollfd_tokens.push(token);
            }
            self.polling.store(true, Ordering::SeqCst);
        }
        let ts = timeout.map(timespec);
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `pollfds` holds as many initialised entries as the count passed (the kernel
        // writes their `revents`), `ts_ptr` is null or points to `ts` on this stack, and the
        // signal mask is null.
        let res = syscall!(ppoll(
            events.pollfds.as_mut_ptr(),
            events.pollfds.len() as libc::nfds_t,
            ts_ptr,
            std::ptr::null()
        ));
        self.polling.store(false, Ordering::SeqCst);
        events.ready.clear();
        match res {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut table = self.table();
        for (pfd, &token) in events.pollfds.iter().zip(&events.pollfd_tokens) {
            if pfd.revents == 0 || pfd.fd < 0 {
                continue;
            }
            let bits = bits_of(pfd.revents);
            events.ready.push(Event { token, bits });
            // Disarm what was reported, unless the descriptor was re-registered meanwhile.
            if let Some((t, armed)) = table.entries.get_mut(&pfd.fd) {
                if *t == token {
                    if bits.0 & (EventBits::READABLE | EventBits::READ_CLOSED) != 0 {
                        *armed &= !READ_INTEREST;
                    }
                    if bits.0 & EventBits::WRITABLE != 0 {
                        *armed &= !WRITE_INTEREST;
                    }
                }
            }
        }
        Ok(())
    }
}

fn bits_of(revents: i16) -> EventBits {
    let mut bits = 0;
    if revents & libc::POLLIN != 0 {
        bits |= EventBits::READABLE;
    }
    if revents & libc::POLLPRI != 0 {
        bits |= EventBits::READABLE | EventBits::URGENT;
    }
    if revents & libc::POLLOUT != 0 {
        bits |= EventBits::WRITABLE;
    }
    if revents & libc::POLLRDHUP != 0 {
        bits |= EventBits::READ_CLOSED | EventBits::READABLE;
    }
    if revents & libc::POLLHUP != 0 {
        bits |= EventBits::READ_CLOSED
            | EventBits::WRITE_CLOSED
            | EventBits::READABLE
            | EventBits::WRITABLE;
    }
    if revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        bits |= EventBits::ERROR | EventBits::READABLE | EventBits::WRITABLE;
    }
    EventBits(bits)
}
