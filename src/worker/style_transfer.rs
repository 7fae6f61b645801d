//! The style transfer job: neural style transfer run step by step in the worker, streaming
//! each step's losses and a preview every few steps, and obeying Pause / Resume / Cancel
//! between steps (the loop is `job::StepLoop`'s).

use super::job::{RunControl, StepLoop, sleep};
use super::vgg::VggWeights;
use super::{now_ms, payload, post_job, preview, progress};
use crate::device::Compute;
use crate::imaging;
use crate::protocol::{JobEvent, JobId, StepLosses, StyleTransferJob};
use crate::techniques::style_transfer::{InitKind, NstRun, initial_image};

/// Runs a style transfer job; returns the final event (or an error for the user).
pub async fn run(id: JobId, job: StyleTransferJob, vgg: &mut VggWeights, compute: &Compute, control: &RunControl) -> Result<JobEvent, String> {
    control.start(id);
    let res = run_inner(id, job, vgg, compute, control).await;
    control.finish();
    res
}

async fn run_inner(id: JobId, job: StyleTransferJob, vgg: &mut VggWeights, compute: &Compute, control: &RunControl) -> Result<JobEvent, String> {
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
    // The same sizes and bound as the CLI (techniques::style_transfer::Settings::prepare).
    let prepared = s.prepare(&content_img, &style_imgs, vgg.first_width(), compute.info.limits.as_ref()).map_err(|e| e.to_string())?;
    let (content_img, style_imgs) = (prepared.content, prepared.styles);
    let (w, h) = content_img.dimensions();

    let config = s.config.clone();
    let deepest = config.deepest();
    progress(id, 1, STAGES, &format!("loading VGG19 up to {deepest}"));
    let net = vgg.network(id, deepest, s.pooling, compute, &|| control.is_cancelled()).await?;
    if control.is_cancelled() {
        return Err("cancelled before the first step".into());
    }

    progress(id, 2, STAGES, "computing the style and content targets");
    let device = compute.device.clone().autodiff();
    let content = imaging::to_tensor(&content_img, &device);
    let styles: Vec<_> = style_imgs.iter().map(|(img, w)| (imaging::to_tensor(img, &device), *w)).collect();
    let init = match s.init {
        InitKind::Style => initial_image(InitKind::Style, &content, &styles[0].0),
        other => initial_image(other, &content, &content),
    };
    let mut nst = NstRun::new(net, content, &styles, init, config).map_err(|e| e.to_string())?;
    progress(id, STAGES, STAGES, "running");
    post_job(id, JobEvent::StyleTransferStarted { width: w, height: h, steps: s.steps });

    let image_at = |nst: &NstRun, with_png: bool| {
        let image = nst.image();
        let content_img = &content_img;
        let preserve = s.preserve_colors;
        async move {
            let mut out = imaging::from_tensor(image).await.map_err(|e| e.to_string())?;
            if preserve {
                out = imaging::preserve_colors(&out, content_img);
            }
            if with_png { payload(&out) } else { Ok(preview(&out)) }
        }
    };
    if s.preview_every > 0 {
        post_job(id, JobEvent::StyleTransferPreview { step: 0, image: image_at(&nst, false).await? });
    }

    let mut steps = StepLoop::new(id, control, |steps, rate| JobEvent::StyleTransferSteps { steps, rate });
    let mut done = 0u32;
    let mut cancelled = false;
    for step in 0..s.steps {
        if steps.pause_requested() {
            steps.wait_while_paused().await;
        }
        if steps.cancelled() {
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
        let want_preview = s.preview_every > 0 && done.is_multiple_of(s.preview_every) && done < s.steps;
        steps.record(StepLosses { step: done, losses }, want_preview);
        if want_preview {
            post_job(id, JobEvent::StyleTransferPreview { step: done, image: image_at(&nst, false).await? });
        }
        // Let control messages (and everything else) through between steps.
        sleep(0).await;
    }
    steps.flush();
    if !cancelled && control.is_cancelled() {
        // Cancelled during the last step: it finished anyway.
        cancelled = done < s.steps;
    }
    let image = image_at(&nst, true).await?;
    let note = cancelled.then(|| format!("Cancelled at step {done} of {}: this is the image at that step.", s.steps));
    Ok(JobEvent::StyleTransferDone { image, steps_done: done, cancelled, millis: now_ms() - t0, note })
}
