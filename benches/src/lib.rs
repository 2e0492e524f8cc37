//! Comparison servers and the load generator behind weft's benchmarks.
//!
//! The HTTP handler and the command line are the very files the weft example servers use, so a
//! benchmark compares runtimes and nothing else.

#[path = "../../examples/support/cli.rs"]
pub mod cli;
#[path = "../../examples/support/http.rs"]
pub mod http;

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
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .unwrap_or_else(|e| fail(&format!("bind {}: {e}", args.addr)));
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

/// Prints `message` to stderr and exits with status 1.
pub fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(1)
}
