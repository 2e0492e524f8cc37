//! A coroutine reads its thread's thread-locals correctly across suspends, with two loops on
//! two threads (run in release with LTO: a compiler that cached a thread-local's address across
//! a suspend would read the wrong thread's value if stacks ever moved; they must not).

mod util;

use std::cell::Cell;
use std::time::Duration;

use weft::coroutines;

thread_local! {
    static LOOP_ID: Cell<u64> = const { Cell::new(0) };
}

/// The address of this thread's slot; `inline(never)` so that the read happens here, after the
/// suspend, not hoisted before it.
#[inline(never)]
fn slot_address() -> usize {
    LOOP_ID.with(|c| c as *const Cell<u64> as usize)
}

fn loop_on_thread(id: u64) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        LOOP_ID.with(|c| c.set(id));
        util::run_coro(move || {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    weft::go(move || {
                        let thread = std::thread::current().id();
                        let address = slot_address();
                        let mut checks = 0;
                        for i in 0..40 {
                            if i % 2 == 0 {
                                coroutines::yield_now();
                            } else {
                                coroutines::sleep(Duration::from_micros(100));
                            }
                            assert_eq!(std::thread::current().id(), thread, "the stack moved");
                            assert_eq!(slot_address(), address);
                            assert_eq!(LOOP_ID.with(Cell::get), id, "another thread's value");
                            checks += 1;
                        }
                        checks
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    })
}

#[test]
fn thread_locals_stay_the_threads_own_across_suspends() {
    let a = loop_on_thread(1);
    let b = loop_on_thread(2);
    assert_eq!(a.join().unwrap(), 50 * 40);
    assert_eq!(b.join().unwrap(), 50 * 40);
}
