//! With `mprotect` guard pages (the fallback for kernels before 6.13, forced here with
//! `WEFT_COROUTINE_GUARD=mprotect`), each stack costs two memory maps, so `vm.max_map_count`
//! caps live coroutines; hitting the cap is an `io::Error` from spawn that says so, not a crash.
//! Runs in a child process: the variable must be set before the process maps its first stack,
//! and running out of maps would disturb other tests.

mod util;

use std::time::Duration;

use weft::coroutines::{self, Builder};

const CHILD: &str = "WEFT_TEST_CORO_MAP_LIMIT";
const MAX: usize = 80_000;

#[test]
fn mprotect_guards_run_out_of_maps_with_a_clear_spawn_error() {
    if std::env::var_os(CHILD).is_some() {
        let (spawned, error) = util::run_coro_for(Duration::from_secs(120), || {
            let mut handles = Vec::with_capacity(MAX);
            let mut error = None;
            while handles.len() < MAX {
                match Builder::new().spawn(|| coroutines::sleep(Duration::from_secs(600))) {
                    Ok(handle) => handles.push(handle),
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            let spawned = handles.len();
            for handle in &handles {
                handle.abort();
            }
            (spawned, error)
        });
        println!("SPAWNED {spawned} ERROR {error:?}");
        return;
    }
    let max_maps: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .expect("vm.max_map_count")
        .trim()
        .parse()
        .unwrap();
    let out = util::rerun_self(
        "mprotect_guards_run_out_of_maps_with_a_clear_spawn_error",
        &[
            (CHILD, "1".into()),
            ("WEFT_COROUTINE_GUARD", "mprotect".into()),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    // The harness prints the test's name on the same line first.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("SPAWNED ").map(|(_, report)| report))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}\n{stderr}"));
    let spawned: usize = line.split_whitespace().next().unwrap().parse().unwrap();
    if max_maps / 2 >= MAX {
        // A machine with a large map limit never hits it here.
        assert_eq!(spawned, MAX, "{line}");
        return;
    }
    assert!(
        spawned > max_maps / 2 - 2_000 && spawned < max_maps / 2,
        "{spawned} stacks with max_map_count {max_maps}: {line}"
    );
    assert!(line.contains("vm.max_map_count"), "{line}");
}
