//! The HTTP/1.1 server of `examples/hello_server.rs` (keep-alive, pipelining, `400 Bad Request`
//! then close for anything malformed), written with coroutines in `std::io` style.
//!
//! ```text
//! cargo run --release --example hello_server_coro -- --addr 127.0.0.1:8080
//! curl -i http://127.0.0.1:8080/
//! ```

#[path = "support/cli.rs"]
mod cli;
#[path = "support/http.rs"]
mod http;

use std::io::{self, Read, Write};

use weft::coroutines::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let args = cli::parse("127.0.0.1:8080");
    // --threads N > 1: N loop threads; each connection's coroutine is placed on one of them
    // (near the acceptor unless another worker has clearly fewer) and stays there
    let rt = match args.threads {
        1 => weft::Runtime::new()?,
        n => weft::Builder::new_multi_thread()
            .worker_threads(n)
            .build()?,
    };
    rt.block_on(async {
        weft::go(move || -> io::Result<()> {
            let listener = TcpListener::bind(args.addr)?;
            println!(
                "hello_server listening on http://{}",
                listener.local_addr()?
            );
            for stream in listener.incoming() {
                let stream = stream?;
                stream.set_nodelay(true)?;
                weft::go(move || {
                    if let Err(e) = serve(stream) {
                        if !cli::is_peer_gone(&e) {
                            eprintln!("hello_server: connection error: {e}");
                        }
                    }
                });
            }
            Ok(())
        })
        .await?
    })
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
                input.copy_within(consumed..filled, 0);
                filled -= consumed;
                if close {
                    return Ok(());
                }
            }
            http::Outcome::Malformed => return Ok(()),
        }
    }
}
