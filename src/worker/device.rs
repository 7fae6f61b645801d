//! The device the worker runs its jobs on, and its replacement when it is lost.
//!
//! A GPU device can be lost at any time: a driver reset, a laptop switching GPUs, a browser
//! reclaiming the GPU of a backgrounded tab. Every later operation on it fails. A job that
//! fails asks [`WorkerDevice::after_failure`] whether that is why; if it is, a new device
//! replaces the lost one (the page is told with [`Event::DeviceLost`]) and the job decides
//! what to do: style transfer and training go on from their last kept state, the others end
//! with a message saying to try again.

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
    pub async fn after_failure(&self, failed: &Compute) -> Option<(Compute, String)> {
        let current = self.get().ok()?;
        if current.generation > failed.generation {
            return Some((current, "the GPU device was lost".into()));
        }
        let reason = failed.loss().await?;
        self.replaced.set(self.replaced.get() + 1);
        let next = if self.replaced.get() > MAX_REPLACEMENTS {
            failed.on_cpu(format!("the GPU device was lost {MAX_REPLACEMENTS} times in this session"))
        } else {
            failed.replacement().await
        };
        log::warn!("the GPU device was lost ({reason}); now on {}", next.info.summary());
        post(&Event::DeviceLost { reason: reason.clone(), device: next.info.clone() });
        self.set(next.clone());
        Some((next, reason))
    }
}
