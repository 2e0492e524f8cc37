//! The TCP echo server of `examples/echo.rs`, written with coroutines in `std::io` style: one
//! coroutine per connection, plain `read` and `write_all`, the same event loop underneath.
//!
//! ```text
//! cargo run --release --example echo_coro -- --addr 127.0.0.1:7000
//! ```
//! Try it with `nc 127.0.0.1 7000`.

#[path = "support/cli.rs"]
mod cli;

use std::io::{self, Read, Write};

use weft::coroutines::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let args = cli::parse("127.0.0.1:7000");
    // --threads N > 1: N loop threads; each connection's coroutine is placed on one of them
    // (near the acceptor unless another worker has clearly fewer) and stays there
    let rt = match args.threads {
        1 => weft::Runtime::new()?,
        n => weft::Builder::new_multi_thread()
            .worker_threads(n)
            .build()?,
    };
    rt.block_on(async {
        // The accept loop is a coroutine too; the async block only waits for it.
        weft::go(move || -> io::Result<()> {
            let listener = TcpListener::bind(args.addr)?;
            println!("echo listening on {}", listener.local_addr()?);
            for stream in listener.incoming() {
                let stream = stream?;
                stream.set_nodelay(true)?;
                weft::go(move || {
                    if let Err(e) = echo(stream) {
                        if !cli::is_peer_gone(&e) {
                            eprintln!("echo: connection error: {e}");
                        }
                    }
                });
            }
            Ok(())
        })
        .await?
    })
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
