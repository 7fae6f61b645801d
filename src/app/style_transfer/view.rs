//! What the Style Transfer section shows: the images, the VGG19 weights, the controls,
//! and the run (step, losses, speed, preview, the loss chart) and its result.

use super::{JobKind, StyleTransfer, StyleTransferMsg};
use crate::app::loss_chart::LossChart;
use crate::app::samples::SampleKind;
use crate::app::vgg::job_bars;
use crate::app::widgets::{BlobImage, ControlNames, DownloadLink, DropZone, ImageCanvas, SamplePicker};
use crate::techniques::style_transfer::Losses;
use web_sys::HtmlInputElement;
use yew::prelude::*;

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name)
}

/// Pause, Resume and Cancel as the tests know them.
const CONTROLS: ControlNames =
    ControlNames { pause: "pause", resume: "resume", cancel: "cancel", cancel_label: "Cancel", cancelling_label: "Cancelling..." };

/// log10 of the total loss and its weighted terms over the steps.
fn chart(history: &[(u32, Losses)], weights: [f64; 3]) -> Html {
    let series = ["total", "content", "style", "tv"].map(String::from);
    let look = LossChart { testid: "loss-chart", label: "loss over the steps (log scale)", width: 320.0, height: 140.0, series: &series, legend: true };
    look.view(
        history,
        |(step, _)| *step as usize,
        |(_, l), i| match i {
            0 => l.total,
            1 => l.content * weights[0],
            2 => l.style * weights[1],
            _ => l.tv * weights[2],
        },
    )
}

impl StyleTransfer {
    pub fn view(&self, ready: bool, cb: Callback<StyleTransferMsg>) -> Html {
        let busy = self.job.is_some();
        html! {
            <section class="panel stylize" data-testid="stylize-panel">
                <h2>{ "Neural style transfer (Gatys et al.)" }</h2>
                <p>{ "Paints a content image in the style of one or more style images: the picture is optimised, \
                      step by step, so that its VGG19 features match the content image and the Gram matrices of \
                      its features match the style images'. It runs on your device; nothing is uploaded." }</p>
                { self.view_images(ready, busy, &cb) }
                { self.view_vgg(ready, busy, &cb) }
                { self.form.view(busy, &cb) }
                { self.view_controls(ready, &cb) }
                { self.view_job() }
                if let Some(e) = &self.error {
                    <p class="error" id="stylize-error" data-testid="stylize-error" role="alert">{ e }</p>
                }
                { self.view_run() }
                { self.view_result() }
            </section>
        }
    }

    fn view_images(&self, ready: bool, busy: bool, cb: &Callback<StyleTransferMsg>) -> Html {
        let disabled = !ready || busy;
        let content = self.content.as_ref().map(|(name, bytes)| {
            html! {
                <figure class="thumb-figure">
                    <BlobImage bytes={bytes.clone()} testid="content-preview" alt={format!("content: {name}")} />
                    <figcaption data-testid="content-name">{ name }</figcaption>
                </figure>
            }
        });
        let styles = self.styles.iter().enumerate().map(|(i, s)| {
            let on_weight =
                cb.reform(move |e: InputEvent| StyleTransferMsg::StyleWeight(i, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! {
                <figure class="thumb-figure" data-testid="style-item">
                    <BlobImage bytes={s.bytes.clone()} testid={format!("style-preview-{i}")} alt={format!("style: {}", s.name)} />
                    <figcaption>{ &s.name }</figcaption>
                    <label>{ "Blend weight " }
                        <input type="number" min="0" step="0.1" class="small" data-testid={format!("style-weight-{i}")}
                            value={s.weight.clone()} disabled={busy} oninput={on_weight} />
                    </label>
                    <button class="link" data-testid={format!("style-remove-{i}")} disabled={busy}
                        onclick={cb.reform(move |_| StyleTransferMsg::RemoveStyle(i))}>{ "Remove" }</button>
                </figure>
            }
        });
        // A drop zone and the samples of `kind`, both handing their image to `on_file`.
        let zone = |kind: SampleKind, label: &'static str, on_file: Callback<(String, Vec<u8>)>| {
            let name = if kind == SampleKind::Content { "content" } else { "style" };
            let on_error = cb.reform(StyleTransferMsg::FileError);
            html! {
                <>
                    <DropZone id={format!("stylize-{name}-input")} testid={format!("{name}-input")} {disabled} {label}
                        on_file={on_file.clone()} on_error={on_error.clone()} />
                    <SamplePicker {kind} testid={format!("{name}-sample")} {disabled} {on_file} {on_error} />
                </>
            }
        };
        html! {
            <div class="images-grid">
                <fieldset>
                    <legend>{ "Content image" }</legend>
                    { zone(SampleKind::Content, "Choose the content image (the picture to repaint), or drop it here",
                        cb.reform(|(name, bytes)| StyleTransferMsg::Content { name, bytes })) }
                    { for content }
                </fieldset>
                <fieldset>
                    <legend>{ "Style images" }</legend>
                    { zone(SampleKind::Style, "Add a style image (a painting...), or drop one here; add several to blend them",
                        cb.reform(|(name, bytes)| StyleTransferMsg::AddStyle { name, bytes })) }
                    <div class="thumbs">{ for styles }</div>
                </fieldset>
            </div>
        }
    }

    fn view_vgg(&self, ready: bool, busy: bool, cb: &Callback<StyleTransferMsg>) -> Html {
        let uses = "Style transfer reads its features from";
        self.vgg.view("stylize", uses, !ready || busy, &cb.reform(StyleTransferMsg::Vgg), cb.reform(StyleTransferMsg::FileError))
    }

    fn view_controls(&self, ready: bool, cb: &Callback<StyleTransferMsg>) -> Html {
        let running = self.job.as_ref().filter(|j| j.about.kind == JobKind::Run);
        let can_start = ready && self.job.is_none() && self.content.is_some() && !self.styles.is_empty() && self.vgg.info.is_some();
        let hint = if self.job.is_some() {
            None
        } else if self.content.is_none() {
            Some("Choose a content image.")
        } else if self.styles.is_empty() {
            Some("Add a style image.")
        } else if self.vgg.info.is_none() {
            Some("Load the VGG19 weights.")
        } else {
            None
        };
        html! {
            <div class="row controls">
                <button class="button" data-testid="start" disabled={!can_start} onclick={cb.reform(|_| StyleTransferMsg::Start)}>{ "Start" }</button>
                if let Some(j) = running {
                    { j.about.control.buttons(&CONTROLS, cb.reform(StyleTransferMsg::Control)) }
                }
                if let Some(h) = hint { <span class="hint" data-testid="start-hint">{ h }</span> }
            </div>
        }
    }

    fn view_job(&self) -> Html {
        let Some(j) = &self.job else { return html! {} };
        job_bars(&j.progress, &j.about.control, j.about.kind == JobKind::LoadVgg, "Style transfer", "stylize-status")
    }

    fn view_run(&self) -> Html {
        let Some(r) = &self.run else { return html! {} };
        if r.width == 0 && r.history.is_empty() && r.preview.is_none() {
            return html! {};
        }
        let loss = |testid: &'static str, label: &'static str, v: Option<f64>| {
            let text = v.map(|v| format!("{v:.4e}")).unwrap_or_else(|| "-".into());
            html! {
                <span class="loss" data-testid={testid} data-value={v.map(|v| v.to_string()).unwrap_or_default()}>
                    { label }{ ": " }{ text }
                </span>
            }
        };
        let l = r.losses;
        html! {
            <div class="run" data-testid="stylize-run">
                if let Some(note) = &r.recovered { <p class="notice" role="status" data-testid="recovered">{ note }</p> }
                <div class="row">
                    <span data-testid="stylize-step" data-step={r.step.to_string()} data-steps={r.steps.to_string()}>
                        { format!("Step {} of {}", r.step, r.steps) }
                    </span>
                    <progress data-testid="stylize-progress" max={r.steps.max(1).to_string()} value={r.step.to_string()} />
                    <span data-testid="stylize-rate" data-value={r.rate.to_string()}>{ format!("{:.2} it/s", r.rate) }</span>
                    if r.width > 0 { <span class="hint">{ format!("{}x{}", r.width, r.height) }</span> }
                </div>
                <div class="row losses">
                    { loss("loss-content", "content", l.map(|l| l.content)) }
                    { loss("loss-style", "style", l.map(|l| l.style)) }
                    { loss("loss-tv", "tv", l.map(|l| l.tv)) }
                    { loss("loss-total", "total", l.map(|l| l.total)) }
                </div>
                <div class="pair">
                    if let Some((step, img)) = &r.preview {
                        <figure data-testid="preview-figure" data-step={step.to_string()}>
                            <ImageCanvas id="stylize-preview" testid="stylize-preview" image={img.clone()} />
                            <figcaption>{ if self.job.is_none() && self.result.is_some() { format!("Result, after step {step}") } else { format!("After step {step}") } }</figcaption>
                        </figure>
                    }
                    <figure>{ chart(&r.history, r.weights) }
                        <figcaption>{ "log10 of the loss over the steps: total and its weighted terms" }</figcaption></figure>
                </div>
            </div>
        }
    }

    fn view_result(&self) -> Html {
        let Some(r) = &self.result else { return html! {} };
        let stem = stem(&r.name);
        html! {
            <div class="result" data-testid="stylize-result" data-cancelled={r.cancelled.to_string()}
                data-steps-done={r.steps_done.to_string()}>
                if let Some(note) = &r.note { <p class="notice" data-testid="stylize-note">{ note }</p> }
                <p class="hint" data-testid="stylize-result-caption">
                    { format!("Result, {}x{}, {} steps in {:.1} s", r.image.0.width, r.image.0.height, r.steps_done, r.millis / 1000.0) }
                </p>
                <DownloadLink id="stylize-download" testid="stylize-download" png={r.image.clone()}
                    filename={format!("{stem}-stylized.png")} />
            </div>
        }
    }
}
