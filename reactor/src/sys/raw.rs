//! System calls without libc's wrappers, for the calls on the per-request path.
//!
//! glibc's wrappers for `recv`, `send` and `epoll_wait` are thread-cancellation points: once a
//! process has a second thread they enable and disable asynchronous cancellation around every
//! call. weft never cancels threads, so these calls enter the kernel directly: an inline
//! `syscall` instruction on x86-64, `libc::syscall` elsewhere.

use std::io;

/// A six-argument system call; returns the kernel's raw result (`-errno` on failure).
///
/// # Safety
/// The arguments must satisfy the contract of system call `nr` (pointers valid for the
/// lengths given, for the duration of the call).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[inline]
pub(crate) unsafe fn syscall6(
    nr: libc::c_long,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    let ret: isize;
    // SAFETY: the x86-64 Linux system call ABI: number in rax, arguments in rdi, rsi, rdx, r10,
    // r8, r9; the kernel clobbers rcx and r11 and restores the flags. The caller vouches for the
    // arguments (this function's contract).
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            in("r9") a6,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags)
        );
    }
    ret
}

/// A six-argument system call through `libc::syscall` (not a cancellation point).
///
/// # Safety
/// As for the x86-64 version.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[inline]
pub(crate) unsafe fn syscall6(
    nr: libc::c_long,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
    a6: usize,
) -> isize {
    // SAFETY: the caller vouches for the arguments; `syscall` returns -1 and sets errno on
    // failure, which is turned into the kernel's `-errno` convention here.
    let ret = unsafe { libc::syscall(nr, a1, a2, a3, a4, a5, a6) };
    if ret == -1 {
        -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as isize)
    } else {
        ret as isize
    }
}

/// The kernel's result convention (`-4095..=-1` is `-errno`) as an `io::Result`. The success
/// path is one compare; the error is built out of line.
#[inline]
pub(crate) fn result(ret: isize) -> io::Result<usize> {
    if ret as usize >= -4095isize as usize {
        return Err(errno(ret));
    }
    Ok(ret as usize)
}

#[cold]
#[inline(never)]
fn errno(ret: isize) -> io::Error {
    io::Error::from_raw_os_error(-ret as i32)
}
