//! The Web Worker: owns the compute device and runs every tensor operation, so
//! the UI thread never blocks.
//!
//! Requests arrive as [`Request`]s; jobs run one at a time on the worker's
//! event loop (wasm is single-threaded here) and answer with [`Event`]s. A
//! failing job reports [`Event::Failed`] and the worker keeps serving.

use crate::device::{self, Compute};
use crate::imaging;
use crate::protocol::{Event, ImagePayload, JobId, Request};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

struct State {
    compute: Option<Compute>,
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

fn now_ms() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

/// Entry point of the worker binary.
pub fn run() {
    console_error_panic_hook::set_once();
    let _ = console_log::init_with_level(log::Level::Info);
    let state = Rc::new(RefCell::new(State { compute: None }));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
        let state = state.clone();
        match serde_wasm_bindgen::from_value::<Request>(msg.data()) {
            Ok(req) => wasm_bindgen_futures::spawn_local(handle(state, req)),
            Err(e) => post(&Event::Failed { id: None, message: format!("malformed request: {e}") }),
        }
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&Event::Loaded);
}

async fn handle(state: Rc<RefCell<State>>, req: Request) {
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
            let device = state.borrow().compute.as_ref().map(|c| c.device.clone());
            let Some(device) = device else {
                post(&Event::Failed { id: Some(id), message: "the compute device is not ready yet".into() });
                return;
            };
            match roundtrip(id, &bytes, &device).await {
                Ok(ev) => post(&ev),
                Err(message) => post(&Event::Failed { id: Some(id), message: format!("{name}: {message}") }),
            }
        }
    }
}

fn payload(img: &image::RgbImage) -> Result<ImagePayload, String> {
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
