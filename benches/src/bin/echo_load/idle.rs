//! Idle mode: what one idle connection costs the server in resident memory.
//!
//! 1. Read the server's `VmRSS` (`/proc/PID/status`) and count its open descriptors
//!    (`/proc/PID/fd`).
//! 2. Open the connections (in batches, see [`crate::connect`]) and send nothing on them.
//! 3. Wait until the server holds one more descriptor per connection, i.e. it has accepted them
//!    all (at most 10 s), then until its RSS stops moving (two reads 100 ms apart agree; at most
//!    3 s), so every connection's task or coroutine has been created and has run up to its
//!    first read.
//! 4. Read `VmRSS` again. `(after - before) / connected` is the memory one idle connection
//!    costs: its socket buffers are kernel memory and not in it, its task, stack and buffers are.
//!
//! The connections stay open until the line below is printed:
//!
//! `idle_conns=<n> connected=<m> errors=<e> rss_before_kb=<b> rss_after_kb=<a> bytes_per_conn=<x>`

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::connect::{connect_all, Epoll};

/// How long the server may take to accept every connection.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long its RSS may keep moving after that.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(100);

/// Runs idle mode against the server at `addr` whose process is `pid`.
pub fn run(
    epoll: &Epoll,
    addr: SocketAddr,
    conns: usize,
    batch: usize,
    pid: u32,
) -> io::Result<ExitCode> {
    let before_kb = rss_kb(pid)?;
    let fds_before = open_fds(pid)?;
    let connected = connect_all(epoll, addr, conns, batch)?;
    let open = connected.streams.iter().flatten().count();

    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    let mut accepted = open_fds(pid)?.saturating_sub(fds_before);
    while accepted < open && Instant::now() < deadline {
        std::thread::sleep(POLL);
        accepted = open_fds(pid)?.saturating_sub(fds_before);
    }
    let mut errors = connected.errors;
    if accepted < open {
        eprintln!(
            "the server accepted {accepted} of {open} connections in {} s",
            ACCEPT_TIMEOUT.as_secs()
        );
        errors += (open - accepted) as u64;
    }

    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut after_kb = rss_kb(pid)?;
    while Instant::now() < deadline {
        std::thread::sleep(POLL);
        let now_kb = rss_kb(pid)?;
        if now_kb == after_kb {
            break;
        }
        after_kb = now_kb;
    }

    let per_conn = if open > 0 {
        (after_kb as f64 - before_kb as f64) * 1024.0 / open as f64
    } else {
        0.0
    };
    println!(
        "idle_conns={conns} connected={open} errors={errors} rss_before_kb={before_kb} \
         rss_after_kb={after_kb} bytes_per_conn={per_conn:.0}"
    );
    drop(connected);
    Ok(if errors > 0 || open == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The resident set size of process `pid`, in KiB.
fn rss_kb(pid: u32) -> io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    parse_rss_kb(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path}: no `VmRSS: N kB` line"),
        )
    })
}

fn parse_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let kb = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kb)
}

/// How many descriptors process `pid` has open.
fn open_fds(pid: u32) -> io::Result<usize> {
    let path = format!("/proc/{pid}/fd");
    let dir =
        std::fs::read_dir(&path).map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
    Ok(dir.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vmrss() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    4321 kB\nThreads:\t1\n";
        assert_eq!(parse_rss_kb(status), Some(4321));
        assert_eq!(parse_rss_kb("VmRSS:\t12 MB\n"), None);
        assert_eq!(parse_rss_kb("Name:\tx\n"), None);
    }

    #[test]
    fn measures_this_process() {
        let pid = std::process::id();
        assert!(rss_kb(pid).unwrap() > 0);
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert!(open_fds(pid).unwrap() >= 1, "`file` at least is open");
        drop(file);
        assert!(rss_kb(u32::MAX).is_err(), "no such process");
        assert!(open_fds(u32::MAX).is_err(), "no such process");
    }
}
