//! 100,000 coroutines alive at once, all parked in `sleep`: all finish, memory stays modest,
//! and the count goes past the ~32,000 stacks that `mprotect` guard pages would allow under
//! the default `vm.max_map_count` (the guard pages are `MADV_GUARD_INSTALL` markers).

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weft::coroutines;

const COROUTINES: usize = 100_000;

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

#[test]
fn a_hundred_thousand_sleeping_coroutines_all_finish() {
    let rss_before = util::rss_bytes();
    let parked = Arc::new(AtomicUsize::new(0));
    let (finished, rss_peak, maps_peak) = util::run_for(Duration::from_secs(120), {
        let parked = parked.clone();
        async move {
            let handles: Vec<_> = (0..COROUTINES)
                .map(|i| {
                    let parked = parked.clone();
                    weft::go(move || {
                        parked.fetch_add(1, Ordering::Relaxed);
                        // All are parked together: the first wakes well after the last parks.
                        coroutines::sleep(Duration::from_millis(1500 + (i % 100) as u64));
                        i
                    })
                })
                .collect();
            while parked.load(Ordering::Relaxed) < COROUTINES {
                weft::time::sleep(Duration::from_millis(5)).await;
            }
            let rss_peak = util::rss_bytes();
            let maps_peak = map_count();
            let mut finished = 0;
            for (i, handle) in handles.into_iter().enumerate() {
                assert_eq!(handle.await.unwrap(), i);
                finished += 1;
            }
            (finished, rss_peak, maps_peak)
        }
    });
    assert_eq!(finished, COROUTINES);
    let per_coroutine = rss_peak.saturating_sub(rss_before) / COROUTINES as u64;
    eprintln!(
        "{COROUTINES} parked coroutines: RSS {} MiB ({per_coroutine} B each), {maps_peak} maps",
        rss_peak >> 20
    );
    assert!(
        rss_peak < 2 << 30,
        "RSS {rss_peak} B with {COROUTINES} sleepers"
    );
    assert!(maps_peak < 65_530, "{maps_peak} maps");
}
