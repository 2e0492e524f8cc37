//! `WEFT_BACKEND` chooses the default demultiplexer; a bad value is a clear error.
//!
//! A single test in its own file: it changes a process-wide environment variable.

mod util;

use weft::{Backend, Runtime};

/// Puts the variable back however the test ends.
struct RestoreVar(Option<std::ffi::OsString>);

impl Drop for RestoreVar {
    fn drop(&mut self) {
        match self.0.take() {
            Some(v) => std::env::set_var("WEFT_BACKEND", v),
            None => std::env::remove_var("WEFT_BACKEND"),
        }
    }
}

#[test]
fn weft_backend_picks_the_default_and_rejects_nonsense() {
    let _restore = RestoreVar(std::env::var_os("WEFT_BACKEND"));

    std::env::set_var("WEFT_BACKEND", "kqueue");
    let err = Runtime::new().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("WEFT_BACKEND") && msg.contains("kqueue"),
        "{msg}"
    );
    // An explicit choice does not consult the variable.
    let rt = Runtime::builder().backend(Backend::Epoll).build().unwrap();
    assert_eq!(rt.backend(), Backend::Epoll);

    std::env::set_var("WEFT_BACKEND", "");
    assert!(
        Runtime::new().is_err(),
        "an empty WEFT_BACKEND was accepted"
    );

    for (value, backend) in [
        ("poll", Backend::Poll),
        ("POLL", Backend::Poll),
        ("epoll", Backend::Epoll),
        ("EPoll", Backend::Epoll),
    ] {
        std::env::set_var("WEFT_BACKEND", value);
        let rt = Runtime::new().unwrap_or_else(|e| panic!("WEFT_BACKEND={value}: {e}"));
        assert_eq!(rt.backend(), backend, "WEFT_BACKEND={value}");
        assert_eq!(
            util::run_on(&rt, util::LIMIT, async {
                weft::spawn(async { 1 }).await.unwrap()
            }),
            1
        );
    }

    std::env::remove_var("WEFT_BACKEND");
    assert_eq!(
        Runtime::new().unwrap().backend(),
        Backend::Epoll,
        "the default"
    );
}
