//! The future of a pinned task ([`spawn_pinned`](crate::task::spawn_pinned)): built by a `Send`
//! closure on the first poll, on the loop thread that will run it for its whole life.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `Make` until the first poll, `Run` after.
pub(crate) enum Pinned<M, F> {
    Make(Option<M>),
    Run(F),
}

impl<M, F> Future for Pinned<M, F>
where
    M: FnOnce() -> F,
    F: Future,
{
    type Output = F::Output;

    // Always inlined into the task's run: a coroutine's poll resumes a stack, which clobbers
    // every callee-saved register, and the run function saves them already (a separate frame
    // here would save and restore them a second time on every resume).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: the inner future is pinned only once it exists (`Run`), and is never moved out
        // or replaced after that; `Make` holds no pinned data, so replacing it in place is fine.
        let this = unsafe { self.get_unchecked_mut() };
        if let Pinned::Make(_) = this {
            this.build();
        }
        let Pinned::Run(future) = this else {
            unreachable!("built just above")
        };
        // SAFETY: `future` lives inside the pinned `self` and is never moved (see above).
        unsafe { Pin::new_unchecked(future) }.poll(cx)
    }
}

impl<M: FnOnce() -> F, F> Pinned<M, F> {
    /// `Make` becomes `Run`: the first poll builds the future (kept out of the hot path).
    #[cold]
    #[inline(never)]
    fn build(&mut self) {
        if let Pinned::Make(make) = self {
            let make = make.take().expect("a pinned task is built once");
            *self = Pinned::Run(make());
        }
    }
}
