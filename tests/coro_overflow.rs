//! A stack overflow in a coroutine prints which coroutine overflowed and aborts. The overflow
//! runs in a child process (this test binary, re-run with an environment switch).

mod util;

use std::os::unix::process::ExitStatusExt;

const CHILD: &str = "WEFT_TEST_CORO_OVERFLOW";

/// Recurses with a 1 KiB frame until the stack runs out.
#[inline(never)]
fn deep(n: u64) -> u64 {
    let frame = std::hint::black_box([n as u8; 1024]);
    if n == u64::MAX {
        return 0;
    }
    deep(n + 1) + u64::from(frame[0])
}

#[test]
fn a_stack_overflow_names_the_coroutine_and_aborts() {
    if std::env::var_os(CHILD).is_some() {
        util::run_coro(|| {
            let overflow = weft::coroutines::Builder::new()
                .name("deep")
                .stack_size(64 * 1024)
                .spawn(|| deep(0))
                .unwrap();
            overflow.join().unwrap();
        });
        unreachable!("the overflow must abort the process");
    }
    let out = util::rerun_self(
        "a_stack_overflow_names_the_coroutine_and_aborts",
        &[(CHILD, "1".into())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("weft: coroutine \"deep\" (id ")
            && stderr.contains(") overflowed its 64 KiB stack; aborting"),
        "stderr: {stderr}"
    );
}

#[test]
fn a_fault_outside_any_coroutine_keeps_its_default_behaviour() {
    if std::env::var_os(CHILD).is_some() {
        // Make sure the handler is installed, then fault outside a coroutine.
        util::run_coro(|| ());
        // SAFETY: none: this deliberately writes to address 8 to die of SIGSEGV.
        unsafe { std::ptr::write_volatile(8 as *mut u8, 1) };
        unreachable!();
    }
    let out = util::rerun_self(
        "a_fault_outside_any_coroutine_keeps_its_default_behaviour",
        &[(CHILD, "1".into())],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("overflowed"), "{stderr}");
}
