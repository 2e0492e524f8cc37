//! Echo server on a hand-written, single-threaded, edge-triggered epoll loop: the lower bound
//! that the runtimes' echo servers are compared against.

use std::os::raw::c_int;

use weft_benches::raw::{self, Backlog, Handler, Read, HANGUP};

/// Size of the one read buffer all connections share.
const BUF: usize = 64 * 1024;

struct Echo {
    buf: Vec<u8>,
}

/// Output the socket would not take yet; empty on the hot path.
#[derive(Default)]
struct Conn {
    pending: Backlog,
}

impl Handler for Echo {
    type Conn = Conn;

    fn ready(&mut self, fd: c_int, conn: &mut Conn, events: u32) -> bool {
        match conn.pending.flush(fd) {
            None => return false,
            Some(false) => return true, // Still blocked: read nothing more until EPOLLOUT.
            Some(true) => {}
        }
        let drain = events & HANGUP != 0;
        loop {
            // SAFETY: `self.buf` is writable for its whole length.
            match unsafe { raw::read(fd, self.buf.as_mut_ptr(), BUF) } {
                Read::Data(n) => {
                    let Some(written) = raw::write(fd, &self.buf[..n]) else {
                        return false;
                    };
                    if written < n {
                        conn.pending.buf.extend_from_slice(&self.buf[written..n]);
                        return true;
                    }
                    if n < BUF && !drain {
                        return true; // Short read: the receive queue is empty.
                    }
                }
                Read::WouldBlock => return true,
                Read::Closed => return false,
            }
        }
    }
}

fn main() {
    let args = weft_benches::cli::parse("127.0.0.1:7000");
    raw::main(args, Echo { buf: vec![0; BUF] })
}
