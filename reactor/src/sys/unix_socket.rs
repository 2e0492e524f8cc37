//! Unix-domain socket calls std does not offer: a non-blocking `connect` (std's blocks while
//! the listener's backlog is full), for path names and Linux's abstract names alike, and an
//! `accept` whose connection is non-blocking from the start (std's needs one more call for
//! that).

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixStream};

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

/// `accept4(2)`: a non-blocking, close-on-exec connection and its peer's address (usually
/// unnamed: a client that did not bind).
pub fn accept(fd: BorrowedFd<'_>) -> io::Result<(UnixStream, SocketAddr)> {
    // SAFETY: all-zero is a valid `sockaddr_un`.
    let mut raw: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `raw` is a `sockaddr_un` on this stack and `len` its size; the kernel writes at
    // most `len` bytes of the peer's address into it and stores the full length in `len`.
    let new = syscall!(accept4(
        fd.as_raw_fd(),
        (&mut raw as *mut libc::sockaddr_un).cast(),
        &mut len,
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC
    ))?;
    // SAFETY: `accept4` just returned this descriptor; nothing else owns it.
    let stream = unsafe { UnixStream::from_raw_fd(new) };
    let peer = match from_raw(&raw, len) {
        Ok(peer) => peer,
        // a path that fills `sun_path` with no NUL after it, which the kernel allows and
        // `from_pathname` refuses: std's `getpeername` reads it (one more call, for a rare peer,
        // rather than dropping its connection)
        Err(_) => stream.peer_addr()?,
    };
    Ok((stream, peer))
}

/// The address in the first `len` bytes of `raw`, as the kernel writes it: nothing after the
/// family (unnamed), a NUL and then the name (abstract), or a path and usually its NUL.
fn from_raw(raw: &libc::sockaddr_un, len: libc::socklen_t) -> io::Result<SocketAddr> {
    let name_len = (len as usize)
        .saturating_sub(offset_of!(libc::sockaddr_un, sun_path))
        .min(raw.sun_path.len());
    // `c_char` and `u8` have the same size and alignment; `raw` outlives `name`.
    let bytes = raw.sun_path.as_ptr().cast::<u8>();
    // SAFETY: `name_len` bytes of `sun_path`, viewed as the `u8` they are laid out as.
    let name = unsafe { std::slice::from_raw_parts(bytes, name_len) };
    match name.split_first() {
        // std's unnamed address is the one with an empty path (a test below holds it to that)
        None => SocketAddr::from_pathname(""),
        Some((0, abstract_name)) => SocketAddr::from_abstract_name(abstract_name),
        Some(_) => {
            let path = name.split(|&b| b == 0).next().unwrap_or(name);
            SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))
        }
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
    use std::os::fd::AsFd;

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

    #[test]
    fn the_kernel_s_layout_reads_back_as_the_same_address() {
        let path = SocketAddr::from_pathname("/tmp/a.sock").unwrap();
        let (raw, len) = to_raw(&path).unwrap();
        let back = from_raw(&raw, len).unwrap();
        assert_eq!(back.as_pathname(), path.as_pathname());

        let (raw, len) = to_raw(&SocketAddr::from_abstract_name(b"weft").unwrap()).unwrap();
        assert_eq!(
            from_raw(&raw, len).unwrap().as_abstract_name(),
            Some(&b"weft"[..])
        );

        // nothing after the family: an unnamed peer, which std must see as unnamed
        let base = offset_of!(libc::sockaddr_un, sun_path) as libc::socklen_t;
        let unnamed = from_raw(&raw, base).unwrap();
        assert!(unnamed.is_unnamed(), "{unnamed:?}");
    }

    #[test]
    fn a_peer_bound_to_a_path_without_room_for_its_nul_is_accepted_with_its_address() {
        let dir = std::env::temp_dir().join(format!("weft-accept4-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(dir.join("l.sock")).unwrap();
        // SAFETY: all-zero is a valid `sockaddr_un`.
        let mut raw: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        raw.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let prefix = dir.as_os_str().as_bytes();
        let mut path = prefix.to_vec();
        path.push(b'/');
        path.resize(raw.sun_path.len(), b'p');
        for (slot, &byte) in raw.sun_path.iter_mut().zip(&path) {
            *slot = byte as libc::c_char;
        }
        let client = stream_socket().unwrap();
        let len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: `raw` is a `sockaddr_un` on this stack, `len` its whole size.
        syscall!(bind(
            client.as_raw_fd(),
            (&raw as *const libc::sockaddr_un).cast(),
            len
        ))
        .expect("bind to a path of all 108 bytes");
        let listening = SocketAddr::from_pathname(dir.join("l.sock")).unwrap();
        connect(client.as_fd(), &listening).unwrap();
        let accepted = accept(listener.as_fd());
        std::fs::remove_dir_all(&dir).unwrap();
        let (_stream, peer) = accepted.expect("the connection is accepted, not dropped");
        let got = peer.as_pathname().expect("a path name");
        assert_eq!(got.as_os_str().as_bytes(), &path[..]);
    }

    #[test]
    fn accepted_connections_are_non_blocking_and_close_on_exec() {
        let dir = std::env::temp_dir().join(format!("weft-accept4-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (stream, peer) = accept(listener.as_fd()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(peer.is_unnamed(), "a client that did not bind: {peer:?}");
        // SAFETY: `F_GETFL` / `F_GETFD` on a descriptor this test owns; no pointers.
        let (flags, fd_flags) = unsafe {
            (
                libc::fcntl(stream.as_raw_fd(), libc::F_GETFL),
                libc::fcntl(stream.as_raw_fd(), libc::F_GETFD),
            )
        };
        assert_ne!(flags & libc::O_NONBLOCK, 0, "flags {flags:#x}");
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0, "fd flags {fd_flags:#x}");
    }
}
