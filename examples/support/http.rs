//! The HTTP/1.1 "Hello, World!" handler shared by `hello_server` and the comparison servers in
//! `benches/`, so a benchmark measures the runtime and nothing else.
//!
//! It is deliberately runtime-agnostic: bytes in, bytes out. A server appends what it read to a
//! buffer, calls [`respond`], writes `out`, and drops the consumed prefix.
//!
//! The parser is a single pass over each request (RFC 9112 request line and header fields; no
//! bodies): a hello-world server spends most of its user-space time parsing, and a lean shared
//! parser keeps the benchmark about the runtime. So it scans targets and field values eight
//! bytes at a time (in a `u64`, no `unsafe`), and takes `GET` and `Host:` in one compare each;
//! everything else goes through a byte-class table.

/// The response every well-formed request gets.
pub const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// [`HELLO`] for the last request of a connection (HTTP/1.0, or `Connection: close`): it says
/// the server closes (RFC 9112 section 9.6).
pub const HELLO_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!";

/// The response to a malformed request; the server closes the connection after writing it
/// (as after the two below).
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The response to a request whose body would take it over [`MAX_REQUEST`].
pub const CONTENT_TOO_LARGE: &[u8] =
    b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The response to a request with a `Transfer-Encoding` (a chunked body): this server reads
/// only `Content-Length` bodies (RFC 9112 section 6.1 allows 501 here).
pub const NOT_IMPLEMENTED: &[u8] =
    b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Requests larger than this, head and body together, are rejected (400 for a head that
/// large, 413 for a body), however their bytes arrive.
pub const MAX_REQUEST: usize = 16 * 1024;

/// What [`respond`] found in the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `consumed` bytes held complete requests, each answered in `out`; the rest is a partial
    /// request waiting for more bytes. `close` is set when a request asked for `Connection: close`.
    Answered { consumed: usize, close: bool },
    /// A request this server does not take (not HTTP/1.x, too large, or chunked): its error
    /// response (400, 413 or 501) was appended to `out`, after the answers to the requests
    /// before it. The server closes the connection once `out` is written.
    Rejected,
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
            Parsed::Complete { .. } | Parsed::Partial => {
                out.extend_from_slice(BAD_REQUEST);
                return Outcome::Rejected;
            }
            Parsed::Reject(response) => {
                out.extend_from_slice(response);
                return Outcome::Rejected;
            }
        }
    }
}

/// Moves the partial request `input[consumed..filled]` that [`respond`] left to the front of
/// the buffer and returns its length, the new fill. Most reads end on a request boundary, so
/// usually there is nothing to move (and no `memmove` call for nothing).
pub fn keep_tail(input: &mut [u8], consumed: usize, filled: usize) -> usize {
    if 0 < consumed && consumed < filled {
        input.copy_within(consumed..filled, 0);
    }
    filled - consumed
}

enum Parsed {
    /// A whole request (head and body) of `len` bytes.
    Complete {
        len: usize,
        close: bool,
    },
    Partial,
    /// Refused, with this response.
    Reject(&'static [u8]),
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

/// The index of the first byte at or after `i` outside `class`, one table lookup per byte (for
/// methods and field names, which are short).
#[inline]
fn skip(buf: &[u8], mut i: usize, class: u8) -> usize {
    while i < buf.len() && CLASSES[usize::from(buf[i])] & class != 0 {
        i += 1;
    }
    i
}

/// Eight copies of `byte`, one per byte of a word.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The index of the first byte at or after `i` outside `class` (`VISIBLE` or `FIELD_VALUE`,
/// the classes of request targets and field values, which are long). Eight bytes at a time
/// while eight are left: a word whose bytes all belong to the class is skipped whole.
#[inline]
fn skip_long(buf: &[u8], mut i: usize, class: u8) -> usize {
    while let Some(chunk) = buf.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let outside = if class == VISIBLE {
            below(word, 0x21) | at_least(word, 0x7f)
        } else {
            below(word, 0x20) | zero_bytes(word ^ splat(0x7f))
        };
        if outside == 0 {
            i += 8;
            continue;
        }
        // The lowest marked byte is the first byte outside the set (see `below`), except a
        // tab in a field value, which the marks cannot tell from the controls around it.
        i += (outside.trailing_zeros() / 8) as usize;
        if class == VISIBLE || buf[i] != b'\t' {
            return i;
        }
        i += 1;
    }
    skip(buf, i, class)
}

/// Marks (sets the top bit of) the bytes of `word` below `limit` (at most 0x80). Only the lowest
/// marked byte is exact: a borrow out of a marked byte may mark the bytes above it, but no
/// unmarked byte borrows, so nothing below the first true hit is ever marked.
#[inline]
fn below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(splat(limit)) & !word & splat(0x80)
}

/// Marks the bytes of `word` at or above `limit` (at least 0x7f); exact up to the first
/// marked byte, as in [`below`] (a carry comes only out of a byte of 0xff, itself marked).
#[inline]
fn at_least(word: u64, limit: u8) -> u64 {
    (word.wrapping_add(splat(0x80 - limit)) | word) & splat(0x80)
}

/// Marks the zero bytes of `word`; exact up to the first marked byte, as in [`below`].
#[inline]
fn zero_bytes(word: u64) -> u64 {
    below(word, 1)
}

/// One request: `*CRLF METHOD SP TARGET SP HTTP/1.x CRLF *(NAME ":" OWS VALUE CRLF) CRLF`
/// (empty lines before a request are ignored, RFC 9112 section 2.2). An HTTP/1.1 request must
/// carry exactly one `Host` field (section 3.2).
fn parse(buf: &[u8]) -> Parsed {
    let mut start = 0;
    while buf.get(start) == Some(&b'\r') {
        match buf.get(start + 1) {
            Some(b'\n') => start += 2,
            Some(_) => return Parsed::Reject(BAD_REQUEST),
            None => return Parsed::Partial,
        }
    }
    // Method (`GET` at once, any other a byte at a time).
    let mut i = if buf.get(start..start + 4) == Some(b"GET ") {
        start + 3
    } else {
        skip(buf, start, TOKEN)
    };
    if i == buf.len() {
        return Parsed::Partial;
    }
    if i == start || buf[i] != b' ' {
        return Parsed::Reject(BAD_REQUEST);
    }
    i += 1;
    // Target: visible ASCII.
    let target = i;
    i = skip_long(buf, i, VISIBLE);
    if i == buf.len() {
        return Parsed::Partial;
    }
    if i == target || buf[i] != b' ' {
        return Parsed::Reject(BAD_REQUEST);
    }
    i += 1;
    // Version and CRLF.
    let Some(http10) = version(buf.get(i..i + 10)) else {
        return if is_version_prefix(&buf[i..]) {
            Parsed::Partial
        } else {
            Parsed::Reject(BAD_REQUEST)
        };
    };
    let mut close = http10;
    let mut hosts = 0;
    let mut body = None;
    i += 10;
    // Header fields until the empty line.
    loop {
        match buf.get(i..i + 2) {
            None => return Parsed::Partial,
            Some(b"\r\n") if http10 || hosts == 1 => return with_body(buf, i + 2, body, close),
            Some(b"\r\n") => return Parsed::Reject(BAD_REQUEST),
            Some(_) => {}
        }
        // The name. `Host` (the one field every request has) in one compare.
        let name = i;
        let host = matches!(buf.get(i..i + 5), Some(&[a, b, c, d, b':']) if is_host([a, b, c, d]));
        if host {
            i += 5;
        } else {
            i = skip(buf, i, TOKEN);
            if i == buf.len() {
                return Parsed::Partial;
            }
            if i == name || buf[i] != b':' {
                return Parsed::Reject(BAD_REQUEST);
            }
            i += 1;
        }
        let name = &buf[name..i - 1];
        while let Some(b' ' | b'\t') = buf.get(i) {
            i += 1;
        }
        let value = i;
        i = skip_long(buf, i, FIELD_VALUE);
        match buf.get(i..i + 2) {
            // Only a lone CR (or nothing) is left: the line is not finished yet.
            None => return Parsed::Partial,
            Some(b"\r\n") => {}
            _ => return Parsed::Reject(BAD_REQUEST),
        }
        let value = &buf[value..i];
        i += 2;
        if host {
            hosts += 1;
            continue;
        }
        // The other fields that matter here, told apart by length first: one compare for the
        // rest.
        match name.len() {
            10 if name.eq_ignore_ascii_case(b"connection") => close |= has_close_option(value),
            // A body's length, or a reason to refuse the request: a second length could
            // disagree with the first, and the pipeline would lose its place (section 6.3).
            14 if name.eq_ignore_ascii_case(b"content-length") => match content_length(value) {
                Some(len) if body.is_none() => body = Some(len),
                _ => return Parsed::Reject(BAD_REQUEST),
            },
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                return Parsed::Reject(NOT_IMPLEMENTED)
            }
            _ => {}
        }
    }
}

/// The request whose head ends at `head` and whose body is `body` bytes long (none without a
/// `Content-Length`), once all of it has arrived. The body is skipped: this server answers
/// every request alike.
#[inline]
fn with_body(buf: &[u8], head: usize, body: Option<usize>, close: bool) -> Parsed {
    let Some(body) = body else {
        return Parsed::Complete { len: head, close };
    };
    let len = head.saturating_add(body);
    if len > MAX_REQUEST && body > 0 {
        Parsed::Reject(CONTENT_TOO_LARGE)
    } else if buf.len() < len {
        Parsed::Partial
    } else {
        Parsed::Complete { len, close }
    }
}

/// A `Content-Length` value: decimal digits (trailing whitespace aside), saturating at
/// `usize::MAX` (which is too large anyway); `None` when it is not a number.
fn content_length(value: &[u8]) -> Option<usize> {
    let digits = value.trim_ascii_end();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0usize, |len, &digit| {
        len.saturating_mul(10)
            .saturating_add(usize::from(digit - b'0'))
    }))
}

/// `Some(true)` for `HTTP/1.0\r\n`, `Some(false)` for `HTTP/1.1\r\n`, `None` for anything
/// else (or no ten bytes): two word compares. The two versions differ only in the lowest bit
/// of their last digit, which the first compare sets on both sides.
#[inline]
fn version(line: Option<&[u8]>) -> Option<bool> {
    let (word, crlf) = line?.split_first_chunk::<8>()?;
    let word = u64::from_le_bytes(*word);
    let digit_bit = 1 << 56;
    (word | digit_bit == u64::from_le_bytes(*b"HTTP/1.1") && crlf == b"\r\n")
        .then_some(word & digit_bit == 0)
}

/// `name` is `Host`, in any case: one compare (setting bit 5 lowercases the four letters, and
/// no other byte maps onto them).
#[inline]
fn is_host(name: [u8; 4]) -> bool {
    u32::from_le_bytes(name) | 0x2020_2020 == u32::from_le_bytes(*b"host")
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
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        ] {
            let mut out = Vec::new();
            assert_eq!(respond(bad, &mut out), Outcome::Rejected, "{bad:?}");
            assert!(out.ends_with(BAD_REQUEST));
        }
        let huge = [b'a'; MAX_REQUEST + 1];
        assert_eq!(answer(&huge).0, Outcome::Rejected);
    }

    #[test]
    fn content_length_bodies_are_skipped_and_chunked_ones_refused() {
        let post = b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \r\n\r\nhello";
        let mut input = post.to_vec();
        input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET");
        assert_eq!(
            answer(&input),
            (
                Outcome::Answered {
                    consumed: post.len() + 27,
                    close: false
                },
                2
            )
        );
        // A body still on its way leaves the whole request waiting.
        for cut in post.len() - 5..post.len() {
            assert_eq!(
                answer(&post[..cut]),
                (
                    Outcome::Answered {
                        consumed: 0,
                        close: false
                    },
                    0
                )
            );
        }
        let mut out = Vec::new();
        let large = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST}\r\n\r\n");
        assert_eq!(respond(large.as_bytes(), &mut out), Outcome::Rejected);
        assert_eq!(out, CONTENT_TOO_LARGE);
        out.clear();
        let huge = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(respond(huge, &mut out), Outcome::Rejected);
        assert_eq!(out, CONTENT_TOO_LARGE);
        out.clear();
        let chunked = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(respond(chunked, &mut out), Outcome::Rejected);
        assert_eq!(out, [HELLO, NOT_IMPLEMENTED].concat());
    }

    #[test]
    fn a_complete_request_over_the_limit_is_malformed_too() {
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
        big.resize(20_000, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(answer(&big).0, Outcome::Rejected);
    }

    #[test]
    fn http_1_1_needs_exactly_one_host() {
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        ] {
            assert_eq!(answer(bad).0, Outcome::Rejected, "{bad:?}");
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
        assert_eq!(answer(b"\rX").0, Outcome::Rejected);
    }

    #[test]
    fn keep_tail_moves_only_a_partial_request() {
        let mut buf = *b"GET / HTTP/1.0\r\n\r\nGET /x";
        let filled = buf.len();
        assert_eq!(keep_tail(&mut buf, 18, filled), 6);
        assert_eq!(&buf[..6], b"GET /x");
        assert_eq!(keep_tail(&mut buf, 6, 6), 0);
        assert_eq!(keep_tail(&mut buf, 0, 4), 4);
        assert_eq!(&buf[..4], b"GET ");
    }

    #[test]
    fn word_scans_agree_with_the_byte_table() {
        let alphabet = [
            0x00, b'\t', b'\r', 0x1f, b' ', b'!', b'a', b':', 0x7e, 0x7f, 0x80, 0xff,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            // Mostly class members, so runs get long enough for whole words.
            let buf: Vec<u8> = (0..len)
                .map(|k| {
                    let pick = (seed >> (k * 2 % 60)) as usize;
                    if pick.is_multiple_of(4) {
                        alphabet[(pick >> 2) % alphabet.len()]
                    } else {
                        b'a'
                    }
                })
                .collect();
            for start in 0..=len {
                for class in [VISIBLE, FIELD_VALUE] {
                    assert_eq!(
                        skip_long(&buf, start, class),
                        skip(&buf, start, class),
                        "{buf:?} from {start}, class {class}"
                    );
                }
            }
        }
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
