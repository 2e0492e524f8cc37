//! The `chat` example (coroutine per connection, async hub): three clients join, a message
//! from one reaches the other two (and not its sender), and a client that leaves is announced.
//!
//! The server is the example binary `cargo test` builds next to this test
//! (`target/<profile>/examples/chat`). When it is missing (a `--test chat_example` run builds
//! only this file) the test says so and passes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The running example, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A chat client with a bounded wait on every read.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the chat server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        Client {
            writer: stream.try_clone().expect("clone the stream"),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send a line");
    }

    /// The next line (without its newline); `None` at end of stream.
    #[track_caller]
    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(line.trim_end().to_string()),
            Err(e) => panic!("no line within 10 s: {e}"),
        }
    }

    /// Reads lines until one equals `want`; fails on end of stream.
    #[track_caller]
    fn expect(&mut self, want: &str) {
        let mut seen = Vec::new();
        while let Some(line) = self.line() {
            if line == want {
                return;
            }
            seen.push(line);
        }
        panic!("end of stream before {want:?}; got {seen:?}");
    }

    /// Joins as `name` (empty: a numbered name) and returns the name the server gave.
    #[track_caller]
    fn join(&mut self, name: &str) -> String {
        let prompt = self.line().expect("a name prompt");
        assert!(prompt.contains("your name"), "unexpected prompt {prompt:?}");
        self.send(name);
        let welcome = self.line().expect("a welcome line");
        welcome
            .strip_prefix("* you are ")
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("unexpected welcome {welcome:?}"))
            .to_string()
    }
}

fn start(threads: &str) -> Option<(Server, String)> {
    // target/<profile>/deps/chat_example-HASH -> target/<profile>/examples/chat
    let exe = std::env::current_exe().expect("current_exe");
    let path: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join("examples/chat");
    if !path.exists() {
        eprintln!("{} is not built; skipping", path.display());
        return None;
    }
    let mut child = Command::new(&path)
        .args(["--addr", "127.0.0.1:0", "--threads", threads])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the chat example");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut first)
        .expect("read the listening line");
    let addr = first
        .trim()
        .strip_prefix("chat listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    Some((Server(child), addr))
}

#[test]
fn three_clients_chat_and_a_leaver_is_announced() {
    three_clients_chat("1");
}

/// The same on a multi-thread runtime: the client coroutines sit on different workers, the
/// hub on any of them.
#[test]
fn three_clients_chat_on_a_multi_thread_runtime() {
    three_clients_chat("3");
}

fn three_clients_chat(threads: &str) {
    let Some((_server, addr)) = start(threads) else {
        return;
    };
    let mut alice = Client::connect(&addr);
    assert_eq!(alice.join("alice"), "alice");
    let mut bob = Client::connect(&addr);
    assert_eq!(bob.join("bob"), "bob");
    alice.expect("* bob joined");
    let mut third = Client::connect(&addr);
    let guest = third.join("");
    assert!(guest.starts_with("guest"), "numbered name: {guest:?}");
    alice.expect(&format!("* {guest} joined"));
    bob.expect(&format!("* {guest} joined"));

    alice.send("hello, both of you");
    bob.expect("alice: hello, both of you");
    third.expect("alice: hello, both of you");

    // The sender does not get its own line back: the next thing alice sees is bob's reply.
    bob.send("hi alice");
    assert_eq!(alice.line().as_deref(), Some("bob: hi alice"));

    third.send("/quit");
    third.expect("* bye");
    assert_eq!(third.line(), None, "the leaver's connection is closed");
    alice.expect(&format!("* {guest} left"));
    bob.expect(&format!("* {guest} left"));
}
