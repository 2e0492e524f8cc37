//! A panic that unwinds out of `block_on` (a failed assertion in a test, say) drops the runtime,
//! its live tasks and any `JoinHandle`s in scope while the thread is already panicking. That
//! must be an ordinary unwind the caller can catch, not a process abort.
//!
//! The scenarios run in a child process (this test binary re-executed), so that an abort is
//! reported as a test failure instead of killing the test run.

mod util;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "WEFT_UNWIND_SCENARIO";
const TEST_NAME: &str = "unwinding_out_of_block_on_drops_runtime_and_handles_without_aborting";

/// The scenarios, each of which panics out of `block_on` on purpose.
fn scenario(name: &str) {
    let caught = catch_unwind(AssertUnwindSafe(|| match name {
        // The runtime is dropped during the unwind with a task still pending.
        "live-task" => {
            let rt = util::rt();
            rt.block_on(async {
                let _idle = weft::spawn(std::future::pending::<()>());
                weft::yield_now().await;
                panic!("deliberate: a test assertion failed");
            })
        }
        // A JoinHandle of a finished task is the task's last reference when the unwind drops it.
        "finished-handle" => {
            let rt = util::rt();
            rt.block_on(async {
                let done = weft::spawn(async { 1 });
                weft::yield_now().await;
                assert!(done.is_finished());
                panic!("deliberate: a test assertion failed");
            })
        }
        other => panic!("unknown scenario {other}"),
    }));
    let payload = caught.expect_err("the scenario should have panicked");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"deliberate: a test assertion failed")
    );
}

#[test]
fn unwinding_out_of_block_on_drops_runtime_and_handles_without_aborting() {
    if let Ok(name) = std::env::var(CHILD_ENV) {
        scenario(&name);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut failures = Vec::new();
    for name in ["live-task", "finished-handle"] {
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, name)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if !status.success() {
            let mut stderr = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            let tail: Vec<&str> = stderr
                .lines()
                .filter(|l| !l.starts_with("  ") && !l.is_empty())
                .collect();
            failures.push(format!(
                "scenario {name}: {status}; stderr:\n    {}",
                tail.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
