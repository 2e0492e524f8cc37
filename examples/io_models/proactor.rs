//! Step 6 of the C10K story: asynchronous I/O and the proactor pattern, with Linux AIO file
//! reads whose completions arrive through an `eventfd` in the epoll set.
//!
//! ```text
//! cargo run --release --example io_proactor -- --addr 127.0.0.1:7000
//! printf 'GET Cargo.toml\n' | nc 127.0.0.1 7000     # the file, then the server closes
//! nc 127.0.0.1 7000                                   # anything else: an echo server
//! ```
//!
//! **Reactor vs proactor.** Everything before this step is a *reactor*: the kernel says "this
//! socket is ready", and the program then does the I/O itself (`read` after `EPOLLIN`). A
//! *proactor* inverts that: the program says "read 64 KiB of this file at this offset into this
//! buffer", and the kernel says later "done, here are N bytes". Windows IOCP, POSIX AIO, Linux
//! AIO (`io_submit`) and io_uring are proactors.
//!
//! Regular files need one: a file is always "ready" to `poll`/`epoll` (epoll refuses regular
//! files outright), yet a read of a cold page sleeps on the disk and stalls the whole loop.
//! Here the two patterns meet in one loop: sockets stay readiness-based (level-triggered epoll,
//! like `io_epoll_lt`); file reads go to Linux AIO with `IOCB_FLAG_RESFD`, which bumps an
//! `eventfd` at every completion; that eventfd sits in the epoll set like a socket. One
//! `epoll_wait` sleeps on both kinds of event: the standard bridge between the two worlds.
//!
//! The protocol: a connection whose first bytes are `GET <path>\n` gets that file (relative to
//! the working directory, no `..`), then the server closes it. Any other first bytes make it a
//! plain echo connection, so `echo_load` works unchanged.
//!
//! Traps, each handled below:
//!
//! - **The buffer belongs to the kernel while a read is in flight.** If the client hangs up
//!   mid-read, the buffer must still live until the completion comes, so reads live in their
//!   own table (`reads`), not inside the client, and the completion cleans up.
//! - **Linux AIO is only asynchronous with `O_DIRECT`.** On a buffered file `io_submit` quietly
//!   does the read itself, blocking. `O_DIRECT` needs block-aligned buffers, offsets and sizes,
//!   hence the 4 KiB-aligned buffer and the fallback to buffered I/O where `O_DIRECT` is refused.
//! - **Backpressure.** The next read is submitted only once the socket took the last chunk.
//!
//! io_uring (Linux 5.1) removes most of these limits: buffered files and sockets too, batched
//! submission through shared rings. weft does not use either yet (see `docs/io-models.md`).

#[path = "aio.rs"]
mod aio;
#[path = "common.rs"]
mod common;

use std::collections::HashMap;
use std::os::raw::c_int;

use aio::{Aio, ALIGN};
use common::{Conn, Epoll, Input, Status};
use libc::{EPOLLIN, EPOLLOUT, EPOLL_CTL_ADD, EPOLL_CTL_MOD};

/// Bytes per file read (a multiple of `ALIGN`, as `O_DIRECT` requires).
const CHUNK: usize = 64 * 1024;

enum Mode {
    /// First bytes, until they show whether this is a `GET`.
    New(Vec<u8>),
    Echo,
    /// Sending the file of `reads[id]`.
    File,
}

struct Client {
    conn: Conn,
    /// Unique for the server's life: descriptor numbers are reused, ids are not.
    id: u64,
    mode: Mode,
    interest: c_int,
}

/// One file transfer, keyed by its client's id. The kernel owns `buf` while `in_flight`.
struct FileRead {
    fd: c_int,
    file: std::fs::File,
    offset: u64,
    /// `CHUNK + ALIGN` bytes: an aligned `CHUNK` lies somewhere inside.
    buf: Vec<u8>,
    in_flight: bool,
    eof: bool,
}

impl FileRead {
    /// The `ALIGN`-aligned `CHUNK` inside `buf` that reads go to.
    fn chunk(&mut self) -> &mut [u8] {
        let start = self.buf.as_ptr().align_offset(ALIGN);
        &mut self.buf[start..start + CHUNK]
    }
}

struct Server {
    epoll: Epoll,
    aio: Aio,
    clients: HashMap<c_int, Client>,
    reads: HashMap<u64, FileRead>,
}

fn main() {
    let listener = common::listen("io_proactor", true);
    let aio = Aio::new(256).unwrap_or_else(|e| common::fail("eventfd/io_setup", e));
    let (epoll, clients, reads) = (Epoll::new(), HashMap::new(), HashMap::new());
    epoll.ctl(EPOLL_CTL_ADD, listener, EPOLLIN);
    epoll.ctl(EPOLL_CTL_ADD, aio.efd, EPOLLIN); // Completions wake epoll_wait like sockets do.
    let mut server = Server {
        epoll,
        aio,
        clients,
        reads,
    };
    let (mut buf, mut events, mut next_id) = (vec![0; common::BUF_SIZE], common::events(), 0);
    loop {
        for event in server.epoll.wait(&mut events, -1) {
            let (fd, bits) = (event.u64 as c_int, event.events as c_int);
            if fd == listener {
                while let Some(new) = common::accept(listener, true) {
                    server.epoll.ctl(EPOLL_CTL_ADD, new, EPOLLIN);
                    next_id += 1;
                    let (conn, mode) = (Conn::new(new), Mode::New(Vec::new()));
                    let client = Client {
                        conn,
                        id: next_id,
                        mode,
                        interest: EPOLLIN,
                    };
                    server.clients.insert(new, client);
                }
            } else if fd == server.aio.efd {
                server.completions();
            } else if let Some(client) = server.clients.get_mut(&fd) {
                let status = match &mut client.mode {
                    Mode::Echo => client.conn.echo(&mut buf, false),
                    // No interest while the disk works, but hang-ups are always reported.
                    Mode::File if bits & (libc::EPOLLHUP | libc::EPOLLERR) != 0 => Status::Closed,
                    Mode::File => client.conn.send(&[]),
                    Mode::New(head) => match client.conn.read(&mut buf) {
                        Input::Data(n) => {
                            head.extend_from_slice(&buf[..n]);
                            first_bytes(client, &mut server.reads)
                        }
                        Input::Empty => Status::Read,
                        Input::Closed => Status::Closed,
                    },
                };
                server.next_step(fd, status);
            }
        }
    }
}

impl Server {
    /// The proactor half: reaps finished reads and hands their bytes to the sockets.
    fn completions(&mut self) {
        for (id, res) in self.aio.completions() {
            let Some(read) = self.reads.get_mut(&id) else {
                continue;
            };
            read.in_flight = false; // The buffer is ours again.
            let Some(client) = self.clients.get_mut(&read.fd).filter(|c| c.id == id) else {
                self.reads.remove(&id); // Its client left while the kernel was reading.
                continue;
            };
            let status = if res < 0 {
                let err = std::io::Error::from_raw_os_error(-res as i32);
                eprintln!("io_proactor: read: {err}");
                Status::Closed
            } else {
                read.offset += res as u64;
                read.eof = res < CHUNK as i64; // A short read of a regular file: end of file.
                client.conn.send(&read.chunk()[..res as usize])
            };
            let fd = read.fd;
            self.next_step(fd, status);
        }
    }

    /// After any progress: close, submit the next file read, or adjust the epoll interest.
    fn next_step(&mut self, fd: c_int, mut status: Status) {
        let Some(client) = self.clients.get_mut(&fd) else {
            return;
        };
        if let (Mode::File, Status::Read) = (&client.mode, status) {
            // The socket took everything so far (backpressure): read the next chunk, or finish.
            let read = self
                .reads
                .get_mut(&client.id)
                .expect("a file client has a read");
            if read.eof {
                status = Status::Closed;
            } else if !read.in_flight {
                let chunk = read.chunk().as_mut_ptr();
                // SAFETY: `chunk` is CHUNK bytes inside `read.buf`, which stays in `reads` until
                // the completion is reaped (even if the client leaves first), and nothing
                // touches it while `in_flight`.
                match unsafe {
                    self.aio
                        .read(client.id, &read.file, chunk, CHUNK, read.offset)
                } {
                    Ok(()) => read.in_flight = true,
                    Err(e) => {
                        eprintln!("io_proactor: io_submit: {e}");
                        status = Status::Closed;
                    }
                }
            }
        }
        let interest = match (&client.mode, status) {
            (_, Status::Closed) => {
                let id = client.id;
                self.clients.remove(&fd); // Closes the socket, which leaves the epoll set.
                if self.reads.get(&id).is_some_and(|r| !r.in_flight) {
                    self.reads.remove(&id); // If in flight, its completion removes it.
                }
                return;
            }
            (_, Status::Write) => EPOLLOUT,
            (Mode::File, Status::Read) => 0, // Waiting for the disk, not for the client.
            (_, Status::Read) => EPOLLIN,
        };
        if interest != client.interest {
            client.interest = interest;
            self.epoll.ctl(EPOLL_CTL_MOD, fd, interest);
        }
    }
}

/// Decides what a new connection is from its first bytes: a `GET <path>` line, or echo.
fn first_bytes(client: &mut Client, reads: &mut HashMap<u64, FileRead>) -> Status {
    let Mode::New(head) = &mut client.mode else {
        unreachable!()
    };
    if !head.starts_with(b"GET ") {
        if head.len() < 4 && b"GET ".starts_with(head) {
            return Status::Read; // Could still become a GET: wait for more.
        }
        let head = std::mem::take(head);
        client.mode = Mode::Echo;
        return client.conn.send(&head);
    }
    let Some(end) = head.iter().position(|&b| b == b'\n') else {
        return if head.len() > 4096 {
            Status::Closed
        } else {
            Status::Read
        };
    };
    let path = String::from_utf8_lossy(&head[4..end])
        .trim_end_matches('\r')
        .to_string();
    let file = if path.starts_with('/') || path.split('/').any(|part| part == "..") {
        Err(std::io::Error::other(
            "only relative paths without `..` are served",
        ))
    } else {
        aio::open(&path)
    };
    match file {
        Ok(file) => {
            let (fd, buf) = (client.conn.fd, vec![0; CHUNK + ALIGN]);
            let read = FileRead {
                fd,
                file,
                offset: 0,
                buf,
                in_flight: false,
                eof: false,
            };
            reads.insert(client.id, read);
            client.mode = Mode::File;
            Status::Read // `next_step` submits the first read.
        }
        Err(e) => {
            client.conn.send(format!("ERR {path}: {e}\n").as_bytes());
            Status::Closed // Best effort: the error line goes out if the socket takes it.
        }
    }
}
