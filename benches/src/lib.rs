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

/// Prints `message` to stderr and exits with status 1.
pub fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(1)
}
