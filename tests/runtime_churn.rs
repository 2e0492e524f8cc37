//! 1,000 multi-thread runtimes created and dropped in a loop leak no thread and no descriptor.
//! (Alone in its test binary, so no other test's threads or sockets blur the counts.)

mod util;

use std::time::Duration;

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
    assert_eq!(thread_count(), threads_before, "threads leaked");
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}
