//! The stall detector: a poll that keeps the loop thread past the threshold is reported once,
//! naming the task; short polls never are; the detector can be switched off.
//!
//! The warning text is checked in a child process (this test binary re-executed) whose stderr
//! the parent reads.

mod util;

use std::process::{Command, Stdio};
use std::time::Duration;

use weft::Runtime;

const CHILD_ENV: &str = "WEFT_STALL_SCENARIO";

fn stalling_runtime(threshold_ms: u64) -> Runtime {
    Runtime::builder()
        .stall_threshold(Duration::from_millis(threshold_ms))
        .build()
        .expect("runtime")
}

/// Runs test `name` again in a child process (with `CHILD_ENV` set, so it plays its scenario)
/// and returns the child's stderr; the child must succeed.
fn child_stderr(name: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(output.status.success(), "the child run of {name} failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn one_long_poll_is_counted_and_short_polls_are_not() {
    // Short polls take microseconds: 100 ms is far beyond any scheduling hiccup.
    let rt = stalling_runtime(100);
    util::run_on(&rt, util::LIMIT, async {
        for _ in 0..200 {
            weft::yield_now().await;
        }
    });
    assert_eq!(rt.metrics().stalls, 0, "{:?}", rt.metrics());
    util::run_on(&rt, util::LIMIT, async {
        let hog = weft::task::Builder::new().name("hog").spawn(async {
            std::thread::sleep(Duration::from_millis(500));
        });
        hog.await.unwrap();
    });
    let metrics = rt.metrics();
    assert_eq!(metrics.stalls, 1, "{metrics:?}");
    assert!(
        metrics.longest_poll >= Duration::from_millis(250),
        "a 500 ms poll measured as {:?}",
        metrics.longest_poll
    );
    assert!(metrics.polls >= 200, "{metrics:?}");
}

#[test]
fn the_detector_can_be_switched_off() {
    let rt = Runtime::builder()
        .stall_threshold(Duration::from_millis(20))
        .stall_detector(false)
        .build()
        .unwrap();
    rt.block_on(async {
        weft::spawn(async { std::thread::sleep(Duration::from_millis(150)) })
            .await
            .unwrap();
    });
    assert_eq!(rt.metrics().stalls, 0);
}

#[test]
fn the_warning_names_the_task_its_spawn_site_and_how_long_it_ran() {
    if std::env::var(CHILD_ENV).is_ok() {
        let rt = stalling_runtime(100);
        rt.block_on(async {
            weft::task::Builder::new()
                .name("hasher")
                .spawn(async { std::thread::sleep(Duration::from_millis(500)) })
                .await
                .unwrap();
        });
        return;
    }
    let stderr = child_stderr("the_warning_names_the_task_its_spawn_site_and_how_long_it_ran");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("weft: stall"))
        .collect();
    assert_eq!(warnings.len(), 1, "exactly one warning expected:\n{stderr}");
    let warning = warnings[0];
    assert!(warning.contains("\"hasher\""), "{warning}");
    assert!(warning.contains("tests/stall_detector.rs:"), "{warning}");
    let ms: u64 = warning
        .split(" ran one poll for ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {warning}"));
    assert!(
        (120..5_000).contains(&ms),
        "a 250 ms poll reported as {ms} ms"
    );
}

#[test]
fn a_poll_that_does_not_return_is_announced_while_it_runs() {
    if std::env::var(CHILD_ENV).is_ok() {
        // threshold 20 ms: a poll still running after 200 ms is announced, on either flavour
        let stuck = || {
            weft::task::Builder::new()
                .name("stuck")
                .spawn(async { std::thread::sleep(Duration::from_millis(600)) })
        };
        stalling_runtime(20).block_on(async { stuck().await.unwrap() });
        let rt = weft::Builder::new_multi_thread()
            .worker_threads(2)
            .stall_threshold(Duration::from_millis(20))
            .build()
            .unwrap();
        rt.block_on(async { stuck().await.unwrap() });
        return;
    }
    let stderr = child_stderr("a_poll_that_does_not_return_is_announced_while_it_runs");
    let running: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("weft: stall") && l.contains("has not returned"))
        .collect();
    assert_eq!(running.len(), 2, "one per runtime expected:\n{stderr}");
    assert!(
        running[0].contains("the current-thread runtime's thread"),
        "{stderr}"
    );
    assert!(running[1].contains("(thread weft-worker-"), "{stderr}");
    for line in &running {
        assert!(
            line.contains("spawned at tests/stall_detector.rs:"),
            "{line}"
        );
        let ms: u64 = line
            .split(" for ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {line}"));
        assert!(
            (200..5_000).contains(&ms),
            "announced after {ms} ms: {line}"
        );
    }
    let returned = stderr
        .lines()
        .filter(|l| {
            l.contains("weft: stall") && l.contains("\"stuck\"") && l.contains(" ran one poll for ")
        })
        .count();
    assert_eq!(
        returned, 2,
        "each poll is reported again when it returns:\n{stderr}"
    );
}
