//! An HTTP/1.1 server that answers every request with `Hello, World!`: keep-alive, pipelining,
//! `Content-Length` bodies read past, and `400 Bad Request` (then close) for anything malformed
//! (`413` for a body over 16 KiB, `501` for a chunked one).
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
                filled = http::keep_tail(&mut input, consumed, filled);
                if close {
                    return close_gently(stream, filled > 0);
                }
            }
            http::Outcome::Rejected => return close_gently(stream, true),
        }
    }
}

/// Ends the connection after the last response. When the client may still be sending
/// (`unread`: a malformed request, or bytes after the last one), closing at once would answer
/// its next bytes with a reset, which can destroy the response before the client reads it
/// (RFC 9112 section 9.6). So, like nginx's lingering close, a task of its own sends FIN, then
/// reads and discards until the client closes too, for at most a second. (A task, not an
/// `.await` here: the connection's own future stays as small as the benchmark measures it.)
#[cold]
#[inline(never)]
fn close_gently(stream: TcpStream, unread: bool) -> std::io::Result<()> {
    if unread {
        weft::spawn(linger(stream));
    }
    Ok(())
}

async fn linger(mut stream: TcpStream) -> std::io::Result<()> {
    stream.shutdown(std::net::Shutdown::Write)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    // Ends at end of stream, on an error, or out of time.
    while let Ok(Ok(1..)) = weft::time::timeout_at(deadline, stream.read(&mut sink)).await {}
    Ok(())
}
