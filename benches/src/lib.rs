//! Comparison servers and the load generator behind weft's benchmarks.
//!
//! The HTTP handler and the command line are the very files the weft example servers use, so a
//! benchmark compares runtimes and nothing else.

#[path = "../../examples/support/cli.rs"]
pub mod cli;
#[path = "../../examples/support/http.rs"]
pub mod http;

pub mod chart;
pub mod raw;

/// Builds the tokio runtime the comparison servers run on: the current-thread scheduler for
/// `threads == 1`, the multi-thread scheduler with `threads` workers otherwise.
pub fn tokio_runtime(threads: usize) -> tokio::runtime::Runtime {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot build the tokio runtime: {e}")))
}

/// The main of the tokio comparison servers: parses the shared command line, builds the tokio
/// runtime it asks for, binds, says where it listens, and spawns `serve` for every connection.
pub fn tokio_main<F, Fut>(default_addr: &str, serve: F) -> !
where
    F: Fn(tokio::net::TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let args = cli::parse(default_addr);
    let runtime = tokio_runtime(args.threads);
    runtime.block_on(async move {
        let listener =
            tokio_listen(args.addr).unwrap_or_else(|e| fail(&format!("bind {}: {e}", args.addr)));
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

/// The main of the may comparison servers: parses the shared command line, sets may's worker
/// count to `--threads` (worker pinning off, so `taskset` decides where they run), binds, says
/// where it listens, and runs `serve` in a coroutine of its own for every connection.
pub fn may_main(default_addr: &str, serve: fn(may::net::TcpStream)) -> ! {
    let args = cli::parse(default_addr);
    may::config().set_workers(args.threads);
    may::config().set_worker_pin(false);
    let listener = may::net::TcpListener::bind(args.addr)
        .unwrap_or_else(|e| fail(&format!("bind {}: {e}", args.addr)));
    let local = listener.local_addr().unwrap_or(args.addr);
    println!("listening on {local}");
    // SAFETY: may's contract for spawning: the coroutine must not hold thread-local state across
    // a switch (it may resume on another worker) and must not block its worker thread. The
    // accept loop touches no thread-locals of its own and does its I/O through may's net types,
    // which suspend the coroutine instead of blocking.
    let acceptor = unsafe { may::coroutine::spawn(move || may_accept(listener, serve)) };
    match acceptor.join() {
        Ok(never) => match never {},
        Err(_) => fail("the accept loop panicked"),
    }
}

/// Accepts forever, one coroutine running `serve` per connection.
fn may_accept(
    listener: may::net::TcpListener,
    serve: fn(may::net::TcpStream),
) -> std::convert::Infallible {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                // SAFETY: as for the accept loop: `serve` keeps no thread-locals across a switch
                // and does its I/O on `stream` through may.
                unsafe { may::coroutine::spawn(move || serve(stream)) };
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

/// Raises this process's soft limit on open descriptors (`RLIMIT_NOFILE`) to its hard limit and
/// returns the new limit: 10,000 connections need more than the usual 1,024.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a live rlimit for the kernel to fill in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } < 0 {
        let err = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            err.kind(),
            format!("getrlimit(RLIMIT_NOFILE): {err}"),
        ));
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: `limit` is a live rlimit; raising the soft limit up to the hard one is allowed.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } < 0 {
        let err = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            err.kind(),
            format!("setrlimit(RLIMIT_NOFILE): {err}"),
        ));
    }
    Ok(limit.rlim_cur)
}

/// The listen backlog of every comparison server, the same as weft's and may's listeners.
/// (tokio's `TcpListener::bind` takes mio's 128, which overflows while 10,000 clients connect.)
pub const BACKLOG: u32 = 1024;

/// A tokio listener on `addr` with `SO_REUSEADDR` and a backlog of [`BACKLOG`].
fn tokio_listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Prints `message` to stderr and exits with status 1.
pub fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(1)
}
