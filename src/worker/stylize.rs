//! The style transfer job: neural style transfer run step by step in the worker, streaming
//! each step's losses and a preview every few steps, and obeying Pause / Resume / Cancel
//! between steps.
//!
//! Control messages do not wait in the job queue: `onmessage` sets the flags of
//! [`RunControl`] at once, and the loop reads them before every step. Between steps the loop
//! yields to the event loop with a `setTimeout(0)` promise: on WebGPU the asynchronous reads
//! already do, but on the CPU backend they resolve at once, and without the yield no message
//! (and so no Pause or Cancel) would be delivered until the run ended.

use super::vgg::VggWeights;
use super::{now_ms, payload, post};
use crate::device::Compute;
use crate::imaging;
use crate::protocol::{ControlAction, Event, ImagePayload, JobId, StepLosses, StylizeJob};
use crate::techniques::nst::{InitKind, NstRun, initial_image};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
}

/// Waits `ms` milliseconds, letting the event loop run (messages get through).
pub async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}

/// The flags of the running style transfer, set by control messages as they arrive.
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

    pub(super) fn start(&self, id: JobId) {
        self.running.set(Some(id));
        self.paused.set(false);
        self.cancelled.set(self.cancel_queued.borrow_mut().remove(&id));
    }

    pub(super) fn finish(&self) {
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

fn stage(id: JobId, done: u32, total: u32, label: &str) {
    post(&Event::Progress { id, stage: label.into(), done, total });
}

/// Steps per second over the last few steps.
#[derive(Default)]
pub(super) struct Rate {
    pub(super) times: std::collections::VecDeque<f64>,
}

impl Rate {
    pub(super) fn tick(&mut self, t: f64) -> f64 {
        self.times.push_back(t);
        if self.times.len() > 11 {
            self.times.pop_front();
        }
        match (self.times.front(), self.times.back()) {
            (Some(a), Some(b)) if self.times.len() > 1 && b > a => (self.times.len() - 1) as f64 * 1000.0 / (b - a),
            _ => 0.0,
        }
    }
}

/// Runs a style transfer job; returns the final event (or an error for the user).
pub async fn run(id: JobId, job: StylizeJob, vgg: &mut VggWeights, compute: &Compute, control: &RunControl) -> Result<Event, String> {
    control.start(id);
    let res = run_inner(id, job, vgg, compute, control).await;
    control.finish();
    res
}

async fn run_inner(id: JobId, job: StylizeJob, vgg: &mut VggWeights, compute: &Compute, control: &RunControl) -> Result<Event, String> {
    const STAGES: u32 = 3;
    let t0 = now_ms();
    if control.is_cancelled() {
        return Err("cancelled before it started".into());
    }
    let s = &job.settings;
    s.validate(&job.styles.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
    stage(id, 0, STAGES, "decoding the images");
    let content_img = imaging::decode(&job.content.bytes).map_err(|e| format!("{}: {e}", job.content.name))?;
    let mut style_imgs = Vec::with_capacity(job.styles.len());
    for (img, w) in &job.styles {
        let decoded = imaging::decode(&img.bytes).map_err(|e| format!("{}: {e}", img.name))?;
        style_imgs.push((decoded, *w));
    }
    // The same sizes and bound as the CLI (techniques::nst::Settings::prepare).
    let prepared = s.prepare(&content_img, &style_imgs, vgg.first_width(), compute.info.limits.as_ref())?;
    let (content_img, style_imgs) = (prepared.content, prepared.styles);
    let (w, h) = content_img.dimensions();

    let config = s.config.clone();
    let deepest = config.deepest();
    stage(id, 1, STAGES, &format!("loading VGG19 up to {deepest}"));
    let net = vgg.network(id, deepest, s.pooling, compute, &|| control.is_cancelled()).await?;
    if control.is_cancelled() {
        return Err("cancelled before the first step".into());
    }

    stage(id, 2, STAGES, "computing the style and content targets");
    let device = compute.device.clone().autodiff();
    let content = imaging::to_tensor(&content_img, &device);
    let styles: Vec<_> = style_imgs.iter().map(|(img, w)| (imaging::to_tensor(img, &device), *w)).collect();
    let init = match s.init {
        InitKind::Style => initial_image(InitKind::Style, &content, &styles[0].0),
        other => initial_image(other, &content, &content),
    };
    let mut nst = NstRun::new(net, content, &styles, init, config)?;
    stage(id, STAGES, STAGES, "running");
    post(&Event::StylizeStarted { id, width: w, height: h, steps: s.steps });

    let preview = |nst: &NstRun, with_png: bool| {
        let image = nst.image();
        let content_img = &content_img;
        let preserve = s.preserve_colors;
        async move {
            let mut out = imaging::from_tensor(image).await.map_err(|e| e.to_string())?;
            if preserve {
                out = imaging::preserve_colors(&out, content_img);
            }
            if with_png {
                payload(&out)
            } else {
                Ok(ImagePayload { width: out.width(), height: out.height(), rgba: imaging::to_rgba(&out), png: Vec::new() })
            }
        }
    };
    if s.preview_every > 0 {
        post(&Event::StylizePreview { id, step: 0, image: preview(&nst, false).await? });
    }

    let mut rate = Rate::default();
    rate.tick(now_ms());
    // Steps not yet reported, and when the last report went out.
    let mut unsent: Vec<StepLosses> = Vec::new();
    let mut sent_at = now_ms();
    let mut it_per_s = 0.0;
    let flush = |unsent: &mut Vec<StepLosses>, sent_at: &mut f64, rate: f64| {
        if !unsent.is_empty() {
            post(&Event::StylizeSteps { id, steps: std::mem::take(unsent), rate });
            *sent_at = now_ms();
        }
    };
    let mut done = 0u32;
    let mut cancelled = false;
    let mut paused_ms = 0.0;
    for step in 0..s.steps {
        if control.paused.get() && !control.is_cancelled() {
            flush(&mut unsent, &mut sent_at, it_per_s);
            post(&Event::StylizePaused { id, paused: true });
            let since = now_ms();
            while control.paused.get() && !control.is_cancelled() {
                sleep(50).await;
            }
            paused_ms += now_ms() - since;
            rate.times.clear();
            rate.tick(now_ms() - paused_ms);
            post(&Event::StylizePaused { id, paused: false });
        }
        if control.is_cancelled() {
            cancelled = true;
            break;
        }
        let losses = nst.step().await.map_err(|e| {
            format!(
                "step {} failed: {e}. If the device ran out of memory, choose a smaller size",
                step + 1
            )
        })?;
        done = step + 1;
        if !losses.total.is_finite() {
            return Err(format!(
                "the loss became {} at step {done}: lower the learning rate or the loss weights",
                losses.total
            ));
        }
        it_per_s = rate.tick(now_ms() - paused_ms);
        unsent.push(StepLosses { step: done, losses });
        let want_preview = s.preview_every > 0 && done.is_multiple_of(s.preview_every) && done < s.steps;
        // At most about ten reports a second: fast steps (small images, a fast GPU) would
        // otherwise keep the page busy redrawing.
        if want_preview || now_ms() - sent_at >= 100.0 {
            flush(&mut unsent, &mut sent_at, it_per_s);
        }
        if want_preview {
            post(&Event::StylizePreview { id, step: done, image: preview(&nst, false).await? });
        }
        // Let control messages (and everything else) through between steps.
        sleep(0).await;
    }
    flush(&mut unsent, &mut sent_at, it_per_s);
    if !cancelled && control.is_cancelled() {
        // Cancelled during the last step: it finished anyway.
        cancelled = done < s.steps;
    }
    let image = preview(&nst, true).await?;
    let note = cancelled.then(|| format!("Cancelled at step {done} of {}: this is the image at that step.", s.steps));
    Ok(Event::StylizeDone { id, image, steps_done: done, cancelled, millis: now_ms() - t0, note })
}
