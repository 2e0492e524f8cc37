//! HTTP "Hello, World!" server on a hand-written, single-threaded, edge-triggered epoll loop,
//! using the shared [`http::respond`] handler: the lower bound for the runtimes' HTTP servers.

use std::os::raw::c_int;

use weft_benches::http::{self, Outcome};
use weft_benches::raw::{self, Backlog, Handler, Read, HANGUP};

/// Free space guaranteed in a connection's input buffer before each read.
const READ_SPACE: usize = 4096;

struct Hello;

#[derive(Default)]
struct Conn {
    /// Bytes read but not yet answered (a partial request).
    input: Vec<u8>,
    /// Responses waiting for the socket.
    out: Backlog,
    /// Close once `out` is flushed.
    closing: bool,
}

impl Handler for Hello {
    type Conn = Conn;

    fn ready(&mut self, fd: c_int, conn: &mut Conn, events: u32) -> bool {
        match conn.out.flush(fd) {
            None => return false,
            Some(false) => return true, // Still blocked: read nothing more until EPOLLOUT.
            Some(true) => {}
        }
        if conn.closing {
            return false;
        }
        let drain = events & HANGUP != 0;
        loop {
            conn.input.reserve(READ_SPACE);
            let len = conn.input.len();
            let space = conn.input.capacity() - len;
            // SAFETY: the spare capacity after `len` is writable for `space` bytes.
            let n = match unsafe { raw::read(fd, conn.input.as_mut_ptr().add(len), space) } {
                Read::Data(n) => n,
                Read::WouldBlock => return true,
                Read::Closed => return false,
            };
            // SAFETY: `read` initialised `n <= space` bytes after `len`.
            unsafe { conn.input.set_len(len + n) };
            match http::respond(&conn.input, &mut conn.out.buf) {
                Outcome::Answered { consumed, close } => {
                    if consumed == conn.input.len() {
                        conn.input.clear();
                    } else {
                        conn.input.drain(..consumed);
                    }
                    conn.closing = close;
                }
                Outcome::Rejected => conn.closing = true,
            }
            match conn.out.flush(fd) {
                None => return false,
                Some(false) => return true,
                Some(true) => {}
            }
            if conn.closing {
                return false;
            }
            if n < space && !drain {
                return true; // Short read: the receive queue is empty.
            }
        }
    }
}

fn main() {
    let args = weft_benches::cli::parse("127.0.0.1:8080");
    raw::main(args, Hello)
}
