//! The command line every example server shares: `--addr HOST:PORT` and `--threads N`.

use std::net::SocketAddr;

/// Parsed command-line options.
#[derive(Debug, Clone, Copy)]
pub struct Args {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Event-loop threads: 1 runs the current-thread runtime, more a multi-thread one.
    pub threads: usize,
}

/// Parses `std::env::args()`; prints usage and exits with status 2 on bad input (status 0, on
/// stdout, for `--help`).
pub fn parse(default_addr: &str) -> Args {
    let program = std::env::args().next().unwrap_or_default();
    let usage = format!("usage: {program} [--addr HOST:PORT] [--threads N]");
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "-h" || arg == "--help")
    {
        println!("{usage}\n  --addr HOST:PORT  where to listen (default {default_addr})\n  --threads N       event-loop threads: 1 (the default) runs the current-thread runtime");
        std::process::exit(0);
    }
    match parse_from(std::env::args().skip(1), default_addr) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\n{usage}");
            std::process::exit(2);
        }
    }
}

fn parse_from(mut argv: impl Iterator<Item = String>, default_addr: &str) -> Result<Args, String> {
    let mut addr = default_addr.to_string();
    let mut threads = "1".to_string();
    while let Some(flag) = argv.next() {
        let slot = match flag.as_str() {
            "--addr" => &mut addr,
            "--threads" => &mut threads,
            other => return Err(format!("unknown argument `{other}`")),
        };
        *slot = argv.next().ok_or(format!("`{flag}` needs a value"))?;
    }
    let addr = resolve(&addr)?;
    let threads = match threads.parse() {
        Ok(n) if n >= 1 => n,
        _ => return Err(format!("--threads `{threads}` is not a positive integer")),
    };
    Ok(Args { addr, threads })
}

/// `HOST:PORT` as one socket address; a host name is resolved here, once, before the server
/// starts (`localhost:8080` works as well as `127.0.0.1:8080`).
fn resolve(addr: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let mut addrs = addr
        .to_socket_addrs()
        .map_err(|e| format!("--addr `{addr}`: {e} (expected HOST:PORT)"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--addr `{addr}` names no address"))
}

/// A client resetting or vanishing mid-connection is routine for a server, not worth a log line.
pub fn is_peer_gone(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

/// Ends a server's `main`: an error becomes one line naming the server (rather than
/// `Error: Custom { .. }`) and exit status 1.
pub fn exit_status(name: &str, result: std::io::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The runtime `--threads` asks for: the current-thread runtime for 1, a multi-thread one with
/// that many workers otherwise.
pub fn runtime(threads: usize) -> std::io::Result<weft::Runtime> {
    match threads {
        1 => weft::Runtime::new(),
        n => weft::Builder::new_multi_thread().worker_threads(n).build(),
    }
}
