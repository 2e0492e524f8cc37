//! 1,000 multi-thread runtimes created and dropped in a loop leak no thread and no descriptor.
//! (Alone in its test binary, so no other test's threads or sockets blur the counts.)

mod util;

use std::time::{Duration, Instant};

use util::Watchdog;

#[test]
fn a_thousand_runtimes_leak_no_threads_or_descriptors() {
    let _watchdog = Watchdog::arm(Duration::from_secs(120));
    let threads_before = thread_count();
    let fds_before = util::open_fds();
    for i in 0..1_000 {
        let rt = util::multi_thread_rt(2);
        let got = rt.block_on(async move { weft::spawn(async move { i * 2 }).await.unwrap() });
        assert_eq!(got, i * 2);
    }
    assert_eq!(util::open_fds(), fds_before, "descriptors leaked");
    let threads_after = settled_thread_count(threads_before);
    assert_eq!(
        threads_after,
        threads_before,
        "threads leaked; alive now: {:?}",
        util::thread_names()
    );
}

/// The thread count once it is back at `expected`, or after 5 s. A joined thread can still be
/// listed for a moment: `join` returns when the kernel clears the thread's id, a little before
/// the thread leaves its group (CI saw one such straggler). A leak of 1,000 runtimes would leave
/// 2,000 workers, which no wait hides.
fn settled_thread_count(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let count = thread_count();
        if count == expected || Instant::now() >= deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}
