//! The HTTP/1.1 "Hello, World!" handler shared by `hello_server` and the comparison servers in
//! `benches/`, so a benchmark measures the runtime and nothing else.
//!
//! It is deliberately runtime-agnostic: bytes in, bytes out. A server appends what it read to a
//! buffer, calls [`respond`], writes `out`, and drops the consumed prefix.

/// The response every well-formed request gets.
pub const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// The response to a malformed request; the server closes the connection after writing it.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Requests larger than this (headers only; bodies are not expected) are rejected as malformed.
pub const MAX_REQUEST: usize = 16 * 1024;

/// What [`respond`] found in the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `consumed` bytes held complete requests, each answered in `out`; the rest is a partial
    /// request waiting for more bytes. `close` is set when a request asked for `Connection: close`.
    Answered { consumed: usize, close: bool },
    /// The input is not HTTP/1.x (or too large): `BAD_REQUEST` was appended to `out`.
    Malformed,
}

/// Parses every complete (possibly pipelined) request at the front of `input` and appends one
/// response per request to `out`.
pub fn respond(input: &[u8], out: &mut Vec<u8>) -> Outcome {
    let mut consumed = 0;
    loop {
        let rest = &input[consumed..];
        if rest.is_empty() {
            return Outcome::Answered {
                consumed,
                close: false,
            };
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(rest) {
            Ok(httparse::Status::Complete(len)) => {
                if has_body(request.headers) {
                    out.extend_from_slice(BAD_REQUEST);
                    return Outcome::Malformed;
                }
                consumed += len;
                out.extend_from_slice(HELLO);
                if wants_close(&request) {
                    return Outcome::Answered {
                        consumed,
                        close: true,
                    };
                }
            }
            Ok(httparse::Status::Partial) if rest.len() <= MAX_REQUEST => {
                return Outcome::Answered {
                    consumed,
                    close: false,
                };
            }
            Ok(httparse::Status::Partial) | Err(_) => {
                out.extend_from_slice(BAD_REQUEST);
                return Outcome::Malformed;
            }
        }
    }
}

/// This server answers requests without bodies; a body would desynchronise the pipeline.
fn has_body(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
            || h.name.eq_ignore_ascii_case("transfer-encoding")
    })
}

fn wants_close(request: &httparse::Request<'_, '_>) -> bool {
    let close_header = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
    });
    close_header || request.version == Some(0)
}
