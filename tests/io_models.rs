//! The I/O-model example servers (`examples/io_models/`) echo correctly: each is started on a
//! free port and gets a few concurrent clients whose messages (1 B to 256 KiB) must come back
//! byte for byte; the proactor also serves a file through Linux AIO.
//!
//! The servers are the example binaries `cargo test` builds next to this test
//! (`target/<profile>/examples/`). When they are missing (a `--test io_models` run builds only
//! this file) the test says so and passes; `benches/io_models.sh` runs the heavier checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

const EXAMPLES: [&str; 8] = [
    "io_blocking",
    "io_select",
    "io_poll",
    "io_epoll_lt",
    "io_epoll_et",
    "io_sigio",
    "io_rtsig",
    "io_proactor",
];

/// A running example server, killed on drop.
struct Server {
    child: Child,
    addr: String,
    /// Kept open: a server printing to a closed pipe would die of `EPIPE`.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn examples_dir() -> PathBuf {
    // target/<profile>/deps/io_models-HASH -> target/<profile>/examples
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples")
}

/// Starts `name` on port 0 and reads the address from its `... listening on ADDR` line.
fn start(name: &str) -> Option<Server> {
    let path = examples_dir().join(name);
    if !path.exists() {
        return None;
    }
    let mut child = Command::new(&path)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    stdout
        .read_line(&mut line)
        .expect("read the listening line");
    let addr = line
        .trim()
        .rsplit_once(" listening on ")
        .unwrap_or_else(|| panic!("{name}: unexpected first line {line:?}"))
        .1
        .to_string();
    Some(Server {
        child,
        addr,
        _stdout: stdout,
    })
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Message `i` of client `id`: `len` bytes that differ between clients and messages.
fn message(id: usize, i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k * 31 + id * 7 + i * 13) as u8).collect()
}

/// Writes `msg` from one thread while reading the echo on this one (a large message would
/// otherwise fill both directions' buffers and deadlock), then compares.
fn round_trip(name: &str, stream: &TcpStream, msg: &[u8]) -> Vec<u8> {
    std::thread::scope(|scope| {
        let mut writer = stream;
        scope.spawn(move || writer.write_all(msg).expect("write"));
        let mut echo = vec![0; msg.len()];
        let mut reader = stream;
        reader
            .read_exact(&mut echo)
            .unwrap_or_else(|e| panic!("{name}: reading the echo of {} B: {e}", msg.len()));
        echo
    })
}

#[test]
fn every_model_echoes() {
    let mut ran = 0;
    for name in EXAMPLES {
        let Some(server) = start(name) else {
            eprintln!("{name}: not built in {:?}; skipped", examples_dir());
            continue;
        };
        ran += 1;
        std::thread::scope(|scope| {
            for id in 0..8 {
                let addr = &server.addr;
                scope.spawn(move || {
                    let stream = connect(addr);
                    for (i, len) in [1, 100, 4096, 256 * 1024, 7].into_iter().enumerate() {
                        let msg = message(id, i, len);
                        let echo = round_trip(name, &stream, &msg);
                        assert!(
                            echo == msg,
                            "{name}: client {id}, message {i} ({len} B) differs"
                        );
                    }
                });
            }
        });
    }
    eprintln!("{ran} of {} example servers checked", EXAMPLES.len());
}

#[test]
fn proactor_serves_a_file_and_refuses_escapes() {
    let Some(server) = start("io_proactor") else {
        eprintln!("io_proactor: not built; skipped");
        return;
    };
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    // The server resolves paths against its working directory: the test's (the package root).
    let relative = "Cargo.toml";
    assert!(
        std::path::Path::new(relative).exists(),
        "tests run in the package root"
    );
    let mut stream = connect(&server.addr);
    stream
        .write_all(format!("GET {relative}\n").as_bytes())
        .unwrap();
    let mut body = Vec::new();
    stream
        .read_to_end(&mut body)
        .expect("the file, then end of stream");
    assert_eq!(body, std::fs::read(file).unwrap());

    let mut stream = connect(&server.addr);
    stream.write_all(b"GET ../etc/passwd\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("ERR "), "{reply:?}");
}
