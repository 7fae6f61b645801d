//! The Web Worker: owns the compute device and runs every tensor operation, so
//! the UI thread never blocks.
//!
//! Requests arrive as [`Request`]s and are queued; jobs run one at a time, in
//! order (a job that awaits a download or the GPU does not let the next one start),
//! and answer with [`Event`]s. A failing job reports [`Event::Failed`] and the
//! worker keeps serving. [`Request::Control`] (pause, resume, cancel a style transfer) is
//! the exception: it is applied as soon as it arrives, and the running job sees it between
//! two steps ([`job::RunControl`]).

pub mod ctors;
mod fetch;
mod generators;
mod job;
mod stylize;
mod training;
mod vgg;

use crate::device::{self, Compute};
use crate::imaging;
use crate::protocol::{Event, ImagePayload, JobId, Request, Slot};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

struct State {
    compute: Option<Compute>,
    /// The generator each section has loaded.
    generators: HashMap<Slot, generators::Loaded>,
    /// The VGG19 weights style transfer uses.
    vgg: Option<vgg::VggWeights>,
    queue: VecDeque<Request>,
    /// True while [`drain`] is running the queue.
    busy: bool,
}

thread_local! {
    /// The flags of the running style transfer (the worker has one thread).
    static CONTROL: Rc<job::RunControl> = Rc::new(job::RunControl::default());
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
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
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    let state = Rc::new(RefCell::new(State {
        compute: None,
        generators: HashMap::new(),
        vgg: None,
        queue: VecDeque::new(),
        busy: false,
    }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
        match serde_wasm_bindgen::from_value::<Request>(msg.data()) {
            // Not queued: the running job must see it between two steps.
            Ok(Request::Control { id, action }) => CONTROL.with(|c| c.apply(id, action)),
            // Not queued: answered from storage while a training run holds the queue.
            Ok(Request::ExportTraining { id, what }) => wasm_bindgen_futures::spawn_local(async move {
                match training::export(id, what).await {
                    Ok(ev) => post(&ev),
                    Err(message) => post(&Event::Failed { id: Some(id), message }),
                }
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
            Err(e) => post(&Event::Failed { id: None, message: format!("malformed request: {e}") }),
        }
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&Event::Loaded);
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

fn device_of(state: &RefCell<State>) -> Option<Compute> {
    state.borrow().compute.clone()
}

async fn handle(state: &RefCell<State>, req: Request) {
    match req {
        Request::Init { preference } => {
            // With Preference::Auto this cannot fail: the CPU stands in.
            let compute = match device::start(preference).await {
                Ok(c) => c,
                Err(e) => Compute::cpu(Some(e.to_string())),
            };
            log::info!("compute device: {}", compute.info.summary());
            let info = compute.info.clone();
            state.borrow_mut().compute = Some(compute);
            post(&Event::Ready { device: info });
        }
        Request::Roundtrip { id, name, bytes } => {
            let Some(compute) = device_of(state) else {
                return not_ready(id);
            };
            match roundtrip(id, &bytes, &compute.device).await {
                Ok(ev) => post(&ev),
                Err(message) => post(&Event::Failed { id: Some(id), message: format!("{name}: {message}") }),
            }
        }
        Request::LoadModel { id, slot, source, arch, norm } => {
            let Some(compute) = device_of(state) else {
                return not_ready(id);
            };
            match generators::load(id, slot, source, arch, norm, &compute).await {
                Ok((loaded, ev)) => {
                    // Replacing the old generator drops it, which frees its weights.
                    state.borrow_mut().generators.insert(slot, loaded);
                    post(&ev);
                }
                Err(message) => post(&Event::Failed { id: Some(id), message }),
            }
        }
        Request::Translate { id, slot, name, bytes, options } => {
            let Some(compute) = device_of(state) else {
                return not_ready(id);
            };
            // Taken out for the job (jobs never overlap) and put back whatever happens.
            let Some(mut loaded) = state.borrow_mut().generators.remove(&slot) else {
                post(&Event::Failed { id: Some(id), message: "load a model first".into() });
                return;
            };
            let res = generators::translate(id, slot, &mut loaded, &bytes, options, &compute).await;
            state.borrow_mut().generators.insert(slot, loaded);
            match res {
                Ok(ev) => post(&ev),
                Err(message) => post(&Event::Failed { id: Some(id), message: format!("{name}: {message}") }),
            }
        }
        Request::LoadVgg { id, source } => {
            if device_of(state).is_none() {
                return not_ready(id);
            }
            match vgg::VggWeights::load(id, source).await {
                Ok((weights, ev)) => {
                    // Replacing the old weights drops them (and their network).
                    state.borrow_mut().vgg = Some(weights);
                    post(&ev);
                }
                Err(message) => post(&Event::Failed { id: Some(id), message }),
            }
        }
        Request::Stylize { id, job } => {
            let Some(compute) = device_of(state) else {
                return not_ready(id);
            };
            // Taken out for the job (jobs never overlap) and put back whatever happens.
            let Some(mut weights) = state.borrow_mut().vgg.take() else {
                post(&Event::Failed { id: Some(id), message: "load the VGG19 weights first".into() });
                return;
            };
            let control = CONTROL.with(Rc::clone);
            let res = stylize::run(id, job, &mut weights, &compute, &control).await;
            state.borrow_mut().vgg = Some(weights);
            match res {
                Ok(ev) => post(&ev),
                Err(message) => post(&Event::Failed { id: Some(id), message }),
            }
        }
        Request::Train { id, job } => {
            let Some(compute) = device_of(state) else {
                return not_ready(id);
            };
            let control = CONTROL.with(Rc::clone);
            match training::start(id, job, &compute, &control).await {
                Ok(ev) => post(&ev),
                Err(message) => post(&Event::Failed { id: Some(id), message }),
            }
        }
        Request::ResumeTraining { id, save_every_s, sample_every } => {
            let Some(compute) = device_of(state) else {
                return not_ready(id);
            };
            let control = CONTROL.with(Rc::clone);
            match training::resume(id, &compute, &control, save_every_s, sample_every).await {
                Ok(ev) => post(&ev),
                Err(message) => post(&Event::Failed { id: Some(id), message }),
            }
        }
        Request::QuerySavedTraining { id } => post(&training::query(id).await),
        Request::DiscardTraining { id } => post(&training::discard(id).await),
        // Applied in `onmessage`, never queued.
        Request::Control { id, action } => CONTROL.with(|c| c.apply(id, action)),
        Request::ExportTraining { id, what } => match training::export(id, what).await {
            Ok(ev) => post(&ev),
            Err(message) => post(&Event::Failed { id: Some(id), message }),
        },
    }
}

fn not_ready(id: JobId) {
    post(&Event::Failed { id: Some(id), message: "the compute device is not ready yet".into() });
}

pub(crate) fn payload(img: &image::RgbImage) -> Result<ImagePayload, String> {
    Ok(ImagePayload {
        width: img.width(),
        height: img.height(),
        rgba: imaging::to_rgba(img),
        png: imaging::encode_png(img).map_err(|e| e.to_string())?,
    })
}

async fn roundtrip(id: JobId, bytes: &[u8], device: &burn::tensor::Device) -> Result<Event, String> {
    let stage = |done, label: &str| post(&Event::Progress { id, stage: label.into(), done, total: 3 });
    let t0 = now_ms();
    stage(0, "decoding");
    let img = imaging::decode(bytes).map_err(|e| e.to_string())?;
    stage(1, "running on the device");
    let out = imaging::roundtrip(&img, device).await.map_err(|e| e.to_string())?;
    stage(2, "encoding");
    let ev = Event::RoundtripDone { id, input: payload(&img)?, output: payload(&out)?, millis: now_ms() - t0 };
    stage(3, "done");
    Ok(ev)
}
