//! How the coroutine example servers listen: the accept loop is a coroutine, and each accepted
//! connection gets its own coroutine, written in `std::io` style. `--threads 1` runs a
//! current-thread runtime; `--threads N` a multi-thread one, where each connection's coroutine
//! is placed on one of the N loop threads (near the acceptor unless another worker has clearly
//! fewer) and stays there.

use std::io;

use weft::coroutines::net::{TcpListener, TcpStream};

use super::cli::{self, Args};

/// Serves every connection on `args.addr` with `serve`, in a coroutine each, printing
/// `"{name} listening on {addr}"` (with `scheme` before the address) once listening. Returns
/// only on a listener error.
pub fn run(
    args: Args,
    name: &'static str,
    scheme: &'static str,
    serve: fn(TcpStream) -> io::Result<()>,
) -> io::Result<()> {
    cli::runtime(args.threads)?.block_on(async {
        // the async block only waits for the accepting coroutine
        weft::go(move || -> io::Result<()> {
            let listener = TcpListener::bind(args.addr)?;
            println!("{name} listening on {scheme}{}", listener.local_addr()?);
            for stream in listener.incoming() {
                let stream = stream?;
                stream.set_nodelay(true)?;
                weft::go(move || {
                    if let Err(e) = serve(stream) {
                        if !cli::is_peer_gone(&e) {
                            eprintln!("{name}: connection error: {e}");
                        }
                    }
                });
            }
            Ok(())
        })
        .await?
    })
}
