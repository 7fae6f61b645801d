//! Small presentational components.

use super::DeviceState;
use super::samples::{self, SampleKind};
use crate::device::DeviceInfo;
use crate::protocol::{ControlAction, ImagePayload, JobEvent, JobId, Request};
use std::rc::Rc;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, DragEvent, File, HtmlCanvasElement, HtmlInputElement};
use yew::prelude::*;

/// An `Rc` compared by identity, so big payloads are never compared byte by byte.
#[derive(Clone)]
pub struct Shared<T>(pub Rc<T>);
impl<T> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

fn human_bytes(b: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if b >= GIB && b.is_multiple_of(GIB) {
        format!("{} GiB", b / GIB)
    } else if b >= MIB {
        format!("{:.0} MiB", b as f64 / MIB as f64)
    } else {
        format!("{b} B")
    }
}

#[derive(Properties, PartialEq)]
pub struct DeviceBannerProps {
    pub state: DeviceState,
}

#[function_component]
pub fn DeviceBanner(props: &DeviceBannerProps) -> Html {
    match &props.state {
        DeviceState::Loading => html! { <div class="device" id="device" data-state="loading">{ "Loading the compute worker..." }</div> },
        DeviceState::Starting => html! { <div class="device" id="device" data-state="starting">{ "Starting the compute device..." }</div> },
        DeviceState::Broken(e) => html! {
            <div class="device error" id="device" data-state="broken" role="alert">{ e }</div>
        },
        DeviceState::Ready(info) => ready_banner(info),
    }
}

fn ready_banner(info: &DeviceInfo) -> Html {
    let limits = info.limits.as_ref().map(|l| {
        html! {
            <details class="limits-fold" data-testid="device-limits-fold">
            <summary>{ "Device limits" }</summary>
            <dl class="limits" id="device-limits">
                <dt>{ "maxBufferSize" }</dt><dd id="limit-max-buffer-size">{ human_bytes(l.max_buffer_size) }</dd>
                <dt>{ "maxStorageBufferBindingSize" }</dt><dd id="limit-max-storage-buffer-binding-size">{ human_bytes(l.max_storage_buffer_binding_size) }</dd>
                <dt>{ "maxComputeWorkgroupsPerDimension" }</dt><dd>{ l.max_compute_workgroups_per_dimension }</dd>
                <dt>{ "maxComputeInvocationsPerWorkgroup" }</dt><dd>{ l.max_compute_invocations_per_workgroup }</dd>
                <dt>{ "maxComputeWorkgroupStorageSize" }</dt><dd>{ human_bytes(l.max_compute_workgroup_storage_size as u64) }</dd>
            </dl>
            </details>
        }
    });
    let fallback = info.fallback_reason.as_ref().map(|why| {
        html! {
            <p class="notice" id="cpu-fallback" role="status">
                { "WebGPU is not available, so the studio runs on the CPU: everything works, only much slower. " }
                <span class="why">{ format!("({why})") }</span>
                { " Chrome, Edge and recent Safari/Firefox versions support WebGPU." }
            </p>
        }
    });
    let state = if info.is_gpu { "gpu" } else { "cpu" };
    html! {
        <div class={classes!("device", state)} id="device" data-state={state}>
            <span class="backend" id="device-backend">{ &info.backend }</span>
            <span class="adapter" id="device-adapter">{ &info.adapter }</span>
            if !info.details.is_empty() { <span class="details">{ &info.details }</span> }
            { for limits }
            { for fallback }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    pub id: AttrValue,
    pub disabled: bool,
    /// The picker's `accept` filter.
    #[prop_or(AttrValue::Static("image/png,image/jpeg,image/webp"))]
    pub accept: AttrValue,
    /// What the zone says.
    #[prop_or(AttrValue::Static("Choose an image, or drop one here"))]
    pub label: AttrValue,
    /// `data-testid` of the file input.
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    /// Accept several files at once (`on_file` is called for each).
    #[prop_or(false)]
    pub multiple: bool,
    pub on_file: Callback<(String, Vec<u8>)>,
    pub on_error: Callback<String>,
}

fn read_file(file: File, on_file: Callback<(String, Vec<u8>)>, on_error: Callback<String>) {
    let name = file.name();
    wasm_bindgen_futures::spawn_local(async move {
        match gloo::file::futures::read_as_bytes(&gloo::file::Blob::from(file)).await {
            Ok(bytes) => on_file.emit((name, bytes)),
            Err(e) => on_error.emit(format!("{name}: the file could not be read ({e})")),
        }
    });
}

/// A file picker that is also a drop target.
#[function_component]
pub fn DropZone(props: &DropZoneProps) -> Html {
    let hover = use_state(|| false);
    let onchange = {
        let (on_file, on_error) = (props.on_file.clone(), props.on_error.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(files) = input.files() {
                for i in 0..files.length() {
                    if let Some(file) = files.get(i) {
                        read_file(file, on_file.clone(), on_error.clone());
                    }
                }
            }
            input.set_value("");
        })
    };
    let ondragover = {
        let hover = hover.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            hover.set(true);
        })
    };
    let ondragleave = {
        let hover = hover.clone();
        Callback::from(move |_: DragEvent| hover.set(false))
    };
    let ondrop = {
        let (on_file, on_error, hover, disabled) = (props.on_file.clone(), props.on_error.clone(), hover.clone(), props.disabled);
        let multiple = props.multiple;
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            hover.set(false);
            if disabled {
                return;
            }
            let files = e.data_transfer().and_then(|d| d.files());
            let n = files.as_ref().map_or(0, |f| f.length());
            if n == 0 {
                on_error.emit("nothing to read in what was dropped: drop a file".into());
            }
            for i in 0..if multiple { n } else { n.min(1) } {
                if let Some(file) = files.as_ref().and_then(|f| f.get(i)) {
                    read_file(file, on_file.clone(), on_error.clone());
                }
            }
        })
    };
    html! {
        <label class={classes!("dropzone", (*hover).then_some("hover"), props.disabled.then_some("disabled"))}
            {ondragover} {ondragleave} {ondrop}>
            <input type="file" id={props.id.clone()} accept={props.accept.clone()} multiple={props.multiple}
                data-testid={props.testid.clone()} disabled={props.disabled} {onchange} />
            <span>{ props.label.clone() }</span>
        </label>
    }
}

#[derive(Properties, PartialEq)]
pub struct ImageCanvasProps {
    pub id: AttrValue,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    pub image: Shared<ImagePayload>,
}

/// Draws RGBA pixels at their natural size; CSS scales the canvas down keeping
/// the aspect ratio.
#[function_component]
pub fn ImageCanvas(props: &ImageCanvasProps) -> Html {
    let canvas = use_node_ref();
    {
        let canvas = canvas.clone();
        use_effect_with(props.image.clone(), move |img| {
            if let Some(c) = canvas.cast::<HtmlCanvasElement>() {
                draw(&c, &img.0);
            }
        });
    }
    html! { <canvas id={props.id.clone()} data-testid={props.testid.clone()} ref={canvas} data-width={props.image.0.width.to_string()} data-height={props.image.0.height.to_string()} /> }
}

fn draw(canvas: &HtmlCanvasElement, img: &ImagePayload) {
    canvas.set_width(img.width);
    canvas.set_height(img.height);
    let ctx = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
    let data = web_sys::ImageData::new_with_u8_clamped_array_and_sh(Clamped(&img.rgba), img.width, img.height);
    match (ctx, data) {
        (Some(ctx), Ok(data)) => {
            if let Err(e) = ctx.put_image_data(&data, 0.0, 0.0) {
                log::error!("drawing the image failed: {e:?}");
            }
        }
        (_, Err(e)) => log::error!("bad image data: {e:?}"),
        (None, _) => log::error!("no 2d canvas context"),
    }
}

#[derive(Properties, PartialEq)]
pub struct DownloadLinkProps {
    pub id: AttrValue,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    pub png: Shared<ImagePayload>,
    pub filename: AttrValue,
}

/// An `<a download>` pointing at an object URL of the PNG (none for an image without one);
/// the URL is revoked when the image changes or the link goes away.
#[function_component]
pub fn DownloadLink(props: &DownloadLinkProps) -> Html {
    let png = props.png.clone();
    let url = use_object_url(props.png.clone(), move || png.0.png.as_deref().and_then(|png| blob_url(png, "image/png")));
    download_anchor(&url, &props.id, &props.testid, &props.filename, "Download PNG".into())
}

#[derive(Properties, PartialEq)]
pub struct FileDownloadProps {
    pub id: AttrValue,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    pub bytes: Shared<Vec<u8>>,
    pub filename: AttrValue,
    pub label: AttrValue,
}

/// An `<a download>` of any file's bytes (an exported checkpoint), through an object URL
/// revoked when the bytes change or the link goes away.
#[function_component]
pub fn FileDownload(props: &FileDownloadProps) -> Html {
    let bytes = props.bytes.clone();
    let url = use_object_url(props.bytes.clone(), move || blob_url(&bytes.0, "application/octet-stream"));
    download_anchor(&url, &props.id, &props.testid, &props.filename, props.label.clone())
}

/// The `<a download>` of an object URL; nothing while there is none.
fn download_anchor(url: &Option<String>, id: &AttrValue, testid: &Option<AttrValue>, filename: &AttrValue, label: AttrValue) -> Html {
    match url {
        Some(href) => html! {
            <a class="button download" id={id.clone()} data-testid={testid.clone()} href={href.clone()} download={filename.clone()}>{ label }</a>
        },
        None => html! {},
    }
}

#[derive(Properties, PartialEq)]
pub struct BlobImageProps {
    /// The image file's bytes (PNG, JPEG, WebP: the browser decodes it).
    pub bytes: Shared<Vec<u8>>,
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    pub alt: AttrValue,
}

/// An `<img>` of an image file's bytes (a thumbnail of a picked file), through an object
/// URL revoked when the bytes change or the image goes away.
#[function_component]
pub fn BlobImage(props: &BlobImageProps) -> Html {
    let bytes = props.bytes.clone();
    let url = use_object_url(props.bytes.clone(), move || blob_url(&bytes.0, ""));
    match &*url {
        Some(src) => html! { <img class="thumb" src={src.clone()} alt={props.alt.clone()} data-testid={props.testid.clone()} /> },
        None => html! {},
    }
}

/// An object URL made by `make` whenever `deps` change, revoked when they change again or
/// the component goes away (so blobs of old images and files are freed).
#[hook]
fn use_object_url<D: PartialEq + 'static>(deps: D, make: impl FnOnce() -> Option<String> + 'static) -> UseStateHandle<Option<String>> {
    let url = use_state(|| None::<String>);
    {
        let url = url.clone();
        use_effect_with(deps, move |_| {
            let made = make();
            url.set(made.clone());
            move || {
                if let Some(u) = made {
                    let _ = web_sys::Url::revoke_object_url(&u);
                }
            }
        });
    }
    url
}

fn blob_url(bytes: &[u8], mime: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// Where a worker job is: the stage it reports and its step counts, and the bytes of a
/// model download while one is under way. Every section's job keeps one.
#[derive(Clone, Debug, PartialEq)]
pub struct JobProgress {
    pub stage: String,
    pub done: u32,
    pub total: u32,
    /// Bytes downloaded and the total when the server says it.
    pub fetched: Option<(u64, Option<u64>)>,
}

impl JobProgress {
    /// A job just sent to the worker, expected to report `total` stages.
    pub fn sent(total: u32) -> Self {
        JobProgress { stage: "sending to the worker".into(), done: 0, total, fetched: None }
    }

    /// Takes a `Progress` or `Fetching` event (the caller checked it is this job's); false
    /// for any other event.
    pub fn on_event(&mut self, ev: &JobEvent) -> bool {
        match ev {
            JobEvent::Progress { stage, done, total } => {
                (self.stage, self.done, self.total) = (stage.clone(), *done, *total);
                true
            }
            JobEvent::Fetching { done, total } => {
                self.fetched = Some((*done, *total));
                true
            }
            _ => false,
        }
    }

    /// The stage bar, labelled `label`.
    pub fn bar(&self, attrs: BarAttrs, label: String) -> Html {
        html! {
            <div class="progress" id={attrs.id} data-testid={attrs.testid} data-state={attrs.state} role="status">
                <progress max={self.total.to_string()} value={self.done.to_string()} />
                <span>{ label }</span>
            </div>
        }
    }

    /// The download bar, while a download is under way (with `data-done` / `data-total`
    /// in bytes for tests).
    pub fn download_bar(&self, attrs: BarAttrs) -> Html {
        let Some((done, total)) = self.fetched else { return html! {} };
        // A compressed transfer can exceed Content-Length: show it as unknown then.
        let total = total.filter(|&t| t >= done && t > 0);
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
        let text = match total {
            Some(t) => format!("Downloading: {} of {} ({:.0}%)", mb(done), mb(t), 100.0 * done as f64 / t as f64),
            None => format!("Downloading: {}", mb(done)),
        };
        html! {
            <div class="progress" id={attrs.id} data-testid={attrs.testid} data-done={done.to_string()}
                data-total={total.map(|t| t.to_string()).unwrap_or_default()}>
                if let Some(t) = total { <progress max={t.to_string()} value={done.to_string()} /> } else { <progress /> }
                <span>{ text }</span>
            </div>
        }
    }
}

/// The element attributes of a progress bar (what tests and the page's CSS find it by).
#[derive(Default)]
pub struct BarAttrs {
    pub id: Option<String>,
    pub testid: Option<&'static str>,
    pub state: Option<&'static str>,
}

/// Pause, Resume and Cancel of a running job that steps (style transfer, training): what
/// the user asked for and what the worker confirmed ([`JobEvent::Paused`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobControl {
    /// Pause asked for (the button shows Resume until Resume is asked for).
    pub pause_requested: bool,
    /// The worker says the job is paused.
    pub paused: bool,
    /// Cancel (Stop) asked for: the job ends after its current step.
    pub cancel_requested: bool,
}

/// What a section calls its control buttons: the `data-testid`s of Pause, Resume and
/// Cancel, and the word for Cancel ("Cancel" for a style transfer, "Stop" for training,
/// which stays resumable).
pub struct ControlNames {
    pub pause: &'static str,
    pub resume: &'static str,
    pub cancel: &'static str,
    pub cancel_label: &'static str,
    pub cancelling_label: &'static str,
}

impl JobControl {
    /// Records the user's `action` on job `id`; the request that carries it to the worker.
    pub fn request(&mut self, id: JobId, action: ControlAction) -> Request {
        match action {
            ControlAction::Pause => self.pause_requested = true,
            ControlAction::Resume => self.pause_requested = false,
            ControlAction::Cancel => self.cancel_requested = true,
        }
        Request::Control { id, action }
    }

    /// The worker paused (or resumed) the job.
    pub fn on_paused(&mut self, paused: bool) {
        self.paused = paused;
        self.pause_requested = paused;
    }

    /// The Pause (or Resume) and Cancel buttons.
    pub fn buttons(&self, names: &ControlNames, on_action: Callback<ControlAction>) -> Html {
        let button = |testid: &'static str, action: ControlAction, label: &'static str, class: &'static str| {
            html! {
                <button class={classes!("button", class)} data-testid={testid} disabled={self.cancel_requested}
                    onclick={on_action.reform(move |_| action)}>{ label }</button>
            }
        };
        html! {
            <>
                if self.pause_requested {
                    { button(names.resume, ControlAction::Resume, "Resume", "") }
                } else {
                    { button(names.pause, ControlAction::Pause, "Pause", "") }
                }
                { button(names.cancel, ControlAction::Cancel,
                    if self.cancel_requested { names.cancelling_label } else { names.cancel_label }, "secondary") }
            </>
        }
    }
}

/// A number as the user would type it (`1000000` as `1e6`).
pub fn num(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) { format!("{v:e}") } else { format!("{v}") }
}

/// A typed number; the error names the setting (`what`).
pub fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.trim().parse::<T>().map_err(|_| format!("{what}: `{s}` is not a valid number"))
}

/// A typed finite number, at least 0, or more than `min_exclusive` when given.
pub fn parse_f64(what: &str, s: &str, min_exclusive: Option<f64>) -> Result<f64, String> {
    let v: f64 = parse(what, s)?;
    if !v.is_finite() || v < 0.0 || min_exclusive.is_some_and(|m| v <= m) {
        return Err(format!("{what} must be a number {} 0", if min_exclusive.is_some() { ">" } else { ">=" }));
    }
    Ok(v)
}

/// The `value` of the element an input or change event came from (a select, an input).
pub fn event_value(e: &Event) -> String {
    e.target()
        .and_then(|t| js_sys::Reflect::get(&t, &"value".into()).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct SamplePickerProps {
    pub kind: SampleKind,
    pub disabled: bool,
    /// Each button's `data-testid` is `{testid}-{file name without extension}`.
    pub testid: AttrValue,
    /// The sample's file name and bytes, as [`DropZone`] hands on a picked file.
    pub on_file: Callback<(String, Vec<u8>)>,
    pub on_error: Callback<String>,
}

/// The samples of one kind as a row of thumbnails: a click fetches one and hands it on like
/// a picked file.
#[function_component]
pub fn SamplePicker(props: &SamplePickerProps) -> Html {
    let buttons = samples::of(props.kind).map(|sample| {
        let (on_file, on_error) = (props.on_file.clone(), props.on_error.clone());
        let onclick = Callback::from(move |_: MouseEvent| {
            let (on_file, on_error) = (on_file.clone(), on_error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match sample.fetch().await {
                    Ok(file) => on_file.emit(file),
                    Err(e) => on_error.emit(e),
                }
            });
        });
        let stem = sample.file.rsplit_once('.').map_or(sample.file.as_str(), |(stem, _)| stem);
        html! {
            <button type="button" class="sample" data-testid={format!("{}-{stem}", props.testid)} disabled={props.disabled}
                title={format!("{} ({})", sample.title, sample.licence)} aria-label={format!("Use the sample: {}", sample.title)} {onclick}>
                <img src={sample.url()} alt="" loading="lazy" />
            </button>
        }
    });
    html! {
        <div class="samples" role="group" aria-label="Samples">
            <span class="hint">{ "Or try a sample: " }</span>
            { for buttons }
        </div>
    }
}
