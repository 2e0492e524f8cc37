use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Gives the other ready tasks a turn: completes on its second poll, after the task went to the
/// back of the run queue.
///
/// ```
/// weft_runtime::Runtime::new()?.block_on(async {
///     let other = weft_runtime::spawn(async { "ran" });
///     weft_runtime::yield_now().await; // `other` runs now
///     assert!(other.is_finished());
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn yield_now() {
    YieldNow { yielded: false }.await
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
