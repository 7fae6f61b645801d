//! What the Training section shows: the data, the controls and exports, and the run
//! (iteration, rate, each loss term on the chart, sample translations).

use super::{Kind, Set, Training, TrainingMsg, set_index};
use crate::app::loss_chart::{LossChart, series_class};
use crate::app::widgets::{BarAttrs, ControlNames, DropZone, FileDownload, ImageCanvas};
use crate::protocol::TrainExport;
use crate::techniques::training::{Model, StepRecord};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Pause, Resume and Stop as the tests know them (a stopped run stays resumable).
const CONTROLS: ControlNames = ControlNames {
    pause: "train-pause",
    resume: "train-continue",
    cancel: "train-stop",
    cancel_label: "Stop",
    cancelling_label: "Stopping...",
};

/// log10 of every loss term over the iterations (non-positive values, such as a
/// switched-off identity loss, are left out).
fn chart(names: &[String], history: &[StepRecord]) -> Html {
    let look = LossChart {
        testid: "train-chart",
        label: "training losses over the iterations (log scale)",
        width: 360.0,
        height: 150.0,
        series: names,
        legend: false,
    };
    look.view(history, |r| r.iteration, |r, i| r.losses.get(i).copied().unwrap_or(f64::NAN))
}

impl Training {
    pub fn view(&self, ready: bool, cb: Callback<TrainingMsg>) -> Html {
        let busy = self.job.is_some();
        html! {
            <section class="panel" data-testid="train-panel">
                <h2>{ "Train Pix2Pix, CycleGAN or a fast style network on your images" }</h2>
                <p class="hint">{ "Small-batch training on this device. The run is saved in this browser as it goes: reload the page and it resumes where it stopped." }</p>
                { self.view_saved(ready, busy, &cb) }
                { self.view_data(busy, &cb) }
                // Also for a kept fast style run, which needs VGG19 to resume.
                if self.model == Model::FastStyle || self.saved.as_ref().is_some_and(|s| s.spec.model == Model::FastStyle) {
                    { self.vgg.view("train", "A fast style network learns from the features of", !ready || busy,
                        &cb.reform(TrainingMsg::Vgg), cb.reform(TrainingMsg::FileError)) }
                }
                { self.form.view(self.model, busy, &cb) }
                { self.view_controls(ready, &cb) }
                if let Some(e) = &self.error { <p class="error" role="alert" data-testid="train-error">{ e }</p> }
                { self.view_job() }
                { self.view_run(&cb) }
            </section>
        }
    }

    fn view_saved(&self, ready: bool, busy: bool, cb: &Callback<TrainingMsg>) -> Html {
        let Some(s) = &self.saved else { return html! {} };
        html! {
            <div class="notice" data-testid="train-saved" data-iteration={s.iteration.to_string()}>
                { format!("A {} run is saved at iteration {} of {} ({} px, batch {}).", s.spec.model.label(), s.iteration, s.total_iterations, s.spec.size, s.spec.batch_size) }
                <button class="button" data-testid="train-resume" disabled={!ready || busy}
                    onclick={cb.reform(|_| TrainingMsg::Resume)}>{ "Resume training" }</button>
                <button class="button secondary" data-testid="train-discard" disabled={!ready || busy}
                    onclick={cb.reform(|_| TrainingMsg::Discard)}>{ "Discard it" }</button>
            </div>
        }
    }

    fn view_files(&self, set: Set, label: &'static str, busy: bool, cb: &Callback<TrainingMsg>) -> Html {
        let files = &self.files[set_index(set)];
        let key = match set {
            Set::A => "a",
            Set::B => "b",
            Set::Ab => "ab",
        };
        html! {
            <div class="field">
                <DropZone id={format!("train-files-{key}")} testid={format!("train-files-{key}")} disabled={busy} multiple=true
                    label={label}
                    on_file={cb.reform(move |(name, bytes)| TrainingMsg::AddFile { set, name, bytes })}
                    on_error={cb.reform(TrainingMsg::FileError)} />
                <span class="hint" data-testid={format!("train-count-{key}")} data-count={files.len().to_string()}>
                    { format!("{} file(s)", files.len()) }
                </span>
                if !files.is_empty() {
                    <button class="button secondary" disabled={busy} onclick={cb.reform(move |_| TrainingMsg::ClearFiles(set))}>{ "Clear" }</button>
                }
            </div>
        }
    }

    fn view_data(&self, busy: bool, cb: &Callback<TrainingMsg>) -> Html {
        let on_model = cb.reform(|e: web_sys::Event| {
            let id = e.target_unchecked_into::<HtmlInputElement>().value();
            TrainingMsg::Model(id.parse().unwrap_or(Model::Pix2Pix))
        });
        let on_pairing = cb.reform(|e: web_sys::Event| TrainingMsg::ByName(e.target_unchecked_into::<HtmlInputElement>().value() == "name"));
        let inits: Vec<Html> = self
            .model
            .generator_names()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let label = match &self.init[i] {
                    Some(f) => format!("{name}: fine-tune from {}", f.name),
                    None => format!("{name}: random N(0, 0.02) start; drop a pretrained generator to fine-tune it"),
                };
                html! {
                    <div class="field">
                        <DropZone id={format!("train-init-{i}")} testid={format!("train-init-{i}")} disabled={busy}
                            accept=".pth,.pt,.safetensors,.bin" label={label}
                            on_file={cb.reform(move |(name, bytes)| TrainingMsg::InitFile { index: i, name, bytes })}
                            on_error={cb.reform(TrainingMsg::FileError)} />
                        if self.init[i].is_some() {
                            <button class="button secondary" disabled={busy} onclick={cb.reform(move |_| TrainingMsg::ClearInit(i))}>{ "Start from random weights" }</button>
                        }
                    </div>
                }
            })
            .collect();
        // Discriminators come only with a run from junyanz's trainer.
        let n_g = self.model.generator_names().len();
        let from_junyanz: Vec<Html> = self.model.network_names()[n_g..]
            .iter()
            .enumerate()
            .filter_map(|(k, name)| {
                let i = n_g + k;
                self.init[i].as_ref().map(|f| html! {
                    <div class="field" data-testid={format!("train-init-{i}")}>
                        <span>{ format!("{name}: continues from {}", f.name) }</span>
                        <button class="button secondary" disabled={busy} onclick={cb.reform(move |_| TrainingMsg::ClearInit(i))}>{ "Start fresh" }</button>
                    </div>
                })
            })
            .collect();
        let continuing = self.init.iter().take(self.model.network_names().len()).skip(n_g).any(Option::is_some);
        let gans = self.model != Model::FastStyle;
        html! {
            <div class="group">
                <label>{ "Model " }
                    <select data-testid="train-model" disabled={busy} onchange={on_model}>
                        <option value="pix2pix" selected={self.model == Model::Pix2Pix}>{ "Pix2Pix (aligned pairs)" }</option>
                        <option value="cyclegan" selected={self.model == Model::CycleGan}>{ "CycleGAN (two unpaired sets)" }</option>
                        <option value="fast-style" selected={self.model == Model::FastStyle}>{ "Fast style network (your photos and one painting)" }</option>
                    </select>
                </label>
                if self.model == Model::FastStyle {
                    <p class="hint">{ "Johnson et al.'s network learns to paint any photo in the style of one image, in one \
                        pass: from then on it stylises instantly, in the Pix2Pix or CycleGAN tab, or live on a camera \
                        (export G below, then load it there). It learns from your photos: tens of varied pictures \
                        work, more work better." }</p>
                }
                if self.model == Model::Pix2Pix {
                    <label>{ " Pairs as " }
                        <select data-testid="train-pairing" disabled={busy} onchange={on_pairing}>
                            <option value="ab" selected={!self.by_name}>{ "side-by-side AB images" }</option>
                            <option value="name" selected={self.by_name}>{ "two sets matched by file name" }</option>
                        </select>
                    </label>
                }
                if self.model == Model::Pix2Pix && !self.by_name {
                    { self.view_files(Set::Ab, "Choose or drop AB images (A left, B right)", busy, cb) }
                } else if self.model == Model::FastStyle {
                    { self.view_files(Set::A, "Choose or drop your photos", busy, cb) }
                    { self.view_files(Set::B, "Choose or drop the style image (a painting...)", busy, cb) }
                } else {
                    { self.view_files(Set::A, "Choose or drop the A images", busy, cb) }
                    { self.view_files(Set::B, "Choose or drop the B images", busy, cb) }
                }
                { for inits }
                if gans {
                    <div class="field">
                        <DropZone id="train-junyanz" testid="train-junyanz" disabled={busy} multiple=true accept=".pth"
                            label="Continue a run from junyanz's trainer (a cluster's checkpoints folder): drop its latest_net_*.pth files"
                            on_file={cb.reform(|(name, bytes)| TrainingMsg::JunyanzFile { name, bytes })}
                            on_error={cb.reform(TrainingMsg::FileError)} />
                    </div>
                    { for from_junyanz }
                    if continuing {
                        <p class="hint" data-testid="train-junyanz-note">{ "junyanz's checkpoints hold no optimiser state: Adam \
                            starts with its moments at zero, and the learning-rate schedule is this run's own (the settings below)." }</p>
                    }
                }
            </div>
        }
    }

    fn view_controls(&self, ready: bool, cb: &Callback<TrainingMsg>) -> Html {
        let running = self.job.as_ref().filter(|j| j.about.kind == Kind::Run);
        let can_export = self.run.as_ref().is_some_and(|r| r.saved.is_some()) || self.saved.is_some();
        let model = self.run.as_ref().map(|r| r.model).or(self.saved.as_ref().map(|s| s.spec.model)).unwrap_or(self.model);
        let names: Vec<&'static str> = model.generator_names().to_vec();
        let exports = names.into_iter().map(|name| {
            html! {
                <button class="button secondary" data-testid={format!("train-export-{name}")} disabled={!can_export}
                    onclick={cb.reform(move |_| TrainingMsg::Export(TrainExport::Generator(name.to_string())))}>
                    { format!("Export {name} (.safetensors)") }</button>
            }
        });
        html! {
            <div class="row controls">
                <button class="button" data-testid="train-start" disabled={!ready || self.job.is_some()}
                    onclick={cb.reform(|_| TrainingMsg::Start)}>{ "Start training" }</button>
                if let Some(j) = running {
                    { j.about.control.buttons(&CONTROLS, cb.reform(TrainingMsg::Control)) }
                }
                { for exports }
                <button class="button secondary" data-testid="train-export-state" disabled={!can_export}
                    onclick={cb.reform(|_| TrainingMsg::Export(TrainExport::State))}>{ "Export the whole run" }</button>
                if model != Model::FastStyle {
                    <button class="button secondary" data-testid="train-export-junyanz" disabled={!can_export}
                        title="latest_net_*.pth, train_opt.txt and the command that continues the run on GPUs"
                        onclick={cb.reform(|_| TrainingMsg::Export(TrainExport::Junyanz))}>{ "Export for junyanz's trainer (.zip)" }</button>
                }
                if let Some((name, bytes)) = &self.export {
                    <FileDownload id="train-download" testid="train-download" bytes={bytes.clone()} filename={name.clone()}
                        label={format!("Download {name}")} />
                }
            </div>
        }
    }

    fn view_job(&self) -> Html {
        let Some(j) = &self.job else { return html! {} };
        let state = if j.about.control.paused { "paused" } else { "running" };
        let label = if j.about.control.paused { "Paused (saved)".to_string() } else { j.progress.stage.clone() };
        j.progress.bar(BarAttrs { testid: Some("train-status"), state: Some(state), ..BarAttrs::default() }, label)
    }

    fn view_run(&self, _cb: &Callback<TrainingMsg>) -> Html {
        let Some(r) = &self.run else { return html! {} };
        let last = r.history.last();
        let losses = r.loss_names.iter().enumerate().map(|(i, name)| {
            let v = last.and_then(|s| s.losses.get(i)).copied();
            html! {
                <span class={classes!("loss", series_class(i))} data-testid={format!("train-loss-{name}")}
                    data-value={v.map(|v| v.to_string()).unwrap_or_default()}>
                    { format!("{name}: {}", v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())) }
                </span>
            }
        });
        let sample = r.sample.as_ref().map(|(it, panels)| {
            let figs = panels.iter().enumerate().map(|(k, (label, img))| {
                html! {
                    <figure>
                        <ImageCanvas id={format!("train-sample-{k}")} testid={format!("train-sample-{k}")} image={img.clone()} />
                        <figcaption>{ label }</figcaption>
                    </figure>
                }
            });
            html! {
                <div class="pair" data-testid="train-sample" data-iteration={it.to_string()}>
                    { for figs }
                    <p class="hint">{ format!("Sample after iteration {it}") }</p>
                </div>
            }
        });
        html! {
            <div class="run" data-testid="train-run">
                if let Some(note) = &r.recovered { <p class="notice" role="status" data-testid="recovered">{ note }</p> }
                <p class="hint" data-testid="train-summary">{ &r.summary }</p>
                <div class="row">
                    <span data-testid="train-iteration" data-iteration={r.iteration.to_string()} data-total={r.total.to_string()}>
                        { format!("Iteration {} of {}", r.iteration, r.total) }
                    </span>
                    <progress max={r.total.max(1).to_string()} value={r.iteration.to_string()} />
                    <span data-testid="train-rate" data-value={r.rate.to_string()}>{ format!("{:.2} it/s", r.rate) }</span>
                    <span class="hint" data-testid="train-saved-at" data-iteration={r.saved.map(|s| s.to_string()).unwrap_or_default()}>
                        { r.saved.map(|s| format!("saved at iteration {s}")).unwrap_or_else(|| "not saved yet".into()) }
                    </span>
                </div>
                <div class="row losses">{ for losses }</div>
                <div class="pair">
                    <figure>{ chart(&r.loss_names, &r.history) }
                        <figcaption>{ "log10 of each loss term over the iterations" }</figcaption></figure>
                </div>
                { for sample }
            </div>
        }
    }
}
