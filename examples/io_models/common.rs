//! Plumbing shared by the I/O-model examples, so that each example file holds only what its
//! model is about: how the loop learns which descriptor can make progress.
//!
//! Everything here is deliberately plain: descriptors are `c_int`s, connections live in a table
//! indexed by descriptor (the kernel hands out the lowest free number, so the table stays dense)
//! and every syscall goes through `libc`, so each model's costs stay visible.

// Each example uses a different subset of these helpers.
#![allow(dead_code)]

#[path = "../support/cli.rs"]
mod cli;

use std::io;
use std::os::fd::IntoRawFd;
use std::os::raw::c_int;

/// Size of the one read buffer an event loop shares between all its connections.
pub const BUF_SIZE: usize = 64 * 1024;

/// `fcntl(fd, F_SETSIG, signal)` from `<fcntl.h>` (Linux-specific; `libc` has no binding).
pub const F_SETSIG: c_int = 10;

/// Prints `what: err` and exits: for setup steps an example cannot go on without.
pub fn fail(what: &str, err: io::Error) -> ! {
    eprintln!("{what}: {err}");
    std::process::exit(1)
}

/// `Ok(ret)`, or the thread's `errno` as an error when a syscall returned -1.
pub fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The last syscall's error number.
pub fn errno() -> c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Parses the command line every example server shares (`--addr`, `--threads`), binds, prints
/// where `name` listens and returns the listening descriptor (non-blocking when `nonblocking`).
pub fn listen(name: &str, nonblocking: bool) -> c_int {
    let args = cli::parse("127.0.0.1:7000");
    if args.threads != 1 {
        eprintln!(
            "{name}: --threads {}: every I/O model here runs one loop",
            args.threads
        );
        std::process::exit(2);
    }
    // std's bind is socket + SO_REUSEADDR + bind + listen: nothing model-specific happens yet.
    let listener = std::net::TcpListener::bind(args.addr).unwrap_or_else(|e| fail("bind", e));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| fail("getsockname", e));
    listener
        .set_nonblocking(nonblocking)
        .unwrap_or_else(|e| fail("fcntl(O_NONBLOCK)", e));
    let fd = listener.into_raw_fd();
    // A longer accept queue than std's 128, for bursts of thousands of connects.
    // SAFETY: `fd` is a listening socket this process owns; listen() may resize its queue.
    cvt(unsafe { libc::listen(fd, 4096) }).unwrap_or_else(|e| fail("listen", e));
    println!("{name} listening on {addr}");
    fd
}

/// Accepts one connection (non-blocking when `nonblocking`), with `TCP_NODELAY` on. `None`
/// when none is waiting, or after an error that was reported.
pub fn accept(listener: c_int, nonblocking: bool) -> Option<c_int> {
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    loop {
        // SAFETY: null address pointers are allowed: we do not want the peer's address.
        let fd =
            unsafe { libc::accept4(listener, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
        if fd >= 0 {
            let one: c_int = 1;
            let len = size_of::<c_int>() as libc::socklen_t;
            // SAFETY: `one` outlives the call and `len` is its size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const c_int).cast(),
                    len,
                )
            };
            return Some(fd);
        }
        match errno() {
            libc::EINTR | libc::ECONNABORTED => continue,
            libc::EAGAIN => return None,
            _ => {
                // EMFILE and friends: the connection stays queued, so a level-triggered loop
                // would spin on it. Back off briefly instead of burning the CPU.
                eprintln!("accept: {}", io::Error::last_os_error());
                std::thread::sleep(std::time::Duration::from_millis(10));
                return None;
            }
        }
    }
}

/// What a connection waits for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Input: nothing is waiting to go out.
    Read,
    /// Output the socket refused is pending: read nothing more until it is written.
    Write,
    /// End of stream or an error: close it.
    Closed,
}

/// Result of one `read(2)`.
pub enum Input {
    /// This many bytes (never zero).
    Data(usize),
    /// Nothing to read right now (`EAGAIN`).
    Empty,
    /// End of stream or an error.
    Closed,
}

/// One client: its descriptor (closed on drop) and the output its socket has not taken yet.
pub struct Conn {
    pub fd: c_int,
    pending: Vec<u8>,
}

impl Conn {
    pub fn new(fd: c_int) -> Conn {
        Conn {
            fd,
            pending: Vec::new(),
        }
    }

    pub fn status(&self) -> Status {
        if self.pending.is_empty() {
            Status::Read
        } else {
            Status::Write
        }
    }

    /// One `read(2)` into `buf`, retried on `EINTR`.
    pub fn read(&mut self, buf: &mut [u8]) -> Input {
        loop {
            // SAFETY: `buf` is a live slice, writable for `buf.len()` bytes.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            match n {
                1.. => return Input::Data(n as usize),
                0 => return Input::Closed,
                _ if errno() == libc::EINTR => continue,
                _ if errno() == libc::EAGAIN => return Input::Empty,
                _ => return report(Input::Closed),
            }
        }
    }

    /// Writes `data` after the pending output; what the socket refuses becomes pending.
    pub fn send(&mut self, data: &[u8]) -> Status {
        if !self.pending.is_empty() {
            let Some(done) = write(self.fd, &self.pending) else {
                return Status::Closed;
            };
            self.pending.drain(..done);
            if !self.pending.is_empty() {
                self.pending.extend_from_slice(data);
                return Status::Write;
            }
            self.pending = Vec::new(); // Give the memory back: most connections are idle.
        }
        let Some(done) = write(self.fd, data) else {
            return Status::Closed;
        };
        self.pending.extend_from_slice(&data[done..]);
        self.status()
    }

    /// One echo step: write what is pending; then, if that all went out, read and echo back,
    /// once (a level-triggered loop will be told again) or, with `drain`, until `read` would
    /// block (an edge, a signal: told once, and never again for the bytes already there).
    pub fn echo(&mut self, buf: &mut [u8], drain: bool) -> Status {
        let mut status = self.send(&[]);
        while status == Status::Read {
            match self.read(buf) {
                Input::Data(n) => status = self.send(&buf[..n]),
                Input::Empty => break,
                Input::Closed => return Status::Closed,
            }
            if !drain {
                break;
            }
        }
        status
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: `fd` is a connection this value owns; nothing uses it after the drop.
        unsafe { libc::close(self.fd) };
    }
}

/// Writes as much of `data` as the socket takes: `Some(bytes written)`, `None` on an error.
fn write(fd: c_int, data: &[u8]) -> Option<usize> {
    let mut done = 0;
    while done < data.len() {
        let rest = &data[done..];
        // SAFETY: `rest` is a live slice, readable for `rest.len()` bytes.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        match n {
            0.. => done += n as usize,
            _ if errno() == libc::EINTR => {}
            _ if errno() == libc::EAGAIN => break,
            _ => return report(None),
        }
    }
    Some(done)
}

/// Reports the current `errno` unless it only says the peer went away; returns `value`.
fn report<T>(value: T) -> T {
    let err = io::Error::last_os_error();
    if !cli::is_peer_gone(&err) {
        eprintln!("connection error: {err}");
    }
    value
}

/// Connections indexed by descriptor.
#[derive(Default)]
pub struct Conns {
    slots: Vec<Option<Conn>>,
}

impl Conns {
    pub fn insert(&mut self, fd: c_int) -> &mut Conn {
        let slot = fd as usize;
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, || None);
        }
        self.slots[slot].insert(Conn::new(fd))
    }

    pub fn get(&mut self, fd: c_int) -> Option<&mut Conn> {
        self.slots.get_mut(fd as usize)?.as_mut()
    }

    /// Drops (and so closes) connection `fd`.
    pub fn remove(&mut self, fd: c_int) {
        self.slots[fd as usize] = None;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Conn> {
        self.slots.iter().flatten()
    }

    /// Serves readiness of `fd`, told by a signal or a scan: accepts on the listener (passing
    /// each new descriptor to `arm`) or echoes until the connection would block.
    pub fn serve(
        &mut self,
        listener: c_int,
        fd: c_int,
        buf: &mut [u8],
        mut arm: impl FnMut(c_int),
    ) {
        if fd == listener {
            while let Some(new) = accept(listener, true) {
                arm(new);
                // Bytes that arrived before `arm` raised no signal and no edge: serve the new
                // connection once now, or it could wait forever.
                if self.insert(new).echo(buf, true) == Status::Closed {
                    self.remove(new);
                }
            }
        } else if let Some(conn) = self.get(fd) {
            if conn.echo(buf, true) == Status::Closed {
                self.remove(fd);
            }
        }
    }
}

/// The fallback scan: `poll(2)` with a zero timeout over the listener and every connection.
/// Returns the descriptors ready now. It costs O(connections) whatever the number ready.
pub fn scan(listener: c_int, conns: &Conns) -> Vec<c_int> {
    let interest = |c: &Conn| match c.status() {
        Status::Write => libc::POLLOUT,
        _ => libc::POLLIN,
    };
    let mut fds: Vec<libc::pollfd> = std::iter::once((listener, libc::POLLIN))
        .chain(conns.iter().map(|c| (c.fd, interest(c))))
        .map(|(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `fds` is a live array of `fds.len()` entries.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    let ready = fds.iter().filter(|p| n > 0 && p.revents != 0);
    ready.map(|p| p.fd).collect()
}

/// A signal set holding `signals`.
pub fn sigset(signals: &[c_int]) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is a valid (if not yet initialised) plain C value, and
    // sigemptyset/sigaddset only write inside it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// The descriptor named by a signal raised through `F_SETSIG` (`si_fd`; `libc` has no
/// accessor for it).
pub fn si_fd(info: &libc::siginfo_t) -> c_int {
    /// The `SIGPOLL` member of `siginfo_t`'s union as the kernel lays it out: `repr(C)` puts
    /// `band` after the three leading ints with the same padding as the kernel's struct.
    #[allow(dead_code)] // Only `fd` is read; the other fields give it its offset.
    #[repr(C)]
    struct SigPoll {
        signo: c_int,
        errno: c_int,
        code: c_int,
        band: std::os::raw::c_long,
        fd: c_int,
    }
    // SAFETY: for a signal raised by F_SETSIG the kernel filled in the SIGPOLL member of the
    // union, and `SigPoll` is a prefix of `siginfo_t` (128 bytes) with the same layout.
    unsafe { (*(info as *const libc::siginfo_t).cast::<SigPoll>()).fd }
}

/// Blocks `signals` in this (the only) thread: they stay pending until taken by `sigsuspend`
/// or `sigtimedwait`, instead of interrupting the program anywhere. Returns the previous mask.
pub fn block(signals: &[c_int]) -> libc::sigset_t {
    let set = sigset(signals);
    let mut old = sigset(&[]);
    // SAFETY: both sets are live sigset_t values.
    cvt(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) })
        .unwrap_or_else(|e| fail("sigprocmask", e));
    old
}

/// Asks the kernel to signal this process whenever `fd` becomes readable or writable:
/// `F_SETOWN` says who gets the signal, `F_SETSIG` which one (0: plain `SIGIO`, which does not
/// say which descriptor), `O_ASYNC` turns it on. The descriptor is made non-blocking too.
pub fn signal_on_io(fd: c_int, signal: c_int) {
    // SAFETY: fcntl on a descriptor this process owns, with integer arguments only.
    let result = unsafe {
        cvt(libc::fcntl(fd, libc::F_SETOWN, libc::getpid()))
            .and_then(|_| cvt(libc::fcntl(fd, F_SETSIG, signal)))
            .and_then(|_| cvt(libc::fcntl(fd, libc::F_GETFL)))
            .and_then(|fl| {
                cvt(libc::fcntl(
                    fd,
                    libc::F_SETFL,
                    fl | libc::O_ASYNC | libc::O_NONBLOCK,
                ))
            })
    };
    result.unwrap_or_else(|e| fail("fcntl(O_ASYNC)", e));
}

/// An epoll instance: the set of interest lives in the kernel, so a wait costs O(ready).
pub struct Epoll(c_int);

impl Epoll {
    pub fn new() -> Epoll {
        // SAFETY: plain syscall with a constant argument.
        Epoll(
            cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
                .unwrap_or_else(|e| fail("epoll_create1", e)),
        )
    }

    /// `epoll_ctl(op)` for `fd` with interest `events`; its events carry `fd` back.
    pub fn ctl(&self, op: c_int, fd: c_int, events: c_int) {
        let mut event = libc::epoll_event {
            events: events as u32,
            u64: fd as u64,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.0, op, fd, &mut event) })
            .unwrap_or_else(|e| fail("epoll_ctl", e));
    }

    /// Waits for events, up to `timeout_ms` (-1: forever); returns the filled prefix of
    /// `events` (empty after a timeout or a signal).
    pub fn wait<'a>(
        &self,
        events: &'a mut [libc::epoll_event],
        timeout_ms: c_int,
    ) -> &'a [libc::epoll_event] {
        let (ptr, len) = (events.as_mut_ptr(), events.len() as c_int);
        // SAFETY: `events` is writable for `len` entries.
        match cvt(unsafe { libc::epoll_wait(self.0, ptr, len, timeout_ms) }) {
            Ok(n) => &events[..n as usize],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => &[],
            Err(e) => fail("epoll_wait", e),
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: the epoll descriptor is owned by this value and used by nothing else.
        unsafe { libc::close(self.0) };
    }
}

/// Room for this many events per `epoll_wait`.
pub fn events() -> Vec<libc::epoll_event> {
    vec![libc::epoll_event { events: 0, u64: 0 }; 1024]
}
