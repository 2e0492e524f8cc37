//! The libc side of stack-overflow reporting: a process-wide `SIGSEGV`/`SIGBUS` handler on an
//! alternate signal stack, chained to whatever handler was there before.
//!
//! # Protocol
//!
//! 1. [`install`] runs once per process: it records the current `SIGSEGV` and `SIGBUS` actions
//!    (Rust's own stack-overflow handler, usually) and the crate's fault hook, then installs
//!    [`handle_fault`] with `SA_SIGINFO | SA_ONSTACK`.
//! 2. [`ensure_altstack`] runs once per thread that resumes coroutines: a fault caused by a
//!    full stack cannot run its handler on that same stack. Threads started by `std` already
//!    have an alternate stack; others get one here, freed when the thread exits.
//! 3. On a fault, the hook sees the fault address. For a coroutine's guard page it reports and
//!    aborts; otherwise it returns and the handler behaves as the previous one would: it calls
//!    a previous handler, or restores the default action and returns, so the faulting
//!    instruction runs again and the default action (a core dump) follows.

use std::cell::{Cell, UnsafeCell};
use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Once;

use super::memory;

/// Looks at a fault address; returns only if the fault is not the crate's to report.
pub(crate) type FaultHook = fn(addr: usize);

/// Size of an alternate signal stack this module maps (the handler formats one line).
const ALTSTACK_SIZE: usize = 64 * 1024;

struct Installed {
    hook: FaultHook,
    /// The actions replaced for `SIGSEGV` and `SIGBUS`, in that order.
    previous: [libc::sigaction; 2],
}

struct Slot(UnsafeCell<MaybeUninit<Installed>>);

// SAFETY: written once inside `INSTALL.call_once`, before the handler that reads it exists;
// read-only afterwards.
unsafe impl Sync for Slot {}

static INSTALL: Once = Once::new();
static STATE: Slot = Slot(UnsafeCell::new(MaybeUninit::uninit()));

/// Installs the fault handler for the process (once); `hook` decides about each fault.
///
/// # Errors
/// `sigaction` refused (it does not for these signals on Linux).
pub(crate) fn install(hook: FaultHook) -> io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| result = install_once(hook));
    result
}

fn install_once(hook: FaultHook) -> io::Result<()> {
    // SAFETY: an all-zero `sigaction` is a valid value (SIG_DFL, empty mask, no flags).
    let mut previous: [libc::sigaction; 2] = unsafe { std::mem::zeroed() };
    for (slot, sig) in previous.iter_mut().zip([libc::SIGSEGV, libc::SIGBUS]) {
        // SAFETY: a null new action only reads the current one into `slot`.
        syscall!(sigaction(sig, ptr::null(), slot))?;
    }
    // SAFETY: nothing reads `STATE` before the handler is installed below, and `call_once`
    // runs this once.
    unsafe { (*STATE.0.get()).write(Installed { hook, previous }) };
    // SAFETY: as above, all-zero is valid; the fields are filled in next.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handle_fault as *const () as libc::sighandler_t;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `sa_mask` is a valid sigset to empty.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: `action` is fully initialised; `handle_fault` has the SA_SIGINFO signature.
        syscall!(sigaction(sig, &action, ptr::null_mut()))?;
    }
    Ok(())
}

/// The installed handler: ask the hook, then behave as the previous handler.
extern "C" fn handle_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: this handler exists only after `STATE` was written (see `install_once`).
    let state = unsafe { (*STATE.0.get()).assume_init_ref() };
    // SAFETY: the kernel passes a valid `siginfo_t` to an SA_SIGINFO handler; for SIGSEGV and
    // SIGBUS its address field is the fault address.
    let addr = unsafe { (*info).si_addr() } as usize;
    (state.hook)(addr);
    let previous = &state.previous[usize::from(sig != libc::SIGSEGV)];
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Ignoring a fault would re-fault forever: restore the default and let it run again.
        // SAFETY: all-zero is SIG_DFL with an empty mask.
        let default: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `default` is a valid action; sigaction is async-signal-safe.
        unsafe { libc::sigaction(sig, &default, ptr::null_mut()) };
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: an SA_SIGINFO handler has this signature; we pass on the kernel's arguments.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler takes only the signal number.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

/// An alternate signal stack this module mapped for a thread, removed when the thread exits.
struct AltStack {
    addr: *mut u8,
    len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // SAFETY: an all-zero stack_t with SS_DISABLE turns the alternate stack off.
        let mut off: libc::stack_t = unsafe { std::mem::zeroed() };
        off.ss_flags = libc::SS_DISABLE;
        // SAFETY: disabling is always valid; the stack is not in use: this runs outside any
        // signal handler (at thread exit, or when setting the stack up failed part way).
        if syscall!(sigaltstack(&off, ptr::null_mut())).is_ok() {
            // SAFETY: the region came from `memory::map` and is no longer the signal stack.
            unsafe { memory::unmap(self.addr, self.len) };
        }
    }
}

thread_local! {
    static ALTSTACK_CHECKED: Cell<bool> = const { Cell::new(false) };
    static OWN_ALTSTACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

/// Makes sure this thread has an alternate signal stack (once per thread; cheap after).
///
/// # Errors
/// Mapping the stack failed.
pub(crate) fn ensure_altstack() -> io::Result<()> {
    if ALTSTACK_CHECKED.with(Cell::get) {
        return Ok(());
    }
    // SAFETY: all-zero is a valid stack_t to read into.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new stack only reads the current one.
    syscall!(sigaltstack(ptr::null(), &mut current))?;
    if current.ss_flags & libc::SS_DISABLE != 0 {
        let page = memory::page_size();
        let len = ALTSTACK_SIZE + page;
        let addr = memory::map(len)?;
        let own = AltStack { addr, len };
        // SAFETY: the low page of our own fresh mapping becomes its guard.
        let guard = unsafe { memory::guard_protect(addr, page) };
        guard?;
        let stack = libc::stack_t {
            // SAFETY: `page` is inside the mapping.
            ss_sp: unsafe { addr.add(page) }.cast(),
            ss_flags: 0,
            ss_size: ALTSTACK_SIZE,
        };
        // SAFETY: `stack` describes memory we own for the thread's lifetime (`OWN_ALTSTACK`).
        syscall!(sigaltstack(&stack, ptr::null_mut()))?;
        OWN_ALTSTACK.with(|slot| slot.set(Some(own)));
    }
    ALTSTACK_CHECKED.with(|c| c.set(true));
    Ok(())
}

/// Writes `bytes` to stderr with `write(2)`: async-signal-safe, no allocation.
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of that length.
        match syscall!(write(
            libc::STDERR_FILENO,
            bytes.as_ptr().cast(),
            bytes.len()
        )) {
            Ok(n) if n > 0 => bytes = &bytes[n as usize..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

/// Ends the process with `SIGABRT` (async-signal-safe).
pub(crate) fn abort() -> ! {
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}
