//! A panicking coroutine: its panic reaches the `JoinHandle`, its stack is unwound, and every
//! other coroutine carries on. Aborted and shut-down coroutines unwind their stacks too.

mod util;

use std::io::{Read, Write};
use std::time::Duration;

use weft::coroutines;
use weft::coroutines::net::TcpStream;

#[test]
fn a_panic_reaches_the_join_handle_and_others_are_unaffected() {
    let (guard, flag) = util::drop_guard();
    let (message, sibling) = util::run_coro(move || {
        let sibling = weft::go(|| {
            coroutines::sleep(Duration::from_millis(20));
            "sibling done"
        });
        let failing = weft::go(move || {
            let _guard = guard; // dropped by the unwinding stack
            coroutines::sleep(Duration::from_millis(1));
            panic!("boom at depth");
        });
        let err = failing.join().unwrap_err();
        assert!(err.is_panic());
        let payload = err.try_into_panic().unwrap();
        let message = *payload.downcast::<&str>().unwrap();
        (message, sibling.join().unwrap())
    });
    assert_eq!(message, "boom at depth");
    assert_eq!(sibling, "sibling done");
    assert!(
        flag.is_dropped(),
        "the panicking coroutine's locals were not dropped"
    );
}

#[test]
fn aborting_a_parked_coroutine_unwinds_its_stack() {
    let (guard, flag) = util::drop_guard();
    let err = util::run_coro(move || {
        let parked = weft::go(move || {
            let _guard = guard;
            coroutines::sleep(Duration::from_secs(60));
        });
        coroutines::sleep(Duration::from_millis(5)); // let it park
        parked.abort();
        parked.join().unwrap_err()
    });
    assert!(err.is_cancelled());
    assert!(flag.is_dropped());
}

#[test]
fn runtime_shutdown_unwinds_parked_coroutines_on_the_loop_thread() {
    let (guard, flag) = util::drop_guard();
    let rt = util::rt();
    rt.block_on(async move {
        drop(weft::go(move || {
            let _guard = guard;
            coroutines::sleep(Duration::from_secs(60));
        }));
        weft::time::sleep(Duration::from_millis(5)).await;
    });
    assert!(!flag.is_dropped());
    drop(rt);
    assert!(flag.is_dropped());
    assert_eq!(flag.dropped_on(), Some(std::thread::current().id()));
}

/// Writes in its destructor, like a `BufWriter` flushing, then waits for the peer's reply.
struct FlushOnDrop(
    TcpStream,
    std::sync::mpsc::Sender<(std::io::Result<()>, std::io::Result<usize>)>,
);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        let write = self.0.write_all(b"late");
        let read = self.0.read(&mut [0; 16]);
        let _ = self.1.send((write, read));
    }
}

#[test]
fn io_in_a_destructor_during_unwinding_errors_instead_of_parking() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (err, flushed) = util::run_coro(move || {
        let listener = coroutines::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = weft::go(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut rest = Vec::new();
            let _ = conn.read_to_end(&mut rest);
            rest
        });
        let failing = weft::go(move || {
            let _flush = FlushOnDrop(TcpStream::connect(addr).unwrap(), tx);
            panic!("unwinding with a socket to flush");
        });
        let err = failing.join().unwrap_err();
        (err, peer.join().unwrap())
    });
    assert!(err.is_panic());
    let (write, read) = rx.recv().unwrap();
    // The write needs no wait (the socket has room), so it completes even while unwinding.
    write.unwrap();
    assert_eq!(flushed, b"late");
    // The reply is not there: the read would have to park, and refuses instead.
    let message = read.unwrap_err().to_string();
    assert!(message.contains("panicking"), "{message}");
}
