//! The idiomatic tokio echo server: one task per connection, read into a 4 KiB buffer, write it
//! all back.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() {
    let args = weft_benches::cli::parse("127.0.0.1:7000");
    let runtime = weft_benches::tokio_runtime(args.threads);
    runtime.block_on(async move {
        let listener = TcpListener::bind(args.addr)
            .await
            .unwrap_or_else(|e| weft_benches::fail(&format!("bind {}: {e}", args.addr)));
        let local = listener.local_addr().unwrap_or(args.addr);
        println!("listening on {local}");
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(echo(stream));
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    })
}

async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
