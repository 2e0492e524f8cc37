//! The event loops under test. Each runs the same ping-pong on the same descriptors; only the way
//! it learns which descriptor is ready differs.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::os::raw::c_int;
use std::time::{Duration, Instant};

use crate::common::{self, sigset, F_SETSIG};
use crate::{IdleSet, Sample};

/// How long any single wait may take before the run is declared broken.
const WAIT_LIMIT_MS: c_int = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Select,
    Poll,
    EpollLt,
    EpollEt,
    Sigio,
    Rtsig,
    Blocking,
    WeftEpoll,
    WeftPoll,
    WeftCoro,
}

impl Model {
    pub const ALL: [Model; 10] = [
        Model::Select,
        Model::Poll,
        Model::EpollLt,
        Model::EpollEt,
        Model::Sigio,
        Model::Rtsig,
        Model::Blocking,
        Model::WeftEpoll,
        Model::WeftPoll,
        Model::WeftCoro,
    ];

    /// The models driven by a hand-written loop on the shared idle set.
    pub const RAW: [Model; 6] = [
        Model::Select,
        Model::Poll,
        Model::EpollLt,
        Model::EpollEt,
        Model::Sigio,
        Model::Rtsig,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::Select => "select",
            Model::Poll => "poll",
            Model::EpollLt => "epoll-lt",
            Model::EpollEt => "epoll-et",
            Model::Sigio => "sigio+poll",
            Model::Rtsig => "rtsig",
            Model::Blocking => "blocking",
            Model::WeftEpoll => "weft-epoll",
            Model::WeftPoll => "weft-poll",
            Model::WeftCoro => "weft-coro",
        }
    }

    pub fn from_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What the row measures, for the report.
    pub fn description(self) -> &'static str {
        match self {
            Model::Select => {
                "`select(2)`, interest bitmaps rebuilt (copied) per call, result bitmap scanned"
            }
            Model::Poll => "`poll(2)` on a kept `pollfd` array, `revents` scanned",
            Model::EpollLt => "`epoll_wait`, level-triggered, registered once",
            Model::EpollEt => "`epoll_wait`, edge-triggered (`EPOLLET`), registered once",
            Model::Sigio => {
                "`sigtimedwait(SIGIO)` then a zero-timeout `poll` scan of all descriptors"
            }
            Model::Rtsig => {
                "`sigtimedwait` on `F_SETSIG` real-time signals, `si_fd` names the socket"
            }
            Model::Blocking => {
                "a thread per connection blocked in `read`; an event is one thread wake-up"
            }
            Model::WeftEpoll => {
                "weft runtime, epoll backend: two tasks, `read().await` / `write_all().await`"
            }
            Model::WeftPoll => "weft runtime, `poll(2)` backend (`Backend::Poll`), same tasks",
            Model::WeftCoro => {
                "weft coroutines, epoll backend: two coroutines, `std::io::Read::read` / `write_all`"
            }
        }
    }

    /// The example server built on this model.
    pub fn example(self) -> &'static str {
        match self {
            Model::Select => "io_select",
            Model::Poll => "io_poll",
            Model::EpollLt => "io_epoll_lt",
            Model::EpollEt => "io_epoll_et",
            Model::Sigio => "io_sigio",
            Model::Rtsig => "io_rtsig",
            Model::Blocking => "io_blocking",
            Model::WeftEpoll | Model::WeftPoll => "echo",
            Model::WeftCoro => "echo_coro",
        }
    }
}

fn rtsig() -> c_int {
    libc::SIGRTMIN() + 1
}

/// Blocks SIGIO and the real-time signal in the calling thread (and the threads it starts).
pub fn block_signals() {
    let set = sigset(&[libc::SIGIO, rtsig()]);
    // SAFETY: `set` is a live sigset_t; a null old-mask pointer is allowed.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

fn last_error(what: &str) -> io::Error {
    let err = io::Error::last_os_error();
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// Serves a ready end: reads the byte and writes it back. `false` if nothing was there.
fn bounce(fd: RawFd) -> io::Result<bool> {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
            _ => Err(err),
        };
    }
    if n == 0 {
        return Err(io::Error::other("the active connection was closed"));
    }
    // SAFETY: the first `n` bytes of `buf` were just read.
    if unsafe { libc::write(fd, buf.as_ptr().cast(), n as usize) } != n {
        return Err(last_error("write"));
    }
    Ok(true)
}

/// The measured ping-pong: sends the first byte on `a`, then loops: `wait` fills `ready` with
/// the descriptors its demultiplexer reports, and each one is bounced.
fn drive(
    a: RawFd,
    b: RawFd,
    budget: Duration,
    mut wait: impl FnMut(&mut Vec<RawFd>) -> io::Result<()>,
) -> io::Result<Sample> {
    // SAFETY: writing one byte from a static buffer.
    if unsafe { libc::write(a, b"x".as_ptr().cast(), 1) } != 1 {
        return Err(last_error("write"));
    }
    let mut ready = Vec::with_capacity(8);
    let (start, mut events, mut next_check) = (Instant::now(), 0u64, 16u64);
    loop {
        ready.clear();
        wait(&mut ready)?;
        for &fd in &ready {
            if fd != a && fd != b {
                return Err(io::Error::other(format!(
                    "idle descriptor {fd} reported ready"
                )));
            }
            events += u64::from(bounce(fd)?);
        }
        if events >= next_check {
            next_check = events + 16;
            if start.elapsed() >= budget {
                return Ok(Sample {
                    events,
                    elapsed: start.elapsed(),
                });
            }
        }
    }
}

fn pollfds(fds: &[RawFd]) -> Vec<libc::pollfd> {
    fds.iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect()
}

/// `poll` over `fds` with `timeout` ms; pushes the ready ones. Fails if none is ready in time
/// (unless `timeout` is 0).
fn poll_scan(fds: &mut [libc::pollfd], timeout: c_int, ready: &mut Vec<RawFd>) -> io::Result<()> {
    // SAFETY: `fds` is a live array of `fds.len()` entries.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    if n < 0 {
        return Err(last_error("poll"));
    }
    if n == 0 && timeout != 0 {
        return Err(io::Error::other("no event within the wait limit"));
    }
    ready.extend(fds.iter().filter(|p| p.revents != 0).map(|p| p.fd));
    Ok(())
}

/// Turns signal-driven I/O on `fds` on (with `signal`; 0 is plain SIGIO) or off.
fn set_async(fds: &[RawFd], signal: Option<c_int>) -> io::Result<()> {
    for &fd in fds {
        // SAFETY: fcntl with integer arguments on descriptors this process owns.
        let ok = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            let flags = match signal {
                Some(_) => flags | libc::O_ASYNC,
                None => flags & !libc::O_ASYNC,
            };
            libc::fcntl(fd, libc::F_SETOWN, libc::getpid()) >= 0
                && libc::fcntl(fd, F_SETSIG, signal.unwrap_or(0)) >= 0
                && libc::fcntl(fd, libc::F_SETFL, flags) >= 0
        };
        if !ok {
            return Err(last_error("fcntl(O_ASYNC)"));
        }
    }
    Ok(())
}

/// Takes every pending signal of `set` without waiting; returns how many.
fn drain_signals(set: &libc::sigset_t) -> usize {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut taken = 0;
    // SAFETY: `set` and `zero` are live; a null info pointer is allowed.
    while unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &zero) } > 0 {
        taken += 1;
    }
    taken
}

/// `sigtimedwait` on `set` for up to the wait limit: the signal taken, `None` on EINTR.
fn take_signal(set: &libc::sigset_t, info: &mut libc::siginfo_t) -> io::Result<Option<c_int>> {
    let limit = libc::timespec {
        tv_sec: (WAIT_LIMIT_MS / 1000) as libc::time_t,
        tv_nsec: 0,
    };
    // SAFETY: `set`, `info` and `limit` are live for the call.
    let signal = unsafe { libc::sigtimedwait(set, info, &limit) };
    if signal > 0 {
        return Ok(Some(signal));
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EINTR) => Ok(None),
        _ => Err(io::Error::other("no signal within the wait limit")),
    }
}

/// One repetition of a readiness model with `idle` descriptors and the active ends `a`, `b`.
/// `Ok(Err(reason))`: the model cannot run on these descriptors.
pub fn run_raw(
    model: Model,
    idle: &[RawFd],
    a: RawFd,
    b: RawFd,
    budget: Duration,
) -> io::Result<Result<Sample, String>> {
    let mut all = idle.to_vec();
    all.extend([a, b]); // The newest connection, as in a real server: last in every scan.
    let sample = match model {
        Model::Select => {
            let max = all.iter().copied().max().unwrap_or(0);
            if max as usize >= libc::FD_SETSIZE {
                return Ok(Err(format!(
                    "descriptor {max} ≥ FD_SETSIZE ({})",
                    libc::FD_SETSIZE
                )));
            }
            // SAFETY: an all-zero fd_set is the empty set.
            let mut interest: libc::fd_set = unsafe { std::mem::zeroed() };
            for &fd in &all {
                // SAFETY: every descriptor was checked to be below FD_SETSIZE.
                unsafe { libc::FD_SET(fd, &mut interest) };
            }
            drive(a, b, budget, |ready| {
                let mut set = interest; // select overwrites its argument: copy the interest.
                let mut limit = libc::timeval {
                    tv_sec: (WAIT_LIMIT_MS / 1000).into(),
                    tv_usec: 0,
                };
                let (null_w, null_e) = (std::ptr::null_mut(), std::ptr::null_mut());
                // SAFETY: `set` and `limit` are live; null sets are allowed.
                let n = unsafe { libc::select(max + 1, &mut set, null_w, null_e, &mut limit) };
                if n <= 0 {
                    return Err(last_error("select (or no event within the wait limit)"));
                }
                // SAFETY (in the filter): `fd <= max < FD_SETSIZE`.
                ready.extend((0..=max).filter(|&fd| unsafe { libc::FD_ISSET(fd, &set) }));
                Ok(())
            })?
        }
        Model::Poll => {
            let mut fds = pollfds(&all);
            drive(a, b, budget, |ready| {
                poll_scan(&mut fds, WAIT_LIMIT_MS, ready)
            })?
        }
        Model::EpollLt | Model::EpollEt => {
            let edge = if model == Model::EpollEt {
                libc::EPOLLET
            } else {
                0
            };
            let epoll = common::Epoll::new();
            for &fd in &all {
                epoll.ctl(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN | edge);
            }
            let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
            drive(a, b, budget, |ready| {
                let got = epoll.wait(&mut events, WAIT_LIMIT_MS);
                if got.is_empty() {
                    return Err(io::Error::other("no epoll event within the wait limit"));
                }
                ready.extend(got.iter().map(|e| e.u64 as RawFd));
                Ok(())
            })?
        }
        Model::Sigio => {
            let set = sigset(&[libc::SIGIO]);
            let mut fds = pollfds(&all);
            set_async(&all, Some(0))?;
            // SAFETY: an all-zero siginfo_t is a valid plain C value.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let result = drive(a, b, budget, |ready| {
                take_signal(&set, &mut info)?; // "Something happened somewhere"...
                poll_scan(&mut fds, 0, ready) // ...so ask every descriptor.
            });
            set_async(&all, None)?;
            drain_signals(&set);
            result?
        }
        Model::Rtsig => {
            let (signal, set) = (rtsig(), sigset(&[rtsig(), libc::SIGIO]));
            let only_rt = sigset(&[signal]);
            let mut fds = pollfds(&all);
            set_async(&all, Some(signal))?;
            // SAFETY: an all-zero siginfo_t is a valid plain C value.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let result = drive(a, b, budget, |ready| match take_signal(&set, &mut info)? {
                Some(s) if s == signal => {
                    ready.push(common::si_fd(&info)); // The signal names the socket.
                    Ok(())
                }
                Some(_) => {
                    // SIGIO: the queue overflowed. Forget it and scan everything.
                    drain_signals(&only_rt);
                    poll_scan(&mut fds, 0, ready)
                }
                None => Ok(()),
            });
            set_async(&all, None)?;
            drain_signals(&set);
            result?
        }
        _ => unreachable!("not a hand-written readiness loop: {model:?}"),
    };
    Ok(Ok(sample))
}

/// Thread per connection: N idle threads blocked in `read` on the idle set, and for each
/// repetition two threads bouncing the byte over a fresh active connection. Consumes the idle
/// set: its sockets are shut down at the end to release the blocked threads.
pub fn run_blocking(set: &IdleSet, reps: usize, budget: Duration) -> io::Result<Vec<Sample>> {
    let mut sleepers = Vec::with_capacity(set.idle.len());
    let mut result = Ok(Vec::new());
    for stream in &set.idle {
        let fd = stream.as_raw_fd();
        let spawned = stream.set_nonblocking(false).and_then(|()| {
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut byte = [0u8; 1];
                    // SAFETY: `byte` is writable; `fd` stays open until this thread is joined.
                    while unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) } < 0
                        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
                    {
                    }
                })
        });
        match spawned {
            Ok(thread) => sleepers.push(thread),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        std::thread::sleep(Duration::from_millis(100)); // Let every sleeper reach its `read`.
        result = (0..reps).map(|_| blocking_rep(set, budget)).collect();
    }
    for stream in &set.idle {
        let _ = stream.shutdown(std::net::Shutdown::Both); // Wakes its sleeper with EOF.
    }
    for thread in sleepers {
        let _ = thread.join();
    }
    result
}

fn blocking_rep(set: &IdleSet, budget: Duration) -> io::Result<Sample> {
    let (mut a, mut b) = set.active_pair()?;
    a.set_nonblocking(false)?;
    b.set_nonblocking(false)?;
    let peer = std::thread::spawn(move || {
        let (mut buf, mut events) = ([0u8; 64], 0u64);
        while let Ok(n @ 1..) = b.read(&mut buf) {
            events += 1;
            if b.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        events
    });
    let mut buf = [0u8; 64];
    a.write_all(b"x")?;
    let (start, mut events) = (Instant::now(), 0u64);
    let outcome = loop {
        match a.read(&mut buf) {
            Ok(1..) => events += 1,
            Ok(_) => break Err(io::Error::other("the active connection was closed")),
            Err(e) => break Err(e),
        }
        if events & 15 == 0 && start.elapsed() >= budget {
            break Ok(start.elapsed());
        }
        if let Err(e) = a.write_all(&buf[..1]) {
            break Err(e);
        }
    };
    drop(a); // Reset: the peer's `read` fails and its thread ends.
    let peer_events = peer
        .join()
        .map_err(|_| io::Error::other("peer thread panicked"))?;
    Ok(Sample {
        events: events + peer_events,
        elapsed: outcome?,
    })
}

/// A current-thread weft runtime on `backend`, the idle sockets taken out of `set` (the runtime
/// registers them), and `reps + 1` active pairs (the first, unrecorded repetition absorbs the
/// registration events of the idle sockets).
type WeftSetup = (weft::Runtime, Vec<TcpStream>, Vec<(TcpStream, TcpStream)>);

fn weft_setup(backend: weft::Backend, set: &mut IdleSet, reps: usize) -> io::Result<WeftSetup> {
    let runtime = weft::Builder::new_current_thread()
        .backend(backend)
        .build()?;
    let idle = std::mem::take(&mut set.idle);
    let pairs = (0..=reps)
        .map(|_| set.active_pair())
        .collect::<io::Result<Vec<_>>>()?;
    Ok((runtime, idle, pairs))
}

/// The budget of repetition `rep`: short for the warm-up (rep 0).
fn rep_budget(rep: usize, budget: Duration) -> Duration {
    if rep == 0 {
        Duration::from_millis(50)
    } else {
        budget
    }
}

/// weft's runtime on the backend `model` names: the idle sockets become `weft::net::TcpStream`s
/// (registered with the reactor) and two tasks bounce the byte.
pub fn run_weft(
    model: Model,
    mut set: IdleSet,
    reps: usize,
    budget: Duration,
) -> io::Result<Vec<Sample>> {
    let backend = match model {
        Model::WeftPoll => weft::Backend::Poll,
        _ => weft::Backend::Epoll,
    };
    let (runtime, idle, pairs) = weft_setup(backend, &mut set, reps)?;
    runtime.block_on(async move {
        let idle = idle
            .into_iter()
            .map(weft::net::TcpStream::from_std)
            .collect::<io::Result<Vec<_>>>()?;
        let mut samples = Vec::new();
        for (rep, (a, b)) in pairs.into_iter().enumerate() {
            let budget = rep_budget(rep, budget);
            let (mut a, mut b) = (
                weft::net::TcpStream::from_std(a)?,
                weft::net::TcpStream::from_std(b)?,
            );
            let peer = weft::spawn(async move {
                let (mut buf, mut events) = ([0u8; 64], 0u64);
                while let Ok(n @ 1..) = b.read(&mut buf).await {
                    events += 1;
                    if b.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                events
            });
            let mut buf = [0u8; 64];
            a.write_all(b"x").await?;
            let (start, mut events) = (Instant::now(), 0u64);
            loop {
                if a.read(&mut buf).await? == 0 {
                    return Err(io::Error::other("the active connection was closed"));
                }
                events += 1;
                if events & 15 == 0 && start.elapsed() >= budget {
                    break;
                }
                a.write_all(&buf[..1]).await?;
            }
            let elapsed = start.elapsed();
            drop(a); // Reset: the peer's read fails and its task ends.
            let peer_events = peer.await.map_err(|e| io::Error::other(e.to_string()))?;
            if rep > 0 {
                samples.push(Sample {
                    events: events + peer_events,
                    elapsed,
                });
            }
        }
        drop(idle);
        Ok(samples)
    })
}

/// weft's coroutines on the epoll backend: the idle sockets become
/// `weft::coroutines::net::TcpStream`s and two coroutines bounce the byte with blocking-style
/// `std::io::Read::read` and `Write::write_all`, each wait parking its coroutine.
pub fn run_weft_coro(mut set: IdleSet, reps: usize, budget: Duration) -> io::Result<Vec<Sample>> {
    use weft::coroutines::net::TcpStream as CoStream;

    let (runtime, idle, pairs) = weft_setup(weft::Backend::Epoll, &mut set, reps)?;
    let measure = move || -> io::Result<Vec<Sample>> {
        let idle = idle
            .into_iter()
            .map(CoStream::from_std)
            .collect::<io::Result<Vec<_>>>()?;
        let mut samples = Vec::new();
        for (rep, (a, b)) in pairs.into_iter().enumerate() {
            let budget = rep_budget(rep, budget);
            let (mut a, mut b) = (CoStream::from_std(a)?, CoStream::from_std(b)?);
            let peer = weft::go(move || {
                let (mut buf, mut events) = ([0u8; 64], 0u64);
                while let Ok(n @ 1..) = b.read(&mut buf) {
                    events += 1;
                    if b.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                events
            });
            let mut buf = [0u8; 64];
            a.write_all(b"x")?;
            let (start, mut events) = (Instant::now(), 0u64);
            loop {
                if a.read(&mut buf)? == 0 {
                    return Err(io::Error::other("the active connection was closed"));
                }
                events += 1;
                if events & 15 == 0 && start.elapsed() >= budget {
                    break;
                }
                a.write_all(&buf[..1])?;
            }
            let elapsed = start.elapsed();
            drop(a); // Reset: the peer's read fails and its coroutine ends.
            let peer_events = peer.join().map_err(|e| io::Error::other(e.to_string()))?;
            if rep > 0 {
                samples.push(Sample {
                    events: events + peer_events,
                    elapsed,
                });
            }
        }
        drop(idle);
        Ok(samples)
    };
    runtime.block_on(async move {
        weft::go(measure)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
    })
}
