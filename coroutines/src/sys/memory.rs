//! Anonymous mappings for coroutine stacks, and their guard pages.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `MADV_GUARD_INSTALL` (Linux 6.13): turns pages into guard pages by marking their page-table
/// entries, without splitting the mapping. A guard page made with `mprotect` splits the mapping
/// into two VMAs, so each stack costs two of the `vm.max_map_count` maps (65,530 by default);
/// guard markers cost none, and neighbouring stacks may even merge into one VMA.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The page size (cached after the first call).
pub(crate) fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let size = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
                n if n > 0 => n as usize,
                _ => 4096,
            };
            PAGE.store(size, Ordering::Relaxed);
            size
        }
        size => size,
    }
}

/// Maps `len` bytes (a multiple of the page size) of private, anonymous, read-write memory.
/// Pages cost memory only once touched. `MAP_STACK` keeps transparent huge pages off it.
pub(crate) fn map(len: usize) -> io::Result<*mut u8> {
    // SAFETY: an anonymous mapping at an address the kernel chooses touches no existing memory.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(addr.cast())
}

/// Unmaps a region returned by [`map`].
///
/// # Safety
/// `addr..addr + len` is a whole region from [`map`] that nothing uses any more.
pub(crate) unsafe fn unmap(addr: *mut u8, len: usize) {
    // SAFETY: the caller gives up the region; munmap only fails for bad arguments, which the
    // caller rules out.
    let _ = syscall!(munmap(addr.cast(), len));
}

/// Makes `addr..addr + len` guard pages with `MADV_GUARD_INSTALL`. `EINVAL` means the kernel
/// does not know the advice (before Linux 6.13).
///
/// # Safety
/// The range is page-aligned, inside a region from [`map`] owned by the caller, and holds
/// nothing the caller still needs (its contents are discarded).
pub(crate) unsafe fn guard_install(addr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: per the caller, the range is ours and page-aligned.
    syscall!(madvise(addr.cast(), len, MADV_GUARD_INSTALL)).map(drop)
}

/// Makes `addr..addr + len` inaccessible with `mprotect(PROT_NONE)`.
///
/// # Safety
/// As for [`guard_install`].
pub(crate) unsafe fn guard_protect(addr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: per the caller, the range is ours and page-aligned.
    syscall!(mprotect(addr.cast(), len, libc::PROT_NONE)).map(drop)
}
