//! Go-style `select`: wait for the first of several channel operations, or a timeout.
//!
//! A [`Select`] is built arm by arm, then waited on once:
//!
//! - [`recv`](Select::recv): the next item of an mpsc [`Receiver`](weft_runtime::sync::mpsc::Receiver)
//!   (any `Unpin` [`Stream`]); the handler gets `Some(value)`, or `None` once the channel ended.
//! - [`send`](Select::send) / [`reserve`](Select::reserve): a slot in a bounded mpsc channel.
//! - [`future`](Select::future): any `Unpin` future: a oneshot receiver (`&mut rx`),
//!   `notify.notified()`, a `JoinHandle`, a mutex `lock()`.
//! - [`timeout`](Select::timeout) / [`timeout_at`](Select::timeout_at): a deadline.
//!
//! Then [`wait`](Select::wait) (a coroutine or a plain thread), `.await` (async code), or
//! [`try_wait`](Select::try_wait) (never waits: Go's `default`). Each handler turns its arm's
//! outcome into the select's result; only the winner's handler runs. Mapping every arm to a
//! variant of one enum, then `match`ing, reads like Go's `select` statement.
//!
//! ```
//! use std::time::Duration;
//! use weft_coroutines::Select;
//! use weft_runtime::sync::{mpsc, oneshot};
//!
//! enum Event {
//!     Job(Option<u32>),
//!     Stop(Result<(), oneshot::error::RecvError>),
//!     Idle,
//! }
//!
//! weft_runtime::Runtime::new()?.block_on(async {
//!     let (jobs, mut inbox) = mpsc::channel(8);
//!     let (stop, mut stopped) = oneshot::channel();
//!     let worker = weft_coroutines::go(move || {
//!         let mut done = Vec::new();
//!         loop {
//!             let event = Select::new()
//!                 .recv(&mut inbox, Event::Job)
//!                 .future(&mut stopped, Event::Stop)
//!                 .timeout(Duration::from_secs(5), || Event::Idle)
//!                 .wait(); // parks the coroutine until one arm is ready
//!             match event {
//!                 Event::Job(Some(n)) => done.push(n),
//!                 Event::Job(None) | Event::Stop(_) | Event::Idle => return done,
//!             }
//!         }
//!     });
//!     for n in 1..=3 {
//!         jobs.send(n).await.unwrap();
//!     }
//!     weft_runtime::time::sleep(Duration::from_millis(20)).await;
//!     stop.send(()).unwrap();
//!     assert_eq!(worker.await.unwrap(), [1, 2, 3]);
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it waits
//!
//! No coroutine or task is spawned per arm. The select is one future that polls each arm's
//! poll-level operation (`Stream::poll_next`, the `Reserve` future, the arm's future, a weft
//! [`Sleep`]) with one waker, so whichever arm becomes ready wakes the one waiter. `wait`
//! parks on it with [`block_on`](crate::block_on) (in a coroutine: the coroutine parks, the
//! loop goes on); on a plain thread it parks the thread, with a timed park for a timeout.
//!
//! # Fairness
//!
//! Each select polls its channel arms in a random order (a random start and a random stride
//! coprime with the number of arms), so two arms that are always ready are chosen equally
//! often, and an arm listed first gets no advantage. Timeouts are polled after every channel
//! arm: a value that is ready when the deadline passes wins over the timeout.
//!
//! # Cancel safety: a losing arm loses nothing
//!
//! Exactly one arm wins; every other arm is dropped *before* the winner's handler runs.
//!
//! - `recv` takes an item only when its arm wins: items stay in the channel for the next
//!   receive.
//! - `reserve` gives up its place among waiting senders (a slot just handed to it passes on).
//! - `send` owns its value: a losing `send` drops the value unsent, as a losing Go `send`
//!   case discards its value. Use `reserve` and send through the [`Permit`] to keep it.
//! - `future` drops the future it was given when it loses: give it `&mut rx` for a oneshot
//!   receiver or a `JoinHandle` you want to wait on again; `notify.notified()` and a mutex
//!   `lock()` are cancel safe by value.

use std::cell::Cell;
use std::fmt;
use std::future::{poll_fn, Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures_core::Stream;
use weft_runtime::sync::mpsc::{error::SendError, Permit, Reserve, Sender};
use weft_runtime::task::ThreadParker;
use weft_runtime::time::{deadline_after, Sleep};

use crate::coroutine::{place, Place};

/// A Go-style select under construction: add arms, then [`wait`](Select::wait), `.await` or
/// [`try_wait`](Select::try_wait). See the [module docs](self).
///
/// `R` is what every handler returns; `L` is the list of arms so far (built by the methods,
/// never named by callers).
#[must_use = "a Select does nothing until `wait`, `.await` or `try_wait`"]
pub struct Select<R, L = ()> {
    arms: L,
    /// The polling order, drawn at the first poll.
    order: Option<Order>,
    _output: PhantomData<fn() -> R>,
}

impl<R> Select<R> {
    /// A select with no arms yet.
    pub fn new() -> Select<R> {
        Select {
            arms: (),
            order: None,
            _output: PhantomData,
        }
    }
}

impl<R> Default for Select<R> {
    fn default() -> Select<R> {
        Select::new()
    }
}

impl<R, L: Arms<R>> Select<R, L> {
    fn push<A: sealed::Arm<R>>(self, arm: A) -> Select<R, (L, A)> {
        Select {
            arms: (self.arms, arm),
            order: None,
            _output: PhantomData,
        }
    }

    /// An arm that receives the next item of `stream` (an mpsc `Receiver`, or any `Unpin`
    /// `Stream`): `handler(Some(item))`, or `handler(None)` once it has ended (a closed
    /// channel is always ready, as in Go). Loses nothing: an item is taken only if this arm
    /// wins.
    pub fn recv<'b, S, F>(self, stream: &'b mut S, handler: F) -> Select<R, impl Arms<R> + 'b>
    where
        S: Stream + Unpin + 'b,
        F: FnOnce(Option<S::Item>) -> R + 'b,
        L: 'b,
        R: 'b,
    {
        self.push(RecvArm {
            stream,
            got: None,
            handler,
        })
    }

    /// An arm that sends `value` into a bounded channel once a slot is free (behind the
    /// senders already waiting): `handler(Ok(()))`, or `handler(Err(SendError(value)))` if the
    /// receiver is gone or closed. If another arm wins, `value` is dropped unsent; use
    /// [`reserve`](Select::reserve) to keep it.
    pub fn send<'b, T, F>(
        self,
        tx: &'b Sender<T>,
        value: T,
        handler: F,
    ) -> Select<R, impl Arms<R> + 'b>
    where
        T: 'b,
        F: FnOnce(Result<(), SendError<T>>) -> R + 'b,
        L: 'b,
        R: 'b,
    {
        self.push(ReserveArm {
            reserve: tx.reserve(),
            got: None,
            handler: move |permit: Result<Permit<'b, T>, SendError<()>>| match permit {
                Ok(permit) => {
                    permit.send(value);
                    handler(Ok(()))
                }
                Err(SendError(())) => handler(Err(SendError(value))),
            },
        })
    }

    /// An arm that reserves a slot in a bounded channel: `handler(Ok(permit))` (send through
    /// the [`Permit`]; dropping it gives the slot back), or `handler(Err(_))` if the receiver
    /// is gone or closed. Loses nothing: a losing arm gives up its place in the queue.
    pub fn reserve<'b, T, F>(self, tx: &'b Sender<T>, handler: F) -> Select<R, impl Arms<R> + 'b>
    where
        T: 'b,
        F: FnOnce(Result<Permit<'b, T>, SendError<()>>) -> R + 'b,
        L: 'b,
        R: 'b,
    {
        self.push(ReserveArm {
            reserve: tx.reserve(),
            got: None,
            handler,
        })
    }

    /// An arm that waits for `future`: `handler(output)`. `future` is dropped if another arm
    /// wins, so pass `&mut rx` for a oneshot receiver (or a `JoinHandle`) you will wait on
    /// again; cancel-safe futures such as `notify.notified()` can go by value.
    pub fn future<'b, Fu, F>(self, future: Fu, handler: F) -> Select<R, impl Arms<R> + 'b>
    where
        Fu: Future + Unpin + 'b,
        F: FnOnce(Fu::Output) -> R + 'b,
        L: 'b,
        R: 'b,
    {
        self.push(FutureArm {
            future,
            got: None,
            handler,
        })
    }

    /// An arm that fires `duration` from now, if no other arm was ready first.
    pub fn timeout<'b, F>(self, duration: Duration, handler: F) -> Select<R, impl Arms<R> + 'b>
    where
        F: FnOnce() -> R + 'b,
        L: 'b,
        R: 'b,
    {
        self.timeout_at(deadline_after(Instant::now(), duration), handler)
    }

    /// An arm that fires at `deadline` (at once if it has passed), if no other arm was ready
    /// first: an overall deadline for a loop of selects.
    pub fn timeout_at<'b, F>(self, deadline: Instant, handler: F) -> Select<R, impl Arms<R> + 'b>
    where
        F: FnOnce() -> R + 'b,
        L: 'b,
        R: 'b,
    {
        self.push(TimerArm {
            deadline,
            sleep: None,
            handler,
        })
    }

    /// Waits until one arm is ready and returns what its handler returns.
    ///
    /// In a coroutine it parks the coroutine; on a plain thread it parks the thread (until a
    /// wake or the earliest timeout).
    ///
    /// # Panics
    /// With no arm at all (it would wait forever); on an event-loop thread outside a
    /// coroutine, where `.await` is the way (the select is an `IntoFuture`).
    pub fn wait(mut self) -> R {
        assert!(
            L::LEN > 0,
            "weft::coroutines::Select::wait with no arm would wait forever"
        );
        let winner = match place() {
            Place::Plain => park_thread(&mut self),
            Place::Coroutine | Place::Loop => crate::block_on(poll_fn(|cx| self.poll_winner(cx))),
        };
        self.arms.fire(winner)
    }

    /// Go's `default`: if an arm is ready now, returns `Some` of its handler's result, else
    /// `None`, without waiting (usable anywhere, async code included). A timeout arm is ready
    /// once its deadline has passed.
    ///
    /// Like every weft operation it spends the task's cooperative budget: a coroutine that has
    /// run 128 operations without parking gets `None` until it parks or yields (see
    /// [`yield_now`](crate::yield_now)), so a busy polling loop cannot starve the event loop.
    ///
    /// ```
    /// use weft_coroutines::Select;
    /// use weft_runtime::sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::unbounded_channel();
    /// assert_eq!(Select::new().recv(&mut rx, |v| v).try_wait(), None); // nothing yet
    /// tx.send(1).unwrap();
    /// assert_eq!(Select::new().recv(&mut rx, |v| v).try_wait(), Some(Some(1)));
    /// ```
    pub fn try_wait(mut self) -> Option<R> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_winner(&mut cx) {
            Poll::Ready(winner) => Some(self.arms.fire(winner)),
            Poll::Pending => None,
        }
    }

    /// Polls the channel arms in this select's order, then the timers; the first ready arm
    /// wins. Arms polled before it stored `cx`'s waker; it does not matter, since they are
    /// dropped (or find nothing new when woken).
    fn poll_winner(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        let n = L::LEN;
        if n == 0 {
            return Poll::Pending;
        }
        let order = *self.order.get_or_insert_with(|| Order::random(n));
        for timers in [false, true] {
            for k in 0..n {
                let i = order.nth(k, n);
                if self.arms.poll_arm(i, timers, cx).is_ready() {
                    return Poll::Ready(i);
                }
            }
        }
        Poll::Pending
    }
}

impl<R, L: Arms<R>> IntoFuture for Select<R, L> {
    type Output = R;
    type IntoFuture = SelectFuture<R, L>;

    /// The select as a future, for async code: `select.await`.
    ///
    /// # Panics
    /// With no arm at all (it would wait forever).
    fn into_future(self) -> SelectFuture<R, L> {
        assert!(
            L::LEN > 0,
            "weft::coroutines::Select awaited with no arm would wait forever"
        );
        SelectFuture { select: Some(self) }
    }
}

impl<R, L: Arms<R>> fmt::Debug for Select<R, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select").field("arms", &L::LEN).finish()
    }
}

/// The future of `select.await` ([`Select`] is `IntoFuture`): resolves to the winning
/// handler's result, which runs inside the poll that finds its arm ready.
///
/// ```
/// use std::time::Duration;
/// use weft_coroutines::Select;
/// use weft_runtime::sync::mpsc;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     weft_runtime::spawn(async move { tx.send("hi").await.unwrap() });
///     let got = Select::new()
///         .recv(&mut rx, |v| v)
///         .timeout(Duration::from_secs(5), || None)
///         .await;
///     assert_eq!(got, Some("hi"));
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SelectFuture<R, L> {
    /// `None` once completed.
    select: Option<Select<R, L>>,
}

// Nothing in a `SelectFuture` is pinned structurally: the arms' futures are `Unpin`, and they
// are polled through `Pin::new` on `&mut`s, never through a projection of this pin.
impl<R, L> Unpin for SelectFuture<R, L> {}

impl<R, L: Arms<R>> Future for SelectFuture<R, L> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.get_mut();
        let select = this
            .select
            .as_mut()
            .expect("a SelectFuture is not polled after it completed");
        let winner = ready!(select.poll_winner(cx));
        let select = this.select.take().expect("checked above");
        Poll::Ready(select.arms.fire(winner))
    }
}

impl<R, L: Arms<R>> fmt::Debug for SelectFuture<R, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectFuture")
            .field("arms", &L::LEN)
            .field("done", &self.select.is_none())
            .finish()
    }
}

/// The list of arms a [`Select`] holds, built by its methods (a nested tuple); sealed.
pub trait Arms<R>: sealed::Sealed {
    /// How many arms.
    #[doc(hidden)]
    const LEN: usize;

    /// Polls arm `i` if it is a timer (`timers`) or a channel arm (`!timers`); `Pending` for
    /// an arm of the other kind. A ready arm keeps its outcome for `fire`.
    #[doc(hidden)]
    fn poll_arm(&mut self, i: usize, timers: bool, cx: &mut Context<'_>) -> Poll<()>;

    /// Drops every arm but `i`, then runs arm `i`'s handler on the outcome it keeps.
    #[doc(hidden)]
    fn fire(self, i: usize) -> R;

    /// The earliest timer deadline, if any.
    #[doc(hidden)]
    fn deadline(&self) -> Option<Instant>;
}

impl sealed::Sealed for () {}

impl<R> Arms<R> for () {
    const LEN: usize = 0;

    fn poll_arm(&mut self, _: usize, _: bool, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }

    fn fire(self, i: usize) -> R {
        unreachable!("no arm {i} in a select")
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }
}

impl<L, A> sealed::Sealed for (L, A) {}

impl<R, L: Arms<R>, A: sealed::Arm<R>> Arms<R> for (L, A) {
    const LEN: usize = L::LEN + 1;

    fn poll_arm(&mut self, i: usize, timers: bool, cx: &mut Context<'_>) -> Poll<()> {
        if i != L::LEN {
            self.0.poll_arm(i, timers, cx)
        } else if A::TIMER == timers {
            self.1.poll(cx)
        } else {
            Poll::Pending
        }
    }

    fn fire(self, i: usize) -> R {
        let (rest, arm) = self;
        if i == L::LEN {
            drop(rest);
            arm.fire()
        } else {
            drop(arm);
            rest.fire(i)
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let rest = self.0.deadline();
        match (rest, self.1.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

mod sealed {
    use std::task::{Context, Poll};
    use std::time::Instant;

    /// Only this module's arm lists are `Arms`.
    pub trait Sealed {}

    /// One arm: a poll-level operation and the handler for its outcome.
    pub trait Arm<R> {
        /// Polled after every channel arm.
        const TIMER: bool = false;

        /// Polls the operation; when ready, keeps the outcome for `fire`.
        fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()>;

        /// Runs the handler on the kept outcome (only after `poll` returned `Ready`).
        fn fire(self) -> R;

        /// A timer's deadline.
        fn deadline(&self) -> Option<Instant> {
            None
        }
    }
}

const FIRED_EARLY: &str = "a select arm fires only after its poll returned Ready";

struct RecvArm<'b, S: Stream, F> {
    stream: &'b mut S,
    got: Option<Option<S::Item>>,
    handler: F,
}

impl<R, S, F> sealed::Arm<R> for RecvArm<'_, S, F>
where
    S: Stream + Unpin,
    F: FnOnce(Option<S::Item>) -> R,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let item = ready!(Pin::new(&mut *self.stream).poll_next(cx));
        self.got = Some(item);
        Poll::Ready(())
    }

    fn fire(self) -> R {
        (self.handler)(self.got.expect(FIRED_EARLY))
    }
}

struct ReserveArm<'b, T, F> {
    reserve: Reserve<'b, T>,
    got: Option<Result<Permit<'b, T>, SendError<()>>>,
    handler: F,
}

impl<'b, R, T, F> sealed::Arm<R> for ReserveArm<'b, T, F>
where
    F: FnOnce(Result<Permit<'b, T>, SendError<()>>) -> R,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let permit = ready!(Pin::new(&mut self.reserve).poll(cx));
        self.got = Some(permit);
        Poll::Ready(())
    }

    fn fire(self) -> R {
        (self.handler)(self.got.expect(FIRED_EARLY))
    }
}

struct FutureArm<Fu: Future, F> {
    future: Fu,
    got: Option<Fu::Output>,
    handler: F,
}

impl<R, Fu, F> sealed::Arm<R> for FutureArm<Fu, F>
where
    Fu: Future + Unpin,
    F: FnOnce(Fu::Output) -> R,
{
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let output = ready!(Pin::new(&mut self.future).poll(cx));
        self.got = Some(output);
        Poll::Ready(())
    }

    fn fire(self) -> R {
        (self.handler)(self.got.expect(FIRED_EARLY))
    }
}

struct TimerArm<F> {
    deadline: Instant,
    /// Made at the first poll on a runtime's thread; a plain thread checks the clock instead.
    sleep: Option<Sleep>,
    handler: F,
}

impl<R, F: FnOnce() -> R> sealed::Arm<R> for TimerArm<F> {
    const TIMER: bool = true;

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(sleep) = &mut self.sleep {
            return Pin::new(sleep).poll(cx);
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        if weft_runtime::Handle::try_current().is_ok() {
            let sleep = self
                .sleep
                .insert(weft_runtime::time::sleep_until(self.deadline));
            return Pin::new(sleep).poll(cx);
        }
        Poll::Pending
    }

    fn fire(self) -> R {
        (self.handler)()
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.deadline)
    }
}

/// The order one select polls its arms in: `start`, `start + stride`, ... (mod the number of
/// arms), with `stride` coprime to it, so every arm comes once. Drawn at random per select:
/// for any two arms, the orders that put one first and those that put the other first pair up
/// (`start' = a + b - start`, `stride' = -stride`), so two always-ready arms win equally often.
#[derive(Debug, Clone, Copy)]
struct Order {
    start: usize,
    stride: usize,
}

impl Order {
    fn random(n: usize) -> Order {
        let n64 = n as u64;
        let start = (random_u64() % n64) as usize;
        // Uniform over the strides coprime with `n` (redrawn, not bumped to the next coprime
        // one: bumping made some strides likelier than their mirror `n - stride`, which broke
        // the pairing above). `1` always qualifies, so this ends quickly.
        let stride = loop {
            let stride = 1 + (random_u64() % n64) as usize;
            if gcd(stride, n) == 1 {
                break stride;
            }
        };
        Order { start, stride }
    }

    fn nth(self, k: usize, n: usize) -> usize {
        (self.start + k * self.stride) % n
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A per-thread xorshift generator, seeded from std's per-process random hasher keys.
fn random_u64() -> u64 {
    use std::hash::BuildHasher;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::collections::hash_map::RandomState::new().hash_one(thread::current().id()) | 1,
        );
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// `wait` on a plain thread: polls with a waker that unparks this thread, and parks until it
/// fires or the earliest timer's deadline passes (weft's timers need a runtime's reactor).
fn park_thread<R, L: Arms<R>>(select: &mut Select<R, L>) -> usize {
    let parker = ThreadParker::new();
    let waker = parker.waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(winner) = select.poll_winner(&mut cx) {
            return winner;
        }
        parker.park(select.arms.deadline());
    }
}
