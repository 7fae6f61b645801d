//! What the Deep Dream section shows: the image, the VGG19 weights, the settings, the
//! controls, and the dream (step, octave, objective, speed, preview, the objective's chart)
//! and its result.

use super::{DeepDream, DeepDreamMsg, DreamView, JobKind};
use crate::app::loss_chart::LossChart;
use crate::app::samples::SampleKind;
use crate::app::vgg::job_bars;
use crate::app::widgets::{BlobImage, ControlNames, DownloadLink, DropZone, ImageCanvas, SamplePicker};
use yew::prelude::*;

/// Pause, Resume and Cancel as the tests know them.
const CONTROLS: ControlNames = ControlNames {
    pause: "dream-pause",
    resume: "dream-resume",
    cancel: "dream-cancel",
    cancel_label: "Cancel",
    cancelling_label: "Cancelling...",
};

impl DeepDream {
    pub fn view(&self, ready: bool, cb: Callback<DeepDreamMsg>) -> Html {
        let busy = self.job.is_some();
        let disabled = !ready || busy;
        let on_file = cb.reform(|(name, bytes)| DeepDreamMsg::Image { name, bytes });
        let on_error = cb.reform(DeepDreamMsg::FileError);
        let uses = "Deep Dream amplifies the features of a layer of";
        html! {
            <section class="panel dream" data-testid="dream-panel">
                <h2>{ "Deep Dream (Mordvintsev et al.)" }</h2>
                <p>{ "Changes a picture so that one layer of VGG19 responds to it more and more strongly: the \
                      patterns that layer looks for (textures, eyes, scales...) grow out of the image, at several \
                      scales. It runs on your device; nothing is uploaded." }</p>
                <fieldset>
                    <legend>{ "Image" }</legend>
                    <DropZone id="dream-image-input" testid="dream-image-input" {disabled}
                        label="Choose the image to dream on, or drop it here" on_file={on_file.clone()} on_error={on_error.clone()} />
                    <SamplePicker kind={SampleKind::Content} testid="dream-sample" {disabled} {on_file} on_error={on_error.clone()} />
                    if let Some((name, bytes)) = &self.image {
                        <figure class="thumb-figure">
                            <BlobImage bytes={bytes.clone()} testid="dream-image-preview" alt={format!("image: {name}")} />
                            <figcaption data-testid="dream-image-name">{ name }</figcaption>
                        </figure>
                    }
                </fieldset>
                { self.vgg.view("dream", uses, disabled, &cb.reform(DeepDreamMsg::Vgg), on_error) }
                { self.form.view(busy, &cb) }
                { self.view_controls(ready, &cb) }
                { self.view_job() }
                if let Some(e) = &self.error {
                    <p class="error" data-testid="dream-error" role="alert">{ e }</p>
                }
                { self.dream.as_ref().map(|d| self.view_dream(d)).unwrap_or_default() }
                { self.view_result() }
            </section>
        }
    }

    fn view_controls(&self, ready: bool, cb: &Callback<DeepDreamMsg>) -> Html {
        let running = self.job.as_ref().filter(|j| j.about.kind == JobKind::Run);
        let hint = match (&self.job, &self.image, &self.vgg.info) {
            (Some(_), ..) => None,
            (None, None, _) => Some("Choose an image."),
            (None, Some(_), None) => Some("Load the VGG19 weights."),
            _ => None,
        };
        let can_start = ready && self.job.is_none() && self.image.is_some() && self.vgg.info.is_some();
        html! {
            <div class="row controls">
                <button class="button" data-testid="dream-start" disabled={!can_start} onclick={cb.reform(|_| DeepDreamMsg::Start)}>{ "Dream" }</button>
                if let Some(j) = running {
                    { j.about.control.buttons(&CONTROLS, cb.reform(DeepDreamMsg::Control)) }
                }
                if let Some(h) = hint { <span class="hint" data-testid="dream-hint">{ h }</span> }
            </div>
        }
    }

    fn view_job(&self) -> Html {
        let Some(j) = &self.job else { return html! {} };
        job_bars(&j.progress, &j.about.control, j.about.kind == JobKind::LoadVgg, "Deep Dream", "dream-status")
    }

    fn view_dream(&self, d: &DreamView) -> Html {
        let last = d.history.last();
        let step = last.map_or(0, |s| s.step);
        let octave = last.map_or(0, |s| s.octave as usize);
        let size = d.sizes.get(octave).map(|[h, w]| format!("{w}x{h}")).unwrap_or_default();
        let series = ["objective".to_string()];
        let look = LossChart { testid: "dream-chart", label: "the objective over the steps (log scale)", width: 320.0, height: 140.0, series: &series, legend: false };
        let chart = look.view(&d.history, |s| s.step as usize, |s, _| s.objective);
        html! {
            <div class="run" data-testid="dream-run">
                <div class="row">
                    <span data-testid="dream-step" data-step={step.to_string()} data-steps={d.steps.to_string()}>
                        { format!("Step {step} of {}", d.steps) }
                    </span>
                    <progress data-testid="dream-progress" max={d.steps.max(1).to_string()} value={step.to_string()} />
                    if !d.sizes.is_empty() {
                        <span data-testid="dream-octave" data-octave={octave.to_string()}>
                            { format!("octave {} of {} ({size})", octave + 1, d.sizes.len()) }
                        </span>
                    }
                    <span data-testid="dream-rate" data-value={d.rate.to_string()}>{ format!("{:.2} steps/s", d.rate) }</span>
                    <span class="loss" data-testid="dream-objective" data-value={last.map(|s| s.objective.to_string()).unwrap_or_default()}>
                        { format!("objective: {}", last.map_or("-".into(), |s| format!("{:.4e}", s.objective))) }
                    </span>
                </div>
                <div class="pair">
                    if let Some((step, img)) = &d.preview {
                        <figure data-testid="dream-preview-figure" data-step={step.to_string()}>
                            <ImageCanvas id="dream-preview" testid="dream-preview" image={img.clone()} />
                            <figcaption>{ format!("After step {step}") }</figcaption>
                        </figure>
                    }
                    <figure>{ chart }
                        <figcaption>{ "log10 of the objective (the layer's mean squared activation) over the steps; \
                            where a new octave starts, on a larger image, it jumps" }</figcaption></figure>
                </div>
            </div>
        }
    }

    fn view_result(&self) -> Html {
        let Some(r) = &self.result else { return html! {} };
        let stem = r.name.rsplit_once('.').map_or(r.name.as_str(), |(s, _)| s);
        html! {
            <div class="result" data-testid="dream-result" data-cancelled={r.cancelled.to_string()} data-steps-done={r.steps_done.to_string()}>
                if let Some(note) = &r.note { <p class="notice" data-testid="dream-note">{ note }</p> }
                <p class="hint" data-testid="dream-result-caption">
                    { format!("Result, {}x{}, {} steps in {:.1} s", r.image.0.width, r.image.0.height, r.steps_done, r.millis / 1000.0) }
                </p>
                <DownloadLink id="dream-download" testid="dream-download" png={r.image.clone()} filename={format!("{stem}-dream.png")} />
            </div>
        }
    }
}
