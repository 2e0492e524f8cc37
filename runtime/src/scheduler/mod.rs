//! Schedulers: who runs which task, on which thread, in which order.

pub(crate) mod current_thread;
mod inject;
mod local_queue;
pub(crate) mod multi_thread;
mod owned;
pub(crate) mod stall;

pub(crate) use owned::OwnedTasks;
