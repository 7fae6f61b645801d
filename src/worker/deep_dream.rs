//! The Deep Dream job: the dream taken step by step in the worker ([`DreamRun`]), each step's
//! objective streamed, a preview every few steps and at the end of each octave, obeying
//! Pause / Resume / Cancel between steps (the loop is `job::StepLoop`'s, as style transfer's).
//!
//! A dream is short and starts from the user's image: a device lost mid-dream ends it with a
//! message (the worker starts a new device), and the user runs it again.

use super::device::WorkerDevice;
use super::job::{RunControl, StepLoop, sleep};
use super::vgg::VggWeights;
use super::{now_ms, payload, post_job, preview, progress};
use crate::device::Compute;
use crate::imaging;
use crate::models::Pooling;
use crate::protocol::{DreamJob, DreamStep, JobEvent, JobId};
use crate::techniques::deep_dream::{Dream, DreamRun};
use crate::techniques::style_transfer::check_size;

/// Runs a Deep Dream job; returns the final event (or an error for the user).
pub async fn run(id: JobId, job: DreamJob, vgg: &mut VggWeights, device: &WorkerDevice, control: &RunControl) -> Result<JobEvent, String> {
    control.start(id);
    let res = run_inner(id, job, vgg, device, control).await;
    control.finish();
    res
}

async fn run_inner(id: JobId, job: DreamJob, vgg: &mut VggWeights, device: &WorkerDevice, control: &RunControl) -> Result<JobEvent, String> {
    const STAGES: u32 = 3;
    let t0 = now_ms();
    let s = &job.settings;
    s.check()?;
    if job.size == 0 {
        return Err("the size must be at least 1 pixel".into());
    }
    progress(id, 0, STAGES, "decoding the image");
    let img = imaging::decode(&job.image.bytes).map_err(|e| format!("{}: {e}", job.image.name))?;
    let img = if img.width().max(img.height()) > job.size { imaging::resize_longest(&img, job.size) } else { img };
    let compute = device.get()?;
    check_size(img.width(), img.height(), vgg.first_width(), compute.info.limits.as_ref()).map_err(|e| e.to_string())?;
    progress(id, 1, STAGES, &format!("loading VGG19 up to {}", s.layer));
    let net = vgg.network(id, s.layer, Pooling::Max, &compute, &|| control.is_cancelled()).await?;
    if control.is_cancelled() {
        return Err("cancelled before the first step".into());
    }
    let dream = Dream::new(net, s.clone()).map_err(|e| e.to_string())?;
    let mut run = dream.begin(imaging::to_tensor(&img, &compute.device));
    let sizes = run.sizes().iter().map(|&[h, w]| [h as u32, w as u32]).collect();
    let total = s.total_steps() as u32;
    progress(id, STAGES, STAGES, "dreaming");
    post_job(id, JobEvent::DreamStarted { sizes, steps: total });
    let (done, cancelled) = run_steps(id, &mut run, job.preview_every, &compute, control).await?;
    let out = imaging::from_tensor(run.image().clone()).await.map_err(|e| format!("could not read the image back: {e}"))?;
    let note = cancelled.then(|| format!("Cancelled at step {done} of {total}: this is the image at that step, at its octave's size."));
    Ok(JobEvent::DreamDone { image: payload(&out)?, steps_done: done, cancelled, millis: now_ms() - t0, note })
}

/// Takes the steps to the end (or a cancel); returns the steps done and whether it was
/// cancelled. Ends at the first step after which `compute` has run out of memory.
async fn run_steps(id: JobId, run: &mut DreamRun<'_>, preview_every: u32, compute: &Compute, control: &RunControl) -> Result<(u32, bool), String> {
    let mut steps = StepLoop::new(id, control, |steps, rate| JobEvent::DreamSteps { steps, rate });
    while !run.finished() {
        if steps.pause_requested() {
            steps.wait_while_paused().await;
        }
        if steps.cancelled() {
            steps.flush();
            return Ok((run.steps_done() as u32, true));
        }
        let objective = run.step().map_err(|e| e.to_string())?;
        let done = run.steps_done() as u32;
        let objective = read_scalar(objective).await.map_err(|e| format!("step {done} failed: {e}"))?;
        if compute.out_of_memory().is_some() {
            return Err(format!("step {done} ran out of GPU memory"));
        }
        if !objective.is_finite() {
            return Err(format!("the objective became {objective} at step {done}: lower the step size"));
        }
        let (octave, _) = run.position();
        let want_preview = !run.finished() && (run.octave_done() || (preview_every > 0 && done.is_multiple_of(preview_every)));
        steps.record(DreamStep { step: done, octave: octave as u32, objective }, want_preview);
        if want_preview {
            let image = imaging::from_tensor(run.image().clone()).await.map_err(|e| format!("could not read the image back: {e}"))?;
            post_job(id, JobEvent::DreamPreview { step: done, image: preview(&image) });
        }
        // Let control messages (and everything else) through between steps.
        sleep(0).await;
    }
    steps.flush();
    Ok((run.steps_done() as u32, false))
}

/// A one-value tensor's value, read back.
async fn read_scalar(t: burn::tensor::Tensor<1>) -> Result<f64, String> {
    let data = t.into_data_async().await.map_err(|e| format!("could not read the objective back: {e}"))?;
    match data.try_into_vec::<f32>().map_err(|e| format!("could not read the objective back: {e:?}"))?.as_slice() {
        [v] => Ok(*v as f64),
        other => Err(format!("expected one value, got {}", other.len())),
    }
}
