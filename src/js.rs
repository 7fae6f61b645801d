//! JavaScript values in Rust terms, for the UI thread and the worker alike: what a thrown
//! value says, and a promise awaited as a typed value.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

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
