//! A line-based chat server that mixes weft's two programming models on one event loop:
//!
//! - each connection is a **coroutine** that reads lines in plain `std::io` style
//!   (`BufReader::read_line`), parking instead of blocking;
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
    let mut line = String::new();
    if lines.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let name = match line.trim() {
        "" => format!("guest{id}"),
        name => name.to_string(),
    };
    hub.blocking_send(Event::Join { id, name, outbox })
        .map_err(gone)?;
    loop {
        line.clear();
        let n = lines.read_line(&mut line);
        let text = line.trim_end();
        if matches!(n, Ok(0) | Err(_)) || text == "/quit" {
            let _ = hub.blocking_send(Event::Leave { id });
            return n.map(drop);
        }
        hub.blocking_send(Event::Say {
            id,
            text: text.into(),
        })
        .map_err(gone)?;
    }
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
