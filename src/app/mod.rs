//! The browser UI: a thin Yew single-page app. It shows state and forwards the
//! user's intent to the worker ([`bridge`]); it never touches a tensor.
//!
//! The page opens on the [`start`] view (the techniques with one-click demos on the
//! [`samples`], the credits, and the [`image_check`] in a diagnostics fold). One section per
//! technique, each in its own module named as in the worker and the library:
//! [`style_transfer`], [`deep_dream`], [`image_to_image`] (the Pix2Pix and CycleGAN tabs) and
//! [`training`]. The VGG19 weights that style transfer and Deep Dream share are chosen with
//! [`vgg`]. A section turns the user's input into a [`Request`]
//! with a fresh job id; the app remembers which tab sent it and routes the worker's
//! [`Event::Job`]s back by that id to the section's [`Section::on_event`].

/// A form's text inputs, listed once: `text_fields!(Form { Size => size, Steps => steps })`
/// declares `enum Field { Size, Steps }` and `Form::slot(field)`, the text each one edits.
macro_rules! text_fields {
    ($form:ident { $($variant:ident => $member:ident),+ $(,)? }) => {
        /// Which setting an input edits.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub enum Field {
            $($variant),+
        }

        impl $form {
            /// The text the input of `field` edits.
            fn slot(&mut self, field: Field) -> &mut String {
                match field {
                    $(Field::$variant => &mut self.$member),+
                }
            }
        }
    };
}

pub mod bridge;
pub mod catalog;
mod deep_dream;
mod image_check;
mod image_to_image;
mod loss_chart;
pub mod samples;
mod start;
mod storage;
mod style_transfer;
mod training;
mod vgg;
mod widgets;

use crate::device::{DeviceInfo, Preference};
use crate::protocol::{Event, JobEvent, JobId, ModelSource, Request, Slot};
use bridge::WorkerBridge;
use deep_dream::{DeepDream, DeepDreamMsg};
use image_check::{ImageCheck, ImageCheckMsg};
use image_to_image::{ImageToImage, ImageToImageMsg};
use start::{Demo, StartCallbacks};
use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use style_transfer::{StyleTransfer, StyleTransferMsg};
use training::{Training, TrainingMsg};
use widgets::{DeviceBanner, JobProgress};
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// What every section is to the app: it takes the worker's events about the jobs it sent
/// (routed by job id), and gives up its running job when the worker breaks. Its own
/// messages, `update` and `view`, are its business.
pub trait Section {
    /// An event about job `id`, one this section sent (it may have stopped following it).
    fn on_event(&mut self, id: JobId, event: JobEvent);
    /// The worker broke: no running job will finish; say so with `message`.
    fn abort(&mut self, message: &str);
    /// What the worker had built on its device is gone: a new worker replaced one that crashed
    /// (`worker`), or a new device replaced a lost GPU. A loaded model must be loaded again.
    fn device_replaced(&mut self, _worker: bool) {}
    /// The worker now holds these VGG19 weights (another section loaded them).
    fn vgg_loaded(&mut self, _info: &vgg::VggInfo) {}
    /// The request to send after an event, if the section has a next step queued (a demo
    /// that loads a model, then runs it). Asked after every event it was given.
    fn follow_up(&mut self, _ids: &mut JobIds) -> Option<Request> {
        None
    }
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

/// A section's queued next step (a demo's run after its model loads), taken once the job
/// that loads ends: true when it should go ahead, that is when the load succeeded (`loaded`).
/// The flag is cleared either way.
pub fn take_next_step<J>(pending: &mut bool, job: &Option<J>, loaded: bool) -> bool {
    if !*pending || job.is_some() {
        return false;
    }
    *pending = false;
    loaded
}

/// Job ids, unique for the page's lifetime (clones share the counter).
#[derive(Clone, Default)]
pub struct JobIds(Rc<Cell<JobId>>);

impl JobIds {
    pub fn fresh(&mut self) -> JobId {
        self.0.set(self.0.get() + 1);
        self.0.get()
    }
}

/// The tabs: the start view and one per technique. The image check lives in the start
/// view's diagnostics fold; it is a `Tab` for routing its jobs only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Tab {
    Start,
    ImageCheck,
    StyleTransfer,
    DeepDream,
    Pix2Pix,
    CycleGan,
    Training,
}

impl Tab {
    /// The tab row.
    const ROW: [Tab; 6] = [Tab::Start, Tab::StyleTransfer, Tab::DeepDream, Tab::Pix2Pix, Tab::CycleGan, Tab::Training];
    /// Every section that runs jobs.
    const SECTIONS: [Tab; 6] = [Tab::ImageCheck, Tab::StyleTransfer, Tab::DeepDream, Tab::Pix2Pix, Tab::CycleGan, Tab::Training];
    fn title(self) -> &'static str {
        match self {
            Tab::Start => "Start",
            Tab::ImageCheck => "Image check",
            Tab::StyleTransfer => "Style Transfer",
            Tab::DeepDream => "Deep Dream",
            Tab::Pix2Pix => "Pix2Pix",
            Tab::CycleGan => "CycleGAN",
            Tab::Training => "Training",
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Tab::Start => "start",
            Tab::ImageCheck => "image-check",
            Tab::StyleTransfer => "style-transfer",
            Tab::DeepDream => "deep-dream",
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
    /// When workers crashed (`performance.now()`, ms), the last few: a worker that keeps
    /// crashing is not restarted forever.
    crashes: Vec<f64>,
    /// The last crash, said above the sections until the next one.
    crash_notice: Option<String>,
    /// The last device loss, said above the sections.
    device_notice: Option<String>,
    tab: Tab,
    ids: JobIds,
    /// The tab whose section sent each running job: the worker's events about it go there
    /// (dropped at the job's last event).
    routes: HashMap<JobId, Tab>,
    image_check: ImageCheck,
    style_transfer: StyleTransfer,
    deep_dream: DeepDream,
    pix2pix: ImageToImage,
    cyclegan: ImageToImage,
    training: Training,
}

pub enum Msg {
    Worker(Event),
    Show(Tab),
    Demo(Demo),
    ImageCheck(ImageCheckMsg),
    StyleTransfer(StyleTransferMsg),
    DeepDream(DeepDreamMsg),
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
            Err(e) => (None, DeviceState::Broken(format!("The compute worker could not start: {e}"))),
        };
        Self {
            bridge,
            device,
            crashes: Vec::new(),
            crash_notice: None,
            device_notice: None,
            tab: Tab::Start,
            ids: JobIds::default(),
            routes: HashMap::new(),
            image_check: ImageCheck::default(),
            style_transfer: StyleTransfer::default(),
            deep_dream: DeepDream::default(),
            pix2pix: ImageToImage::new(Slot::Pix2Pix),
            cyclegan: ImageToImage::new(Slot::CycleGan),
            training: Training::default(),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Worker(Event::Job { id, event }) => match self.routes.get(&id) {
                Some(&tab) => {
                    // The worker says nothing more about a job after its last event.
                    if event.ends_job() {
                        self.routes.remove(&id);
                    }
                    // The worker holds one set of VGG19 weights, for every section.
                    if let Some(info) = vgg::VggInfo::from_event(&event) {
                        for other in Tab::SECTIONS.into_iter().filter(|&t| t != tab) {
                            self.section(other).vgg_loaded(&info);
                        }
                    }
                    let mut ids = self.ids.clone();
                    let section = self.section(tab);
                    section.on_event(id, event);
                    let next = section.follow_up(&mut ids);
                    self.dispatch(tab, next);
                }
                // Not a job this page sent: nothing to draw.
                None => return false,
            },
            Msg::Worker(Event::Loaded) => {
                self.device = DeviceState::Starting;
                if let Err(e) = self.send(&Request::Init { preference: preference_from_url() }) {
                    self.device = DeviceState::Broken(format!("The compute worker could not start: {e}"));
                }
            }
            Msg::Worker(Event::Ready { device }) => {
                self.device = DeviceState::Ready(device);
                // Is a training run kept from an earlier visit? (Offered for resuming.)
                let req = self.training.update(TrainingMsg::Query, &mut self.ids);
                self.dispatch(Tab::Training, req);
            }
            Msg::Worker(Event::Crashed { message }) => self.replace_worker(ctx, &message),
            Msg::Worker(Event::DeviceLost { reason, device }) => {
                self.device_notice = Some(format!(
                    "The GPU device was lost ({reason}); the studio now runs on {}. Loaded models must be loaded \
                     again; a running style transfer or training run goes on from its last kept state.",
                    device.summary()
                ));
                self.device = DeviceState::Ready(device);
                for tab in Tab::SECTIONS {
                    self.section(tab).device_replaced(false);
                }
            }
            Msg::Worker(Event::OutOfMemory { reason, device }) => {
                self.device_notice = Some(format!(
                    "The GPU ran out of memory ({reason}): the job in progress stopped, and the studio now runs on a \
                     fresh device, {}. Loaded models must be loaded again.",
                    device.summary()
                ));
                self.device = DeviceState::Ready(device);
                for tab in Tab::SECTIONS {
                    self.section(tab).device_replaced(false);
                }
            }
            Msg::Worker(Event::Broken { message }) => {
                if matches!(self.device, DeviceState::Loading | DeviceState::Starting) {
                    self.device = DeviceState::Broken(format!("The compute worker could not start: {message}"));
                }
                for tab in Tab::SECTIONS {
                    self.section(tab).abort(&message);
                }
            }
            Msg::Show(tab) => self.tab = tab,
            Msg::Demo(demo) => {
                self.tab = demo.tab();
                ctx.link().send_future_batch(demo_messages(demo));
            }
            Msg::ImageCheck(m) => {
                let req = self.image_check.update(m, &mut self.ids);
                self.dispatch(Tab::ImageCheck, req);
            }
            Msg::StyleTransfer(m) => {
                let req = self.style_transfer.update(m, &mut self.ids);
                self.dispatch(Tab::StyleTransfer, req);
            }
            Msg::DeepDream(m) => {
                let req = self.deep_dream.update(m, &mut self.ids);
                self.dispatch(Tab::DeepDream, req);
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
        // The WAI-ARIA tabs pattern: the selected tab is the one in the Tab order, the arrow
        // keys (and Home, End) move between tabs, Enter or Space opens one.
        let tabs = Tab::ROW.iter().map(|&t| {
            let selected = t == self.tab;
            let class = classes!("tab", selected.then_some("active"));
            html! {
                <button {class} id={format!("tab-{}", t.id())} role="tab" aria-selected={selected.to_string()}
                    aria-controls={selected.then(|| format!("section-{}", t.id()))} tabindex={if selected { "0" } else { "-1" }}
                    onkeydown={Callback::from(move |e: KeyboardEvent| focus_tab(t, &e))}
                    onclick={link.callback(move |_| Msg::Show(t))}>{ t.title() }</button>
            }
        });
        html! {
            <div class="studio">
                <header>
                    <h1>{ "AI-Art Studio" }</h1>
                    <p class="tagline">{ "Style transfer, Deep Dream, Pix2Pix and CycleGAN, running on your own GPU in this page. Nothing is uploaded." }</p>
                    <DeviceBanner state={self.device.clone()} />
                    if let Some(n) = &self.crash_notice {
                        <p class="notice" role="alert" data-testid="worker-crashed">{ n }</p>
                    }
                    if let Some(n) = &self.device_notice {
                        <p class="notice" role="alert" data-testid="device-lost">{ n }</p>
                    }
                </header>
                <nav aria-label="Sections"><div class="tabs" role="tablist">{ for tabs }</div></nav>
                <main id={format!("section-{}", self.tab.id())} role="tabpanel" aria-labelledby={format!("tab-{}", self.tab.id())}>
                    { self.view_section(ctx) }
                </main>
            </div>
        }
    }
}

/// Moves the focus from tab `from` for the arrow keys, Home and End (wrapping around).
fn focus_tab(from: Tab, e: &KeyboardEvent) {
    let row = Tab::ROW;
    let at = row.iter().position(|&t| t == from).unwrap_or(0);
    let to = match e.key().as_str() {
        "ArrowRight" => row[(at + 1) % row.len()],
        "ArrowLeft" => row[(at + row.len() - 1) % row.len()],
        "Home" => row[0],
        "End" => row[row.len() - 1],
        _ => return,
    };
    e.prevent_default();
    let element = gloo::utils::document().get_element_by_id(&format!("tab-{}", to.id()));
    if let Some(button) = element.and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = button.focus();
    }
}

fn tab_of(slot: Slot) -> Tab {
    match slot {
        Slot::Pix2Pix => Tab::Pix2Pix,
        Slot::CycleGan => Tab::CycleGan,
    }
}

/// A worker that crashed this many times within [`CRASH_WINDOW_MS`] is not restarted again.
const MAX_CRASHES: usize = 3;
const CRASH_WINDOW_MS: f64 = 60_000.0;

impl App {
    /// The worker crashed (`why`): every running job ends with that message, and a new
    /// worker starts (the device again, then what it is asked; a training run kept in
    /// storage is offered for resuming once it is ready), unless workers keep crashing.
    fn replace_worker(&mut self, ctx: &Context<Self>, why: &str) {
        // Dropping the bridge terminates the old worker, if anything of it still runs.
        self.bridge = None;
        self.routes.clear();
        let now = gloo::utils::window().performance().map_or(0.0, |p| p.now());
        self.crashes.retain(|&t| now - t < CRASH_WINDOW_MS);
        self.crashes.push(now);
        let message = format!("The compute worker crashed: {why}.");
        for tab in Tab::SECTIONS {
            let section = self.section(tab);
            section.abort(&message);
            section.device_replaced(true);
        }
        if self.crashes.len() >= MAX_CRASHES {
            self.crash_notice = None;
            self.device = DeviceState::Broken(format!(
                "{message} It crashed {} times within a minute, so it was not started again: reload the page.",
                self.crashes.len()
            ));
            return;
        }
        self.crash_notice = Some(format!(
            "{message} A new one has been started; loaded models must be loaded again, and a training run \
             continues from its last checkpoint."
        ));
        match WorkerBridge::spawn(ctx.link().callback(Msg::Worker)) {
            Ok(b) => {
                self.bridge = Some(b);
                self.device = DeviceState::Loading;
            }
            Err(e) => self.device = DeviceState::Broken(format!("The compute worker could not start: {e}")),
        }
    }

    fn section(&mut self, tab: Tab) -> &mut dyn Section {
        match tab {
            Tab::Start | Tab::ImageCheck => &mut self.image_check,
            Tab::StyleTransfer => &mut self.style_transfer,
            Tab::DeepDream => &mut self.deep_dream,
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
        // A download of tens to hundreds of MB is about to be stored: ask the browser to keep it.
        if let Request::LoadModel { source: ModelSource::Url { .. }, .. } | Request::LoadVgg { source: ModelSource::Url { .. }, .. } = &req {
            storage::request_persistence();
        }
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
            Tab::Start | Tab::ImageCheck => {
                let callbacks = StartCallbacks { show: link.callback(Msg::Show), demo: link.callback(Msg::Demo) };
                start::view(ready, &callbacks, self.image_check.view(ready, link.callback(Msg::ImageCheck)))
            }
            Tab::StyleTransfer => self.style_transfer.view(ready, link.callback(Msg::StyleTransfer)),
            Tab::DeepDream => self.deep_dream.view(ready, link.callback(Msg::DeepDream)),
            Tab::Pix2Pix => self.pix2pix.view(ready, link.callback(|m| Msg::ImageToImage(Slot::Pix2Pix, m))),
            Tab::CycleGan => self.cyclegan.view(ready, link.callback(|m| Msg::ImageToImage(Slot::CycleGan, m))),
            Tab::Training => self.training.view(ready, link.callback(Msg::Training)),
        }
    }
}

/// A demo's samples, fetched, as the messages that put them into its section (which then
/// loads what it needs and runs).
async fn demo_messages(demo: Demo) -> Vec<Msg> {
    let fetch = |sample: Option<&'static samples::Sample>| async move {
        sample.ok_or_else(|| "the sample is missing from samples.json".to_string())?.fetch().await
    };
    let (content, style) = demo.samples();
    let content = fetch(content).await;
    match demo {
        Demo::StyleTransfer => match (content, fetch(style).await) {
            (Ok(content), Ok(style)) => vec![Msg::StyleTransfer(StyleTransferMsg::Demo { content, style })],
            (Err(e), _) | (_, Err(e)) => vec![Msg::StyleTransfer(StyleTransferMsg::FileError(e))],
        },
        Demo::CycleGan => vec![match content {
            Ok((name, bytes)) => Msg::ImageToImage(Slot::CycleGan, ImageToImageMsg::Demo { name, bytes }),
            Err(e) => Msg::ImageToImage(Slot::CycleGan, ImageToImageMsg::FileError(e)),
        }],
    }
}

/// Mounts the app on `<body>`.
pub fn run() {
    // Only a UI built with Burn (a test build; trunk builds it without) has cubecl's static
    // constructors to run, once (see worker::ctors).
    #[cfg(feature = "compute")]
    crate::worker::ctors::run_static_constructors();
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    yew::Renderer::<App>::new().render();
}
