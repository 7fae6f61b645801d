//! The device the worker runs its jobs on, and its replacement when it is lost.
//!
//! A GPU device can be lost at any time: a driver reset, a laptop switching GPUs, a browser
//! reclaiming the GPU of a backgrounded tab. Every later operation on it fails. A job that
//! fails asks [`WorkerDevice::after_failure`] whether that is why; if it is, a new device
//! replaces the lost one (the page is told with [`Event::DeviceLost`]) and the job decides
//! what to do: style transfer and training go on from their last kept state, the others end
//! with a message saying to try again.
//!
//! A device that ran out of memory under a job ([`Compute::out_of_memory`]) is not lost, but
//! Burn's memory pool may then hold a buffer that was never made: the job fails, and
//! [`WorkerDevice::after_job`] replaces the device the same way ([`Event::OutOfMemory`]).

use super::post;
use crate::device::Compute;
use crate::protocol::Event;
use std::cell::{Cell, RefCell};

/// Devices replaced in one worker before it gives up on the GPU and uses the CPU: a GPU
/// that keeps getting lost would otherwise have the jobs restart forever.
const MAX_REPLACEMENTS: u32 = 3;

/// The worker's device, once `Init` has started it.
#[derive(Default)]
pub struct WorkerDevice {
    current: RefCell<Option<Compute>>,
    replaced: Cell<u32>,
}

impl WorkerDevice {
    pub fn set(&self, compute: Compute) {
        *self.current.borrow_mut() = Some(compute);
    }

    /// The device to run a job on.
    pub fn get(&self) -> Result<Compute, String> {
        self.current.borrow().clone().ok_or_else(|| "the compute device is not ready yet".to_string())
    }

    /// Destroys the GPU device as a driver reset would lose it (the test-only
    /// `Request::LoseDevice`); the running job finds out at its next read.
    pub fn destroy(&self) {
        match self.current.borrow().as_ref() {
            Some(c) if c.destroy() => log::warn!("the GPU device was destroyed on request"),
            _ => log::warn!("no GPU device to destroy"),
        }
    }

    /// After a job failed on `failed`: if that device was lost, the device that replaces it
    /// (started now, or already by another job), with why it was lost. `None` when the
    /// device is fine and the failure is the job's own.
    /// A device that ran out of memory is not lost (`None`): the job ends, and
    /// [`after_job`](Self::after_job) replaces it.
    pub async fn after_failure(&self, failed: &Compute) -> Option<(Compute, String)> {
        let current = self.get().ok()?;
        if current.generation > failed.generation {
            return Some((current, "the GPU device was lost".into()));
        }
        if failed.out_of_memory().is_some() {
            return None;
        }
        let reason = failed.loss().await?;
        let next = self.replace(failed, "lost").await;
        log::warn!("the GPU device was lost ({reason}); now on {}", next.info.summary());
        post(&Event::DeviceLost { reason: reason.clone(), device: next.info.clone() });
        Some((next, reason))
    }

    /// After a job ran on `used`: if the GPU ran out of memory under it, why. The device is
    /// replaced then (once, whichever job finds out first), since its memory pool cannot be
    /// trusted, and the page is told: what was loaded on it must be loaded again.
    pub async fn after_job(&self, used: &Compute) -> Option<String> {
        let reason = used.out_of_memory()?;
        if self.get().ok()?.generation == used.generation {
            let next = self.replace(used, "renewed").await;
            log::warn!("the GPU device ran out of memory ({reason}); now on {}", next.info.summary());
            post(&Event::OutOfMemory { reason: reason.clone(), device: next.info.clone() });
        }
        Some(reason)
    }

    /// A new device in place of `old`, which was `what` ("lost"): the CPU once too many GPU
    /// devices were.
    async fn replace(&self, old: &Compute, what: &str) -> Compute {
        self.replaced.set(self.replaced.get() + 1);
        let next = if self.replaced.get() > MAX_REPLACEMENTS {
            old.on_cpu(format!("the GPU device was {what} {MAX_REPLACEMENTS} times in this session"))
        } else {
            old.replacement().await
        };
        self.set(next.clone());
        next
    }

    /// Reports an out-of-memory error on the GPU device (the test-only
    /// `Request::ExhaustMemory`); the running job finds out after its step.
    pub fn exhaust(&self) {
        match self.current.borrow().as_ref() {
            Some(c) if c.simulate_out_of_memory() => log::warn!("an out-of-memory error was reported on request"),
            _ => log::warn!("no GPU device to run out of memory"),
        }
    }
}
