//! The HTTP/1.1 "Hello, World!" handler shared by `hello_server` and the comparison servers in
//! `benches/`, so a benchmark measures the runtime and nothing else.
//!
//! It is deliberately runtime-agnostic: bytes in, bytes out. A server appends what it read to a
//! buffer, calls [`respond`], writes `out`, and drops the consumed prefix.
//!
//! The parser is a single pass over each request (RFC 9112 request line and header fields; no
//! bodies): a hello-world server spends most of its user-space time parsing, and a lean shared
//! parser keeps the benchmark about the runtime.

/// The response every well-formed request gets.
pub const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// [`HELLO`] for the last request of a connection (HTTP/1.0, or `Connection: close`): it says
/// the server closes (RFC 9112 section 9.6).
pub const HELLO_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!";

/// The response to a malformed request; the server closes the connection after writing it.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Requests larger than this (headers only; bodies are not expected) are rejected as malformed,
/// however their bytes arrive.
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
        match parse(rest) {
            Parsed::Complete { len, close } if len <= MAX_REQUEST => {
                consumed += len;
                if close {
                    out.extend_from_slice(HELLO_CLOSE);
                    return Outcome::Answered {
                        consumed,
                        close: true,
                    };
                }
                out.extend_from_slice(HELLO);
            }
            Parsed::Partial if rest.len() <= MAX_REQUEST => {
                return Outcome::Answered {
                    consumed,
                    close: false,
                };
            }
            Parsed::Complete { .. } | Parsed::Partial | Parsed::Invalid => {
                out.extend_from_slice(BAD_REQUEST);
                return Outcome::Malformed;
            }
        }
    }
}

enum Parsed {
    Complete { len: usize, close: bool },
    Partial,
    Invalid,
}

/// Byte classes for the parser's scanning loops, one table lookup per byte.
const TOKEN: u8 = 1;
const VISIBLE: u8 = 2;
const FIELD_VALUE: u8 = 4;

const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        // `tchar` of RFC 9110: the characters of a method or a header name.
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            class |= TOKEN;
        }
        if c >= 0x21 && c < 0x7f {
            class |= VISIBLE;
        }
        // Field values: visible ASCII, space, tab and obs-text; no other controls.
        if (c >= 0x20 && c != 0x7f) || c == b'\t' {
            class |= FIELD_VALUE;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// The index of the first byte at or after `i` outside `class`.
#[inline]
fn skip(buf: &[u8], i: usize, class: u8) -> usize {
    let rest = &buf[i..];
    i + rest
        .iter()
        .take_while(|&&b| CLASSES[b as usize] & class != 0)
        .count()
}

/// One request: `*CRLF METHOD SP TARGET SP HTTP/1.x CRLF *(NAME ":" OWS VALUE CRLF) CRLF`
/// (empty lines before a request are ignored, RFC 9112 section 2.2). An HTTP/1.1 request must
/// carry exactly one `Host` field (section 3.2).
fn parse(buf: &[u8]) -> Parsed {
    let mut start = 0;
    while buf.get(start) == Some(&b'\r') {
        match buf.get(start + 1) {
            Some(b'\n') => start += 2,
            Some(_) => return Parsed::Invalid,
            None => return Parsed::Partial,
        }
    }
    // Method.
    let mut i = skip(buf, start, TOKEN);
    if i == buf.len() {
        return Parsed::Partial;
    }
    if i == start || buf[i] != b' ' {
        return Parsed::Invalid;
    }
    i += 1;
    // Target: visible ASCII.
    let target = i;
    i = skip(buf, i, VISIBLE);
    if i == buf.len() {
        return Parsed::Partial;
    }
    if i == target || buf[i] != b' ' {
        return Parsed::Invalid;
    }
    i += 1;
    // Version and CRLF.
    let Some(line) = buf.get(i..i + 10) else {
        return if is_version_prefix(&buf[i..]) {
            Parsed::Partial
        } else {
            Parsed::Invalid
        };
    };
    if !is_version_prefix(line) {
        return Parsed::Invalid;
    }
    let http10 = line[7] == b'0';
    let mut close = http10;
    let mut hosts = 0;
    i += 10;
    // Header fields until the empty line.
    loop {
        match buf.get(i..i + 2) {
            None => return Parsed::Partial,
            Some(b"\r\n") if http10 || hosts == 1 => return Parsed::Complete { len: i + 2, close },
            Some(b"\r\n") => return Parsed::Invalid,
            Some(_) => {}
        }
        let name = i;
        i = skip(buf, i, TOKEN);
        if i == buf.len() {
            return Parsed::Partial;
        }
        if i == name || buf[i] != b':' {
            return Parsed::Invalid;
        }
        let name = &buf[name..i];
        i += 1;
        while i < buf.len() && (buf[i] == b' ' || buf[i] == b'\t') {
            i += 1;
        }
        let value = i;
        i = skip(buf, i, FIELD_VALUE);
        match buf.get(i..i + 2) {
            // Only a lone CR (or nothing) is left: the line is not finished yet.
            None => return Parsed::Partial,
            Some(b"\r\n") => {}
            _ => return Parsed::Invalid,
        }
        let value = &buf[value..i];
        i += 2;
        // The fields that matter here, told apart by length first: one compare for the rest.
        match name.len() {
            4 if is_host(name) => hosts += 1,
            10 if name.eq_ignore_ascii_case(b"connection") => close |= has_close_option(value),
            // This server takes no bodies; one would desynchronise the pipeline.
            14 if name.eq_ignore_ascii_case(b"content-length")
                && value.trim_ascii_end() != b"0" =>
            {
                return Parsed::Invalid
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => return Parsed::Invalid,
            _ => {}
        }
    }
}

/// `name` is `Host`, in any case: one load and one compare (setting bit 5 lowercases the four
/// letters, and no other name character maps onto them).
#[inline]
fn is_host(name: &[u8]) -> bool {
    match name {
        &[a, b, c, d] => {
            u32::from_le_bytes([a, b, c, d]) | 0x2020_2020 == u32::from_le_bytes(*b"host")
        }
        _ => false,
    }
}

/// A `Connection` value is a comma-separated list of options (RFC 9110 section 7.6.1).
fn has_close_option(value: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|option| option.trim_ascii().eq_ignore_ascii_case(b"close"))
}

/// `got` is `HTTP/1.0\r\n` or `HTTP/1.1\r\n`, or a prefix of one of them.
fn is_version_prefix(got: &[u8]) -> bool {
    got.iter()
        .zip(b"HTTP/1.x\r\n")
        .all(|(&g, &want)| match want {
            b'x' => g == b'0' || g == b'1',
            _ => g == want,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(input: &[u8]) -> (Outcome, usize) {
        let mut out = Vec::new();
        let outcome = respond(input, &mut out);
        let hellos = out.windows(HELLO.len()).filter(|w| *w == HELLO).count()
            + out
                .windows(HELLO_CLOSE.len())
                .filter(|w| *w == HELLO_CLOSE)
                .count();
        (outcome, hellos)
    }

    #[test]
    fn pipelined_requests_each_get_an_answer_and_a_tail_waits() {
        let one = b"GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
        let mut input = one.repeat(3);
        input.extend_from_slice(b"GET /par");
        assert_eq!(
            answer(&input),
            (
                Outcome::Answered {
                    consumed: one.len() * 3,
                    close: false
                },
                3
            )
        );
    }

    #[test]
    fn every_prefix_of_a_valid_request_is_partial() {
        let req = b"POST /a?b=c HTTP/1.0\r\nHost: h\r\nConnection: close\r\n\r\n";
        for cut in 0..req.len() {
            assert_eq!(
                answer(&req[..cut]),
                (
                    Outcome::Answered {
                        consumed: 0,
                        close: false
                    },
                    0
                ),
                "prefix of {cut} bytes"
            );
        }
        assert_eq!(
            answer(req),
            (
                Outcome::Answered {
                    consumed: req.len(),
                    close: true
                },
                1
            )
        );
    }

    #[test]
    fn malformed_requests_get_400() {
        for bad in [
            &b"garbage\r\n\r\n"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\nHost: x\n\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let mut out = Vec::new();
            assert_eq!(respond(bad, &mut out), Outcome::Malformed, "{bad:?}");
            assert!(out.ends_with(BAD_REQUEST));
        }
        let huge = [b'a'; MAX_REQUEST + 1];
        assert_eq!(answer(&huge).0, Outcome::Malformed);
    }

    #[test]
    fn a_complete_request_over_the_limit_is_malformed_too() {
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
        big.resize(20_000, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(answer(&big).0, Outcome::Malformed);
    }

    #[test]
    fn http_1_1_needs_exactly_one_host() {
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        ] {
            assert_eq!(answer(bad).0, Outcome::Malformed, "{bad:?}");
        }
        let old = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(answer(old).1, 1);
    }

    #[test]
    fn close_options_and_leading_empty_lines() {
        let req = b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n";
        let mut out = Vec::new();
        assert_eq!(
            respond(req, &mut out),
            Outcome::Answered {
                consumed: req.len(),
                close: true
            }
        );
        assert_eq!(out, HELLO_CLOSE);
        assert_eq!(
            answer(b"\r").0,
            Outcome::Answered {
                consumed: 0,
                close: false
            }
        );
        assert_eq!(answer(b"\rX").0, Outcome::Malformed);
    }

    #[test]
    fn agrees_with_httparse_on_what_is_complete() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let pieces: [&[u8]; 12] = [
            b"GET",
            b" ",
            b"/",
            b"x",
            b" HTTP/1.1",
            b"\r\n",
            b"Host: a",
            b":",
            b"\r",
            b"\n",
            b"\t",
            b"Z",
        ];
        for _ in 0..20_000 {
            let mut input = Vec::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                input.extend_from_slice(pieces[(seed % 12) as usize]);
            }
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let theirs = httparse::Request::new(&mut headers).parse(&input);
            if let Ok(httparse::Status::Complete(len)) = theirs {
                if let Parsed::Complete { len: ours, .. } = parse(&input) {
                    assert_eq!(ours, len, "{:?}", String::from_utf8_lossy(&input));
                }
            }
            if let Parsed::Complete { len, .. } = parse(&input) {
                assert!(
                    matches!(theirs, Ok(httparse::Status::Complete(l)) if l == len),
                    "we accepted what httparse does not: {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }
}
