//! An HTTP/1.1 server that answers every request with `Hello, World!`: keep-alive, pipelining,
//! and `400 Bad Request` (then close) for anything malformed.
//!
//! ```text
//! cargo run --release --example hello_server -- --addr 127.0.0.1:8080
//! cargo run --release --example hello_server -- --threads 4   # a multi-thread runtime
//! curl -i http://127.0.0.1:8080/
//! ```

#[path = "support/cli.rs"]
mod cli;
#[path = "support/http.rs"]
mod http;
#[path = "support/listen.rs"]
mod listen;

use weft::net::TcpStream;

fn main() -> std::process::ExitCode {
    let args = cli::parse("127.0.0.1:8080");
    cli::exit_status(
        "hello_server",
        listen::run(args, "hello_server", "http://", serve),
    )
}

/// Reads requests into one buffer, answers each complete one, and keeps the partial tail at the
/// front of the buffer for the next read.
async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut input = vec![0u8; 4096];
    let mut filled = 0;
    let mut output = Vec::with_capacity(4096);
    loop {
        if filled == input.len() {
            // `respond` rejects requests over `http::MAX_REQUEST`, which bounds this growth.
            input.resize(input.len() * 2, 0);
        }
        let n = stream.read(&mut input[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let outcome = http::respond(&input[..filled], &mut output);
        stream.write_all(&output).await?;
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
