//! The Web Worker: owns the compute device and runs every tensor operation, so
//! the UI thread never blocks.
//!
//! Requests arrive as [`Request`]s and are queued; jobs run one at a time, in
//! order (a job that awaits a download or the GPU does not let the next one start),
//! and answer with [`Event::Job`]s carrying the request's job id. A failing job reports
//! [`JobEvent::Failed`] and the worker keeps serving. [`Request::Control`] (pause, resume,
//! cancel a style transfer or a training run) is the exception: it is applied as soon as it
//! arrives, and the running job sees it between two steps ([`job::RunControl`]).
//!
//! One module per technique, as in the UI (`src/app/`) and the library
//! (`src/techniques/`): [`style_transfer`], [`deep_dream`], [`image_to_image`], [`training`].

pub mod ctors;
mod deep_dream;
mod device;
pub(crate) mod fetch;
mod image_to_image;
mod job;
mod style_transfer;
mod training;
mod vgg;

use crate::device::Compute;
use device::WorkerDevice;
use crate::imaging;
use crate::protocol::{Event, ImagePayload, JobEvent, JobId, Request, Slot};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

struct State {
    /// The generator each section has loaded.
    generators: HashMap<Slot, image_to_image::Loaded>,
    /// The VGG19 weights style transfer and Deep Dream use.
    vgg: Option<vgg::VggWeights>,
    queue: VecDeque<Request>,
    /// True while [`drain`] is running the queue.
    busy: bool,
}

thread_local! {
    /// The flags of the running stepping job (the worker has one thread).
    static CONTROL: Rc<job::RunControl> = Rc::new(job::RunControl::default());
    /// The device jobs run on, replaced when it is lost.
    static DEVICE: Rc<WorkerDevice> = Rc::new(WorkerDevice::default());
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Sends an event about job `id` to the UI thread.
pub fn post_job(id: JobId, event: JobEvent) {
    post(&event.about(id));
}

/// Job `id` is at stage `done` of `total`, doing `label`.
pub fn progress(id: JobId, done: u32, total: u32, label: &str) {
    post_job(id, JobEvent::Progress { stage: label.into(), done, total });
}

/// Job `id` has downloaded `done` bytes of `total`.
pub fn fetching(id: JobId, done: u64, total: Option<u64>) {
    post_job(id, JobEvent::Fetching { done, total });
}

/// Sends an event to the UI thread.
pub fn post(event: &Event) {
    match serde_wasm_bindgen::to_value(event) {
        Ok(v) => {
            if let Err(e) = scope().post_message(&v) {
                log::error!("postMessage failed: {e:?}");
            }
        }
        Err(e) => log::error!("could not serialise {event:?}: {e}"),
    }
}

pub(crate) fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Entry point of the worker binary.
pub fn run() {
    ctors::run_static_constructors();
    // A panic leaves the module unusable (it traps next): log it, and tell the UI why, so
    // that it can say so and start a new worker.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info.location().map(|l| format!(" (at {}:{})", l.file(), l.line())).unwrap_or_default();
        post(&Event::Crashed { message: format!("{what}{at}") });
    }));
    let _ = console_log::init_with_level(log::Level::Info);
    let state = Rc::new(RefCell::new(State {
        generators: HashMap::new(),
        vgg: None,
        queue: VecDeque::new(),
        busy: false,
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
        match serde_wasm_bindgen::from_value::<Request>(msg.data()) {
            // Not queued: the running job must see it between two steps.
            Ok(Request::Control { id, action }) => CONTROL.with(|c| c.apply(id, action)),
            // Not queued: a crash in the middle of whatever runs.
            Ok(Request::Crash { message }) => panic!("{message}"),
            // Not queued: sampled in the middle of whatever runs.
            Ok(Request::Memory { id }) => post_job(id, memory()),
            // Not queued: lost in the middle of whatever runs.
            Ok(Request::LoseDevice) => DEVICE.with(|d| d.destroy()),
            // Not queued: out of memory in the middle of whatever runs.
            Ok(Request::ExhaustMemory) => DEVICE.with(|d| d.exhaust()),
            // Not queued: the write in progress, if any, is not slowed, the next ones are.
            Ok(Request::SlowWrites { ms }) => {
                log::warn!("writes to storage are slowed: {} pieces, {ms} ms apart", fetch::SLOW_PIECES);
                fetch::slow_writes(ms)
            }
            // Not queued: answered from storage while a training run holds the queue.
            Ok(Request::ExportTraining { id, what }) => wasm_bindgen_futures::spawn_local(async move {
                post_job(id, training::export(what).await.unwrap_or_else(|message| JobEvent::Failed { message }));
            }),
            Ok(req) => {
                let start = {
                    let mut s = state.borrow_mut();
                    s.queue.push_back(req);
                    !std::mem::replace(&mut s.busy, true)
                };
                if start {
                    wasm_bindgen_futures::spawn_local(drain(state.clone()));
                }
            }
            Err(e) => post(&Event::Broken { message: format!("malformed request: {e}") }),
        }
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&Event::Loaded);
}

/// A job's failure message once the GPU ran out of memory under it (`reason`): what to do
/// first, then the job's own message (which says what was kept).
fn out_of_memory(message: &str, reason: &str) -> String {
    format!("The GPU ran out of memory ({reason}): try a smaller image size, or a smaller batch when training. {message}")
}

/// Runs the queued requests one after the other until the queue is empty.
async fn drain(state: Rc<RefCell<State>>) {
    loop {
        let next = {
            let mut s = state.borrow_mut();
            let next = s.queue.pop_front();
            if next.is_none() {
                s.busy = false;
            }
            next
        };
        match next {
            Some(req) => handle(&state, req).await,
            None => return,
        }
    }
}

async fn handle(state: &RefCell<State>, req: Request) {
    match req.job_id() {
        Some(id) => {
            let device = DEVICE.with(Rc::clone);
            let before = device.get().ok();
            // Style transfer and training go on after a device loss by themselves.
            let recovers = matches!(req, Request::StyleTransfer { .. } | Request::Train { .. } | Request::ResumeTraining { .. });
            let result = run_job(state, req, &device).await;
            // A job the GPU ran out of memory under failed, whatever it says: what it read back
            // is not to be trusted.
            let exhausted = match &before {
                Some(before) => device.after_job(before).await,
                None => None,
            };
            let event = match (result, exhausted) {
                (Ok(event), None) => event,
                (Ok(_), Some(reason)) => JobEvent::Failed { message: out_of_memory("the job could not finish", &reason) },
                (Err(message), Some(reason)) => JobEvent::Failed { message: out_of_memory(&message, &reason) },
                (Err(message), None) if crate::device::is_out_of_memory(&message) => {
                    JobEvent::Failed { message: out_of_memory(&message, "it has no room for a buffer this needs") }
                }
                (Err(message), None) => {
                    let lost = match before.filter(|_| !recovers) {
                        Some(before) => device.after_failure(&before).await,
                        None => None,
                    };
                    let message = match lost {
                        Some((_, reason)) => format!("{message}. The GPU device was lost ({reason}) and a new one has started: try again."),
                        None => message,
                    };
                    JobEvent::Failed { message }
                }
            };
            post_job(id, event);
        }
        None => {
            if let Request::Init { preference } = req {
                // With Preference::Auto this cannot fail: the CPU stands in.
                let compute = match crate::device::start(preference).await {
                    Ok(c) => c,
                    Err(e) => Compute::cpu(Some(e.to_string())),
                };
                log::info!("compute device: {}", compute.info.summary());
                let info = compute.info.clone();
                DEVICE.with(|d| d.set(compute));
                post(&Event::Ready { device: info });
            }
        }
    }
}

/// Runs one job; its last event (the result, or the failure) is posted by [`handle`].
async fn run_job(state: &RefCell<State>, req: Request, device: &WorkerDevice) -> Result<JobEvent, String> {
    match req {
        Request::Roundtrip { id, name, bytes } => {
            roundtrip(id, &bytes, &device.get()?.device).await.map_err(|message| format!("{name}: {message}"))
        }
        Request::LoadModel { id, slot, source, arch, norm } => {
            let (loaded, ev) = image_to_image::load(id, slot, source, arch, norm, &device.get()?).await?;
            // Replacing the old generator drops it, which frees its weights.
            state.borrow_mut().generators.insert(slot, loaded);
            Ok(ev)
        }
        Request::Translate { id, slot, name, bytes, options } => {
            let compute = device.get()?;
            // Taken out for the job (jobs never overlap) and put back whatever happens.
            let mut loaded = state.borrow_mut().generators.remove(&slot).ok_or("load a model first")?;
            if loaded.generation != compute.generation {
                // Built on a device that was lost since: dropped.
                return Err(format!("the GPU device was lost after {} was loaded: load it again", loaded.label));
            }
            let res = image_to_image::translate(id, slot, &mut loaded, &bytes, options, &compute).await;
            state.borrow_mut().generators.insert(slot, loaded);
            res.map_err(|message| format!("{name}: {message}"))
        }
        Request::TranslateFrame { slot, frame, smoothing, .. } => {
            let compute = device.get()?;
            let mut loaded = state.borrow_mut().generators.remove(&slot).ok_or("load a model first")?;
            if loaded.generation != compute.generation {
                return Err(format!("the GPU device was lost after {} was loaded: load it again", loaded.label));
            }
            let res = image_to_image::translate_frame(slot, &mut loaded, frame, smoothing, &compute).await;
            state.borrow_mut().generators.insert(slot, loaded);
            res
        }
        Request::LoadVgg { id, source } => {
            device.get()?;
            let (weights, ev) = vgg::VggWeights::load(id, source).await?;
            // Replacing the old weights drops them (and their network).
            state.borrow_mut().vgg = Some(weights);
            Ok(ev)
        }
        Request::StyleTransfer { id, job } => {
            // Taken out for the job (jobs never overlap) and put back whatever happens.
            let mut weights = state.borrow_mut().vgg.take().ok_or("load the VGG19 weights first")?;
            let control = CONTROL.with(Rc::clone);
            let res = style_transfer::run(id, job, &mut weights, device, &control).await;
            state.borrow_mut().vgg = Some(weights);
            res
        }
        Request::Dream { id, job } => {
            // As style transfer: the weights are taken out for the job and put back.
            let mut weights = state.borrow_mut().vgg.take().ok_or("load the VGG19 weights first")?;
            let control = CONTROL.with(Rc::clone);
            let res = deep_dream::run(id, job, &mut weights, device, &control).await;
            state.borrow_mut().vgg = Some(weights);
            res
        }
        // A fast style network's loss reads the VGG19 weights: taken out for the run, put back.
        Request::Train { id, job } => {
            let mut vgg = state.borrow_mut().vgg.take();
            let res = training::start(id, job, device, &CONTROL.with(Rc::clone), &mut vgg).await;
            state.borrow_mut().vgg = vgg;
            res
        }
        Request::ResumeTraining { id, save_every_s, sample_every } => {
            let mut vgg = state.borrow_mut().vgg.take();
            let res = training::resume(id, device, &CONTROL.with(Rc::clone), (save_every_s, sample_every), &mut vgg).await;
            state.borrow_mut().vgg = vgg;
            res
        }
        Request::QuerySavedTraining { .. } => Ok(training::query().await),
        Request::DiscardTraining { .. } => Ok(training::discard().await),
        // Answered in `onmessage`, never queued; Init has no job id.
        Request::Control { .. }
        | Request::ExportTraining { .. }
        | Request::Init { .. }
        | Request::Crash { .. }
        | Request::LoseDevice
        | Request::ExhaustMemory
        | Request::SlowWrites { .. }
        | Request::Memory { .. } => {
            Err("not a job".into())
        }
    }
}

/// The worker's wasm memory and what Burn holds on the GPU.
fn memory() -> JobEvent {
    let wasm_bytes = wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as u64;
    JobEvent::Memory { wasm_bytes, gpu: DEVICE.with(|d| d.get().ok()).and_then(|c| c.memory()) }
}

/// An image to show only (a preview, a training sample): RGBA, no PNG.
pub(crate) fn preview(img: &image::RgbImage) -> ImagePayload {
    ImagePayload { width: img.width(), height: img.height(), rgba: imaging::to_rgba(img), png: None }
}

/// An image to show and to download: RGBA and PNG.
pub(crate) fn payload(img: &image::RgbImage) -> Result<ImagePayload, String> {
    Ok(ImagePayload { png: Some(imaging::encode_png(img).map_err(|e| e.to_string())?), ..preview(img) })
}

async fn roundtrip(id: JobId, bytes: &[u8], device: &burn::tensor::Device) -> Result<JobEvent, String> {
    let stage = |done, label: &str| progress(id, done, 3, label);
    let t0 = now_ms();
    stage(0, "decoding");
    let img = imaging::decode(bytes).map_err(|e| e.to_string())?;
    stage(1, "running on the device");
    let out = imaging::roundtrip(&img, device).await.map_err(|e| e.to_string())?;
    stage(2, "encoding");
    let ev = JobEvent::RoundtripDone { input: payload(&img)?, output: payload(&out)?, millis: now_ms() - t0 };
    stage(3, "done");
    Ok(ev)
}
