//! The TCP echo server of `examples/echo.rs`, written with coroutines in `std::io` style: one
//! coroutine per connection, plain `read` and `write_all`, the same event loop underneath.
//!
//! ```text
//! cargo run --release --example echo_coro -- --addr 127.0.0.1:7000
//! ```
//! Try it with `nc 127.0.0.1 7000`.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/listen_coro.rs"]
mod listen_coro;

use std::io::{self, Read, Write};

use weft::coroutines::net::TcpStream;

fn main() -> std::process::ExitCode {
    let args = cli::parse("127.0.0.1:7000");
    cli::exit_status("echo_coro", listen_coro::run(args, "echo_coro", "", echo))
}

/// Copies what arrives back to the sender until it closes.
fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}
