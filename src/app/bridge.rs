//! The UI side of the worker protocol: spawns the worker and turns its
//! messages into [`Event`]s for a Yew callback.

use crate::protocol::{Event, Request};
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};
use yew::Callback;

/// The script trunk emits for the `worker` binary (see `index.html`).
pub const WORKER_SCRIPT: &str = "./worker_loader.js";

/// Owns the worker; dropping it terminates the worker.
pub struct WorkerBridge {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl WorkerBridge {
    pub fn spawn(on_event: Callback<Event>) -> Result<Self, String> {
        let worker = Worker::new(WORKER_SCRIPT).map_err(|e| format!("could not start the worker: {e:?}"))?;
        let cb = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |msg: MessageEvent| {
            match serde_wasm_bindgen::from_value::<Event>(msg.data()) {
                Ok(ev) => cb.emit(ev),
                Err(e) => cb.emit(Event::Broken { message: format!("malformed worker message: {e}") }),
            }
        });
        // An uncaught error (a wasm trap, out of memory) leaves the worker unusable.
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
            e.prevent_default();
            on_event.emit(Event::Crashed { message: e.message() });
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self { worker, _on_message: on_message, _on_error: on_error })
    }

    pub fn send(&self, req: &Request) -> Result<(), String> {
        let v = serde_wasm_bindgen::to_value(req).map_err(|e| e.to_string())?;
        self.worker.post_message(&v).map_err(|e| format!("postMessage failed: {e:?}"))
    }
}

impl Drop for WorkerBridge {
    fn drop(&mut self) {
        // Detached first: an event the worker sent before it stopped (its error after a
        // crash) may still be queued, and must not reach the closures dropped with `self`.
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}
