//! The idiomatic tokio HTTP "Hello, World!" server: one task per connection, buffering its input
//! and answering with the shared [`http::respond`] handler.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use weft_benches::http::{self, Outcome};

fn main() {
    let args = weft_benches::cli::parse("127.0.0.1:8080");
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
                    tokio::spawn(serve(stream));
                }
                Err(e) => eprintln!("accept: {e}"),
            }
        }
    })
}

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut input = vec![0u8; 4096];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        if filled == input.len() {
            input.resize(input.len() * 2, 0);
        }
        let n = match stream.read(&mut input[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        out.clear();
        let close = match http::respond(&input[..filled], &mut out) {
            Outcome::Answered { consumed, close } => {
                input.copy_within(consumed..filled, 0);
                filled -= consumed;
                close
            }
            Outcome::Malformed => true,
        };
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
        if close {
            return;
        }
    }
}
