//! A TCP echo server: every byte a client sends comes back.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7000
//! ```
//! Try it with `nc 127.0.0.1 7000`.

#[path = "support/cli.rs"]
mod cli;

use weft::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let args = cli::parse("127.0.0.1:7000");
    if args.threads != 1 {
        eprintln!(
            "--threads {}: only the current-thread runtime (1) exists so far",
            args.threads
        );
        std::process::exit(2);
    }
    weft::Runtime::new()?.block_on(async {
        let listener = TcpListener::bind(args.addr)?;
        println!("echo listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            weft::spawn(async move {
                if let Err(e) = echo(stream).await {
                    if !cli::is_peer_gone(&e) {
                        eprintln!("echo: connection error: {e}");
                    }
                }
            });
        }
    })
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
