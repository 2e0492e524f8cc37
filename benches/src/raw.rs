//! A minimal single-threaded, edge-triggered epoll server loop written directly against libc.
//!
//! This is the "physical limit" reference the runtimes are measured against: no wakers, no
//! tasks, no allocation on the hot path. Each connection is registered once for
//! `EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET` and its state lives in a table indexed by its file
//! descriptor. A [`Handler`] decides what to do with the bytes; [`serve`] owns everything else.

use std::io;
use std::net::SocketAddr;
use std::os::raw::c_int;

use crate::cli::Args;

/// Interest set of every connection, registered once at accept time.
const CONN_INTEREST: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// Readiness bits after which a read loop must run until it sees end-of-file or an error,
/// instead of stopping at the first short read.
pub const HANGUP: u32 = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;

/// `epoll_event.u64` of the listening socket; connections use their file descriptor.
const LISTENER: u64 = u64::MAX;

/// What a server does with one connection's readiness.
pub trait Handler {
    /// Per-connection state; `Default` is the state of a freshly accepted connection.
    type Conn: Default;

    /// Drives connection `fd` after epoll reported `events` for it. Edge-triggered: the handler
    /// must make progress until the socket would block (or a short read shows the receive queue
    /// is drained). Returns `false` when the connection should be closed.
    fn ready(&mut self, fd: c_int, conn: &mut Self::Conn, events: u32) -> bool;
}

/// Result of a nonblocking read.
pub enum Read {
    /// This many bytes (never zero) were read.
    Data(usize),
    /// The socket has nothing more to read right now.
    WouldBlock,
    /// End of file or a socket error: the connection is finished.
    Closed,
}

/// Reads once from `fd` into `buf` (`len` bytes at `buf`), retrying on `EINTR`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes.
#[inline]
pub unsafe fn read(fd: c_int, buf: *mut u8, len: usize) -> Read {
    loop {
        // SAFETY: the caller guarantees `buf` is writable for `len` bytes.
        let n = unsafe { libc::read(fd, buf.cast(), len) };
        if n > 0 {
            return Read::Data(n as usize);
        }
        if n == 0 {
            return Read::Closed;
        }
        match errno() {
            libc::EINTR => continue,
            libc::EAGAIN => return Read::WouldBlock,
            _ => return Read::Closed,
        }
    }
}

/// Writes as much of `buf` as the socket accepts. Returns the number of bytes written (less than
/// `buf.len()` when the socket would block), or `None` on a socket error.
#[inline]
pub fn write(fd: c_int, buf: &[u8]) -> Option<usize> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &buf[done..];
        // SAFETY: `rest` is a live slice, readable for `rest.len()` bytes.
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n >= 0 {
            done += n as usize;
            continue;
        }
        match errno() {
            libc::EINTR => continue,
            libc::EAGAIN => break,
            _ => return None,
        }
    }
    Some(done)
}

/// Output a connection could not send yet: `buf[sent..]` waits for `EPOLLOUT`.
#[derive(Debug, Default)]
pub struct Backlog {
    pub buf: Vec<u8>,
    pub sent: usize,
}

impl Backlog {
    /// Sends what waits. `Some(true)`: all gone (the backlog is empty again); `Some(false)`: the
    /// socket would block with bytes left; `None`: a socket error.
    #[inline]
    pub fn flush(&mut self, fd: c_int) -> Option<bool> {
        if self.buf.is_empty() {
            return Some(true);
        }
        self.sent += write(fd, &self.buf[self.sent..])?;
        if self.sent < self.buf.len() {
            return Some(false);
        }
        self.buf.clear();
        self.sent = 0;
        Some(true)
    }
}

#[inline]
fn errno() -> c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(ret: c_int, what: &str) -> io::Result<c_int> {
    if ret < 0 {
        let err = io::Error::last_os_error();
        Err(io::Error::new(err.kind(), format!("{what}: {err}")))
    } else {
        Ok(ret)
    }
}

/// `addr` as the C socket address `bind(2)` and `connect(2)` take, and its length.
pub fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero `sockaddr_storage` is a valid value of that plain C struct.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: `sockaddr_storage` is large and aligned enough for any socket address.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: `sockaddr_storage` is large and aligned enough for any socket address.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Binds a nonblocking listening socket on `addr` (IPv4 or IPv6) with `SO_REUSEADDR`.
fn listen(addr: SocketAddr) -> io::Result<c_int> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall with constant arguments.
    let fd = check(
        unsafe {
            libc::socket(
                family,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        },
        "socket",
    )?;
    let one: c_int = 1;
    // SAFETY: `one` outlives the call and its size is passed alongside it.
    check(
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&one as *const c_int).cast(),
                size_of::<c_int>() as libc::socklen_t,
            )
        },
        "setsockopt(SO_REUSEADDR)",
    )?;
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds an initialised address of `len` bytes.
    check(
        unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) },
        "bind",
    )?;
    // SAFETY: plain syscall on a socket we own.
    check(
        unsafe { libc::listen(fd, crate::BACKLOG as c_int) },
        "listen",
    )?;
    Ok(fd)
}

/// The address `fd` is bound to (resolves port 0).
fn local_addr(fd: c_int) -> io::Result<SocketAddr> {
    // SAFETY: an all-zero `sockaddr_storage` is a valid value of that plain C struct.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is writable for `len` bytes and `len` is a valid in/out pointer.
    check(
        unsafe {
            libc::getsockname(
                fd,
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut len,
            )
        },
        "getsockname",
    )?;
    match c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a `sockaddr_in`, as `ss_family` says.
            let sin = unsafe {
                &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
        }
        _ => {
            // SAFETY: the socket is AF_INET6 (see `listen`), so the kernel wrote a `sockaddr_in6`.
            let sin6 = unsafe {
                &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::from((ip, u16::from_be(sin6.sin6_port))))
        }
    }
}

/// Registers `fd` with `epfd` for `events`, tagging its events with `data`.
fn register(epfd: c_int, fd: c_int, events: u32, data: u64) -> io::Result<()> {
    let mut event = libc::epoll_event { events, u64: data };
    // SAFETY: `event` is a valid epoll_event for the duration of the call.
    check(
        unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) },
        "epoll_ctl",
    )?;
    Ok(())
}

/// Exits with a clear message unless `args` asks for the single thread this loop supports, then
/// runs [`serve`] and exits on error.
pub fn main<H: Handler>(args: Args, handler: H) -> ! {
    if args.threads != 1 {
        crate::fail(&format!(
            "--threads {}: the raw epoll servers are single-threaded; only --threads 1 is supported",
            args.threads
        ));
    }
    match serve(args.addr, handler) {
        Ok(never) => match never {},
        Err(e) => crate::fail(&format!("error: {e}")),
    }
}

/// Listens on `addr`, prints `listening on ADDR`, and serves connections with `handler` forever.
pub fn serve<H: Handler>(addr: SocketAddr, mut handler: H) -> io::Result<std::convert::Infallible> {
    let listener = listen(addr)?;
    // SAFETY: plain syscall with a constant argument.
    let epfd = check(
        unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
        "epoll_create1",
    )?;
    register(
        epfd,
        listener,
        (libc::EPOLLIN | libc::EPOLLET) as u32,
        LISTENER,
    )?;
    println!("listening on {}", local_addr(listener)?);

    let mut conns: Vec<H::Conn> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        // SAFETY: `events` is writable for `events.len()` entries.
        let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as c_int, -1) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(io::Error::last_os_error());
        }
        for event in &events[..n as usize] {
            let (data, bits) = (event.u64, event.events);
            if data == LISTENER {
                accept_all(epfd, listener, &mut conns)?;
                continue;
            }
            let fd = data as c_int;
            let conn = &mut conns[fd as usize];
            if !handler.ready(fd, conn, bits) {
                *conn = H::Conn::default();
                // SAFETY: `fd` is an accepted connection this loop owns; closing it also removes
                // it from the epoll set, and no later event of this batch can name it.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Accepts until the backlog is empty, registering each connection.
fn accept_all<C: Default>(epfd: c_int, listener: c_int, conns: &mut Vec<C>) -> io::Result<()> {
    loop {
        // SAFETY: null address pointers are allowed: we do not want the peer address.
        let fd = unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            match errno() {
                libc::EINTR | libc::ECONNABORTED => continue,
                libc::EAGAIN => return Ok(()),
                _ => {
                    // Out of descriptors or memory: report and stop accepting for this edge.
                    eprintln!("accept4: {}", io::Error::last_os_error());
                    return Ok(());
                }
            }
        }
        let one: c_int = 1;
        // SAFETY: `one` outlives the call and its size is passed alongside it.
        unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                (&one as *const c_int).cast(),
                size_of::<c_int>() as libc::socklen_t,
            )
        };
        let slot = fd as usize;
        if slot >= conns.len() {
            conns.resize_with(slot + 1, C::default);
        }
        register(epfd, fd, CONN_INTEREST, fd as u64)?;
    }
}
