//! An in-process closure as a workload: it ends when the test thread says so, and there
//! is nothing to stop.

use super::watch::{Stopped, Workload};
use std::time::Instant;
use tokio::sync::oneshot;

/// The closure the test thread runs.
pub struct Closure {
    done: oneshot::Receiver<()>,
}

impl Closure {
    /// A closure whose end is announced on `done` (or by dropping its sender).
    pub fn new(done: oneshot::Receiver<()>) -> Closure {
        Closure { done }
    }
}

impl Workload for Closure {
    type View = ();

    fn describe(&self) -> String {
        format!("this process (pid {})", std::process::id())
    }

    async fn ended(&mut self, _start: Instant) -> bool {
        // Sent, or the sender dropped (the test thread panicked): either way it is over.
        let _ = (&mut self.done).await;
        true
    }

    async fn stop(&mut self, _view: &mut (), _gone: bool, _at_s: f64) -> Stopped {
        Stopped::default()
    }
}
