//! A TCP echo server: every byte a client sends comes back.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7000
//! cargo run --release --example echo -- --threads 4   # a multi-thread runtime
//! ```
//! Try it with `nc 127.0.0.1 7000`.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/listen.rs"]
mod listen;

use weft::net::TcpStream;

fn main() -> std::process::ExitCode {
    let args = cli::parse("127.0.0.1:7000");
    cli::exit_status("echo", listen::run(args, "echo", "", echo))
}

/// Copies what arrives back to the sender until it closes.
async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
