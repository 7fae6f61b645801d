//! What every long job in the worker shares: the control flags that Pause / Resume / Cancel
//! set, the step loop's pause and cancel handling, the steps-per-second rate, the batching
//! of per-step events and the yield between steps. Style transfer and training use one
//! [`StepLoop`] each; only their step and their events differ.
//!
//! Control messages do not wait in the job queue: `onmessage` sets the flags of
//! [`RunControl`] at once, and the loop reads them before every step. Between steps the loop
//! yields to the event loop with a `setTimeout(0)` promise: on WebGPU the asynchronous reads
//! already do, but on the CPU backend they resolve at once, and without the yield no message
//! (and so no Pause or Cancel) would be delivered until the run ended.

use super::{now_ms, post_job};
use crate::protocol::{ControlAction, JobEvent, JobId};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;

pub use crate::js::sleep;

/// The flags of the running job, set by control messages as they arrive.
#[derive(Default)]
pub struct RunControl {
    running: Cell<Option<JobId>>,
    paused: Cell<bool>,
    cancelled: Cell<bool>,
    /// Cancels for jobs still waiting in the queue.
    cancel_queued: RefCell<HashSet<JobId>>,
}

impl RunControl {
    /// Applies a control message (called from `onmessage`, never queued).
    pub fn apply(&self, id: JobId, action: ControlAction) {
        let running = self.running.get() == Some(id);
        match action {
            ControlAction::Pause if running => self.paused.set(true),
            ControlAction::Resume if running => self.paused.set(false),
            ControlAction::Cancel if running => self.cancelled.set(true),
            ControlAction::Cancel => {
                self.cancel_queued.borrow_mut().insert(id);
            }
            ControlAction::Pause | ControlAction::Resume => {}
        }
    }

    /// Job `id` starts (it may have been cancelled while it waited in the queue).
    pub fn start(&self, id: JobId) {
        self.running.set(Some(id));
        self.paused.set(false);
        self.cancelled.set(self.cancel_queued.borrow_mut().remove(&id));
    }

    /// The running job ended.
    pub fn finish(&self) {
        self.running.set(None);
        self.paused.set(false);
        self.cancelled.set(false);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.get()
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }
}

/// Steps per second over the last ten steps.
#[derive(Default)]
struct Rate {
    times: std::collections::VecDeque<f64>,
}

impl Rate {
    fn tick(&mut self, t: f64) -> f64 {
        self.times.push_back(t);
        if self.times.len() > 11 {
            self.times.pop_front();
        }
        match (self.times.front(), self.times.back()) {
            (Some(a), Some(b)) if self.times.len() > 1 && b > a => (self.times.len() - 1) as f64 * 1000.0 / (b - a),
            _ => 0.0,
        }
    }

    fn restart(&mut self, t: f64) {
        self.times.clear();
        self.tick(t);
    }
}

/// At most this often, the batched step events go out: fast steps (small images, a fast
/// GPU) would otherwise keep the page busy redrawing.
const REPORT_EVERY_MS: f64 = 100.0;

/// A job's step loop: records each step, posts them in batches with the rate, and handles
/// Pause (waiting, with the time paused left out of the rate) and Cancel.
///
/// ```ignore
/// let mut steps = StepLoop::new(id, control, |steps, rate| JobEvent::...Steps { steps, rate });
/// while more {
///     if steps.pause_requested() {
///         steps.flush();
///         /* save, ... */
///         steps.wait_while_paused().await;
///     }
///     if steps.cancelled() { break; }
///     let record = step().await?;
///     steps.record(record, force_report);
///     sleep(0).await;
/// }
/// steps.flush();
/// ```
pub struct StepLoop<'a, T> {
    id: JobId,
    control: &'a RunControl,
    steps_event: Box<dyn Fn(Vec<T>, f64) -> JobEvent + 'a>,
    rate: Rate,
    rate_now: f64,
    unsent: Vec<T>,
    sent_at: f64,
}

impl<'a, T> StepLoop<'a, T> {
    /// The loop of job `id`; `steps_event(steps, steps_per_second)` is the job's own event
    /// for a batch of steps.
    pub fn new(id: JobId, control: &'a RunControl, steps_event: impl Fn(Vec<T>, f64) -> JobEvent + 'a) -> Self {
        let mut rate = Rate::default();
        let now = now_ms();
        rate.tick(now);
        StepLoop { id, control, steps_event: Box::new(steps_event), rate, rate_now: 0.0, unsent: Vec::new(), sent_at: now }
    }

    /// Pause was asked for (and the job is not cancelled): do what must happen before
    /// pausing, then [`StepLoop::wait_while_paused`].
    pub fn pause_requested(&self) -> bool {
        self.control.is_paused() && !self.control.is_cancelled()
    }

    /// Says the job is paused, waits for Resume or Cancel, says it goes on; the pause does
    /// not count in the rate.
    pub async fn wait_while_paused(&mut self) {
        self.flush();
        post_job(self.id, JobEvent::Paused { paused: true });
        while self.pause_requested() {
            sleep(50).await;
        }
        self.rate.restart(now_ms());
        post_job(self.id, JobEvent::Paused { paused: false });
    }

    pub fn cancelled(&self) -> bool {
        self.control.is_cancelled()
    }

    /// Records a finished step; the batch goes out when `report_now` or when the last one
    /// went out long enough ago.
    pub fn record(&mut self, step: T, report_now: bool) {
        self.rate_now = self.rate.tick(now_ms());
        self.unsent.push(step);
        if report_now || now_ms() - self.sent_at >= REPORT_EVERY_MS {
            self.flush();
        }
    }

    /// Posts the steps not yet reported.
    pub fn flush(&mut self) {
        if !self.unsent.is_empty() {
            post_job(self.id, (self.steps_event)(std::mem::take(&mut self.unsent), self.rate_now));
            self.sent_at = now_ms();
        }
    }
}
