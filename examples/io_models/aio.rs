//! The Linux AIO ABI (`<linux/aio_abi.h>`), as little of it as `io_proactor` needs, over raw
//! syscalls: glibc has no wrappers for `io_setup`/`io_submit`/`io_getevents` (its `aio_read`
//! is POSIX AIO, emulated with threads), and `libc` only has the `iocb` struct.
//!
//! The shape of every proactor API is here: *submit* an operation with a buffer the kernel
//! will fill later, then *reap* completions, each carrying the operation's `aio_data` tag and
//! its result (bytes read, or `-errno`).

use std::io;
use std::os::fd::AsRawFd;
use std::os::raw::c_int;

/// `IOCB_CMD_PREAD` and `IOCB_FLAG_RESFD` from `<linux/aio_abi.h>`.
const IOCB_CMD_PREAD: u16 = 0;
const IOCB_FLAG_RESFD: u32 = 1;

/// `O_DIRECT` alignment for buffers, offsets and sizes: the largest logical block size in use.
pub const ALIGN: usize = 4096;

/// `struct io_event`: one completion.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

/// An AIO context whose completions are announced on an eventfd (`efd`), so that one epoll
/// set can wait for sockets and file reads alike.
pub struct Aio {
    ctx: u64,
    pub efd: c_int,
}

impl Aio {
    /// A context for up to `max` operations in flight.
    pub fn new(max: usize) -> io::Result<Aio> {
        // SAFETY: plain syscall with constant arguments.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        let mut ctx = 0u64;
        // SAFETY: `ctx` is a live aio_context_t (a u64) for the kernel to fill in.
        if efd < 0 || unsafe { libc::syscall(libc::SYS_io_setup, max, &mut ctx) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Aio { ctx, efd })
    }

    /// Submits a read of `len` bytes of `file` at `offset` into `buf`, tagged `tag`. Its
    /// completion will bump the eventfd.
    ///
    /// # Safety
    ///
    /// `buf` must stay valid for writes of `len` bytes, and unread and unwritten by the
    /// program, until the completion tagged `tag` has been reaped: the kernel writes into it
    /// at a time of its choosing.
    pub unsafe fn read(
        &self,
        tag: u64,
        file: &impl AsRawFd,
        buf: *mut u8,
        len: usize,
        offset: u64,
    ) -> io::Result<()> {
        // SAFETY: an all-zero iocb is a valid plain C value (reserved fields must be zero).
        let mut iocb: libc::iocb = unsafe { std::mem::zeroed() };
        iocb.aio_data = tag;
        iocb.aio_lio_opcode = IOCB_CMD_PREAD;
        iocb.aio_fildes = file.as_raw_fd() as u32;
        iocb.aio_buf = buf as u64;
        iocb.aio_nbytes = len as u64;
        iocb.aio_offset = offset as i64;
        iocb.aio_flags = IOCB_FLAG_RESFD; // Announce the completion on an eventfd...
        iocb.aio_resfd = self.efd as u32; // ...this one.
        let mut list = [&mut iocb as *mut libc::iocb];
        // SAFETY: `list` points at one live iocb, which the kernel copies during the call; the
        // buffer it names is the caller's promise (see `# Safety`).
        match unsafe { libc::syscall(libc::SYS_io_submit, self.ctx, 1, list.as_mut_ptr()) } {
            1 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Resets the eventfd and returns every completion available now, as (tag, result):
    /// bytes read, or `-errno`. Never waits.
    pub fn completions(&self) -> Vec<(u64, i64)> {
        let mut count = [0u8; 8];
        // SAFETY: `count` is writable for the 8 bytes an eventfd read returns.
        unsafe { libc::read(self.efd, count.as_mut_ptr().cast(), 8) };
        let mut events = [IoEvent::default(); 64];
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut all = Vec::new();
        loop {
            let (ptr, len) = (events.as_mut_ptr(), events.len());
            // SAFETY: `events` is writable for `len` io_events; a zero timeout never waits.
            let n = unsafe { libc::syscall(libc::SYS_io_getevents, self.ctx, 0, len, ptr, &zero) };
            all.extend(events[..n.max(0) as usize].iter().map(|e| (e.data, e.res)));
            if n < len as i64 {
                return all;
            }
        }
    }
}

/// Opens `path` for reading with `O_DIRECT`, which makes Linux AIO truly asynchronous (a
/// buffered read is done synchronously inside `io_submit`), or without it where the file system
/// refuses it (`EINVAL`).
pub fn open(path: &str) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    match options.read(true).custom_flags(libc::O_DIRECT).open(path) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => std::fs::File::open(path),
        other => other,
    }
}
