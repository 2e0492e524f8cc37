//! Opening many connections at once without overrunning the server's listen backlog.
//!
//! An overflowing listen backlog does not fail loudly: the kernel drops the SYN (counted in
//! `nstat`'s `TcpExtListenOverflows`) and the client retransmits it a second later, so connects
//! stall and the server sees bursts. So connections are opened `batch` at a time with
//! nonblocking `connect(2)`s:
//!
//! 1. Before a batch starts, wait (up to 5 s) until the server's accept queue holds fewer than
//!    `batch` connections. The queue's length is the `rx_queue` column of the listening socket's
//!    line in `/proc/net/tcp` (or `tcp6`); the kernel lists listening sockets first, so the scan
//!    stops early. (When the line is not found, e.g. a server on another host, there is no
//!    pacing.)
//! 2. Start every connect of the batch.
//! 3. Wait until every connection in it has completed (epoll reports it writable) or failed.
//!
//! So the queue never holds more than two batches, far below the backlog of 1,024 every server
//! here listens with.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// How long one batch may take before its unfinished connects count as failed; also how long
/// a batch waits for the server to drain its accept queue.
const BATCH_TIMEOUT: Duration = Duration::from_secs(5);

/// An epoll instance, closed on drop.
pub struct Epoll {
    fd: c_int,
}

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall with a constant argument.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll { fd })
    }

    /// Registers `fd` edge-triggered for reading, writing and hang-ups, tagged with `token`.
    pub fn add(&self, fd: c_int, token: u64) -> io::Result<()> {
        let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        if unsafe { libc::epoll_ctl(self.fd, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` and returns the ready prefix of `events`.
    pub fn wait<'a>(
        &self,
        events: &'a mut [libc::epoll_event],
        timeout_ms: c_int,
    ) -> io::Result<&'a [libc::epoll_event]> {
        // SAFETY: `events` is writable for `events.len()` entries.
        let n = unsafe {
            libc::epoll_wait(
                self.fd,
                events.as_mut_ptr(),
                events.len() as c_int,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted {
                Ok(&[])
            } else {
                Err(err)
            };
        }
        Ok(&events[..n as usize])
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: `self.fd` is an epoll descriptor this value owns.
        unsafe { libc::close(self.fd) };
    }
}

/// The outcome of [`connect_all`].
pub struct Connected {
    /// One slot per connection, `None` where connecting failed; each stream is nonblocking,
    /// has `TCP_NODELAY`, and is registered with the epoll instance under its index.
    pub streams: Vec<Option<TcpStream>>,
    /// Connections that could not be opened.
    pub errors: u64,
}

/// Opens `n` connections to `addr`, `batch` at a time, and registers each with `epoll` under
/// its index. A failed connection is counted, not fatal (the first failure and the count are
/// written to stderr); an error of `epoll` itself is returned.
pub fn connect_all(
    epoll: &Epoll,
    addr: SocketAddr,
    n: usize,
    batch: usize,
) -> io::Result<Connected> {
    let mut streams: Vec<Option<TcpStream>> = Vec::with_capacity(n);
    let mut errors = 0u64;
    let mut first_error: Option<String> = None;
    let mut fail = |what: String, errors: &mut u64| {
        *errors += 1;
        first_error.get_or_insert(what);
    };
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; batch.max(1)];
    let mut pace = true;
    for start in (0..n).step_by(batch.max(1)) {
        let end = (start + batch).min(n);
        if pace && !wait_for_accepts(addr, batch) {
            eprintln!("the server's accept queue stayed full for 5 s; connecting without pacing");
            pace = false;
        }
        // Start every connect of the batch.
        let mut pending = vec![false; end - start];
        for id in start..end {
            match start_connect(addr) {
                Ok((stream, done)) => {
                    epoll.add(stream.as_raw_fd(), id as u64)?;
                    pending[id - start] = !done;
                    streams.push(Some(stream));
                }
                Err(e) => {
                    fail(format!("connect {addr}: {e}"), &mut errors);
                    streams.push(None);
                }
            }
        }
        // Wait for them: the first edge of each says it connected (writable) or failed.
        let mut waiting = pending.iter().filter(|&&p| p).count();
        let deadline = Instant::now() + BATCH_TIMEOUT;
        while waiting > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let timeout = (deadline - now).as_millis().clamp(1, c_int::MAX as u128) as c_int;
            for event in epoll.wait(&mut events, timeout)? {
                let id = event.u64 as usize;
                if (start..end).contains(&id) && pending[id - start] {
                    pending[id - start] = false;
                    waiting -= 1;
                }
            }
        }
        // Keep the connected ones; count the refused and the unfinished.
        for id in start..end {
            let Some(stream) = &streams[id] else { continue };
            let outcome = if pending[id - start] && is_connecting(stream) {
                Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in 5 s"))
            } else {
                match stream.take_error() {
                    Ok(None) => stream.peer_addr().and_then(|_| stream.set_nodelay(true)),
                    Ok(Some(e)) | Err(e) => Err(e),
                }
            };
            if let Err(e) = outcome {
                fail(format!("connect {addr}: {e}"), &mut errors);
                streams[id] = None; // Closing it also takes it out of the epoll set.
            }
        }
    }
    if let Some(first) = first_error {
        eprintln!("{first} ({errors} connection(s) failed in all)");
    }
    Ok(Connected { streams, errors })
}

/// Waits until the accept queue of the server listening on `addr` is shorter than `batch`, or
/// cannot be read. Returns `false` when that took over 5 s (the server is not accepting).
fn wait_for_accepts(addr: SocketAddr, batch: usize) -> bool {
    let deadline = Instant::now() + BATCH_TIMEOUT;
    while let Some(queued) = accept_queue(addr) {
        if queued < batch as u64 {
            break;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// The number of connections waiting in the accept queue of the socket listening on `addr`'s
/// port, from `/proc/net/tcp` (IPv4) or `/proc/net/tcp6`; `None` when no such socket is listed.
fn accept_queue(addr: SocketAddr) -> Option<u64> {
    use std::io::BufRead;
    let table = if addr.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let file = std::fs::File::open(table).ok()?;
    let mut lines = io::BufReader::new(file).lines().skip(1);
    lines.find_map(|line| listen_queue(&line.ok()?, addr.port()))
}

/// Parses one line of `/proc/net/tcp`: the accept-queue length when it is the listening socket
/// (state `0A`) of `port`.
fn listen_queue(line: &str, port: u16) -> Option<u64> {
    // "sl local_address rem_address st tx_queue:rx_queue ..."
    let mut fields = line.split_whitespace().skip(1);
    let local = fields.next()?;
    let state = fields.nth(1)?;
    let queues = fields.next()?;
    let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
    if state != "0A" || local_port != port {
        return None;
    }
    u64::from_str_radix(queues.split_once(':')?.1, 16).ok()
}

/// A nonblocking socket with its `connect(2)` under way; `true` when it already completed.
fn start_connect(addr: SocketAddr) -> io::Result<(TcpStream, bool)> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall with constant arguments.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket just created and owned by nothing else.
    let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let (storage, len) = weft_benches::raw::sockaddr(addr);
    // SAFETY: `storage` holds an initialised address of `len` bytes.
    let ret = unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
    if ret == 0 {
        return Ok((stream, true));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINPROGRESS) => Ok((stream, false)),
        _ => Err(err),
    }
}

/// The connect is still in progress: no peer yet and no error pending.
fn is_connecting(stream: &TcpStream) -> bool {
    matches!(stream.peer_addr(), Err(e) if e.kind() == io::ErrorKind::NotConnected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn batches_wait_for_the_server_to_accept() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut held = Vec::new();
            let mut longest = 0;
            for _ in 0..300 {
                longest = longest.max(accept_queue(addr).unwrap());
                held.push(listener.accept().unwrap());
            }
            longest
        });
        let epoll = Epoll::new().unwrap();
        let done = connect_all(&epoll, addr, 300, 50).unwrap();
        assert_eq!(done.errors, 0);
        assert_eq!(done.streams.iter().flatten().count(), 300);
        let longest = server.join().unwrap();
        assert!(longest <= 100, "{longest} queued: more than two batches");
    }

    #[test]
    fn reads_the_accept_queue() {
        let line = "   0: 0100007F:1F90 00000000:0000 0A 00000000:0000002A 00:00000000 00000000 \
                    0        0 1185 1 0000000073df5ad6 100 0 0 10 0";
        assert_eq!(listen_queue(line, 8080), Some(42));
        assert_eq!(listen_queue(line, 8081), None);
        let established = line.replace(" 0A ", " 01 ");
        assert_eq!(listen_queue(&established, 8080), None);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(accept_queue(addr), Some(0));
        let _client = std::net::TcpStream::connect(addr).unwrap();
        assert_eq!(
            accept_queue(addr),
            Some(1),
            "one connection waits to be accepted"
        );
    }

    #[test]
    fn refused_connections_are_counted() {
        let addr = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        }; // Closed: nothing listens there now.
        let epoll = Epoll::new().unwrap();
        let done = connect_all(&epoll, addr, 3, 2).unwrap();
        assert_eq!(done.errors, 3);
        assert!(done.streams.iter().all(Option::is_none));
    }
}
