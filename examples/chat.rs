//! A line-based chat server that mixes weft's two programming models on one event loop:
//!
//! - each connection is a **coroutine** that reads lines in plain `std::io` style
//!   (`BufRead::read_until` on a `BufReader`, lines capped at 4 KiB), parking instead of
//!   blocking;
//! - one **async task**, the hub, owns the client list and fans every message out through a
//!   small mpsc channel per client, never waiting on a slow one (a client whose channel is full
//!   is dropped);
//! - an async task per connection writes what the hub sends it.
//!
//! ```text
//! cargo run --release --example chat -- --addr 127.0.0.1:7100
//! ```
//! Then `nc 127.0.0.1 7100` from a few terminals: answer the name prompt (or press enter for a
//! numbered name), type lines to everyone, `/quit` to leave.

#[path = "support/cli.rs"]
mod cli;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

use weft::coroutines::net::{TcpListener, TcpStream};
use weft::net::{OwnedReadHalf, OwnedWriteHalf};
use weft::sync::mpsc;

/// Lines a client may have queued before the hub drops it as too slow.
const OUTBOX: usize = 64;

/// The longest line (or name) a client may send, in bytes; a longer one ends its session.
const MAX_LINE: usize = 4096;

/// What connections tell the hub.
enum Event {
    Join {
        id: u64,
        name: String,
        outbox: mpsc::Sender<Arc<str>>,
    },
    Say {
        id: u64,
        text: String,
    },
    Leave {
        id: u64,
    },
}

fn main() -> std::process::ExitCode {
    let args = cli::parse("127.0.0.1:7100");
    cli::exit_status("chat", serve(args))
}

/// Runs the hub and the accept loop on a current-thread runtime (`--threads 1`) or a
/// multi-thread one, where the client coroutines are spread over the workers.
fn serve(args: cli::Args) -> io::Result<()> {
    cli::runtime(args.threads)?.block_on(async {
        let (hub_tx, events) = mpsc::channel(1024);
        weft::spawn(hub(events));
        // The accept loop is a coroutine, like the connections it starts.
        weft::go(move || -> io::Result<()> {
            let listener = TcpListener::bind(args.addr)?;
            println!("chat listening on {}", listener.local_addr()?);
            for (id, stream) in (1..).zip(listener.incoming()) {
                let hub = hub_tx.clone();
                weft::go(move || {
                    if let Err(e) = stream.and_then(|stream| client(id, stream, hub)) {
                        if !cli::is_peer_gone(&e) {
                            eprintln!("chat: client {id}: {e}");
                        }
                    }
                });
            }
            Ok(())
        })
        .await?
    })
}

/// The hub (async): owns the clients, turns events into lines, and fans them out.
async fn hub(mut events: mpsc::Receiver<Event>) {
    let mut clients: HashMap<u64, (String, mpsc::Sender<Arc<str>>)> = HashMap::new();
    while let Some(event) = events.recv().await {
        let (from, line) = match event {
            Event::Join { id, name, outbox } => {
                let here: Vec<&str> = clients.values().map(|(n, _)| n.as_str()).collect();
                let welcome = format!("* you are {name}; here: [{}]\n", here.join(", "));
                let _ = outbox.try_send(welcome.into());
                let line = format!("* {name} joined\n");
                clients.insert(id, (name, outbox));
                (id, line)
            }
            Event::Say { id, text } => match clients.get(&id) {
                Some((name, _)) => (id, format!("{name}: {text}\n")),
                None => continue,
            },
            Event::Leave { id } => match clients.remove(&id) {
                Some((name, outbox)) => {
                    let _ = outbox.try_send("* bye\n".into());
                    (id, format!("* {name} left\n"))
                }
                None => continue,
            },
        };
        // One allocation per message, shared by every outbox. A full outbox is a slow client:
        // dropped rather than waited for (its writer ends and sends FIN).
        let line: Arc<str> = line.into();
        clients.retain(|&id, (name, outbox)| {
            let kept = id == from || outbox.try_send(line.clone()).is_ok();
            if !kept {
                eprintln!("chat: dropping {name}: too slow, or gone");
            }
            kept
        });
    }
}

/// One connection (a coroutine): asks for a name, then forwards each line to the hub.
fn client(id: u64, stream: TcpStream, hub: mpsc::Sender<Event>) -> io::Result<()> {
    let (read, write) = stream.into_weft().into_split();
    let (outbox, queued) = mpsc::channel(OUTBOX);
    weft::spawn(writer(write, queued));
    let say = |line: &str| outbox.blocking_send(Arc::from(line));
    say("weft chat: your name? (empty for a number)\n").map_err(gone)?;

    let mut lines = BufReader::new(Blocking(read));
    let name = match next_line(&mut lines)? {
        Line::Text(name) if name.trim().is_empty() => format!("guest{id}"),
        Line::Text(name) => name.trim().to_string(),
        Line::End => return Ok(()),
        Line::TooLong => return say(TOO_LONG).map_err(gone),
    };
    hub.blocking_send(Event::Join { id, name, outbox })
        .map_err(gone)?;
    loop {
        let line = next_line(&mut lines);
        let text = match &line {
            Ok(Line::Text(text)) if text.trim_end() != "/quit" => text.trim_end(),
            // the end, `/quit`, a line too long (the hub says bye), or an error
            _ => {
                let _ = hub.blocking_send(Event::Leave { id });
                return line.map(drop);
            }
        };
        hub.blocking_send(Event::Say {
            id,
            text: text.into(),
        })
        .map_err(gone)?;
    }
}

const TOO_LONG: &str = "* name too long; bye\n";

/// One line from a client.
enum Line {
    /// The line, newline included; bytes that are not UTF-8 are replaced, not fatal.
    Text(String),
    /// The client closed.
    End,
    /// No newline within [`MAX_LINE`] bytes: memory stays bounded whatever a client sends. A
    /// client that sends one is said goodbye to and disconnected.
    TooLong,
}

fn next_line(lines: &mut impl BufRead) -> io::Result<Line> {
    let mut bytes = Vec::new();
    let n = lines
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut bytes)?;
    Ok(match n {
        0 => Line::End,
        _ if n > MAX_LINE => Line::TooLong,
        _ => Line::Text(String::from_utf8_lossy(&bytes).into_owned()),
    })
}

/// Writes what the hub queued for one client (async); ends when the hub drops the client.
async fn writer(mut write: OwnedWriteHalf, mut queued: mpsc::Receiver<Arc<str>>) {
    while let Some(line) = queued.recv().await {
        if write.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// `std::io::Read` over the async read half: `block_on` parks the coroutine until bytes come.
struct Blocking(OwnedReadHalf);

impl Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        weft::coroutines::block_on(self.0.read(buf))
    }
}

/// The hub or the writer has gone: the server is shutting down.
fn gone<E>(_: E) -> io::Error {
    io::Error::other("chat hub has shut down")
}
