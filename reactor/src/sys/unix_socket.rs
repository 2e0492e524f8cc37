//! Unix-domain socket calls std does not offer: a non-blocking `connect` (std's blocks while
//! the listener's backlog is full), for path names and Linux's abstract names alike.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;

use super::syscall;

/// A new non-blocking, close-on-exec Unix stream socket.
pub fn stream_socket() -> io::Result<OwnedFd> {
    // SAFETY: no pointers: the domain, type and protocol are plain integers.
    let fd = syscall!(socket(
        libc::AF_UNIX,
        libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0
    ))?;
    // SAFETY: `socket` just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Starts a non-blocking `connect(2)` to `addr`: `Ok(true)` when it completed at once (the
/// usual case for Unix sockets), `Ok(false)` when it is in progress (wait for writable, then
/// check `SO_ERROR`).
///
/// # Errors
/// `addr` is unnamed (`InvalidInput`), or the kernel refused: `WouldBlock` (`EAGAIN`) means
/// the listener's backlog is full, `NotFound` that nothing is bound at the path,
/// `ConnectionRefused` that nothing listens there.
pub fn connect(fd: BorrowedFd<'_>, addr: &SocketAddr) -> io::Result<bool> {
    let (raw, len) = to_raw(addr)?;
    // SAFETY: `raw` is a `sockaddr_un` on this stack holding `len` valid bytes.
    match syscall!(connect(
        fd.as_raw_fd(),
        (&raw as *const libc::sockaddr_un).cast(),
        len
    )) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        // The kernel says only "try again", and no event will say when: name the cause.
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the listener's backlog is full (it accepts more slowly than clients connect)",
        )),
        Err(e) => Err(e),
    }
}

/// The kernel's layout of `addr`: a path name (NUL-terminated) or an abstract name (a leading
/// NUL, then the name's bytes, not terminated).
fn to_raw(addr: &SocketAddr) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: all-zero is a valid `sockaddr_un`.
    let mut raw: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    raw.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let (name, skip, terminator) = if let Some(path) = addr.as_pathname() {
        (path.as_os_str().as_bytes(), 0, 1)
    } else if let Some(name) = addr.as_abstract_name() {
        (name, 1, 0)
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "connect: an unnamed Unix socket address cannot be connected to",
        ));
    };
    // std built `addr`, so the name already fits `sun_path` with its NUL; check anyway rather
    // than trust it with a copy into a fixed array.
    if skip + name.len() + terminator > raw.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "connect: a Unix socket name is at most {} bytes, this one has {}",
                raw.sun_path.len() - 1,
                name.len()
            ),
        ));
    }
    for (slot, &byte) in raw.sun_path[skip..].iter_mut().zip(name) {
        *slot = byte as libc::c_char;
    }
    let len = offset_of!(libc::sockaddr_un, sun_path) + skip + name.len() + terminator;
    debug_assert!(len <= size_of::<libc::sockaddr_un>());
    Ok((raw, len as libc::socklen_t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_names_are_nul_terminated_and_abstract_names_start_with_nul() {
        let (raw, len) = to_raw(&SocketAddr::from_pathname("/tmp/a.sock").unwrap()).unwrap();
        let base = offset_of!(libc::sockaddr_un, sun_path);
        assert_eq!(len as usize, base + "/tmp/a.sock".len() + 1);
        assert_eq!(raw.sun_path[0] as u8, b'/');
        assert_eq!(raw.sun_path["/tmp/a.sock".len()], 0);

        let (raw, len) = to_raw(&SocketAddr::from_abstract_name(b"weft").unwrap()).unwrap();
        assert_eq!(len as usize, base + 1 + 4);
        assert_eq!(raw.sun_path[0], 0);
        assert_eq!(raw.sun_path[1] as u8, b'w');
    }
}
