//! Stack overflow: a fault in the running coroutine's guard page prints one line naming the
//! coroutine, then aborts the process.
//!
//! An overflowed stack cannot be unwound (there is no room to run destructors), and returning
//! from the fault would fault again, so aborting is the only sound ending. The report is built
//! in a fixed buffer and written with `write(2)`: nothing here allocates or locks, so it is
//! async-signal-safe. Faults anywhere else go on to the handler that was installed before
//! (Rust's own main-thread overflow report, or the default action).

use std::cell::Cell;
use std::io;
use std::sync::atomic::Ordering;

use crate::coroutine::CURRENT;
use crate::sys::signal;

/// Installs the process-wide handler (once) and this thread's alternate signal stack (once per
/// thread). Runs before a thread resumes its first coroutine.
pub(crate) fn prepare_thread() -> io::Result<()> {
    signal::install(on_fault)?;
    signal::ensure_altstack()
}

/// The fault hook: reports and aborts when `addr` is the running coroutine's guard page.
fn on_fault(addr: usize) {
    // A `const` thread-local without a destructor is a plain TLS slot: safe to read here.
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        return;
    }
    // SAFETY: CURRENT is non-null only while a resume runs on this thread, and the fault came
    // from this thread's running code, so the `Current` is alive.
    let current = unsafe { &*current };
    let (start, end) = current.guard;
    if addr < start || addr >= end {
        return;
    }
    let mut line = Line::new();
    line.push(b"weft: coroutine ");
    match &current.name {
        Some(name) => {
            line.push(b"\"");
            line.push(name.as_bytes());
            line.push(b"\"");
        }
        None => line.push(b"(unnamed)"),
    }
    line.push(b" (id ");
    line.number(current.id.load(Ordering::Relaxed));
    line.push(b") overflowed its ");
    let size = current.stack_size as u64;
    if size % 1024 == 0 {
        line.number(size / 1024);
        line.push(b" KiB");
    } else {
        line.number(size);
        line.push(b"-byte");
    }
    line.push(b" stack; aborting\n");
    signal::write_stderr(line.as_bytes());
    signal::abort();
}

/// A fixed-size line buffer: appends what fits, drops the rest.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Line;

    #[test]
    fn the_line_formats_numbers_and_truncates() {
        let mut line = Line::new();
        line.push(b"id ");
        line.number(0);
        line.push(b" ");
        line.number(u64::MAX);
        assert_eq!(line.as_bytes(), b"id 0 18446744073709551615");
        line.push(&[b'x'; 600]);
        assert_eq!(line.as_bytes().len(), 512);
    }
}
