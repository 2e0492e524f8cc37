//! Socket calls std does not offer: options that must be set before `bind`/`listen` (or that std
//! lacks: keep-alive, buffer sizes, linger), an explicit backlog, non-blocking `connect`, and
//! `accept4` that returns a non-blocking socket in one call.
//!
//! Everything returns owned std types (`OwnedFd`, `SocketAddr`), so the layers above stay free of
//! `libc`.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{raw, syscall};

/// A new non-blocking, close-on-exec TCP socket for `addr`'s family.
pub fn tcp_socket(ipv6: bool) -> io::Result<OwnedFd> {
    let domain = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: no pointers: the domain, type and protocol are plain integers.
    let fd = syscall!(socket(
        domain,
        libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0
    ))?;
    // SAFETY: `socket` just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_flag(fd: BorrowedFd<'_>, level: i32, name: i32, on: bool) -> io::Result<()> {
    set_opt(fd, level, name, &libc::c_int::from(on))
}

/// `SO_REUSEADDR`: rebind a port whose old connections sit in TIME_WAIT.
pub fn set_reuseaddr(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, on)
}

/// `SO_REUSEPORT`: several sockets bind the same port and the kernel spreads connections.
pub fn set_reuseport(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, on)
}

/// `getsockopt(2)` into `value`, a plain C value of the option's type (`c_int`, `linger`):
/// the kernel writes at most `size_of::<T>()` bytes of it.
fn get_opt<T>(fd: BorrowedFd<'_>, level: i32, name: i32, value: &mut T) -> io::Result<()> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live `&mut T` of `len` bytes and `len` a live `socklen_t`; the
    // kernel writes at most `len` bytes into it (the caller passes a plain C value of the
    // option's type).
    syscall!(getsockopt(
        fd.as_raw_fd(),
        level,
        name,
        (value as *mut T).cast(),
        &mut len
    ))?;
    Ok(())
}

/// `setsockopt(2)` from `value`, a plain C value of the option's type (`c_int`, `linger`).
fn set_opt<T>(fd: BorrowedFd<'_>, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a live `&T` of `size_of::<T>()` bytes, the option's C type (the
    // caller's contract), read by the kernel only during the call.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        (value as *const T).cast(),
        size_of::<T>() as libc::socklen_t
    ))?;
    Ok(())
}

fn get_int(fd: BorrowedFd<'_>, level: i32, name: i32) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    get_opt(fd, level, name, &mut value)?;
    Ok(value)
}

/// `SO_KEEPALIVE`: the kernel probes an idle connection and fails it when the peer is gone.
pub fn set_keepalive(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, on)
}

/// Whether `SO_KEEPALIVE` is set.
pub fn keepalive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(get_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? != 0)
}

/// `TCP_NODELAY`, also before the socket connects.
pub fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on)
}

/// Whether `TCP_NODELAY` is set.
pub fn nodelay(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(get_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY)? != 0)
}

/// Which kernel buffer of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffer {
    /// `SO_SNDBUF`.
    Send,
    /// `SO_RCVBUF`.
    Receive,
}

impl Buffer {
    fn option(self) -> i32 {
        match self {
            Buffer::Send => libc::SO_SNDBUF,
            Buffer::Receive => libc::SO_RCVBUF,
        }
    }
}

/// Asks for a kernel buffer of `bytes` (Linux doubles it for its bookkeeping and clamps it to
/// `net.core.wmem_max` / `rmem_max`). More than `i32::MAX` is an `InvalidInput` error.
pub fn set_buffer_size(fd: BorrowedFd<'_>, buffer: Buffer, bytes: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a socket buffer of {bytes} bytes is over the kernel's limit of 2^31 - 1"),
        )
    })?;
    set_opt(fd, libc::SOL_SOCKET, buffer.option(), &value)
}

/// The kernel buffer's size as Linux reports it (twice what was asked, within its limits).
pub fn buffer_size(fd: BorrowedFd<'_>, buffer: Buffer) -> io::Result<u32> {
    Ok(get_int(fd, libc::SOL_SOCKET, buffer.option())?.max(0) as u32)
}

/// `SO_LINGER`: `Some(d)` makes `close` wait up to `d` for unsent data (`Some(ZERO)`: drop it
/// and reset the connection at once), `None` restores the default background close. Whole
/// seconds only; a fraction rounds up. More than `i32::MAX` seconds is an `InvalidInput` error.
pub fn set_linger(fd: BorrowedFd<'_>, linger: Option<std::time::Duration>) -> io::Result<()> {
    let seconds = match linger {
        None => 0,
        Some(d) => {
            let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            libc::c_int::try_from(whole).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a linger time of {d:?} is over the kernel's limit of 2^31 - 1 s"),
                )
            })?
        }
    };
    let value = libc::linger {
        l_onoff: linger.is_some().into(),
        l_linger: seconds,
    };
    set_opt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &value)
}

/// The `SO_LINGER` setting (see [`set_linger`]).
pub fn linger(fd: BorrowedFd<'_>) -> io::Result<Option<std::time::Duration>> {
    let mut value = libc::linger {
        l_onoff: 0,
        l_linger: 0,
    };
    get_opt(fd, libc::SOL_SOCKET, libc::SO_LINGER, &mut value)?;
    Ok((value.l_onoff != 0).then(|| std::time::Duration::from_secs(value.l_linger.max(0) as u64)))
}

/// `IPV6_V6ONLY`.
pub fn set_only_v6(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, on)
}

/// `bind(2)`.
pub fn bind(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<()> {
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a `sockaddr_storage` on this stack holding `len` valid bytes for
    // `addr`'s family.
    syscall!(bind(
        fd.as_raw_fd(),
        (&raw as *const libc::sockaddr_storage).cast(),
        len
    ))?;
    Ok(())
}

/// `listen(2)`; the kernel caps `backlog` at `net.core.somaxconn`.
pub fn listen(fd: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    // SAFETY: no pointers: a borrowed open descriptor and an integer.
    syscall!(listen(fd.as_raw_fd(), backlog.min(i32::MAX as u32) as i32))?;
    Ok(())
}

/// Starts a non-blocking `connect(2)`: `Ok(true)` when it completed at once, `Ok(false)` when it
/// is in progress (wait for writable, then check `SO_ERROR`).
pub fn connect(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<bool> {
    let (raw, len) = to_raw(addr);
    // SAFETY: `raw` is a `sockaddr_storage` on this stack holding `len` valid bytes for
    // `addr`'s family.
    match syscall!(connect(
        fd.as_raw_fd(),
        (&raw as *const libc::sockaddr_storage).cast(),
        len
    )) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `accept4(2)` returning a non-blocking, close-on-exec socket and the peer's address.
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is a zeroed `sockaddr_storage` on this stack and `len` its size; the
    // kernel writes at most `len` bytes and updates `len`.
    let new = syscall!(accept4(
        fd.as_raw_fd(),
        storage.as_mut_ptr().cast(),
        &mut len,
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
    ))?;
    // SAFETY: `accept4` just returned this descriptor; nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    // SAFETY: the storage was zeroed and the kernel wrote at most `len` bytes of an address.
    let addr = from_raw(unsafe { storage.assume_init_ref() })?;
    Ok((owned, addr))
}

/// `recv(2)` into `buf`, as a raw system call.
///
/// glibc's `recv` wrapper is a thread-cancellation point: in a process with more than one
/// thread (a blocking pool, the stall watchdog) every call enables and disables asynchronous
/// cancellation around the syscall, about 40 extra instructions. weft never cancels threads, so
/// it enters the kernel directly.
#[inline]
pub fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `recvfrom(fd, buf, len, flags, NULL, NULL)`: `buf` is valid for writes of
    // `buf.len()` bytes for the duration of the call; null address pointers ask for no peer
    // address.
    let ret = unsafe {
        raw::syscall6(
            libc::SYS_recvfrom,
            fd.as_raw_fd() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
            0,
        )
    };
    raw::result(ret)
}

/// `send(2)` from `buf` with `MSG_NOSIGNAL` (a closed peer is an `EPIPE` error, not a
/// `SIGPIPE`), as a raw system call for the reason given at [`recv`].
#[inline]
pub fn send(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `sendto(fd, buf, len, MSG_NOSIGNAL, NULL, 0)`: `buf` is valid for reads of
    // `buf.len()` bytes for the duration of the call; no address means the connected peer.
    let ret = unsafe {
        raw::syscall6(
            libc::SYS_sendto,
            fd.as_raw_fd() as usize,
            buf.as_ptr() as usize,
            buf.len(),
            libc::MSG_NOSIGNAL as usize,
            0,
            0,
        )
    };
    raw::result(ret)
}

/// True for the errors that mean "out of descriptors or kernel memory": retrying at once cannot
/// succeed, so an accept loop must back off instead of spinning.
pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// True for `ECONNABORTED`/`EPROTO`-style accept errors that concern only the one connection
/// that went away before it was accepted: the listener itself is fine.
pub fn is_connection_gone(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM)
    )
}

fn to_raw(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is larger than and suitably aligned for `sockaddr_in`.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: `sockaddr_storage` is larger than and suitably aligned for `sockaddr_in6`.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn from_raw(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`.
            let sin: &libc::sockaddr_in =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )
            .into())
        }
        family => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("accept: unexpected address family {family}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_the_kernel_layout() {
        for text in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%2]:9"] {
            let addr: SocketAddr = text.parse().unwrap();
            let (raw, _) = to_raw(&addr);
            assert_eq!(from_raw(&raw).unwrap(), addr);
        }
    }
}
