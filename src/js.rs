//! JavaScript values in Rust terms, for the UI thread and the worker alike: what a thrown
//! value says, and a promise awaited as a typed value.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, ms: i32) -> JsValue;
}

/// Waits `ms` milliseconds, letting the event loop run (messages and promises get through).
pub async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}

/// What a thrown or rejected value says: the `message` of an `Error` or `DOMException`
/// (a full quota is a `QuotaExceededError`), a thrown string, or else its debug form.
pub fn message(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Awaits `p` and casts what it resolves to; a rejection, or a value of another type, is
/// its message.
pub async fn promise<T: JsCast>(p: js_sys::Promise) -> Result<T, String> {
    JsFuture::from(p).await.map_err(|e| message(&e))?.dyn_into::<T>().map_err(|v| format!("unexpected {v:?}"))
}
