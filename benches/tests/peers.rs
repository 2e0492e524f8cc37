//! The comparison servers and the load generator, end to end over loopback: every HTTP server
//! answers byte for byte alike, every echo server passes `echo_load`'s byte-for-byte check, and
//! `echo_load` itself catches a corrupted echo and measures idle connections.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const HTTP_SERVERS: [&str; 3] = [
    env!("CARGO_BIN_EXE_raw_hello"),
    env!("CARGO_BIN_EXE_tokio_hello"),
    env!("CARGO_BIN_EXE_may_hello"),
];
const ECHO_SERVERS: [&str; 3] = [
    env!("CARGO_BIN_EXE_raw_echo"),
    env!("CARGO_BIN_EXE_tokio_echo"),
    env!("CARGO_BIN_EXE_may_echo"),
];
const ECHO_LOAD: &str = env!("CARGO_BIN_EXE_echo_load");

/// A server process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `binary` on a free port and waits for its `listening on ADDR` line.
    #[track_caller]
    fn start(binary: &str) -> Server {
        let mut child = Command::new(binary)
            .args(["--addr", "127.0.0.1:0", "--threads", "1"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("{binary} printed {line:?}"));
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request`, half-closes, and returns everything the server sends until it closes.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    answer
}

fn echo_load(args: &[&str]) -> (Output, String) {
    let output = Command::new(ECHO_LOAD).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

/// The value of `key=` in the summary line.
#[track_caller]
fn field(summary: &str, key: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {key} in {summary:?}")) as u64
}

#[test]
fn http_servers_answer_byte_for_byte_alike() {
    let hello = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
    let last = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!";
    let pipelined =
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nhost: y\r\n\r\nGET / HTTP/1.0\r\n\r\n";
    let malformed = b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n";
    for binary in HTTP_SERVERS {
        let server = Server::start(binary);
        assert_eq!(
            exchange(server.addr, pipelined),
            [&hello[..], hello, last].concat(),
            "{binary}: three answers, then close after the HTTP/1.0 request"
        );
        assert_eq!(
            exchange(server.addr, malformed),
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            "{binary}"
        );
    }
}

#[test]
fn echo_servers_pass_the_byte_for_byte_check() {
    for binary in ECHO_SERVERS {
        let server = Server::start(binary);
        let addr = server.addr.to_string();
        let (output, summary) = echo_load(&[
            "--addr",
            &addr,
            "--conns",
            "50",
            "--size",
            "300",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
            "--connect-batch",
            "16",
        ]);
        assert!(output.status.success(), "{binary}: {summary}");
        assert_eq!(field(&summary, "errors"), 0, "{binary}");
        assert_eq!(field(&summary, "conns"), 50);
        assert!(field(&summary, "messages") > 0, "{binary}: {summary}");
        assert!(summary.contains("p999_us="), "{summary}");
    }
}

#[test]
fn a_corrupted_echo_is_an_error() {
    // Echoes everything with the 10th byte of the stream flipped.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut seen = 0usize;
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                return;
            }
            if (seen..seen + n).contains(&9) {
                buf[9 - seen] ^= 0x20;
            }
            seen += n;
            if stream.write_all(&buf[..n]).is_err() {
                return;
            }
        }
    });
    let (output, summary) = echo_load(&[
        "--addr",
        &addr,
        "--conns",
        "1",
        "--duration",
        "0.3",
        "--warmup",
        "0",
    ]);
    assert!(!output.status.success(), "{summary}");
    assert_eq!(field(&summary, "errors"), 1, "{summary}");
}

#[test]
fn refused_connections_are_errors() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string(); // Nothing listens there once the listener is dropped.
    let (output, summary) = echo_load(&["--addr", &addr, "--conns", "5", "--duration", "0.1"]);
    assert!(!output.status.success());
    assert_eq!(field(&summary, "connect_errors"), 5, "{summary}");
    assert_eq!(field(&summary, "errors"), 5, "{summary}");
}

#[test]
fn idle_mode_measures_the_server() {
    let server = Server::start(ECHO_SERVERS[2]); // may: a coroutine stack per connection.
    let addr = server.addr.to_string();
    let pid = server.child.id().to_string();
    let (output, summary) = echo_load(&[
        "--addr",
        &addr,
        "--conns",
        "300",
        "--idle",
        "--server-pid",
        &pid,
    ]);
    assert!(output.status.success(), "{summary}");
    assert_eq!(field(&summary, "connected"), 300, "{summary}");
    assert_eq!(field(&summary, "errors"), 0, "{summary}");
    // may touches at least a page of coroutine stack per connection.
    assert!(field(&summary, "bytes_per_conn") >= 4096, "{summary}");

    let (output, _) = echo_load(&["--addr", &addr, "--idle"]);
    assert_eq!(output.status.code(), Some(2), "--idle without --server-pid");
}
