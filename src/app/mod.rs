//! The browser UI: a thin Yew single-page app. It shows state and forwards the
//! user's intent to the worker ([`bridge`]); it never touches a tensor.
//!
//! One section per technique, each in its own module named as in the worker and the
//! library: [`image_check`], [`style_transfer`], [`image_to_image`] (the Pix2Pix and
//! CycleGAN tabs) and [`training`]. A section turns the user's input into a [`Request`]
//! with a fresh job id; the app remembers which tab sent it and routes the worker's
//! [`Event::Job`]s back by that id to the section's [`Section::on_event`].

pub mod bridge;
pub mod catalog;
mod image_check;
mod image_to_image;
mod loss_chart;
mod style_transfer;
mod training;
mod widgets;

use crate::device::{DeviceInfo, Preference};
use crate::protocol::{Event, JobEvent, JobId, Request, Slot};
use bridge::WorkerBridge;
use image_check::{ImageCheck, ImageCheckMsg};
use image_to_image::{ImageToImage, ImageToImageMsg};
use std::collections::HashMap;
use style_transfer::{StyleTransfer, StyleTransferMsg};
use training::{Training, TrainingMsg};
use widgets::{DeviceBanner, JobProgress};
use yew::prelude::*;

/// What every section is to the app: it takes the worker's events about the jobs it sent
/// (routed by job id), and gives up its running job when the worker breaks. Its own
/// messages, `update` and `view`, are its business.
pub trait Section {
    /// An event about job `id`, one this section sent (it may have stopped following it).
    fn on_event(&mut self, id: JobId, event: JobEvent);
    /// The worker broke: no running job will finish; say so with `message`.
    fn abort(&mut self, message: &str);
}

/// A section's job while it runs: its id, its progress bars, and what the section keeps
/// about it (`about`).
pub struct Job<T> {
    pub id: JobId,
    pub progress: JobProgress,
    pub about: T,
}

impl<T> Job<T> {
    /// Job `id`, just sent to the worker, at `stage`.
    pub fn sent(id: JobId, stage: &str, about: T) -> Self {
        Job { id, progress: JobProgress { stage: stage.into(), ..JobProgress::sent(3) }, about }
    }
}

/// The start of `on_event` for a section that runs one job at a time: an event of a job it
/// no longer follows is dropped, progress and download events move the job's bars, and a
/// failure ends the job and becomes the section's error. What is left (`Some`) is the
/// section's own to handle.
pub fn own_event<T>(job: &mut Option<Job<T>>, error: &mut Option<String>, id: JobId, ev: JobEvent) -> Option<JobEvent> {
    let running = job.as_mut().filter(|j| j.id == id)?;
    if running.progress.on_event(&ev) {
        return None;
    }
    if let JobEvent::Failed { message } = ev {
        *job = None;
        *error = Some(message);
        return None;
    }
    Some(ev)
}

/// [`Section::abort`] for a section with one running job: the job ends with `message`.
pub fn abort_job<J>(job: &mut Option<J>, error: &mut Option<String>, message: &str) {
    if job.take().is_some() {
        *error = Some(message.to_string());
    }
}

/// Job ids, unique for the page's lifetime.
pub struct JobIds(JobId);

impl JobIds {
    pub fn fresh(&mut self) -> JobId {
        self.0 += 1;
        self.0
    }
}

/// The tabs, one per section.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Tab {
    ImageCheck,
    StyleTransfer,
    Pix2Pix,
    CycleGan,
    Training,
}

impl Tab {
    const ALL: [Tab; 5] = [Tab::ImageCheck, Tab::StyleTransfer, Tab::Pix2Pix, Tab::CycleGan, Tab::Training];
    fn title(self) -> &'static str {
        match self {
            Tab::ImageCheck => "Image check",
            Tab::StyleTransfer => "Style Transfer",
            Tab::Pix2Pix => "Pix2Pix",
            Tab::CycleGan => "CycleGAN",
            Tab::Training => "Training",
        }
    }
    fn id(self) -> &'static str {
        match self {
            Tab::ImageCheck => "image-check",
            Tab::StyleTransfer => "style-transfer",
            Tab::Pix2Pix => "pix2pix",
            Tab::CycleGan => "cyclegan",
            Tab::Training => "training",
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

pub struct App {
    bridge: Option<WorkerBridge>,
    device: DeviceState,
    tab: Tab,
    ids: JobIds,
    /// The tab whose section sent each job: the worker's events about it go there.
    routes: HashMap<JobId, Tab>,
    image_check: ImageCheck,
    style_transfer: StyleTransfer,
    pix2pix: ImageToImage,
    cyclegan: ImageToImage,
    training: Training,
}

pub enum Msg {
    Worker(Event),
    Show(Tab),
    ImageCheck(ImageCheckMsg),
    StyleTransfer(StyleTransferMsg),
    ImageToImage(Slot, ImageToImageMsg),
    Training(TrainingMsg),
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
            tab: Tab::ImageCheck,
            ids: JobIds(0),
            routes: HashMap::new(),
            image_check: ImageCheck::default(),
            style_transfer: StyleTransfer::default(),
            pix2pix: ImageToImage::new(Slot::Pix2Pix),
            cyclegan: ImageToImage::new(Slot::CycleGan),
            training: Training::default(),
        }
    }

    fn update(&mut self, _ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Worker(Event::Job { id, event }) => match self.routes.get(&id) {
                Some(&tab) => self.section(tab).on_event(id, event),
                // Not a job this page sent: nothing to draw.
                None => return false,
            },
            Msg::Worker(Event::Loaded) => {
                self.device = DeviceState::Starting;
                if let Err(e) = self.send(&Request::Init { preference: preference_from_url() }) {
                    self.device = DeviceState::Broken(e);
                }
            }
            Msg::Worker(Event::Ready { device }) => {
                self.device = DeviceState::Ready(device);
                // Is a training run kept from an earlier visit? (Offered for resuming.)
                let req = self.training.update(TrainingMsg::Query, &mut self.ids);
                self.dispatch(Tab::Training, req);
            }
            Msg::Worker(Event::Broken { message }) => {
                if matches!(self.device, DeviceState::Loading | DeviceState::Starting) {
                    self.device = DeviceState::Broken(message.clone());
                }
                for tab in Tab::ALL {
                    self.section(tab).abort(&message);
                }
            }
            Msg::Show(tab) => self.tab = tab,
            Msg::ImageCheck(m) => {
                let req = self.image_check.update(m, &mut self.ids);
                self.dispatch(Tab::ImageCheck, req);
            }
            Msg::StyleTransfer(m) => {
                let req = self.style_transfer.update(m, &mut self.ids);
                self.dispatch(Tab::StyleTransfer, req);
            }
            Msg::ImageToImage(slot, m) => {
                let tab = tab_of(slot);
                let req = match slot {
                    Slot::Pix2Pix => self.pix2pix.update(m, &mut self.ids),
                    Slot::CycleGan => self.cyclegan.update(m, &mut self.ids),
                };
                self.dispatch(tab, req);
            }
            Msg::Training(m) => {
                let req = self.training.update(m, &mut self.ids);
                self.dispatch(Tab::Training, req);
            }
        }
        true
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let tabs = Tab::ALL.iter().map(|&t| {
            let class = classes!("tab", (t == self.tab).then_some("active"));
            html! {
                <button {class} id={format!("tab-{}", t.id())} role="tab"
                    aria-selected={(t == self.tab).to_string()}
                    onclick={link.callback(move |_| Msg::Show(t))}>{ t.title() }</button>
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
                <main id={format!("section-{}", self.tab.id())}>
                    { self.view_section(ctx) }
                </main>
            </div>
        }
    }
}

fn tab_of(slot: Slot) -> Tab {
    match slot {
        Slot::Pix2Pix => Tab::Pix2Pix,
        Slot::CycleGan => Tab::CycleGan,
    }
}

impl App {
    fn section(&mut self, tab: Tab) -> &mut dyn Section {
        match tab {
            Tab::ImageCheck => &mut self.image_check,
            Tab::StyleTransfer => &mut self.style_transfer,
            Tab::Pix2Pix => &mut self.pix2pix,
            Tab::CycleGan => &mut self.cyclegan,
            Tab::Training => &mut self.training,
        }
    }

    fn send(&self, req: &Request) -> Result<(), String> {
        match &self.bridge {
            Some(b) => b.send(req),
            None => Err("the compute worker is not running".into()),
        }
    }

    /// Sends a section's request, remembering which tab sent it; a request that cannot be
    /// sent ends the section's job with the reason.
    fn dispatch(&mut self, tab: Tab, req: Option<Request>) {
        let Some(req) = req else { return };
        if let Some(id) = req.job_id() {
            self.routes.insert(id, tab);
        }
        if let Err(e) = self.send(&req) {
            self.section(tab).abort(&e);
        }
    }

    fn view_section(&self, ctx: &Context<Self>) -> Html {
        let ready = matches!(self.device, DeviceState::Ready(_));
        let link = ctx.link();
        match self.tab {
            Tab::ImageCheck => self.image_check.view(ready, link.callback(Msg::ImageCheck)),
            Tab::StyleTransfer => self.style_transfer.view(ready, link.callback(Msg::StyleTransfer)),
            Tab::Pix2Pix => self.pix2pix.view(ready, link.callback(|m| Msg::ImageToImage(Slot::Pix2Pix, m))),
            Tab::CycleGan => self.cyclegan.view(ready, link.callback(|m| Msg::ImageToImage(Slot::CycleGan, m))),
            Tab::Training => self.training.view(ready, link.callback(Msg::Training)),
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
