//! Spawning: names and stack sizes, and the errors spawn gives instead of crashing.

mod util;

use std::io;

use weft::coroutines::{self, Builder};

#[test]
fn an_absurd_stack_size_is_an_io_error_from_spawn() {
    util::run_coro(|| {
        let err = Builder::new().stack_size(1 << 40).spawn(|| ()).unwrap_err();
        assert!(err.to_string().contains("stack"), "{err}");
        let err = Builder::new()
            .stack_size(usize::MAX)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        // The runtime is fine afterwards.
        assert_eq!(weft::go(|| 1).join().unwrap(), 1);
    });
}

#[test]
fn spawning_outside_a_runtime_is_an_io_error() {
    let err = Builder::new().spawn(|| ()).unwrap_err();
    assert!(err.to_string().contains("no weft runtime"), "{err}");
}

#[test]
fn small_and_large_stacks_run_named_coroutines() {
    let sums = util::run_coro(|| {
        let small = Builder::new().name("small").stack_size(16 * 1024);
        let large = Builder::new().name("large").stack_size(8 << 20);
        let a = small.spawn(|| (0..100u64).sum::<u64>()).unwrap();
        // 4 MiB on the stack needs the large one.
        let b = large
            .spawn(|| {
                let big = [1u8; 4 << 20];
                std::hint::black_box(&big)
                    .iter()
                    .map(|&x| u64::from(x))
                    .sum::<u64>()
            })
            .unwrap();
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(sums, (4950, 4 << 20));
}

#[test]
fn in_coroutine_tells_where_code_runs() {
    assert!(!coroutines::in_coroutine());
    assert!(util::run_coro(coroutines::in_coroutine));
}
