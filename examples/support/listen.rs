//! How the example servers listen: one listener on a current-thread runtime (`--threads 1`),
//! or, with `--threads N`, a multi-thread runtime where
//! - by default every worker runs its own accept loop on its own `SO_REUSEPORT` listener (the
//!   nginx / monoio layout): the kernel spreads incoming connections over the listeners, and
//!   each connection is served by the worker that accepted it, on that worker's reactor;
//! - with `WEFT_LISTENERS=shared` in the environment, one accept loop hands connections out as
//!   tasks, and idle workers steal them (the tokio layout).
//!
//! Connection tasks are ordinary `Send` tasks either way, so an idle worker steals them when
//! the load is uneven.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use weft::net::{TcpListener, TcpSocket, TcpStream};

use super::cli::{self, Args};

/// Serves every connection on `args.addr` with `serve`, printing `"{name} listening on {addr}"`
/// (with `scheme` before the address) once listening. Returns only on a listener error.
pub fn run<S, F>(args: Args, name: &'static str, scheme: &'static str, serve: S) -> io::Result<()>
where
    S: Fn(TcpStream) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    let rt = cli::runtime(args.threads)?;
    if args.threads == 1 {
        return rt.block_on(async {
            let listener = TcpListener::bind(args.addr)?;
            println!("{name} listening on {scheme}{}", listener.local_addr()?);
            accept_loop(listener, name, serve).await
        });
    }
    if shared_listener()? {
        return rt.block_on(async {
            let listener = TcpListener::bind(args.addr)?;
            println!(
                "{name} listening on {scheme}{} ({} workers, one shared listener)",
                listener.local_addr()?,
                args.threads
            );
            weft::spawn(accept_loop(listener, name, serve))
                .await
                .map_err(io::Error::other)?
        });
    }
    let handle = rt.handle().clone();
    rt.block_on(async move {
        // the first listener resolves port 0 for the others
        refuse_a_taken_port(args.addr)?;
        let first = reuseport_listener(args.addr)?;
        let addr = first.local_addr()?;
        println!(
            "{name} listening on {scheme}{addr} ({} workers, one SO_REUSEPORT listener each)",
            handle.workers()
        );
        let mut first = Some(first);
        // The first accept loop to end (with an error: they never end otherwise) ends the
        // server, whichever worker it ran on.
        let (ended, mut first_end) = weft::sync::mpsc::unbounded_channel();
        for worker in 0..handle.workers() {
            let listener = first.take();
            let serve = serve.clone();
            let ended = ended.clone();
            handle.spawn_pinned_on(worker, move || async move {
                let result = match listener {
                    Some(listener) => Ok(listener),
                    None => reuseport_listener(addr),
                };
                let result = match result {
                    Ok(listener) => accept_loop(listener, name, serve).await,
                    Err(e) => Err(e),
                };
                let _ = ended.send(result.map_err(|e| {
                    io::Error::new(e.kind(), format!("worker {worker}'s listener: {e}"))
                }));
            })?;
        }
        drop(ended);
        first_end
            .recv()
            .await
            .unwrap_or_else(|| Err(io::Error::other("every accept loop stopped")))
    })
}

/// `WEFT_LISTENERS`: `per-worker` (the default) or `shared`.
fn shared_listener() -> io::Result<bool> {
    match std::env::var("WEFT_LISTENERS").as_deref() {
        Err(_) | Ok("per-worker") => Ok(false),
        Ok("shared") => Ok(true),
        Ok(other) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("WEFT_LISTENERS={other:?}: expected `per-worker` or `shared`"),
        )),
    }
}

/// Fails with `AddrInUse` when another socket listens on `addr`. `SO_REUSEPORT` alone would let
/// the workers' listeners join any other process's `SO_REUSEPORT` listener on that port (of
/// the same user) and take half its connections; a plain bind cannot join anyone. (Port 0
/// picks a free port anyway.)
fn refuse_a_taken_port(addr: SocketAddr) -> io::Result<()> {
    if addr.port() != 0 {
        drop(
            std::net::TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("bind {addr}: {e}")))?,
        );
    }
    Ok(())
}

/// A listener on `addr` that shares the port with the other workers' listeners.
fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts forever, a task per connection.
async fn accept_loop<S, F>(listener: TcpListener, name: &'static str, serve: S) -> io::Result<()>
where
    S: Fn(TcpStream) -> F,
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let connection = serve(stream);
        weft::spawn(Reported {
            connection,
            server: name,
        });
    }
}

/// A connection's task: the server's future, with its error reported on stderr unless the peer
/// just went away. A hand-written future rather than an `async` block around the connection:
/// it is polled once per request, and an `async` wrapper adds a state dispatch to every poll.
struct Reported<F> {
    connection: F,
    server: &'static str,
}

impl<F: Future<Output = io::Result<()>>> Future for Reported<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let server = self.server;
        // `connection` is never moved out of `Reported` or handed out unpinned, and `Reported`
        // implements neither `Drop` nor `Unpin` itself.
        // SAFETY: so `connection` is structurally pinned, and projecting the pin to it is sound.
        let connection = unsafe { self.map_unchecked_mut(|this| &mut this.connection) };
        if let Err(e) = ready!(connection.poll(cx)) {
            if !cli::is_peer_gone(&e) {
                eprintln!("{server}: connection error: {e}");
            }
        }
        Poll::Ready(())
    }
}
