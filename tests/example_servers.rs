//! The example servers driven as black boxes, for what a careful HTTP or chat server owes its
//! clients: the request size limit whatever the segmentation, a 400 that reaches a client still
//! sending (no reset), bodies skipped or refused (413, 501), `Connection` option lists, a port already in use refused even with
//! `SO_REUSEPORT`, bounded chat lines, non-UTF-8 chat input, and a CLI that never panics. The
//! binaries are those `cargo test` builds in `target/<profile>/examples/` (or a release build);
//! each test skips, with a note, when its binary is missing.

mod util;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running example, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let path = profile.join("examples").join(name);
    // a debug `cargo test` still finds the release build
    let release = profile
        .parent()
        .unwrap()
        .join("release/examples")
        .join(name);
    [path, release]
        .into_iter()
        .find(|p| p.exists())
        .or_else(|| {
            eprintln!("example {name} is not built; skipping");
            None
        })
}

fn start(name: &str, args: &[&str]) -> Option<Server> {
    let path = example(name)?;
    let mut child = Command::new(path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn example");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("listening line");
    let addr = first
        .split_whitespace()
        .find_map(|w| {
            let w = w.trim_start_matches("http://");
            w.parse::<std::net::SocketAddr>().ok()
        })
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    Some(Server { child, addr })
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until EOF, error or timeout; returns the bytes and how it ended.
fn read_to_end(s: &mut TcpStream) -> (Vec<u8>, String) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, "eof".into()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, format!("{:?}", e.kind())),
        }
    }
}

fn status_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.split(|&b| b == b'\r').next().unwrap_or(b"")).into_owned()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// `http::MAX_REQUEST` (16 KiB) is documented as the request size limit. A 20 KB request must
/// be rejected, and the answer must not depend on how the bytes were segmented.
#[test]
fn hello_server_enforces_max_request_whatever_the_segmentation() {
    for bin in ["hello_server", "hello_server_coro"] {
        let Some(server) = start(bin, &["--addr", "127.0.0.1:0"]) else {
            continue;
        };
        let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        req.resize(req.len() + 20_000, b'a');
        req.extend_from_slice(b"\r\n\r\n");

        let mut one = connect(&server.addr);
        one.write_all(&req).unwrap();
        let mut got = vec![0u8; 64];
        let n = one.read(&mut got).unwrap();
        let one_write = status_line(&got[..n]);

        let mut two = connect(&server.addr);
        two.set_nodelay(true).unwrap();
        two.write_all(&req[..17_000]).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let _ = two.write_all(&req[17_000..]);
        let (got, _) = read_to_end(&mut two);
        let two_writes = status_line(&got);

        assert_eq!(
            one_write, two_writes,
            "{bin}: the same 20 KB request got different answers in one write and in two"
        );
        assert!(
            one_write.starts_with("HTTP/1.1 4"),
            "{bin}: a 20 KB request (over MAX_REQUEST) was answered {one_write:?}"
        );
    }
}

/// A client that writes its whole oversized request before reading (curl, most libraries) must
/// be able to finish writing and read the 400: the server must not close with unread input
/// (which sends RST) but shut down its write side and drain (RFC 9112 §9.6).
#[test]
fn hello_server_rejects_a_huge_header_without_resetting_the_client() {
    for bin in ["hello_server", "hello_server_coro"] {
        let Some(server) = start(bin, &["--addr", "127.0.0.1:0"]) else {
            continue;
        };
        let mut s = connect(&server.addr);
        let mut req = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        req.resize(req.len() + (16 << 20), b'a');
        req.extend_from_slice(b"\r\n\r\n");
        let sent = s.write_all(&req);
        let (got, how) = read_to_end(&mut s);
        assert!(
            sent.is_ok() && how == "eof" && got.starts_with(b"HTTP/1.1 4"),
            "{bin}: write: {sent:?}; read {:?} then {how}",
            status_line(&got)
        );
    }
}

/// A `Content-Length` body is read past (even when it arrives after a pause), so the request
/// after it is answered too; a body over the limit gets 413 without a reset, a chunked one 501.
#[test]
fn hello_server_skips_bodies_and_refuses_large_or_chunked_ones() {
    for bin in ["hello_server", "hello_server_coro"] {
        let Some(server) = start(bin, &["--addr", "127.0.0.1:0"]) else {
            continue;
        };
        let mut s = connect(&server.addr);
        s.set_nodelay(true).unwrap();
        s.write_all(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b" world")
            .and_then(|()| s.write_all(b"GET / HTTP/1.0\r\n\r\n"))
            .unwrap();
        let (got, how) = read_to_end(&mut s);
        let hellos = got.windows(13).filter(|w| w == b"Hello, World!").count();
        assert_eq!((hellos, how.as_str()), (2, "eof"), "{bin}: {got:?}");

        let mut s = connect(&server.addr);
        s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            .unwrap();
        let sent = s.write_all(&vec![b'a'; 1_000_000]);
        let (got, how) = read_to_end(&mut s);
        assert!(
            sent.is_ok() && how == "eof",
            "{bin}: write: {sent:?}, then {how}"
        );
        assert_eq!(status_line(&got), "HTTP/1.1 413 Content Too Large", "{bin}");

        let mut s = connect(&server.addr);
        s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        let (got, _) = read_to_end(&mut s);
        assert_eq!(status_line(&got), "HTTP/1.1 501 Not Implemented", "{bin}");
    }
}

/// `Connection` is a list of options (RFC 9110 §7.6.1): `keep-alive, close` asks for close.
#[test]
fn hello_server_honours_close_in_a_connection_option_list() {
    let Some(server) = start("hello_server", &["--addr", "127.0.0.1:0"]) else {
        return;
    };
    let mut s = connect(&server.addr);
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n")
        .unwrap();
    let (got, how) = read_to_end(&mut s);
    assert!(got.starts_with(b"HTTP/1.1 200 OK") && got.ends_with(b"Hello, World!"));
    assert_eq!(how, "eof", "the connection stayed open");
}

/// A second server on a port that a `--threads 2` server already uses must fail with
/// "address in use", not silently share the port through SO_REUSEPORT.
#[test]
fn second_multi_thread_server_on_a_used_port_fails() {
    let Some(path) = example("echo") else { return };
    let Some(first) = start("hello_server", &["--addr", "127.0.0.1:0", "--threads", "2"]) else {
        return;
    };
    let mut second = Command::new(path)
        .args(["--addr", &first.addr, "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = second.kill();
    let _ = second.wait();
    assert!(
        matches!(status, Some(s) if !s.success()),
        "echo --threads 2 started on {} where hello_server already listens",
        first.addr
    );
}

/// chat reads lines with `BufReader::read_line` and no limit: a client sending one endless
/// line grows the server without bound.
#[test]
fn chat_bounds_the_line_length() {
    let Some(server) = start("chat", &["--addr", "127.0.0.1:0"]) else {
        return;
    };
    let pid = server.child.id();
    let mut s = connect(&server.addr);
    let mut prompt = [0u8; 256];
    let _ = s.read(&mut prompt).unwrap();
    s.write_all(b"eve\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kib(pid);
    let chunk = vec![b'x'; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(20);
    for _ in 0..128 {
        if Instant::now() > deadline || s.write_all(&chunk).is_err() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let _ = s.shutdown(Shutdown::Both);
    assert!(
        after.saturating_sub(before) < 32 * 1024,
        "RSS grew from {} MiB to {} MiB on one unterminated line",
        before / 1024,
        after / 1024
    );
}

/// Bad CLI input gives a message and a non-zero exit, never a panic.
#[test]
fn cpu_stall_huge_seconds_is_an_error_not_a_panic() {
    let Some(path) = example("cpu_stall") else {
        return;
    };
    let mut child = Command::new(path)
        .args(["--mode", "pool", "--seconds", "18446744073709551615"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    let text = reader.join().unwrap();
    assert!(
        !text.contains("panicked"),
        "cpu_stall panicked on --seconds u64::MAX:\n{text}"
    );
    assert!(!status.success());
}

/// Servers that close after a malformed request must not log it as an error, and a connection
/// must survive a non-UTF-8 byte in chat (it is relayed lossily or the line is refused, but the
/// client is not disconnected).
#[test]
fn chat_keeps_a_client_that_sends_latin1() {
    let Some(server) = start("chat", &["--addr", "127.0.0.1:0"]) else {
        return;
    };
    let mut a = connect(&server.addr);
    let mut buf = [0u8; 4096];
    let _ = a.read(&mut buf).unwrap();
    a.write_all(b"anna\n").unwrap();
    let _ = a.read(&mut buf).unwrap(); // welcome
    a.write_all(b"caf\xe9\n").unwrap();
    a.write_all(b"still here\n").unwrap();
    a.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    match a.read(&mut buf) {
        Ok(0) => panic!("the server closed the connection over one non-UTF-8 byte"),
        Ok(n) => panic!(
            "the server ended the session over one non-UTF-8 byte; it sent {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Err(e) => panic!("read: {e}"),
    }
}
