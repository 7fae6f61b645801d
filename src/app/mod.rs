//! The browser UI: a thin Yew single-page app. It shows state and forwards the
//! user's intent to the worker ([`bridge`]); it never touches a tensor.

pub mod bridge;
pub mod catalog;
mod stylize;
mod training;
mod translate;
mod widgets;

use crate::device::{DeviceInfo, Preference};
use crate::protocol::{Event, ImagePayload, JobId, Request, Slot};
use bridge::WorkerBridge;
use std::rc::Rc;
use stylize::{StyleMsg, StylePanel};
use training::{TrainMsg, TrainPanel};
use translate::{Panel, PanelMsg};
use widgets::{BarAttrs, DeviceBanner, DownloadLink, DropZone, ImageCanvas, JobProgress, Shared};
use yew::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    ImageCheck,
    StyleTransfer,
    Pix2Pix,
    CycleGan,
    Training,
}

impl Section {
    const ALL: [Section; 5] = [Section::ImageCheck, Section::StyleTransfer, Section::Pix2Pix, Section::CycleGan, Section::Training];
    fn title(self) -> &'static str {
        match self {
            Section::ImageCheck => "Image check",
            Section::StyleTransfer => "Style Transfer",
            Section::Pix2Pix => "Pix2Pix",
            Section::CycleGan => "CycleGAN",
            Section::Training => "Training",
        }
    }
    fn id(self) -> &'static str {
        match self {
            Section::ImageCheck => "image-check",
            Section::StyleTransfer => "style-transfer",
            Section::Pix2Pix => "pix2pix",
            Section::CycleGan => "cyclegan",
            Section::Training => "training",
        }
    }
}

/// Where the compute device stands.
#[derive(Clone, PartialEq)]
pub enum DeviceState {
    Loading,
    Starting,
    Ready(DeviceInfo),
    Broken(String),
}

struct Job {
    id: JobId,
    name: String,
    progress: JobProgress,
}

pub struct App {
    bridge: Option<WorkerBridge>,
    device: DeviceState,
    section: Section,
    next_id: JobId,
    job: Option<Job>,
    result: Option<(Shared<ImagePayload>, Shared<ImagePayload>, String, f64)>,
    error: Option<String>,
    pix2pix: Panel,
    cyclegan: Panel,
    stylize: StylePanel,
    training: TrainPanel,
}

pub enum Msg {
    Worker(Event),
    Panel(Slot, PanelMsg),
    Stylize(StyleMsg),
    Train(TrainMsg),
    Show(Section),
    File { name: String, bytes: Vec<u8> },
    FileError(String),
}

/// `?backend=cpu` (or `gpu`) in the page URL overrides the automatic choice.
fn preference_from_url() -> Preference {
    let search = gloo::utils::window().location().search().unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "backend")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_default()
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let (bridge, device) = match WorkerBridge::spawn(ctx.link().callback(Msg::Worker)) {
            Ok(b) => (Some(b), DeviceState::Loading),
            Err(e) => (None, DeviceState::Broken(e)),
        };
        Self {
            bridge,
            device,
            section: Section::ImageCheck,
            next_id: 1,
            job: None,
            result: None,
            error: None,
            pix2pix: Panel::new(Slot::Pix2Pix),
            cyclegan: Panel::new(Slot::CycleGan),
            stylize: StylePanel::new(),
            training: TrainPanel::new(),
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: Msg) -> bool {
        // Events about a Style Transfer, Pix2Pix or CycleGAN job go to that section.
        let msg = match msg {
            Msg::Worker(ev) if job_of(&ev).is_some_and(|id| self.stylize.owns(id)) => {
                self.stylize.on_event(ev);
                return true;
            }
            Msg::Worker(ev) if job_of(&ev).is_some_and(|id| self.training.owns(id)) => {
                self.training.on_event(ev);
                return true;
            }
            Msg::Worker(ev) => match job_of(&ev).and_then(|id| self.panel_of_job(id)) {
                Some(panel) => {
                    panel.on_event(ev);
                    return true;
                }
                None => Msg::Worker(ev),
            },
            other => other,
        };
        match msg {
            Msg::Stylize(m) => {
                if let Some(req) = self.stylize.update(m, &mut self.next_id)
                    && let Err(e) = self.try_send(&req)
                {
                    self.stylize.abort(&e);
                }
            }
            Msg::Train(m) => {
                if let Some(req) = self.training.update(m, &mut self.next_id)
                    && let Err(e) = self.try_send(&req)
                {
                    self.training.abort(&e);
                }
            }
            Msg::Panel(slot, m) => {
                let panel = match slot {
                    Slot::Pix2Pix => &mut self.pix2pix,
                    Slot::CycleGan => &mut self.cyclegan,
                };
                if let Some(req) = panel.update(m, &mut self.next_id) {
                    if let Err(e) = self.try_send(&req) {
                        let panel = match slot {
                            Slot::Pix2Pix => &mut self.pix2pix,
                            Slot::CycleGan => &mut self.cyclegan,
                        };
                        panel.abort(&e);
                    }
                }
            }
            Msg::Show(s) => self.section = s,
            Msg::Worker(Event::Loaded) => {
                self.device = DeviceState::Starting;
                self.send(&Request::Init { preference: preference_from_url() });
            }
            Msg::Worker(Event::Ready { device }) => {
                self.device = DeviceState::Ready(device);
                // Is a training run kept from an earlier visit? (Offered for resuming.)
                if let Some(req) = self.training.update(TrainMsg::Query, &mut self.next_id) {
                    self.send(&req);
                }
            }
            Msg::Worker(ev @ Event::Progress { id, .. }) => {
                if let Some(job) = self.job.as_mut().filter(|j| j.id == id) {
                    job.progress.on_event(&ev);
                }
            }
            Msg::Worker(Event::RoundtripDone { id, input, output, millis }) => {
                if let Some(job) = self.job.take_if(|j| j.id == id) {
                    self.result = Some((Shared(Rc::new(input)), Shared(Rc::new(output)), job.name, millis));
                    self.error = None;
                }
            }
            Msg::Worker(Event::Failed { id, message }) => {
                if id.is_none() && matches!(self.device, DeviceState::Loading | DeviceState::Starting) {
                    self.device = DeviceState::Broken(message.clone());
                }
                if id.is_none() {
                    // Not about one job (the worker crashed): no running job will finish.
                    self.pix2pix.abort(&message);
                    self.cyclegan.abort(&message);
                    self.stylize.abort(&message);
                    self.training.abort(&message);
                }
                if id.is_some() && self.job.as_ref().map(|j| Some(j.id)) == Some(id) {
                    self.job = None;
                }
                self.error = Some(message);
            }
            Msg::File { name, bytes } => {
                let id = self.next_id;
                self.next_id += 1;
                self.error = None;
                self.job = Some(Job { id, name: name.clone(), progress: JobProgress::sent(3) });
                self.send(&Request::Roundtrip { id, name, bytes });
            }
            Msg::FileError(e) => self.error = Some(e),
            // Only ever about a section's job, routed above; a stale one is dropped.
            // A section's event for a job it no longer follows: nothing to draw.
            Msg::Worker(_) => return false,
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let tabs = Section::ALL.iter().map(|&s| {
            let class = classes!("tab", (s == self.section).then_some("active"));
            html! {
                <button {class} id={format!("tab-{}", s.id())} role="tab"
                    aria-selected={(s == self.section).to_string()}
                    onclick={link.callback(move |_| Msg::Show(s))}>{ s.title() }</button>
            }
        });
        html! {
            <div class="studio">
                <header>
                    <h1>{ "AI-Art Studio" }</h1>
                    <p class="tagline">{ "Style transfer, Pix2Pix and CycleGAN, running on your own GPU in this page. Nothing is uploaded." }</p>
                    <DeviceBanner state={self.device.clone()} />
                </header>
                <nav role="tablist">{ for tabs }</nav>
                <main id={format!("section-{}", self.section.id())}>
                    { self.view_section(ctx) }
                </main>
            </div>
        }
    }
}

/// The job an event is about.
fn job_of(ev: &Event) -> Option<JobId> {
    match ev {
        Event::Progress { id, .. }
        | Event::RoundtripDone { id, .. }
        | Event::Fetching { id, .. }
        | Event::ModelLoaded { id, .. }
        | Event::TranslateDone { id, .. }
        | Event::VggLoaded { id, .. }
        | Event::StylizeStarted { id, .. }
        | Event::StylizeSteps { id, .. }
        | Event::StylizePreview { id, .. }
        | Event::StylizePaused { id, .. }
        | Event::StylizeDone { id, .. }
        | Event::TrainStarted { id, .. }
        | Event::TrainSteps { id, .. }
        | Event::TrainSample { id, .. }
        | Event::TrainPaused { id, .. }
        | Event::TrainSaved { id, .. }
        | Event::TrainDone { id, .. }
        | Event::SavedTraining { id, .. }
        | Event::TrainExported { id, .. } => Some(*id),
        Event::Failed { id, .. } => *id,
        Event::Loaded | Event::Ready { .. } => None,
    }
}

impl App {
    fn panel_of_job(&mut self, id: JobId) -> Option<&mut Panel> {
        [&mut self.pix2pix, &mut self.cyclegan].into_iter().find(|p| p.owns(id))
    }

    fn try_send(&self, req: &Request) -> Result<(), String> {
        match &self.bridge {
            Some(b) => b.send(req),
            None => Err("the compute worker is not running".into()),
        }
    }

    fn send(&mut self, req: &Request) {
        if let Err(e) = self.try_send(req) {
            self.error = Some(e);
            self.job = None;
        }
    }

    fn view_section(&self, ctx: &Context<Self>) -> Html {
        let ready = matches!(self.device, DeviceState::Ready(_));
        match self.section {
            Section::ImageCheck => self.view_image_check(ctx),
            Section::StyleTransfer => self.stylize.view(ready, ctx.link().callback(Msg::Stylize)),
            Section::Pix2Pix => {
                self.pix2pix.view(ready, ctx.link().callback(|m| Msg::Panel(Slot::Pix2Pix, m)))
            }
            Section::CycleGan => {
                self.cyclegan.view(ready, ctx.link().callback(|m| Msg::Panel(Slot::CycleGan, m)))
            }
            Section::Training => self.training.view(ready, ctx.link().callback(Msg::Train)),
        }
    }

    fn view_image_check(&self, ctx: &Context<Self>) -> Html {
        let ready = matches!(self.device, DeviceState::Ready(_));
        let busy = self.job.is_some();
        let progress = self.job.as_ref().map(|j| {
            j.progress.bar(BarAttrs { id: Some("progress".into()), ..BarAttrs::default() }, format!("{}: {}", j.name, j.progress.stage))
        });
        let result = self.result.as_ref().map(|(input, output, name, millis)| {
            let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
            html! {
                <div class="result">
                    <div class="pair">
                        <figure><ImageCanvas id="input-canvas" image={input.clone()} />
                            <figcaption>{ format!("Input, {}x{}", input.0.width, input.0.height) }</figcaption></figure>
                        <figure><ImageCanvas id="output-canvas" image={output.clone()} />
                            <figcaption>{ format!("After the device round trip ({millis:.0} ms)") }</figcaption></figure>
                    </div>
                    <DownloadLink id="download" png={output.clone()} filename={format!("{stem}-roundtrip.png")} />
                </div>
            }
        });
        html! {
            <section class="panel">
                <h2>{ "Image check" }</h2>
                <p>{ "Pick or drop an image (PNG, JPEG or WebP). The worker decodes it, uploads it to the compute device, \
                      normalises it the way the networks expect, maps it back and reads it out again. \
                      The output should look exactly like the input: this checks your device before any network runs." }</p>
                <DropZone id="image-input" disabled={!ready || busy}
                    on_file={ctx.link().callback(|(name, bytes)| Msg::File { name, bytes })}
                    on_error={ctx.link().callback(Msg::FileError)} />
                if !ready { <p class="hint">{ "Waiting for the compute device..." }</p> }
                { for progress }
                if let Some(e) = &self.error { <p class="error" id="error" role="alert">{ e }</p> }
                { for result }
            </section>
        }
    }
}

/// Mounts the app on `<body>`.
pub fn run() {
    crate::worker::ctors::run_static_constructors();
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    yew::Renderer::<App>::new().render();
}
