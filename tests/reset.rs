//! Resets and refused connections surface as I/O errors: never a hang, never a panic.

mod util;

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use util::{run, set_linger_zero, within};
use weft::net::{TcpSocket, TcpStream};

const SHORT: Duration = Duration::from_secs(5);

/// A weft server stream and a std client stream that will reset when dropped.
async fn pair_with_resetting_client() -> (std::net::TcpStream, TcpStream) {
    let (listener, addr) = util::listener();
    let client = std::net::TcpStream::connect(addr).unwrap();
    set_linger_zero(client.as_fd()).unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

fn is_reset_or_pipe(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    )
}

#[test]
fn a_waiting_read_is_woken_by_a_reset_with_connection_reset() {
    run(async {
        let (client, mut server) = pair_with_resetting_client().await;
        let reader = weft::spawn(async move {
            let mut buf = [0; 64];
            let first = server.read(&mut buf).await;
            (first, server)
        });
        weft::yield_now().await; // parked on an empty socket
        drop(client); // RST
        let (first, mut server) = within(SHORT, reader).await.unwrap();
        let err = first.expect_err("a reset connection read Ok");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
        // Afterwards: no hang, and writes fail.
        let mut buf = [0; 8];
        let again = within(SHORT, server.read(&mut buf)).await;
        assert!(matches!(again, Ok(0) | Err(_)), "{again:?}");
        let write = within(SHORT, server.write_all(b"anyone?")).await;
        let err = write.expect_err("a write to a reset connection succeeded");
        assert!(is_reset_or_pipe(&err), "{err}");
    });
}

#[test]
fn a_reset_that_arrived_before_the_read_gives_connection_reset() {
    run(async {
        let (client, mut server) = pair_with_resetting_client().await;
        drop(client);
        weft::time::sleep(Duration::from_millis(5)).await;
        let mut buf = [0; 64];
        let err = within(SHORT, server.read(&mut buf)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn a_reset_after_some_data_ends_in_an_error_not_a_hang() {
    run(async {
        for round in 0..20 {
            let (mut client, mut server) = pair_with_resetting_client().await;
            client.write_all(&[round as u8; 1000]).unwrap();
            if round % 2 == 0 {
                weft::time::sleep(Duration::from_millis(1)).await;
            }
            drop(client);
            // Data may or may not be delivered before the reset; the end is an error.
            let mut buf = [0; 256];
            let mut seen = 0;
            let end = within(SHORT, async {
                loop {
                    match server.read(&mut buf).await {
                        Ok(0) => return None,
                        Ok(n) => {
                            assert!(buf[..n].iter().all(|&b| b == round as u8));
                            seen += n;
                        }
                        Err(e) => return Some(e),
                    }
                }
            })
            .await;
            let err = end.unwrap_or_else(|| panic!("round {round}: clean EOF after a reset"));
            assert_eq!(
                err.kind(),
                io::ErrorKind::ConnectionReset,
                "round {round}: {err}"
            );
            assert!(seen <= 1000);
        }
    });
}

#[test]
fn a_writer_blocked_on_a_full_buffer_is_woken_by_the_peers_reset() {
    run(async {
        // The peer is a std socket that never reads.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(std_listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = std_listener.accept().unwrap();
        // The client fills both buffers and parks in write.
        let writer = weft::spawn(async move {
            let chunk = vec![0xAB; 64 * 1024];
            let mut written = 0u64;
            loop {
                match client.write(&chunk).await {
                    Ok(n) => written += n as u64,
                    Err(e) => return (written, e),
                }
            }
        });
        weft::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !writer.is_finished(),
            "the writer should be parked on a full buffer"
        );
        // Reset from the other side: close with unread data and SO_LINGER 0.
        set_linger_zero(server.as_fd()).unwrap();
        drop(server);
        let (written, err) = within(SHORT, writer).await.unwrap();
        assert!(written > 0);
        assert!(is_reset_or_pipe(&err), "{err}");
    });
}

#[test]
fn writing_to_a_peer_that_closed_eventually_fails_with_an_error() {
    run(async {
        let (listener, addr) = util::listener();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        drop(server); // plain close: FIN, then RST for whatever we send next
        let chunk = [7u8; 4096];
        let err = within(SHORT, async {
            for _ in 0..10_000 {
                if let Err(e) = client.write_all(&chunk).await {
                    return e;
                }
                weft::time::sleep(Duration::from_millis(1)).await;
            }
            panic!("10,000 writes to a closed peer all succeeded");
        })
        .await;
        assert!(is_reset_or_pipe(&err), "{err}");
    });
}

#[test]
fn an_owned_read_half_sees_the_reset_too() {
    run(async {
        let (client, server) = pair_with_resetting_client().await;
        let (mut rd, mut wr) = server.into_split();
        let reader = weft::spawn(async move {
            let mut buf = [0; 16];
            rd.read(&mut buf).await
        });
        weft::yield_now().await;
        drop(client);
        let err = within(SHORT, reader).await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        let err = within(SHORT, wr.write_all(b"x")).await.unwrap_err();
        assert!(is_reset_or_pipe(&err), "{err}");
    });
}

#[test]
fn connecting_to_a_closed_port_is_refused_names_the_address_and_keeps_the_os_code() {
    run(async {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = within(SHORT, TcpStream::connect(closed)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        assert!(err.to_string().contains(&closed.to_string()), "{err}");

        // The OS code is still there under the context.
        assert_eq!(weft::io::os_error_code(&err), Some(libc::ECONNREFUSED));

        let socket = TcpSocket::new_v4().unwrap();
        let err = within(SHORT, socket.connect(closed)).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
        assert!(err.to_string().contains(&closed.to_string()), "{err}");
        assert_eq!(weft::io::os_error_code(&err), Some(libc::ECONNREFUSED));
    });
}
