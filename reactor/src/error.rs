//! Errors with context that keep the OS error underneath.
//!
//! weft names what failed ("bind 127.0.0.1:80: Permission denied (os error 13)"). An
//! `io::Error` cannot carry both a message and an OS code, so the original error is kept inside
//! the new one: [`os_error_code`] finds its code, and the kind is the original's.

use std::error::Error;
use std::fmt;
use std::io;

/// `err` with `context` in front of its message. The kind stays `err`'s, and `err` stays
/// inside, so [`os_error_code`] still finds its OS code.
pub fn with_context(err: io::Error, context: impl fmt::Display) -> io::Error {
    io::Error::new(
        err.kind(),
        Contextual {
            context: context.to_string(),
            cause: err,
        },
    )
}

/// The OS error code (`errno`) behind `err`, looking through the context weft adds to errors
/// (a failed `bind` or `connect` names the address, for instance). `err.raw_os_error()` sees
/// only the outermost error.
///
/// ```
/// use std::io;
/// use weft_reactor::{os_error_code, with_context};
///
/// let err = with_context(io::Error::from_raw_os_error(libc::EADDRINUSE), "bind 127.0.0.1:80");
/// assert!(err.to_string().starts_with("bind 127.0.0.1:80: "));
/// assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
/// assert_eq!(err.raw_os_error(), None);
/// assert_eq!(os_error_code(&err), Some(libc::EADDRINUSE));
/// ```
pub fn os_error_code(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        let contextual = err.get_ref()?.downcast_ref::<Contextual>()?;
        os_error_code(&contextual.cause)
    })
}

/// What [`with_context`] puts inside the `io::Error`. Its message includes the cause's, so it
/// reports no separate `source` (a report walking the chain would print the cause twice).
#[derive(Debug)]
struct Contextual {
    context: String,
    cause: io::Error,
}

impl fmt::Display for Contextual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.cause)
    }
}

impl Error for Contextual {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_message_and_code_survive_nested_context() {
        let inner = with_context(io::Error::from_raw_os_error(libc::ECONNREFUSED), "connect");
        let outer = with_context(inner, "retrying");
        assert_eq!(outer.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(os_error_code(&outer), Some(libc::ECONNREFUSED));
        let shown = outer.to_string();
        assert!(shown.starts_with("retrying: connect: "), "{shown}");
        assert!(shown.contains("os error"), "{shown}");
        assert_eq!(os_error_code(&io::Error::other("no code")), None);
    }
}
