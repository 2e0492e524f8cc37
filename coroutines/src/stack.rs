//! Coroutine stacks: guard-paged mappings, pooled per thread.
//!
//! A stack is one anonymous read-write mapping whose lowest page is a guard page: running off
//! the end faults there instead of overwriting other memory (the fault handler in
//! `overflow.rs` names the coroutine and aborts). Only the pages a coroutine touches cost
//! memory, so the size is a bound, not a price.
//!
//! # Guard pages and `vm.max_map_count`
//!
//! The guard is made with `madvise(MADV_GUARD_INSTALL)` where the kernel has it (Linux 6.13
//! and later): the mapping stays one VMA, and neighbouring stacks can merge, so the number of
//! live coroutines is not capped by `vm.max_map_count` (65,530 by default). Older kernels answer
//! `EINVAL`; the first stack detects that and every stack then uses `mprotect(PROT_NONE)`,
//! which splits each stack into two maps: about 32,000 stacks at the default limit. Setting
//! `WEFT_COROUTINE_GUARD=mprotect` before the first spawn forces that fallback (for tests).
//!
//! # The pool
//!
//! Each thread keeps up to [`POOL_CAPACITY`] free stacks of the default size, so spawning a
//! coroutine usually costs no system call. A pooled stack keeps the pages it touched (no
//! `MADV_DONTNEED`): at most `POOL_CAPACITY` × the default size per thread stays resident.

use std::cell::RefCell;
use std::io;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU8, Ordering};

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{StackPointer, MIN_STACK_SIZE};

use crate::sys::memory;

/// The usable size of a coroutine stack unless [`Builder::stack_size`](crate::Builder::stack_size)
/// says otherwise: 256 KiB, plus one guard page.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Free default-size stacks kept per thread.
pub(crate) const POOL_CAPACITY: usize = 256;

const GUARD_UNKNOWN: u8 = 0;
const GUARD_MADVISE: u8 = 1;
const GUARD_MPROTECT: u8 = 2;

/// How guard pages are made in this process, decided by the first stack.
static GUARD_MODE: AtomicU8 = AtomicU8::new(GUARD_UNKNOWN);

/// One coroutine stack: the mapping `addr..base`, the lowest page being the guard.
#[derive(Debug)]
pub(crate) struct Stack {
    addr: *mut u8,
    /// The mapping's end, where the stack starts: stored rather than added up, because
    /// corosensei asks for it on every resume.
    base: NonZeroUsize,
    valgrind: ManuallyDrop<ValgrindStackRegistration>,
}

// SAFETY: a `Stack` owns its mapping outright and has no tie to the thread that mapped it, so
// it may move to the loop thread that will run a coroutine on it. Once a coroutine runs on it,
// the stack sits inside a `corosensei::Coroutine`, which is `!Send` and never moves again.
unsafe impl Send for Stack {}

thread_local! {
    static POOL: RefCell<Vec<Stack>> = const { RefCell::new(Vec::new()) };
}

impl Stack {
    /// A stack with at least `size` usable bytes: from this thread's pool when `size` is the
    /// default, else freshly mapped.
    ///
    /// # Errors
    /// `size` overflows the address space, or the mapping or its guard page failed (out of
    /// memory or out of maps); the error says which stack size was asked for.
    pub(crate) fn take(size: usize) -> io::Result<Stack> {
        if size == DEFAULT_STACK_SIZE {
            if let Some(stack) = POOL.try_with(|pool| pool.borrow_mut().pop()).ok().flatten() {
                return Ok(stack);
            }
        }
        Stack::map(size)
    }

    /// Hands a stack no coroutine uses any more back to this thread's pool, or unmaps it.
    pub(crate) fn recycle(self) {
        if self.usable() != DEFAULT_STACK_SIZE {
            return;
        }
        let _ = POOL.try_with(move |pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_CAPACITY {
                pool.push(self);
            }
        });
    }

    fn map(size: usize) -> io::Result<Stack> {
        let page = memory::page_size();
        let too_big = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("weft coroutines: a {size}-byte stack does not fit the address space"),
            )
        };
        let usable = size
            .max(MIN_STACK_SIZE)
            .checked_next_multiple_of(page)
            .ok_or_else(too_big)?;
        let len = usable.checked_add(page).ok_or_else(too_big)?;
        let addr = memory::map(len).map_err(|e| context(e, usable))?;
        let stack = Stack {
            addr,
            base: NonZeroUsize::new(addr as usize + len).expect("a mapping is never at 0"),
            valgrind: ManuallyDrop::new(ValgrindStackRegistration::new(addr, len)),
        };
        // SAFETY: the low page of the fresh mapping we own holds nothing yet.
        unsafe { install_guard(addr, page) }.map_err(|e| context(e, usable))?;
        Ok(stack)
    }

    /// The mapping's length in bytes, guard page included.
    fn len(&self) -> usize {
        self.base.get() - self.addr as usize
    }

    /// Bytes usable above the guard page.
    pub(crate) fn usable(&self) -> usize {
        self.len() - memory::page_size()
    }

    /// The guard page's address range, `start..end`.
    pub(crate) fn guard(&self) -> (usize, usize) {
        let start = self.addr as usize;
        (start, start + memory::page_size())
    }
}

/// Puts the guard page at `addr`, probing `MADV_GUARD_INSTALL` on the first call.
///
/// # Safety
/// `addr..addr + page` is the unused low page of a mapping the caller owns.
unsafe fn install_guard(addr: *mut u8, page: usize) -> io::Result<()> {
    let mut mode = GUARD_MODE.load(Ordering::Relaxed);
    if mode == GUARD_UNKNOWN {
        mode = match std::env::var("WEFT_COROUTINE_GUARD").as_deref() {
            Ok("mprotect") => GUARD_MPROTECT,
            _ => GUARD_MADVISE,
        };
    }
    if mode == GUARD_MADVISE {
        // SAFETY: per the caller.
        match unsafe { memory::guard_install(addr, page) } {
            Ok(()) => {
                GUARD_MODE.store(GUARD_MADVISE, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    GUARD_MODE.store(GUARD_MPROTECT, Ordering::Relaxed);
    // SAFETY: per the caller.
    unsafe { memory::guard_protect(addr, page) }
}

/// Adds what was asked for and the likely causes to a mapping error.
fn context(e: io::Error, usable: usize) -> io::Error {
    let hint = if e.raw_os_error() == Some(libc::ENOMEM) {
        match GUARD_MODE.load(Ordering::Relaxed) {
            GUARD_MPROTECT => {
                "; out of memory, or out of memory maps (vm.max_map_count): each stack guarded \
                 with mprotect uses two"
            }
            _ => "; out of memory (or address space) for coroutine stacks",
        }
    } else {
        ""
    };
    io::Error::new(
        e.kind(),
        format!("weft coroutines: cannot map a {usable}-byte coroutine stack: {e}{hint}"),
    )
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: registered in `map`, dropped once here.
        unsafe { ManuallyDrop::drop(&mut self.valgrind) };
        // SAFETY: the whole mapping is ours and no coroutine uses it any more.
        unsafe { memory::unmap(self.addr, self.len()) };
    }
}

// SAFETY: (corosensei's contract) the stack has a guard page at its low end (`map` refuses to
// return one without), at least MIN_STACK_SIZE usable bytes (`map` rounds up to it), and
// `base`/`limit` are page-aligned, hence STACK_ALIGNMENT-aligned. `limit` includes the guard.
unsafe impl corosensei::stack::Stack for Stack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.addr as usize).expect("a mapping is never at 0")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_default_stack_is_pooled_and_reused() {
        let stack = Stack::take(DEFAULT_STACK_SIZE).unwrap();
        let addr = stack.addr;
        stack.recycle();
        let again = Stack::take(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(again.addr, addr);
    }

    #[test]
    fn sizes_round_up_to_pages_with_a_guard_below() {
        let stack = Stack::take(5000).unwrap();
        let page = memory::page_size();
        assert_eq!(stack.usable(), 5000usize.next_multiple_of(page));
        let (lo, hi) = stack.guard();
        assert_eq!((lo, hi - lo), (stack.addr as usize, page));
    }

    #[test]
    fn an_absurd_size_is_an_error_not_a_crash() {
        let err = Stack::take(1 << 40).unwrap_err();
        assert!(err.to_string().contains("coroutine stack"), "{err}");
        let err = Stack::take(usize::MAX).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    }
}
