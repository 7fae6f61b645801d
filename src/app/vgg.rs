//! The VGG19 weights, for the sections that read features from them (Style Transfer, Deep
//! Dream): one click from Hugging Face, a dropped file or a URL ([`VggChooser::view`]), and
//! what is loaded. The worker holds one set of weights for every section: when one section
//! loads them, the app tells the others ([`super::Section::vgg_loaded`]).

use super::JobIds;
use super::widgets::{BarAttrs, DropZone, JobControl, JobProgress};
use crate::protocol::{JobEvent, JobId, ModelSource, Request};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// torchvision's ImageNet VGG19 (BSD-3-Clause) as timm publishes it on Hugging Face: a
/// safetensors file with torchvision's `features.N` names, so the range requests of
/// `src/worker/vgg.rs` fetch only the convolutions a run needs (about 80 MB of 548).
pub const VGG_HUB_URL: &str = "https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors";

/// torchvision's VGG19, where to get it.
const VGG_PTH_URL: &str = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth";

/// The weights the worker holds, as [`JobEvent::VggLoaded`] described them.
#[derive(Clone, Debug, PartialEq)]
pub struct VggInfo {
    pub name: String,
    pub description: String,
    pub from_cache: bool,
    pub note: Option<String>,
}

impl VggInfo {
    /// The weights an event says are loaded, if it says so.
    pub fn from_event(ev: &JobEvent) -> Option<VggInfo> {
        match ev {
            JobEvent::VggLoaded { name, description, from_cache, note } => {
                Some(VggInfo { name: name.clone(), description: description.clone(), from_cache: *from_cache, note: note.clone() })
            }
            _ => None,
        }
    }
}

/// What the user does with the chooser.
pub enum VggMsg {
    File { name: String, bytes: Vec<u8> },
    Url(String),
    LoadUrl,
    /// Load torchvision's VGG19 from Hugging Face ([`VGG_HUB_URL`]) with one click.
    LoadHub,
}

/// The chooser's state: the URL being typed, and the weights loaded.
#[derive(Default)]
pub struct VggChooser {
    url: String,
    pub info: Option<VggInfo>,
}

/// The file name of a URL, for the user.
fn url_label(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url).trim_end_matches('/');
    path.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(url).to_string()
}

/// The bars of a section's job that either loads VGG19 (`loading`) or is a run that steps
/// (`run`: its name): the download's bar, and the status bar (test id `status`) with the
/// job's state: loading, running, paused or cancelling.
pub fn job_bars(progress: &JobProgress, control: &JobControl, loading: bool, run: &str, status: &'static str) -> Html {
    let state = match (loading, control.paused, control.cancel_requested) {
        (true, ..) => "loading",
        (_, _, true) => "cancelling",
        (_, true, _) => "paused",
        _ => "running",
    };
    let what = if loading { "Loading VGG19" } else { run };
    let stage = if control.paused { "paused" } else { progress.stage.as_str() };
    html! {
        <>
            { progress.download_bar(BarAttrs { testid: Some("vgg-download-progress"), ..BarAttrs::default() }) }
            { progress.bar(BarAttrs { testid: Some(status), state: Some(state), ..BarAttrs::default() }, format!("{what}: {stage}")) }
        </>
    }
}

impl VggChooser {
    /// Another section loaded `info` into the worker.
    pub fn loaded(&mut self, info: &VggInfo) {
        self.info = Some(info.clone());
    }

    /// What the worker had built is gone; the weights too if the worker itself was replaced.
    pub fn device_replaced(&mut self, worker: bool) {
        if worker {
            self.info = None;
        }
    }

    /// Handles the user's input: the load request to send (with its fresh job id), nothing
    /// (an edit), or a message for the user.
    pub fn update(&mut self, msg: VggMsg, ids: &mut JobIds) -> Result<Option<(JobId, Request)>, String> {
        let source = match msg {
            VggMsg::Url(u) => {
                self.url = u;
                return Ok(None);
            }
            VggMsg::File { name, bytes } => ModelSource::File { name, bytes },
            VggMsg::LoadUrl => {
                let url = self.url.trim().to_string();
                if url.is_empty() {
                    return Err("paste the URL of VGG19 weights first".into());
                }
                ModelSource::Url { label: url_label(&url), url, sha256: None }
            }
            VggMsg::LoadHub => {
                ModelSource::Url { label: "VGG19 (torchvision, from Hugging Face)".into(), url: VGG_HUB_URL.into(), sha256: None }
            }
        };
        let id = ids.fresh();
        Ok(Some((id, Request::LoadVgg { id, source })))
    }

    /// The chooser, for a section whose inputs' ids start with `section`; `uses` says what
    /// the section reads from VGG19.
    pub fn view(&self, section: &str, uses: &str, disabled: bool, cb: &Callback<VggMsg>, on_error: Callback<String>) -> Html {
        let status = match &self.info {
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
        let on_url_input = cb.reform(|e: InputEvent| VggMsg::Url(e.target_unchecked_into::<HtmlInputElement>().value()));
        html! {
            <fieldset class="vgg-source">
                <legend>{ "VGG19 weights" }</legend>
                <p class="hint">
                    { uses }{ " VGG19, trained on ImageNet. Its weights are not bundled with the studio (548 MB); \
                       once loaded, every section uses them. Get torchvision's " }
                    <a href={VGG_PTH_URL} target="_blank" rel="noopener">{ "vgg19-dcbb9e9d.pth" }</a>
                    { " (from download.pytorch.org) and drop it below, or paste the URL of a .safetensors conversion \
                       (for example on Hugging Face). From a .safetensors URL only the layers a run needs are \
                       downloaded (HTTP range requests: 52 MB up to conv5_1, 80 MB for all 16 convolutions, instead \
                       of 548 MB) and kept in this browser's cache; from a file, only those layers are moved to \
                       the device." }
                </p>
                <div class="row">
                    <button class="button" data-testid="vgg-hub" disabled={disabled} onclick={cb.reform(|_| VggMsg::LoadHub)}>
                        { "Get VGG19 from Hugging Face (torchvision's weights, BSD-3: about 80 MB of 548, kept for next time)" }</button>
                </div>
                <DropZone id={format!("{section}-vgg-file")} testid="vgg-file" disabled={disabled} accept=".pth,.pt,.safetensors"
                    label="Choose VGG19 weights (.pth or .safetensors, torchvision layout), or drop them here"
                    on_file={cb.reform(|(name, bytes)| VggMsg::File { name, bytes })}
                    on_error={on_error} />
                <div class="row">
                    <input type="url" class="url" data-testid="vgg-url" aria-label="URL of VGG19 weights" placeholder="https://.../vgg19.safetensors"
                        value={self.url.clone()} disabled={disabled} oninput={on_url_input} />
                    <button class="button" data-testid="vgg-load-url" disabled={disabled || self.url.trim().is_empty()}
                        onclick={cb.reform(|_| VggMsg::LoadUrl)}>{ "Load from URL" }</button>
                </div>
                { status }
            </fieldset>
        }
    }
}
