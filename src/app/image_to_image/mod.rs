//! The image-to-image sections, Pix2Pix and CycleGAN (one each, told apart by their
//! [`Slot`]): pick or drop a pretrained generator, drop an image, see input and output side
//! by side, or run it live on a camera or a video ([`live`]). The state lives here; every job
//! runs in the worker (`src/worker/image_to_image.rs`, on `src/techniques/image_to_image.rs`).

mod live;

use super::samples::SampleKind;
use super::widgets::{BarAttrs, DownloadLink, DropZone, ImageCanvas, SamplePicker, Shared, event_value};
use super::{Job, JobIds, Section, abort_job, catalog, own_event, take_next_step};
use crate::models::{ArchChoice, NormChoice};
use crate::protocol::{ImagePayload, JobEvent, JobId, ModelSource, Request, Slot, TranslateOptions};
use live::{Live, LiveMsg};
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

const BUILTIN: &str = "builtin";
const CATALOG: &str = "catalog:";

/// The loaded model, as the worker described it.
struct ModelInfo {
    name: String,
    description: String,
    from_cache: bool,
    /// The download differs from an earlier one, or could not be kept.
    note: Option<String>,
}

enum JobKind {
    Load,
    Translate,
}

/// What a job of this section does, and to what (a model's or an image's name).
struct Work {
    kind: JobKind,
    name: String,
}

struct Output {
    input: Shared<ImagePayload>,
    output: Shared<ImagePayload>,
    name: String,
    millis: f64,
    note: Option<String>,
}

/// One image-to-image section's state.
pub struct ImageToImage {
    slot: Slot,
    /// `builtin` or `catalog:{name}`.
    source: String,
    arch: String,
    norm: String,
    fit: bool,
    dropout: bool,
    model: Option<ModelInfo>,
    job: Option<Job<Work>>,
    /// The last image, so it can be translated again (new model, new options, new noise).
    image: Option<(String, Rc<Vec<u8>>)>,
    result: Option<Output>,
    error: Option<String>,
    /// A demo is on: translate the image as soon as the model it loads is in.
    run_after_load: bool,
    live: Live,
}

pub enum ImageToImageMsg {
    Source(String),
    Arch(String),
    Norm(String),
    Fit(bool),
    Dropout(bool),
    /// Load the built-in or catalog model chosen in the select.
    LoadChosen,
    ModelFile { name: String, bytes: Vec<u8> },
    Image { name: String, bytes: Vec<u8> },
    /// The start view's demo: this image through the built-in model (loaded first).
    Demo { name: String, bytes: Vec<u8> },
    Again,
    FileError(String),
    Live(LiveMsg),
}

impl ImageToImage {
    pub fn new(slot: Slot) -> Self {
        let source = match catalog::built_in(slot) {
            Some(_) => BUILTIN.to_string(),
            None => format!("{CATALOG}{}", catalog::models(slot).first().map_or("", |m| m.name.as_str())),
        };
        Self {
            slot,
            source,
            arch: "auto".into(),
            norm: "auto".into(),
            fit: true,
            dropout: true,
            model: None,
            job: None,
            image: None,
            result: None,
            error: None,
            run_after_load: false,
            live: Live::new(slot),
        }
    }

    fn prefix(&self) -> &'static str {
        match self.slot {
            Slot::Pix2Pix => "pix2pix",
            Slot::CycleGan => "cyclegan",
        }
    }

    fn options(&self) -> TranslateOptions {
        TranslateOptions { fit_to_device: self.fit, dropout: self.slot == Slot::Pix2Pix && self.dropout }
    }

    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: ImageToImageMsg, ids: &mut JobIds) -> Option<Request> {
        match msg {
            ImageToImageMsg::Source(s) => self.source = s,
            ImageToImageMsg::Arch(a) => self.arch = a,
            ImageToImageMsg::Norm(n) => self.norm = n,
            ImageToImageMsg::Fit(f) => self.fit = f,
            ImageToImageMsg::Dropout(d) => self.dropout = d,
            ImageToImageMsg::FileError(e) => self.error = Some(e),
            ImageToImageMsg::Demo { name, bytes } => {
                self.image = Some((name, Rc::new(bytes)));
                self.source = BUILTIN.to_string();
                self.run_after_load = true;
                return self.update(ImageToImageMsg::LoadChosen, ids);
            }
            ImageToImageMsg::LoadChosen => {
                let (label, url, sha256) = if self.source == BUILTIN {
                    let b = catalog::built_in(self.slot)?;
                    (b.label.to_string(), b.url.to_string(), Some(b.sha256.to_string()))
                } else {
                    let name = self.source.strip_prefix(CATALOG)?;
                    let sha256 = catalog::find(self.slot, name).and_then(|m| m.sha256.clone());
                    (format!("{name} (official)"), catalog::url(self.slot, name), sha256)
                };
                return self.load(ids.fresh(), ModelSource::Url { label, url, sha256 });
            }
            ImageToImageMsg::ModelFile { name, bytes } => return self.load(ids.fresh(), ModelSource::File { name, bytes }),
            ImageToImageMsg::Image { name, bytes } => {
                self.image = Some((name, Rc::new(bytes)));
                return self.translate(ids.fresh());
            }
            ImageToImageMsg::Again => return self.translate(ids.fresh()),
            ImageToImageMsg::Live(m) => return self.live.update(m, ids, self.slot),
        }
        None
    }

    fn load(&mut self, id: JobId, source: ModelSource) -> Option<Request> {
        // The selects only offer valid values; a bad one would fall back to auto.
        let arch = self.arch.parse::<ArchChoice>().unwrap_or_default();
        let norm = self.norm.parse::<NormChoice>().unwrap_or_default();
        self.error = None;
        self.job = Some(Job::sent(id, "sending to the worker", Work { kind: JobKind::Load, name: source.label().to_string() }));
        Some(Request::LoadModel { id, slot: self.slot, source, arch, norm })
    }

    fn translate(&mut self, id: JobId) -> Option<Request> {
        let (name, bytes) = self.image.clone()?;
        if self.model.is_none() {
            self.error = Some("load a model first".into());
            return None;
        }
        self.error = None;
        self.job = Some(Job::sent(id, "sending to the worker", Work { kind: JobKind::Translate, name: name.clone() }));
        Some(Request::Translate { id, slot: self.slot, name, bytes: (*bytes).clone(), options: self.options() })
    }

    pub fn view(&self, ready: bool, cb: Callback<ImageToImageMsg>) -> Html {
        let p = self.prefix();
        let busy = self.job.is_some();
        let (title, intro) = match self.slot {
            Slot::Pix2Pix => (
                "Pix2Pix (Isola et al.)",
                "Paired image-to-image translation: a U-Net generator trained on pairs of images \
                 (label maps and photos, edges and shoes...). Load a pretrained generator, then drop \
                 an image: it runs on your device, nothing is uploaded.",
            ),
            Slot::CycleGan => (
                "CycleGAN (Zhu et al.)",
                "Unpaired image-to-image translation: a ResNet generator that maps one kind of image to \
                 another (horses to zebras, photos to paintings...). Load a pretrained generator, then \
                 drop an image: it runs on your device, nothing is uploaded.",
            ),
        };
        html! {
            <section class="panel translate" data-testid={format!("{p}-panel")}>
                <h2>{ title }</h2>
                <p>{ intro }</p>
                { self.view_model(ready, busy, &cb) }
                { self.view_image(ready, busy, &cb) }
                { self.view_job() }
                if let Some(e) = &self.error {
                    <p class="error" id={format!("{p}-error")} data-testid="error" role="alert">{ e }</p>
                }
                { self.view_result() }
                { self.live.view(self.model.is_some(), ready, &cb.reform(ImageToImageMsg::Live)) }
            </section>
        }
    }

    fn view_model(&self, ready: bool, busy: bool, cb: &Callback<ImageToImageMsg>) -> Html {
        let p = self.prefix();
        let disabled = !ready || busy;
        let builtin = catalog::built_in(self.slot).map(|b| {
            html! { <option value={BUILTIN} selected={self.source == BUILTIN}>{ b.label }</option> }
        });
        let entries = catalog::models(self.slot).iter().map(|m| {
            let value = format!("{CATALOG}{}", m.name);
            let selected = self.source == value;
            html! { <option {value} {selected}>{ format!("Official: {}", m.name) }</option> }
        });
        let about = if self.source == BUILTIN {
            catalog::built_in(self.slot).map(|b| html! { <p class="hint" data-testid="source-description">{ b.description }</p> })
        } else {
            self.source.strip_prefix(CATALOG).and_then(|n| catalog::find(self.slot, n)).map(|m| {
                let url = catalog::url(self.slot, &m.name);
                html! {
                    <p class="hint" data-testid="source-description">
                        { &m.description }{ " Downloaded from the authors' server, which may refuse downloads from \
                           other web sites; if so, " }
                        <a href={url.clone()} target="_blank" rel="noopener">{ "download it yourself" }</a>
                        { " and drop the file below." }
                    </p>
                }
            })
        };
        let on_source = cb.reform(|e: web_sys::Event| ImageToImageMsg::Source(event_value(&e)));
        let on_arch = cb.reform(|e: web_sys::Event| ImageToImageMsg::Arch(event_value(&e)));
        let on_norm = cb.reform(|e: web_sys::Event| ImageToImageMsg::Norm(event_value(&e)));
        let option = |value: &'static str, label: &'static str, current: &str| {
            html! { <option {value} selected={current == value}>{ label }</option> }
        };
        let loaded = match &self.model {
            Some(m) => html! {
                <>
                <p class="model" id={format!("{p}-model")} data-testid="model-description" data-state="loaded"
                    data-from-cache={m.from_cache.to_string()}>
                    <strong>{ &m.name }</strong>{ ": " }{ &m.description }
                    if m.from_cache { <span class="hint">{ " (from cache)" }</span> }
                </p>
                if let Some(n) = &m.note { <p class="notice" data-testid="model-note">{ n }</p> }
                </>
            },
            None => html! {
                <p class="model hint" id={format!("{p}-model")} data-testid="model-description" data-state="none">
                    { "No model loaded yet." }
                </p>
            },
        };
        html! {
            <fieldset class="model-source">
                <legend>{ "Model" }</legend>
                <div class="row">
                    <select id={format!("{p}-model-source")} data-testid="model-source" aria-label="Pretrained model" disabled={disabled} onchange={on_source}>
                        { for builtin }
                        { for entries }
                    </select>
                    <button class="button" id={format!("{p}-load-model")} data-testid="load-model" disabled={disabled}
                        onclick={cb.reform(|_| ImageToImageMsg::LoadChosen)}>{ "Load" }</button>
                </div>
                { for about }
                <DropZone id={format!("{p}-model-file")} testid="model-file" disabled={disabled}
                    accept=".pth,.pt,.safetensors" label="Or choose a generator checkpoint (.pth or .safetensors), or drop one here"
                    on_file={cb.reform(|(name, bytes)| ImageToImageMsg::ModelFile { name, bytes })}
                    on_error={cb.reform(ImageToImageMsg::FileError)} />
                <details data-testid="advanced">
                    <summary>{ "Advanced: architecture and norm" }</summary>
                    <p class="hint">{ "Auto reads both from the checkpoint; set them for checkpoints with unusual key names." }</p>
                    <label>{ "Architecture " }
                        <select id={format!("{p}-arch")} data-testid="arch" disabled={disabled} onchange={on_arch}>
                            { for ["auto", "resnet_9blocks", "resnet_6blocks", "unet_256", "unet_128"].map(|a| option(a, a, &self.arch)) }
                        </select>
                    </label>
                    <label>{ " Norm " }
                        <select id={format!("{p}-norm")} data-testid="norm" disabled={disabled} onchange={on_norm}>
                            { for [("auto", "auto"), ("instance", "instance"), ("instance-affine", "instance (affine)"), ("batch", "batch")]
                                .map(|(value, label)| option(value, label, &self.norm)) }
                        </select>
                    </label>
                </details>
                { loaded }
            </fieldset>
        }
    }

    fn view_image(&self, ready: bool, busy: bool, cb: &Callback<ImageToImageMsg>) -> Html {
        let p = self.prefix();
        let has_model = self.model.is_some();
        let on_fit = cb.reform(|e: web_sys::Event| ImageToImageMsg::Fit(e.target_unchecked_into::<HtmlInputElement>().checked()));
        let on_dropout =
            cb.reform(|e: web_sys::Event| ImageToImageMsg::Dropout(e.target_unchecked_into::<HtmlInputElement>().checked()));
        html! {
            <fieldset class="image-source">
                <legend>{ "Image" }</legend>
                <div class="row options">
                    <label><input type="checkbox" id={format!("{p}-fit")} data-testid="fit-device" checked={self.fit}
                        onchange={on_fit} />{ " Fit to device (scale a too large image down, keeping its aspect ratio)" }</label>
                    if self.slot == Slot::Pix2Pix {
                        <label><input type="checkbox" id={format!("{p}-dropout")} data-testid="keep-dropout" checked={self.dropout}
                            onchange={on_dropout} />{ " Keep dropout on at test time (as in the paper: a little noise)" }</label>
                    }
                </div>
                <DropZone id={format!("{p}-image-input")} testid="image-input" disabled={!ready || busy || !has_model}
                    on_file={cb.reform(|(name, bytes)| ImageToImageMsg::Image { name, bytes })}
                    on_error={cb.reform(ImageToImageMsg::FileError)} />
                <SamplePicker kind={SampleKind::Content} testid="image-sample" disabled={!ready || busy || !has_model}
                    on_file={cb.reform(|(name, bytes)| ImageToImageMsg::Image { name, bytes })}
                    on_error={cb.reform(ImageToImageMsg::FileError)} />
                if !has_model { <p class="hint">{ "Load a model first." }</p> }
                if self.image.is_some() && has_model {
                    <button class="button" id={format!("{p}-again")} data-testid="translate-again" disabled={!ready || busy}
                        onclick={cb.reform(|_| ImageToImageMsg::Again)}>{ "Translate again" }</button>
                }
            </fieldset>
        }
    }

    fn view_job(&self) -> Html {
        let p = self.prefix();
        let Some(j) = &self.job else { return html! {} };
        let what = match j.about.kind {
            JobKind::Load => "Loading",
            JobKind::Translate => "Translating",
        };
        html! {
            <>
                { j.progress.download_bar(BarAttrs { id: Some(format!("{p}-download-progress")), testid: Some("download-progress"), state: None }) }
                { j.progress.bar(
                    BarAttrs { id: Some(format!("{p}-status")), testid: Some("status"), state: None },
                    format!("{what} {}: {}", j.about.name, j.progress.stage),
                ) }
            </>
        }
    }

    fn view_result(&self) -> Html {
        let p = self.prefix();
        let Some(r) = &self.result else { return html! {} };
        let stem = r.name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&r.name);
        html! {
            <div class="result">
                if let Some(note) = &r.note {
                    <p class="notice" id={format!("{p}-fit-note")} data-testid="fit-note">{ note }</p>
                }
                <div class="pair">
                    <figure><ImageCanvas id={format!("{p}-input-canvas")} testid="input-canvas" image={r.input.clone()} />
                        <figcaption>{ format!("Input, {}x{}", r.input.0.width, r.input.0.height) }</figcaption></figure>
                    <figure><ImageCanvas id={format!("{p}-output-canvas")} testid="output-canvas" image={r.output.clone()} />
                        <figcaption data-testid="output-caption">{ format!("Output, {}x{}, in {:.1} s", r.output.0.width, r.output.0.height, r.millis / 1000.0) }</figcaption></figure>
                </div>
                <DownloadLink id={format!("{p}-download")} testid="download" png={r.output.clone()}
                    filename={format!("{stem}-{p}.png")} />
            </div>
        }
    }
}

impl Section for ImageToImage {
    fn on_event(&mut self, id: JobId, ev: JobEvent) {
        if self.live.owns(id) {
            self.live.on_event(ev);
            return;
        }
        let Some(ev) = own_event(&mut self.job, &mut self.error, id, ev) else { return };
        match ev {
            JobEvent::ModelLoaded { name, description, from_cache, note, .. } => {
                self.job = None;
                self.error = None;
                self.model = Some(ModelInfo { name, description, from_cache, note });
            }
            JobEvent::Translated { input, output, millis, note, .. } => {
                let name = self.job.take().map(|j| j.about.name).unwrap_or_default();
                self.error = None;
                self.result = Some(Output { input: Shared(Rc::new(input)), output: Shared(Rc::new(output)), name, millis, note });
            }
            // Not sent for this section's jobs.
            _ => {}
        }
    }

    fn abort(&mut self, message: &str) {
        self.run_after_load = false;
        if self.live.is_on() {
            self.live.stop(Some(format!("The live view stopped: {message}")));
        }
        abort_job(&mut self.job, &mut self.error, message);
    }

    fn device_replaced(&mut self, _worker: bool) {
        self.model = None;
        if self.live.is_on() {
            self.live.stop(Some("The live view stopped: the model was on a device that is gone; load it again.".into()));
        }
    }

    fn follow_up(&mut self, ids: &mut JobIds) -> Option<Request> {
        // A failed load is already said by the section.
        if take_next_step(&mut self.run_after_load, &self.job, self.model.is_some()) {
            return self.translate(ids.fresh());
        }
        // A live view's next frame, once the last one is back.
        self.live.next_frame(ids, self.slot)
    }
}
