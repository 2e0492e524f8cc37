//! The HTTP/1.1 server of `examples/hello_server.rs` (keep-alive, pipelining, bodies read past,
//! `400 Bad Request` then close for anything malformed), written with coroutines in `std::io`
//! style.
//!
//! ```text
//! cargo run --release --example hello_server_coro -- --addr 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! ```

#[path = "support/cli.rs"]
mod cli;
#[path = "support/http.rs"]
mod http;
#[path = "support/listen_coro.rs"]
mod listen_coro;

use std::io::{self, Read, Write};

use weft::coroutines::net::TcpStream;

fn main() -> std::process::ExitCode {
    let args = cli::parse("127.0.0.1:8080");
    cli::exit_status(
        "hello_server_coro",
        listen_coro::run(args, "hello_server_coro", "http://", serve),
    )
}

/// Reads requests into one buffer, answers each complete one, and keeps the partial tail at the
/// front of the buffer for the next read.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut input = vec![0u8; 4096];
    let mut filled = 0;
    let mut output = Vec::with_capacity(4096);
    loop {
        if filled == input.len() {
            // `respond` rejects requests over `http::MAX_REQUEST`, which bounds this growth.
            input.resize(input.len() * 2, 0);
        }
        let n = stream.read(&mut input[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let outcome = http::respond(&input[..filled], &mut output);
        stream.write_all(&output)?;
        output.clear();
        match outcome {
            http::Outcome::Answered { consumed, close } => {
                filled = http::keep_tail(&mut input, consumed, filled);
                if close {
                    return close_gently(stream, filled > 0);
                }
            }
            http::Outcome::Rejected => return close_gently(stream, true),
        }
    }
}

/// Ends the connection after the last response, as `hello_server` does: when the client may
/// still be sending, FIN first, then read and discard until the client closes too, for at most
/// a second, so its next bytes are not answered with a reset that could destroy the response.
fn close_gently(mut stream: TcpStream, unread: bool) -> io::Result<()> {
    if !unread {
        return Ok(());
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        stream.set_read_timeout(Some(left))?;
        if !matches!(stream.read(&mut sink), Ok(1..)) {
            return Ok(()); // end of stream, an error, or out of time
        }
    }
}
