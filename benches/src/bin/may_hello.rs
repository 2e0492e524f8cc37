//! The idiomatic may HTTP "Hello, World!" server: one coroutine per connection, buffering its
//! input and answering with the shared [`http::respond`] handler.

use std::io::{Read, Write};

use may::net::TcpStream;
use weft_benches::http::{self, Outcome};

fn main() {
    weft_benches::may_main("127.0.0.1:8080", serve)
}

fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut input = vec![0u8; 4096];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        if filled == input.len() {
            input.resize(input.len() * 2, 0);
        }
        let n = match stream.read(&mut input[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        out.clear();
        let close = match http::respond(&input[..filled], &mut out) {
            Outcome::Answered { consumed, close } => {
                filled = http::keep_tail(&mut input, consumed, filled);
                close
            }
            Outcome::Rejected => true,
        };
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
        if close {
            return;
        }
    }
}
