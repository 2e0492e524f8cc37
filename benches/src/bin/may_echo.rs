//! The idiomatic may echo server: one coroutine per connection, blocking-style reads into a
//! 4 KiB buffer, everything written back.

use std::io::{Read, Write};

use may::net::TcpStream;

fn main() {
    weft_benches::may_main("127.0.0.1:7000", echo)
}

fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}
