//! The Style Transfer section: content and style images, VGG19 weights (a dropped file or a
//! URL read with range requests), the settings of `ai-art stylize`, and a live view of the
//! run (step, losses, speed, preview, a loss chart) with Pause, Resume and Cancel. Every
//! tensor operation runs in the worker; this holds the state and draws it.

use super::widgets::{BarAttrs, BlobImage, DownloadLink, DropZone, ImageCanvas, JobProgress, Shared};
use crate::models::vgg::{Pooling, VggLayer};
use crate::protocol::{ControlAction, Event, ImagePayload, JobId, ModelSource, NamedImage, Request, StylizeJob, StylizeSettings};
use crate::techniques::nst::{InitKind, Losses, NstConfig, Optimizer, StyleWeights};
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Most points drawn per series in the loss chart.
const CHART_POINTS: usize = 240;

/// torchvision's VGG19, where to get it.
const VGG_PTH_URL: &str = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth";

struct VggInfo {
    name: String,
    description: String,
    from_cache: bool,
    note: Option<String>,
}

struct StyleEntry {
    name: String,
    bytes: Shared<Vec<u8>>,
    weight: String,
}

#[derive(PartialEq)]
enum JobKind {
    LoadVgg,
    Run,
}

struct Job {
    id: JobId,
    kind: JobKind,
    progress: JobProgress,
    /// Pause asked for (the button shows Resume); `paused` once the worker confirms.
    pause_requested: bool,
    paused: bool,
    cancel_requested: bool,
}

/// What a run shows while it goes and after it ends.
struct RunView {
    width: u32,
    height: u32,
    steps: u32,
    step: u32,
    losses: Option<Losses>,
    rate: f64,
    /// (step, losses) of every step.
    history: Vec<(u32, Losses)>,
    /// alpha, beta, gamma of the run (the chart shows weighted terms).
    weights: [f64; 3],
    preview: Option<(u32, Shared<ImagePayload>)>,
}

struct Output {
    image: Shared<ImagePayload>,
    name: String,
    steps_done: u32,
    millis: f64,
    note: Option<String>,
    cancelled: bool,
}

/// The settings as typed (validated on Start).
#[derive(Clone)]
struct Form {
    size: String,
    steps: String,
    optimizer: String,
    lr: String,
    alpha: String,
    beta: String,
    gamma: String,
    content_layer: String,
    style_layers: String,
    layer_weights: String,
    decay: String,
    pooling: String,
    init: String,
    seed: String,
    style_scale: String,
    preview_every: String,
    preserve: bool,
}

impl Default for Form {
    fn default() -> Self {
        let s = StylizeSettings::default();
        let c = NstConfig::default();
        let lr = match c.optimizer {
            Optimizer::Adam { lr } | Optimizer::Lbfgs { lr, .. } => lr,
        };
        Form {
            size: s.size.to_string(),
            steps: s.steps.to_string(),
            optimizer: "adam".into(),
            lr: num(lr),
            alpha: num(c.content_weight),
            beta: num(c.style_weight),
            gamma: num(c.tv_weight),
            content_layer: c.content_layer.to_string(),
            style_layers: c.style_layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(","),
            layer_weights: "equal".into(),
            decay: "0.5".into(),
            pooling: "avg".into(),
            init: "content".into(),
            seed: "0".into(),
            style_scale: num(s.style_scale),
            preview_every: s.preview_every.to_string(),
            preserve: s.preserve_colors,
        }
    }
}

/// A number as the user would type it (`1000000` as `1e6`).
fn num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) { format!("{v:e}") } else { format!("{v}") }
}

/// Which setting an input edits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Field {
    Size,
    Steps,
    Optimizer,
    Lr,
    Alpha,
    Beta,
    Gamma,
    ContentLayer,
    StyleLayers,
    LayerWeights,
    Decay,
    Pooling,
    Init,
    Seed,
    StyleScale,
    PreviewEvery,
}

pub enum StyleMsg {
    Content { name: String, bytes: Vec<u8> },
    AddStyle { name: String, bytes: Vec<u8> },
    RemoveStyle(usize),
    StyleWeight(usize, String),
    VggFile { name: String, bytes: Vec<u8> },
    VggUrl(String),
    LoadVggUrl,
    Set(Field, String),
    Preserve(bool),
    Start,
    Pause,
    Resume,
    Cancel,
    FileError(String),
}

/// The Style Transfer section's state.
pub struct StylePanel {
    content: Option<(String, Shared<Vec<u8>>)>,
    styles: Vec<StyleEntry>,
    vgg_url: String,
    vgg: Option<VggInfo>,
    form: Form,
    job: Option<Job>,
    run: Option<RunView>,
    result: Option<Output>,
    error: Option<String>,
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.trim().parse::<T>().map_err(|_| format!("{what}: `{s}` is not a valid number"))
}

fn parse_f64(what: &str, s: &str, min_exclusive: Option<f64>) -> Result<f64, String> {
    let v: f64 = parse(what, s)?;
    if !v.is_finite() || v < 0.0 || min_exclusive.is_some_and(|m| v <= m) {
        return Err(format!("{what} must be a number {} 0", if min_exclusive.is_some() { ">" } else { ">=" }));
    }
    Ok(v)
}

fn input_value(e: &web_sys::Event) -> String {
    e.target()
        .and_then(|t| js_sys::Reflect::get(&t, &"value".into()).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn stem(name: &str) -> &str {
    name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name)
}

/// The file name of a URL, for the user.
fn url_label(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url).trim_end_matches('/');
    path.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(url).to_string()
}

impl Default for StylePanel {
    fn default() -> Self {
        Self::new()
    }
}

impl StylePanel {
    pub fn new() -> Self {
        StylePanel {
            content: None,
            styles: Vec::new(),
            vgg_url: String::new(),
            vgg: None,
            form: Form::default(),
            job: None,
            run: None,
            result: None,
            error: None,
        }
    }

    /// True when job `id` is this section's.
    pub fn owns(&self, id: JobId) -> bool {
        self.job.as_ref().is_some_and(|j| j.id == id)
    }

    /// Ends the running job with an error that is not about it (the worker failed).
    pub fn abort(&mut self, message: &str) {
        if self.job.take().is_some() {
            self.error = Some(message.to_string());
        }
    }

    fn settings(&self) -> Result<StylizeSettings, String> {
        let f = &self.form;
        let size: u32 = parse("size", &f.size)?;
        let steps: u32 = parse("steps", &f.steps)?;
        let lr = parse_f64("learning rate", &f.lr, Some(0.0))?;
        let optimizer = match f.optimizer.as_str() {
            "lbfgs" => Optimizer::Lbfgs { lr, history: 10 },
            _ => Optimizer::Adam { lr },
        };
        let content_layer: VggLayer = f.content_layer.parse()?;
        let style_layers = f
            .style_layers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse::<VggLayer>)
            .collect::<Result<Vec<_>, _>>()?;
        let style_weights = match f.layer_weights.as_str() {
            "decay" => StyleWeights::Decay(parse_f64("decay factor", &f.decay, Some(0.0))?),
            _ => StyleWeights::Equal,
        };
        let config = NstConfig {
            content_layer,
            style_layers,
            style_weights,
            content_weight: parse_f64("alpha (content weight)", &f.alpha, None)?,
            style_weight: parse_f64("beta (style weight)", &f.beta, None)?,
            tv_weight: parse_f64("gamma (TV weight)", &f.gamma, None)?,
            optimizer,
        };
        let init = match f.init.as_str() {
            "style" => InitKind::Style,
            "noise" => InitKind::Noise { seed: parse::<u32>("seed", &f.seed)? as u64 },
            _ => InitKind::Content,
        };
        Ok(StylizeSettings {
            size,
            style_scale: parse_f64("style scale", &f.style_scale, Some(0.0))?,
            steps,
            config,
            pooling: if f.pooling == "max" { Pooling::Max } else { Pooling::Average },
            init,
            preserve_colors: f.preserve,
            preview_every: parse("preview interval", &f.preview_every)?,
        })
    }

    fn new_job(&mut self, id: JobId, kind: JobKind, stage: &str) {
        self.error = None;
        self.job = Some(Job {
            id,
            kind,
            progress: JobProgress { stage: stage.into(), ..JobProgress::sent(3) },
            pause_requested: false,
            paused: false,
            cancel_requested: false,
        });
    }

    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: StyleMsg, next_id: &mut JobId) -> Option<Request> {
        let mut new_id = || {
            let id = *next_id;
            *next_id += 1;
            id
        };
        match msg {
            StyleMsg::Content { name, bytes } => self.content = Some((name, Shared(Rc::new(bytes)))),
            StyleMsg::AddStyle { name, bytes } => {
                self.styles.push(StyleEntry { name, bytes: Shared(Rc::new(bytes)), weight: "1".into() })
            }
            StyleMsg::RemoveStyle(i) => {
                if i < self.styles.len() {
                    self.styles.remove(i);
                }
            }
            StyleMsg::StyleWeight(i, w) => {
                if let Some(s) = self.styles.get_mut(i) {
                    s.weight = w;
                }
            }
            StyleMsg::VggUrl(u) => self.vgg_url = u,
            StyleMsg::VggFile { name, bytes } => {
                let id = new_id();
                self.new_job(id, JobKind::LoadVgg, "sending to the worker");
                return Some(Request::LoadVgg { id, source: ModelSource::File { name, bytes } });
            }
            StyleMsg::LoadVggUrl => {
                let url = self.vgg_url.trim().to_string();
                if url.is_empty() {
                    self.error = Some("paste the URL of VGG19 weights first".into());
                    return None;
                }
                let id = new_id();
                self.new_job(id, JobKind::LoadVgg, "sending to the worker");
                return Some(Request::LoadVgg { id, source: ModelSource::Url { label: url_label(&url), url } });
            }
            StyleMsg::Set(field, v) => {
                let f = &mut self.form;
                match field {
                    Field::Size => f.size = v,
                    Field::Steps => f.steps = v,
                    Field::Optimizer => {
                        // The usual step sizes: 0.02 for Adam on [0, 1] pixels, 1 for L-BFGS.
                        if v == "lbfgs" && f.lr == "0.02" {
                            f.lr = "1".into();
                        } else if v == "adam" && f.lr == "1" {
                            f.lr = "0.02".into();
                        }
                        f.optimizer = v;
                    }
                    Field::Lr => f.lr = v,
                    Field::Alpha => f.alpha = v,
                    Field::Beta => f.beta = v,
                    Field::Gamma => f.gamma = v,
                    Field::ContentLayer => f.content_layer = v,
                    Field::StyleLayers => f.style_layers = v,
                    Field::LayerWeights => f.layer_weights = v,
                    Field::Decay => f.decay = v,
                    Field::Pooling => f.pooling = v,
                    Field::Init => f.init = v,
                    Field::Seed => f.seed = v,
                    Field::StyleScale => f.style_scale = v,
                    Field::PreviewEvery => f.preview_every = v,
                }
            }
            StyleMsg::Preserve(p) => self.form.preserve = p,
            StyleMsg::FileError(e) => self.error = Some(e),
            StyleMsg::Start => return self.start(new_id()),
            StyleMsg::Pause | StyleMsg::Resume | StyleMsg::Cancel => {
                let job = self.job.as_mut().filter(|j| j.kind == JobKind::Run)?;
                let action = match msg {
                    StyleMsg::Pause => {
                        job.pause_requested = true;
                        ControlAction::Pause
                    }
                    StyleMsg::Resume => {
                        job.pause_requested = false;
                        ControlAction::Resume
                    }
                    _ => {
                        job.cancel_requested = true;
                        ControlAction::Cancel
                    }
                };
                return Some(Request::Control { id: job.id, action });
            }
        }
        None
    }

    fn start(&mut self, id: JobId) -> Option<Request> {
        let result = (|| {
            let (name, bytes) = self.content.clone().ok_or("choose a content image first")?;
            if self.styles.is_empty() {
                return Err("add at least one style image".to_string());
            }
            if self.vgg.is_none() {
                return Err("load the VGG19 weights first".to_string());
            }
            let styles = self
                .styles
                .iter()
                .map(|s| {
                    let w = parse_f64(&format!("weight of {}", s.name), &s.weight, None)?;
                    Ok((NamedImage { name: s.name.clone(), bytes: (*s.bytes.0).clone() }, w))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let settings = self.settings()?;
            Ok((StylizeJob { content: NamedImage { name, bytes: (*bytes.0).clone() }, styles, settings }, bytes))
        })();
        match result {
            Ok((job, _)) => {
                let c = &job.settings.config;
                let weights = [c.content_weight, c.style_weight, c.tv_weight];
                self.new_job(id, JobKind::Run, "sending to the worker");
                self.run = Some(RunView {
                    width: 0,
                    height: 0,
                    steps: job.settings.steps,
                    step: 0,
                    losses: None,
                    rate: 0.0,
                    history: Vec::new(),
                    weights,
                    preview: None,
                });
                Some(Request::Stylize { id, job })
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    /// Takes a worker event about this section's job (the caller checked [`Self::owns`]).
    pub fn on_event(&mut self, ev: Event) {
        if let Some(j) = self.job.as_mut()
            && j.progress.on_event(&ev)
        {
            return;
        }
        match ev {
            Event::VggLoaded { name, description, from_cache, note, .. } => {
                self.job = None;
                self.error = None;
                self.vgg = Some(VggInfo { name, description, from_cache, note });
            }
            Event::StylizeStarted { width, height, steps, .. } => {
                if let Some(j) = self.job.as_mut() {
                    j.progress.fetched = None;
                }
                if let Some(r) = self.run.as_mut() {
                    r.width = width;
                    r.height = height;
                    r.steps = steps;
                }
            }
            Event::StylizeSteps { steps, rate, .. } => {
                if let Some(r) = self.run.as_mut() {
                    if let Some(last) = steps.last() {
                        r.step = last.step;
                        r.losses = Some(last.losses);
                    }
                    r.rate = rate;
                    r.history.extend(steps.iter().map(|s| (s.step, s.losses)));
                }
            }
            Event::StylizePreview { step, image, .. } => {
                if let Some(r) = self.run.as_mut() {
                    r.preview = Some((step, Shared(Rc::new(image))));
                }
            }
            Event::StylizePaused { paused, .. } => {
                if let Some(j) = self.job.as_mut() {
                    j.paused = paused;
                }
            }
            Event::StylizeDone { image, steps_done, cancelled, millis, note, .. } => {
                self.job = None;
                self.error = None;
                let image = Shared(Rc::new(image));
                if let Some(r) = self.run.as_mut() {
                    r.preview = Some((steps_done, image.clone()));
                }
                let name = self.content.as_ref().map(|(n, _)| n.clone()).unwrap_or_default();
                self.result = Some(Output { image, name, steps_done, millis, note, cancelled });
            }
            Event::Failed { message, .. } => {
                self.job = None;
                self.error = Some(message);
            }
            // Events of other sections' jobs never reach this one.
            _ => {}
        }
    }

    pub fn view(&self, ready: bool, cb: Callback<StyleMsg>) -> Html {
        let busy = self.job.is_some();
        html! {
            <section class="panel stylize" data-testid="stylize-panel">
                <h2>{ "Neural style transfer (Gatys et al.)" }</h2>
                <p>{ "Paints a content image in the style of one or more style images: the picture is optimised, \
                      step by step, so that its VGG19 features match the content image and the Gram matrices of \
                      its features match the style images'. It runs on your device; nothing is uploaded." }</p>
                { self.view_images(ready, busy, &cb) }
                { self.view_vgg(ready, busy, &cb) }
                { self.view_settings(busy, &cb) }
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

    fn view_images(&self, ready: bool, busy: bool, cb: &Callback<StyleMsg>) -> Html {
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
                cb.reform(move |e: InputEvent| StyleMsg::StyleWeight(i, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! {
                <figure class="thumb-figure" data-testid="style-item">
                    <BlobImage bytes={s.bytes.clone()} testid={format!("style-preview-{i}")} alt={format!("style: {}", s.name)} />
                    <figcaption>{ &s.name }</figcaption>
                    <label>{ "Blend weight " }
                        <input type="number" min="0" step="0.1" class="small" data-testid={format!("style-weight-{i}")}
                            value={s.weight.clone()} disabled={busy} oninput={on_weight} />
                    </label>
                    <button class="link" data-testid={format!("style-remove-{i}")} disabled={busy}
                        onclick={cb.reform(move |_| StyleMsg::RemoveStyle(i))}>{ "Remove" }</button>
                </figure>
            }
        });
        html! {
            <div class="images-grid">
                <fieldset>
                    <legend>{ "Content image" }</legend>
                    <DropZone id="stylize-content-input" testid="content-input" disabled={disabled}
                        label="Choose the content image (the picture to repaint), or drop it here"
                        on_file={cb.reform(|(name, bytes)| StyleMsg::Content { name, bytes })}
                        on_error={cb.reform(StyleMsg::FileError)} />
                    { for content }
                </fieldset>
                <fieldset>
                    <legend>{ "Style images" }</legend>
                    <DropZone id="stylize-style-input" testid="style-input" disabled={disabled}
                        label="Add a style image (a painting...), or drop one here; add several to blend them"
                        on_file={cb.reform(|(name, bytes)| StyleMsg::AddStyle { name, bytes })}
                        on_error={cb.reform(StyleMsg::FileError)} />
                    <div class="thumbs">{ for styles }</div>
                </fieldset>
            </div>
        }
    }

    fn view_vgg(&self, ready: bool, busy: bool, cb: &Callback<StyleMsg>) -> Html {
        let disabled = !ready || busy;
        let status = match &self.vgg {
            Some(v) => html! {
                <div class="model" data-testid="vgg-description" data-state="loaded" data-from-cache={v.from_cache.to_string()}>
                    <strong>{ &v.name }</strong>{ ": " }{ &v.description }
                    if v.from_cache { <span class="hint">{ " (from cache)" }</span> }
                    if let Some(n) = &v.note { <p class="hint" data-testid="vgg-note">{ n }</p> }
                </div>
            },
            None => html! {
                <p class="model hint" data-testid="vgg-description" data-state="none">{ "No VGG19 weights loaded yet." }</p>
            },
        };
        let on_url_input = cb.reform(|e: InputEvent| StyleMsg::VggUrl(e.target_unchecked_into::<HtmlInputElement>().value()));
        html! {
            <fieldset class="vgg-source">
                <legend>{ "VGG19 weights" }</legend>
                <p class="hint">
                    { "Style transfer reads its features from VGG19, trained on ImageNet. Its weights are not bundled \
                       with the studio (548 MB). Get torchvision's " }
                    <a href={VGG_PTH_URL} target="_blank" rel="noopener">{ "vgg19-dcbb9e9d.pth" }</a>
                    { " (from download.pytorch.org) and drop it below, or paste the URL of a .safetensors conversion \
                       (for example on Hugging Face). From a .safetensors URL only the layers a run needs are \
                       downloaded (HTTP range requests: 52 MB up to conv5_1, 80 MB for all 16 convolutions, instead \
                       of 548 MB) and kept in this browser's cache; from a file, only those layers are moved to \
                       the device." }
                </p>
                <DropZone id="stylize-vgg-file" testid="vgg-file" disabled={disabled} accept=".pth,.pt,.safetensors"
                    label="Choose VGG19 weights (.pth or .safetensors, torchvision layout), or drop them here"
                    on_file={cb.reform(|(name, bytes)| StyleMsg::VggFile { name, bytes })}
                    on_error={cb.reform(StyleMsg::FileError)} />
                <div class="row">
                    <input type="url" class="url" data-testid="vgg-url" placeholder="https://.../vgg19.safetensors"
                        value={self.vgg_url.clone()} disabled={disabled} oninput={on_url_input} />
                    <button class="button" data-testid="vgg-load-url" disabled={disabled || self.vgg_url.trim().is_empty()}
                        onclick={cb.reform(|_| StyleMsg::LoadVggUrl)}>{ "Load from URL" }</button>
                </div>
                { status }
            </fieldset>
        }
    }

    fn view_settings(&self, busy: bool, cb: &Callback<StyleMsg>) -> Html {
        let f = &self.form;
        let text = |field: Field, testid: &'static str, value: &str, kind: &'static str| {
            let oninput = cb.reform(move |e: InputEvent| StyleMsg::Set(field, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! { <input type={kind} class="small" data-testid={testid} value={value.to_string()} disabled={busy} {oninput} /> }
        };
        let select = |field: Field, testid: &'static str, current: &str, options: &[(&str, &str)]| {
            let onchange = cb.reform(move |e: web_sys::Event| StyleMsg::Set(field, input_value(&e)));
            let opts = options.iter().map(|(v, label)| {
                html! { <option value={v.to_string()} selected={*v == current}>{ label.to_string() }</option> }
            });
            html! { <select data-testid={testid} disabled={busy} {onchange}>{ for opts }</select> }
        };
        let layers: Vec<(String, String)> = VggLayer::all().iter().map(|l| (l.to_string(), l.to_string())).collect();
        let layer_opts: Vec<(&str, &str)> = layers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let on_preserve = cb.reform(|e: web_sys::Event| StyleMsg::Preserve(e.target_unchecked_into::<HtmlInputElement>().checked()));
        html! {
            <fieldset class="settings">
                <legend>{ "Settings" }</legend>
                <div class="row">
                    <label>{ "Size (longer side, px) " }{ text(Field::Size, "size", &f.size, "number") }</label>
                    <label>{ "Steps " }{ text(Field::Steps, "steps", &f.steps, "number") }</label>
                    <label><input type="checkbox" data-testid="preserve-colors" checked={f.preserve} disabled={busy}
                        onchange={on_preserve} />{ " Keep the content's colours" }</label>
                </div>
                <details data-testid="stylize-advanced">
                    <summary>{ "Advanced" }</summary>
                    <div class="grid">
                        <label>{ "Optimizer " }{ select(Field::Optimizer, "optimizer", &f.optimizer, &[("adam", "Adam"), ("lbfgs", "L-BFGS")]) }</label>
                        <label>{ "Learning rate " }{ text(Field::Lr, "lr", &f.lr, "text") }</label>
                        <label>{ "alpha (content) " }{ text(Field::Alpha, "alpha", &f.alpha, "text") }</label>
                        <label>{ "beta (style) " }{ text(Field::Beta, "beta", &f.beta, "text") }</label>
                        <label>{ "gamma (total variation) " }{ text(Field::Gamma, "gamma", &f.gamma, "text") }</label>
                        <label>{ "Content layer " }{ select(Field::ContentLayer, "content-layer", &f.content_layer, &layer_opts) }</label>
                        <label>{ "Style layers " }{ text(Field::StyleLayers, "style-layers", &f.style_layers, "text") }</label>
                        <label>{ "Style layer weights " }{ select(Field::LayerWeights, "layer-weights", &f.layer_weights, &[("equal", "equal"), ("decay", "decaying with depth")]) }</label>
                        if f.layer_weights == "decay" {
                            <label>{ "Decay factor " }{ text(Field::Decay, "decay", &f.decay, "text") }</label>
                        }
                        <label>{ "Pooling " }{ select(Field::Pooling, "pooling", &f.pooling, &[("avg", "average (smoother)"), ("max", "max (torchvision)")]) }</label>
                        <label>{ "Start from " }{ select(Field::Init, "init", &f.init, &[("content", "the content"), ("style", "the (first) style"), ("noise", "noise")]) }</label>
                        <label>{ "Seed " }{ text(Field::Seed, "seed", &f.seed, "number") }</label>
                        <label>{ "Style scale " }{ text(Field::StyleScale, "style-scale", &f.style_scale, "text") }</label>
                        <label>{ "Preview every (steps) " }{ text(Field::PreviewEvery, "preview-every", &f.preview_every, "number") }</label>
                    </div>
                    <p class="hint">{ "Layers are named conv4_2, relu1_1, pool3...; style layers are comma-separated. \
                        Larger beta: more style; larger gamma: smoother. The style scale resizes the style images \
                        relative to the size (larger: bigger brush strokes)." }</p>
                </details>
            </fieldset>
        }
    }

    fn view_controls(&self, ready: bool, cb: &Callback<StyleMsg>) -> Html {
        let running = self.job.as_ref().filter(|j| j.kind == JobKind::Run);
        let can_start = ready && self.job.is_none() && self.content.is_some() && !self.styles.is_empty() && self.vgg.is_some();
        let hint = if self.job.is_some() {
            None
        } else if self.content.is_none() {
            Some("Choose a content image.")
        } else if self.styles.is_empty() {
            Some("Add a style image.")
        } else if self.vgg.is_none() {
            Some("Load the VGG19 weights.")
        } else {
            None
        };
        html! {
            <div class="row controls">
                <button class="button" data-testid="start" disabled={!can_start} onclick={cb.reform(|_| StyleMsg::Start)}>{ "Start" }</button>
                if let Some(j) = running {
                    if j.pause_requested {
                        <button class="button" data-testid="resume" disabled={j.cancel_requested}
                            onclick={cb.reform(|_| StyleMsg::Resume)}>{ "Resume" }</button>
                    } else {
                        <button class="button" data-testid="pause" disabled={j.cancel_requested}
                            onclick={cb.reform(|_| StyleMsg::Pause)}>{ "Pause" }</button>
                    }
                    <button class="button secondary" data-testid="cancel" disabled={j.cancel_requested}
                        onclick={cb.reform(|_| StyleMsg::Cancel)}>{ if j.cancel_requested { "Cancelling..." } else { "Cancel" } }</button>
                }
                if let Some(h) = hint { <span class="hint" data-testid="start-hint">{ h }</span> }
            </div>
        }
    }

    fn view_job(&self) -> Html {
        let Some(j) = &self.job else { return html! {} };
        let state = match (&j.kind, j.paused, j.cancel_requested) {
            (JobKind::LoadVgg, ..) => "loading",
            (_, _, true) => "cancelling",
            (_, true, _) => "paused",
            _ => "running",
        };
        let what = if j.kind == JobKind::LoadVgg { "Loading VGG19" } else { "Style transfer" };
        let stage = if j.paused { "paused" } else { j.progress.stage.as_str() };
        html! {
            <>
                { j.progress.download_bar(BarAttrs { testid: Some("vgg-download-progress"), ..BarAttrs::default() }) }
                { j.progress.bar(BarAttrs { testid: Some("stylize-status"), state: Some(state), ..BarAttrs::default() }, format!("{what}: {stage}")) }
            </>
        }
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
                    <figure>{ loss_chart(&r.history, r.weights) }
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

/// An inline SVG of log10 of the total loss and its weighted terms over the steps,
/// downsampled to at most [`CHART_POINTS`] points per series.
fn loss_chart(history: &[(u32, Losses)], [alpha, beta, gamma]: [f64; 3]) -> Html {
    const W: f64 = 320.0;
    const H: f64 = 140.0;
    const PAD: f64 = 6.0;
    let stride = history.len().div_ceil(CHART_POINTS).max(1);
    let mut sampled: Vec<&(u32, Losses)> = history.iter().step_by(stride).collect();
    if let Some(last) = history.last()
        && sampled.last().map(|s| s.0) != Some(last.0)
    {
        sampled.push(last);
    }
    type Pick = fn(&Losses, [f64; 3]) -> f64;
    let series: [(&str, &str, Pick); 4] = [
        ("total", "#e0a458", |l, _| l.total),
        ("content", "#7ad89a", |l, w| l.content * w[0]),
        ("style", "#7aa8ff", |l, w| l.style * w[1]),
        ("tv", "#c58af9", |l, w| l.tv * w[2]),
    ];
    let w = [alpha, beta, gamma];
    let logs: Vec<Vec<(u32, f64)>> = series
        .iter()
        .map(|(_, _, pick)| {
            sampled
                .iter()
                .filter_map(|(s, l)| {
                    let v = pick(l, w);
                    (v.is_finite() && v > 0.0).then(|| (*s, v.log10()))
                })
                .collect()
        })
        .collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, v) in logs.iter().flatten() {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-6 {
        hi = lo + 1.0;
    }
    let first = sampled.first().map_or(0, |s| s.0) as f64;
    let last = sampled.last().map_or(1, |s| s.0) as f64;
    let span = (last - first).max(1.0);
    let x = |s: u32| PAD + (s as f64 - first) / span * (W - 2.0 * PAD);
    let y = |v: f64| PAD + (hi - v) / (hi - lo) * (H - 2.0 * PAD);
    let lines = series.iter().zip(&logs).map(|((name, colour, _), pts)| {
        let points = pts.iter().map(|&(s, v)| format!("{:.1},{:.1}", x(s), y(v))).collect::<Vec<_>>().join(" ");
        html! {
            <polyline data-series={*name} data-points={pts.len().to_string()} points={points}
                fill="none" stroke={*colour} stroke-width="1.5" />
        }
    });
    let legend = series.iter().enumerate().map(|(i, (name, colour, _))| {
        html! { <text x={(PAD + 8.0 + i as f64 * 60.0).to_string()} y={(H - 2.0).to_string()} fill={*colour} font-size="10">{ *name }</text> }
    });
    html! {
        <svg class="loss-chart" data-testid="loss-chart" viewBox={format!("0 0 {W} {H}")} role="img"
            aria-label="loss over the steps (log scale)">
            <rect x="0" y="0" width={W.to_string()} height={H.to_string()} fill="#111" />
            <text x={PAD.to_string()} y="12" fill="#9aa0aa" font-size="10">{ format!("10^{hi:.1}") }</text>
            <text x={PAD.to_string()} y={(H - 14.0).to_string()} fill="#9aa0aa" font-size="10">{ format!("10^{lo:.1}") }</text>
            { for lines }
            { for legend }
        </svg>
    }
}
