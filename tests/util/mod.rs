//! Shared helpers for the integration tests: bounded runtimes, payload generation, checksums,
//! drop guards, a tiny oneshot channel, and process-level knobs (descriptor limit, CPU time).
//!
//! Every test body runs under two bounds: a weft `timeout` (a clean test failure) and a
//! watchdog thread that aborts the process if even the timeout cannot fire (a loop starved by a
//! runtime bug), so no test can hang.

#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use weft::net::{TcpListener, TcpStream};
use weft::Runtime;

/// The default bound of a test body.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A runtime with default settings (the backend follows `WEFT_BACKEND`).
#[track_caller]
pub fn rt() -> Runtime {
    match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("building a runtime: {e}"),
    }
}

/// A multi-thread runtime with `workers` workers (the backend follows `WEFT_BACKEND`).
#[track_caller]
pub fn multi_thread_rt(workers: usize) -> Runtime {
    match weft::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("building a multi-thread runtime: {e}"),
    }
}

/// Runs `fut` on a fresh runtime, bounded by [`LIMIT`].
#[track_caller]
pub fn run<F: Future>(fut: F) -> F::Output {
    run_for(LIMIT, fut)
}

/// Runs `fut` on a fresh runtime, bounded by `limit`.
#[track_caller]
pub fn run_for<F: Future>(limit: Duration, fut: F) -> F::Output {
    let rt = rt();
    run_on(&rt, limit, fut)
}

/// Runs `fut` on `rt`, bounded by `limit` (and by a process-aborting watchdog at twice that).
#[track_caller]
pub fn run_on<F: Future>(rt: &Runtime, limit: Duration, fut: F) -> F::Output {
    let _dog = Watchdog::arm(limit * 2 + Duration::from_secs(5));
    // The timer must be made inside the runtime.
    match rt.block_on(async { weft::time::timeout(limit, fut).await }) {
        Ok(out) => out,
        Err(_) => panic!("the test body did not finish within {limit:?} (a hang?)"),
    }
}

/// Aborts the whole process if not disarmed (dropped) in time: the last line of defence
/// against a loop that never yields, where even a weft timeout cannot fire.
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn arm(limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        let name = std::thread::current()
            .name()
            .unwrap_or("<unnamed>")
            .to_string();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: test `{name}` still running after {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog { disarm: Some(tx) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.disarm.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts `min <= elapsed < max`.
#[track_caller]
pub fn assert_between(what: &str, elapsed: Duration, min: Duration, max: Duration) {
    assert!(
        elapsed >= min && elapsed < max,
        "{what}: took {elapsed:?}, expected at least {min:?} and under {max:?}"
    );
}

/// A firehose for the fairness tests: a std thread that writes into `stream` as fast as it can
/// until `stop`, an error, or `limit`.
pub fn flood(
    mut stream: std::net::TcpStream,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Write;
        let chunk = vec![0x5A; 64 * 1024];
        let start = std::time::Instant::now();
        while !stop.load(Ordering::SeqCst) && start.elapsed() < limit {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    })
}

/// The verdict of a firehose fairness test (`budget_fairness.rs`, `coro_budget.rs`): the victim
/// finished while the firehose still ran, in reasonable time, and the firehose progressed too.
#[track_caller]
pub fn assert_victim_ran_beside_firehose(
    still_running: bool,
    took: Duration,
    drunk: u64,
    total: u64,
) {
    assert!(
        still_running,
        "the victim only finished after the firehose ended ({took:?})"
    );
    assert_between(
        "the victim next to a firehose",
        took,
        Duration::from_millis(10),
        Duration::from_secs(2),
    );
    assert!(drunk > 0 && total >= drunk, "the firehose made no progress");
}

/// Awaits `fut` for at most `limit`, failing the test (not hanging) when it runs out.
#[track_caller]
pub fn within<F: Future>(limit: Duration, fut: F) -> impl Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    async move {
        match weft::time::timeout(limit, fut).await {
            Ok(out) => out,
            Err(_) => panic!("{caller}: did not complete within {limit:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deterministic payloads and checksums

/// xorshift64*: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // Mix the seed so that nearby seeds give unrelated streams; never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        XorShift(if z == 0 { 1 } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo + 1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform in `lo..=hi`: every order of magnitude equally likely.
    pub fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        let (l, h) = ((lo as f64).ln(), ((hi + 1) as f64).ln());
        ((l + (h - l) * self.unit()).exp() as usize).clamp(lo, hi)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let bytes = self.next_u64().to_le_bytes();
            rest.copy_from_slice(&bytes[..rest.len()]);
        }
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// `len` deterministic bytes for `seed`.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    XorShift::new(seed).fill(&mut buf);
    buf
}

/// Incremental FNV-1a (64-bit) plus a byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    pub hash: u64,
    pub len: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            hash: 0xcbf2_9ce4_8422_2325,
            len: 0,
        }
    }
}

impl Checksum {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.hash;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.hash = h;
        self.len += bytes.len() as u64;
    }

    pub fn of(bytes: &[u8]) -> Checksum {
        let mut c = Checksum::default();
        c.update(bytes);
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Sockets

/// A listener on 127.0.0.1, port 0.
#[track_caller]
pub fn listener() -> (TcpListener, SocketAddr) {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("binding 127.0.0.1:0: {e}"),
    };
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// A connected pair `(client, server)` of weft streams over loopback.
pub async fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    // A loopback connect completes in the backlog, before `accept`.
    let client = std::net::TcpStream::connect(addr)?;
    let (server, _) = listener.accept().await?;
    Ok((TcpStream::from_std(client)?, server))
}

/// Sets `SO_LINGER` to zero so that closing `fd` sends RST instead of FIN.
pub fn set_linger_zero(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

// ---------------------------------------------------------------------------------------------
// Process knobs

/// `(soft, hard)` of `RLIMIT_NOFILE`.
pub fn nofile_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    (lim.rlim_cur, lim.rlim_max)
}

/// Sets the soft `RLIMIT_NOFILE`.
pub fn set_nofile_soft(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit();
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit value.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes sure at least `want` descriptors may be open (up to the hard limit); returns the
/// soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let (soft, hard) = nofile_limit();
    if soft >= want {
        return soft;
    }
    let target = want.min(hard);
    set_nofile_soft(target).expect("raising RLIMIT_NOFILE");
    target
}

/// Descriptors open in this process now.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
        .saturating_sub(1) // the directory's own descriptor
}

/// The names of this process's threads now (`/proc/self/task/*/comm`).
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// CPU time (user + system) used by the whole process so far.
pub fn cpu_time() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid out-pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

// ---------------------------------------------------------------------------------------------
// Drop guards and a oneshot channel

#[derive(Default)]
struct FlagState {
    dropped: AtomicBool,
    thread: Mutex<Option<ThreadId>>,
    waker: Mutex<Option<Waker>>,
}

/// Put inside a future: records that (and on which thread) the future was dropped.
pub struct DropGuard(Arc<FlagState>);

/// Observes a [`DropGuard`].
#[derive(Clone)]
pub struct DropFlag(Arc<FlagState>);

pub fn drop_guard() -> (DropGuard, DropFlag) {
    let state = Arc::new(FlagState::default());
    (DropGuard(state.clone()), DropFlag(state))
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        *self.0.thread.lock().unwrap() = Some(std::thread::current().id());
        self.0.dropped.store(true, Ordering::SeqCst);
        if let Some(w) = self.0.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

impl DropFlag {
    pub fn is_dropped(&self) -> bool {
        self.0.dropped.load(Ordering::SeqCst)
    }

    /// The thread that dropped the guard.
    pub fn dropped_on(&self) -> Option<ThreadId> {
        *self.0.thread.lock().unwrap()
    }

    /// Completes once the guard is dropped (woken by the drop itself, from any thread).
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.is_dropped() {
                return Poll::Ready(());
            }
            *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.is_dropped() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

struct Slot<T> {
    value: Option<T>,
    closed: bool,
    waker: Option<Waker>,
}

/// Sends one value, from any thread.
pub struct OneshotTx<T>(Arc<Mutex<Slot<T>>>);

/// Receives it: `Some(value)`, or `None` if the sender was dropped first.
pub struct OneshotRx<T>(Arc<Mutex<Slot<T>>>);

pub fn oneshot<T>() -> (OneshotTx<T>, OneshotRx<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        closed: false,
        waker: None,
    }));
    (OneshotTx(slot.clone()), OneshotRx(slot))
}

impl<T> OneshotTx<T> {
    pub fn send(self, value: T) {
        let waker = {
            let mut slot = self.0.lock().unwrap();
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for OneshotTx<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.0.lock().unwrap();
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for OneshotRx<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.0.lock().unwrap();
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Some(v));
        }
        if slot.closed {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

// ---------------------------------------------------------------------------------------------
// Coroutines

/// Runs `f` in a coroutine on a fresh runtime, bounded like [`run`]; panics in `f` resume here.
#[track_caller]
pub fn run_coro<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    run_coro_for(LIMIT, f)
}

/// [`run_coro`], bounded by `limit`.
#[track_caller]
pub fn run_coro_for<T, F>(limit: Duration, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match run_for(limit, async { weft::go(f).await }) {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("the test coroutine did not finish: {e}"),
        },
    }
}

/// This process's resident set size, from `/proc/self/statm`.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

/// Runs this test binary again as a child running only `test` (with `env` set), and returns its
/// output. The child is how a test checks a crash, or gets its own descriptor limit.
pub fn rerun_self(test: &str, env: &[(&str, String)]) -> std::process::Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running the test binary as a child")
}

/// A waker that only counts as alive: [`wakers_kept_after_dropping`] keeps a `Weak` to each.
struct Inert;

impl std::task::Wake for Inert {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// Polls 100 operations made by `start` once each, every one with a waker of its own (they
/// should all be waiting after that poll), drops them, and returns how many of their wakers
/// are still alive: whatever the operations waited on kept them.
pub fn wakers_kept_after_dropping<F: Future>(mut start: impl FnMut() -> F) -> usize {
    let mut lent = Vec::new();
    for _ in 0..100 {
        let inert = std::sync::Arc::new(Inert);
        lent.push(std::sync::Arc::downgrade(&inert));
        let waker = std::task::Waker::from(inert);
        let mut cx = std::task::Context::from_waker(&waker);
        let mut op = std::pin::pin!(start());
        assert!(op.as_mut().poll(&mut cx).is_pending(), "nothing was ready");
    }
    lent.iter().filter(|w| w.upgrade().is_some()).count()
}

/// A fresh directory under the system's temp dir, removed (with what is in it) on drop: a
/// place for Unix socket files that no other test or run can collide with.
#[derive(Debug)]
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    #[track_caller]
    pub fn new(tag: &str) -> ScratchDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("weft-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a scratch directory");
        ScratchDir(dir)
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
