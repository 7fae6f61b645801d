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
use crate::techniques::nst::{InitKind, NstRun, Optimizer, initial_image};
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

/// Most pixels a run may take: on a GPU, VGG's widest full-resolution activation
/// (`first_width` channels, 4 bytes each) must fit in one storage binding with room to
/// spare for the convolution's temporaries; on the CPU a bound that keeps a browser tab's
/// memory (activations and their gradients for every layer) reasonable.
fn max_pixels(compute: &Compute, first_width: usize) -> u64 {
    const CPU_MAX_PIXELS: u64 = 1 << 20;
    match &compute.info.limits {
        None => CPU_MAX_PIXELS,
        Some(l) => {
            let binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
            (binding / 4 / (4 * first_width.max(3) as u64)).min(4 * CPU_MAX_PIXELS)
        }
    }
}

fn check_settings(job: &StylizeJob) -> Result<(), String> {
    let s = &job.settings;
    let c = &s.config;
    if job.styles.is_empty() {
        return Err("add at least one style image".into());
    }
    if job.styles.iter().any(|(_, w)| !(w.is_finite() && *w >= 0.0)) {
        return Err("style blend weights must be numbers >= 0".into());
    }
    if job.styles.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        return Err("the style blend weights must not all be zero".into());
    }
    if !(16..=imaging::MAX_SIDE).contains(&s.size) {
        return Err(format!("the size must be between 16 and {} pixels", imaging::MAX_SIDE));
    }
    if !(1..=100_000).contains(&s.steps) {
        return Err("the number of steps must be between 1 and 100000".into());
    }
    if !(s.style_scale.is_finite() && s.style_scale > 0.0) {
        return Err("the style scale must be a number > 0".into());
    }
    for (name, w) in [("alpha (content weight)", c.content_weight), ("beta (style weight)", c.style_weight), ("gamma (TV weight)", c.tv_weight)] {
        if !(w.is_finite() && w >= 0.0) {
            return Err(format!("{name} must be a number >= 0"));
        }
    }
    let lr = match c.optimizer {
        Optimizer::Adam { lr } | Optimizer::Lbfgs { lr, .. } => lr,
    };
    if !(lr.is_finite() && lr > 0.0) {
        return Err("the learning rate must be a number > 0".into());
    }
    if c.style_layers.is_empty() {
        return Err("choose at least one style layer".into());
    }
    Ok(())
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
    check_settings(&job)?;
    let s = &job.settings;
    stage(id, 0, STAGES, "decoding the images");
    let content_img = imaging::decode(&job.content.bytes).map_err(|e| format!("{}: {e}", job.content.name))?;
    let content_img = imaging::resize_longest(&content_img, s.size);
    let style_side = ((s.size as f64 * s.style_scale).round() as u32).clamp(16, imaging::MAX_SIDE);
    let mut style_imgs = Vec::with_capacity(job.styles.len());
    for (img, w) in &job.styles {
        let decoded = imaging::decode(&img.bytes).map_err(|e| format!("{}: {e}", img.name))?;
        style_imgs.push((imaging::resize_longest(&decoded, style_side), *w));
    }
    let (w, h) = content_img.dimensions();
    let max = max_pixels(compute, vgg.first_width());
    let largest = std::iter::once((w, h)).chain(style_imgs.iter().map(|(i, _)| i.dimensions()));
    for (iw, ih) in largest {
        if iw as u64 * ih as u64 > max {
            let side = ((max as f64).sqrt() as u32).max(16);
            return Err(format!(
                "an image of {iw}x{ih} is too large for style transfer on this device (at most about \
                 {:.2} megapixels, e.g. {side}x{side}): choose a smaller size or style scale",
                max as f64 / 1e6
            ));
        }
    }

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
