//! The style transfer job: neural style transfer run step by step in the worker, streaming
//! each step's losses and a preview every few steps, and obeying Pause / Resume / Cancel
//! between steps (the loop is `job::StepLoop`'s).
//!
//! Every few steps the image is copied to the worker's memory. When the GPU device is lost
//! mid-run, the run goes on, on the device that replaces it, from the last copy
//! ([`JobEvent::Recovered`]); the optimiser's moments were on the lost device and start
//! afresh.

use super::device::WorkerDevice;
use super::job::{RunControl, StepLoop, sleep};
use super::vgg::VggWeights;
use super::{now_ms, payload, post_job, preview, progress};
use crate::device::Compute;
use crate::imaging;
use crate::protocol::{ImagePayload, JobEvent, JobId, StepLosses, StyleTransferJob};
use crate::techniques::style_transfer::{InitKind, NstRun, Prepared, Settings, initial_image};
use burn::tensor::{Tensor, TensorData};

/// Steps between two copies of the image kept against a device loss, when previews do not
/// set the pace.
const KEEP_EVERY: u32 = 10;

/// The image a run goes on from after a device loss: the one after `step` steps, or the
/// initial image while no step was kept.
#[derive(Default)]
struct Kept {
    step: u32,
    image: Option<TensorData>,
}

/// How a run's steps ended, and the image they ended with.
struct Ended {
    done: u32,
    cancelled: bool,
    image: TensorData,
}

/// Runs a style transfer job; returns the final event (or an error for the user).
pub async fn run(id: JobId, job: StyleTransferJob, vgg: &mut VggWeights, device: &WorkerDevice, control: &RunControl) -> Result<JobEvent, String> {
    control.start(id);
    let res = run_inner(id, job, vgg, device, control).await;
    control.finish();
    res
}

async fn run_inner(id: JobId, job: StyleTransferJob, vgg: &mut VggWeights, device: &WorkerDevice, control: &RunControl) -> Result<JobEvent, String> {
    const STAGES: u32 = 3;
    let t0 = now_ms();
    if control.is_cancelled() {
        return Err("cancelled before it started".into());
    }
    let s = &job.settings;
    s.validate(&job.styles.iter().map(|(_, w)| *w).collect::<Vec<_>>()).map_err(|e| e.to_string())?;
    progress(id, 0, STAGES, "decoding the images");
    let content_img = imaging::decode(&job.content.bytes).map_err(|e| format!("{}: {e}", job.content.name))?;
    let mut style_imgs = Vec::with_capacity(job.styles.len());
    for (img, w) in &job.styles {
        let decoded = imaging::decode(&img.bytes).map_err(|e| format!("{}: {e}", img.name))?;
        style_imgs.push((decoded, *w));
    }
    let mut compute = device.get()?;
    // The same sizes and bound as the CLI (techniques::style_transfer::Settings::prepare).
    let images = s.prepare(&content_img, &style_imgs, vgg.first_width(), compute.info.limits.as_ref()).map_err(|e| e.to_string())?;

    let mut kept = Kept::default();
    let mut recoveries = Vec::new();
    let mut steps = StepLoop::new(id, control, |steps, rate| JobEvent::StyleTransferSteps { steps, rate });
    let mut started = false;
    let ended = loop {
        let attempt = async {
            let mut nst = begin(id, s, &images, vgg, &compute, &kept, control).await?;
            if !std::mem::replace(&mut started, true) {
                let (w, h) = images.content.dimensions();
                post_job(id, JobEvent::StyleTransferStarted { width: w, height: h, steps: s.steps });
                if s.preview_every > 0 {
                    post_job(id, JobEvent::StyleTransferPreview { step: 0, image: image_at(&nst, s, &images).await? });
                }
            }
            run_steps(id, &mut nst, (s, &images), &compute, &mut steps, &mut kept).await
        };
        match attempt.await {
            Ok(ended) => break ended,
            Err(e) => {
                let Some((next, reason)) = device.after_failure(&compute).await else { return Err(e) };
                let note = format!(
                    "The GPU device was lost ({reason}). The run goes on on {} from step {}, the last image kept; \
                     the optimiser's state was on the lost device and starts afresh.",
                    next.info.summary(),
                    kept.step
                );
                post_job(id, JobEvent::Recovered { step: kept.step as usize, note: note.clone() });
                recoveries.push(note);
                compute = next;
            }
        }
    };
    let Ended { done, mut cancelled, image } = ended;
    if !cancelled && control.is_cancelled() {
        // Cancelled during the last step: it finished anyway.
        cancelled = done < s.steps;
    }
    let image = shown(image, s, &images, true)?;
    let mut notes = recoveries;
    if cancelled {
        notes.push(format!("Cancelled at step {done} of {}: this is the image at that step.", s.steps));
    }
    let note = (!notes.is_empty()).then(|| notes.join(" "));
    Ok(JobEvent::StyleTransferDone { image, steps_done: done, cancelled, millis: now_ms() - t0, note })
}

/// Builds the network and the run on `compute`, starting from `kept`.
async fn begin(
    id: JobId,
    s: &Settings,
    images: &Prepared,
    vgg: &mut VggWeights,
    compute: &Compute,
    kept: &Kept,
    control: &RunControl,
) -> Result<NstRun, String> {
    const STAGES: u32 = 3;
    let deepest = s.config.deepest();
    progress(id, 1, STAGES, &format!("loading VGG19 up to {deepest}"));
    let net = vgg.network(id, deepest, s.pooling, compute, &|| control.is_cancelled()).await?;
    if control.is_cancelled() {
        return Err("cancelled before the first step".into());
    }
    progress(id, 2, STAGES, "computing the style and content targets");
    let device = compute.device.clone().autodiff();
    let content = imaging::to_tensor(&images.content, &device);
    let styles: Vec<_> = images.styles.iter().map(|(img, w)| (imaging::to_tensor(img, &device), *w)).collect();
    let init = match (&kept.image, s.init) {
        (Some(data), _) => Tensor::from_data(data.clone(), &device),
        (None, InitKind::Style) => initial_image(InitKind::Style, &content, &styles[0].0),
        (None, other) => initial_image(other, &content, &content),
    };
    let nst = NstRun::new(net, content, &styles, init, s.config.clone()).map_err(|e| e.to_string())?;
    progress(id, STAGES, STAGES, "running");
    Ok(nst)
}

/// Runs the steps from `kept.step` to the end (or a cancel), keeping a copy of the image
/// every few steps and at the end. Ends at the first step after which `compute` has run out
/// of memory: what it reads back is not to be trusted (see [`Compute::out_of_memory`]).
async fn run_steps(
    id: JobId,
    nst: &mut NstRun,
    (s, images): (&Settings, &Prepared),
    compute: &Compute,
    steps: &mut StepLoop<'_, StepLosses>,
    kept: &mut Kept,
) -> Result<Ended, String> {
    let keep_every = if s.preview_every > 0 { s.preview_every } else { KEEP_EVERY };
    let mut done = kept.step;
    let mut cancelled = false;
    while done < s.steps {
        if steps.pause_requested() {
            steps.wait_while_paused().await;
        }
        if steps.cancelled() {
            cancelled = true;
            break;
        }
        let losses = nst.step().await.map_err(|e| {
            format!("step {} failed: {e}. If the device ran out of memory, choose a smaller size", done + 1)
        })?;
        done += 1;
        if compute.out_of_memory().is_some() {
            return Err(format!("step {done} ran out of GPU memory"));
        }
        if !losses.total.is_finite() {
            return Err(format!("the loss became {} at step {done}: lower the learning rate or the loss weights", losses.total));
        }
        let want_preview = s.preview_every > 0 && done.is_multiple_of(s.preview_every) && done < s.steps;
        steps.record(StepLosses { step: done, losses }, want_preview);
        let want_keep = done.is_multiple_of(keep_every);
        if want_preview || want_keep {
            // One read serves both (previews set the pace of the copies when they are on).
            let image = read_image(nst).await?;
            if want_preview {
                post_job(id, JobEvent::StyleTransferPreview { step: done, image: shown(image.clone(), s, images, false)? });
            }
            if want_keep {
                *kept = Kept { step: done, image: Some(image) };
            }
        }
        // Let control messages (and everything else) through between steps.
        sleep(0).await;
    }
    steps.flush();
    Ok(Ended { done, cancelled, image: read_image(nst).await? })
}

/// The run's current image, copied to the worker's memory. A read is a view of the device's
/// staging memory, which the browser takes away with a lost device: the copy is made now.
async fn read_image(nst: &NstRun) -> Result<TensorData, String> {
    let data = nst.image().into_data_async().await.map_err(|e| format!("could not read the image back: {e}"))?;
    let shape = data.shape().clone();
    let values = data.try_into_vec::<f32>().map_err(|e| format!("could not read the image back: {e:?}"))?;
    Ok(TensorData::new(values, shape))
}

/// The run's current image as a preview.
async fn image_at(nst: &NstRun, s: &Settings, images: &Prepared) -> Result<ImagePayload, String> {
    shown(read_image(nst).await?, s, images, false)
}

/// An image read back, as shown: a preview, or (`with_png`) the result to download.
fn shown(data: TensorData, s: &Settings, images: &Prepared, with_png: bool) -> Result<ImagePayload, String> {
    let mut out = imaging::from_data(data).map_err(|e| e.to_string())?;
    if s.preserve_colors {
        out = imaging::preserve_colors(&out, &images.content);
    }
    if with_png { payload(&out) } else { Ok(preview(&out)) }
}
