//! Schedulers: who runs which task, on which thread, in which order.

pub(crate) mod current_thread;
mod local_queue;
mod owned;
pub(crate) mod stall;

pub(crate) use owned::OwnedTasks;
