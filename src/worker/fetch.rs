//! Downloading model checkpoints in the worker: `fetch`, streamed with progress, and the
//! Cache API (`caches.open("ai-art-models-v1")`) so a second load needs no network.
//!
//! The bindings are declared here rather than taken from `web-sys`, so they do not depend
//! on which `web-sys` features other crates happen to turn on.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::js::message;
use crate::weights::digest;

pub use crate::protocol::CACHE_NAME;

/// Largest checkpoint downloaded (the official generators are 45 to 220 MB, torchvision's
/// VGG19 548 MB).
pub const MAX_BYTES: u64 = 1 << 30;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn js_fetch(url: &str) -> Promise;
    #[wasm_bindgen(js_name = fetch)]
    fn js_fetch_with(url: &str, init: &js_sys::Object) -> Promise;

    type CacheStorage;
    #[wasm_bindgen(method, js_name = open)]
    fn open(this: &CacheStorage, name: &str) -> Promise;

    type Cache;
    #[wasm_bindgen(method, js_name = match)]
    fn match_url(this: &Cache, url: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn put(this: &Cache, url: &str, response: &Response) -> Promise;
    #[wasm_bindgen(method)]
    fn delete(this: &Cache, url: &str) -> Promise;

    type Response;
    #[wasm_bindgen(constructor, catch)]
    fn new(body: &Uint8Array) -> Result<Response, JsValue>;
    #[wasm_bindgen(constructor, catch, js_class = "Response")]
    fn streamed(body: &ReadableStream) -> Result<Response, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn ok(this: &Response) -> bool;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Response) -> u16;
    #[wasm_bindgen(method, getter, js_name = statusText)]
    fn status_text(this: &Response) -> String;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &Response) -> Headers;
    #[wasm_bindgen(method, getter)]
    fn body(this: &Response) -> Option<ReadableStream>;
    #[wasm_bindgen(method, js_name = arrayBuffer)]
    fn array_buffer(this: &Response) -> Promise;

    type Headers;
    #[wasm_bindgen(method)]
    fn get(this: &Headers, name: &str) -> Option<String>;

    type ReadableStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(source: &js_sys::Object) -> Result<ReadableStream, JsValue>;
    #[wasm_bindgen(method, js_name = getReader)]
    fn get_reader(this: &ReadableStream) -> Reader;

    type Reader;
    #[wasm_bindgen(method)]
    fn read(this: &Reader) -> Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &Reader) -> Promise;

    type StreamController;
    #[wasm_bindgen(method, catch)]
    fn enqueue(this: &StreamController, chunk: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &StreamController) -> Result<(), JsValue>;
}

thread_local! {
    /// Milliseconds between the pieces of a slow write (0: writes are not slowed).
    static SLOW_WRITES_MS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Pieces a slowed write is cut into.
pub const SLOW_PIECES: usize = 20;

/// From now on, every [`ModelCache::try_put`] (a training checkpoint) is written in
/// [`SLOW_PIECES`] pieces, `ms` apart: the test-only `Request::SlowWrites`, so that a test
/// can close the page while a checkpoint is being written.
pub fn slow_writes(ms: u32) {
    SLOW_WRITES_MS.with(|c| c.set(ms));
}

/// A response whose body is `bytes` in [`SLOW_PIECES`] pieces, `ms` apart. The Cache API
/// stores it only once the whole body has been read.
fn slow_response(bytes: &[u8], ms: u32) -> Result<Response, JsValue> {
    let mut pieces = bytes.chunks(bytes.len().div_ceil(SLOW_PIECES).max(1)).map(Uint8Array::from).collect::<Vec<_>>().into_iter();
    let pull = Closure::<dyn FnMut(StreamController) -> Promise>::new(move |controller: StreamController| {
        let next = pieces.next();
        wasm_bindgen_futures::future_to_promise(async move {
            crate::js::sleep(ms as i32).await;
            match next {
                Some(piece) => controller.enqueue(&piece)?,
                None => controller.close()?,
            }
            Ok(JsValue::UNDEFINED)
        })
    });
    let source = js_sys::Object::new();
    Reflect::set(&source, &"pull".into(), &pull.into_js_value())?;
    Response::streamed(&ReadableStream::new(&source)?)
}

/// `url` made absolute against the worker's location (which is next to the page).
pub fn absolute(url: &str) -> String {
    let base = Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|l| Reflect::get(&l, &"href".into()))
        .ok()
        .and_then(|h| h.as_string());
    base.and_then(|b| web_sys::Url::new_with_base(url, &b).ok())
        .map(|u| u.href())
        .unwrap_or_else(|| url.to_string())
}

/// The model cache, or `None` where the Cache API is missing or refused (private
/// browsing, an insecure context): loading still works, only without caching.
pub async fn open_cache() -> Option<ModelCache> {
    open_named(CACHE_NAME).await
}

/// The Cache API cache `name` (see [`open_cache`]).
pub async fn open_named(name: &str) -> Option<ModelCache> {
    let storage = Reflect::get(&js_sys::global(), &"caches".into()).ok()?;
    if storage.is_undefined() || storage.is_null() {
        return None;
    }
    let storage: CacheStorage = storage.unchecked_into();
    match JsFuture::from(storage.open(name)).await {
        Ok(c) => Some(ModelCache(c.unchecked_into())),
        Err(e) => {
            log::warn!("the model cache is not available: {}", message(&e));
            None
        }
    }
}

/// The Cache API cache of downloaded checkpoints.
pub struct ModelCache(Cache);

impl ModelCache {
    /// The cached bytes of `url`, if any.
    pub async fn get(&self, url: &str) -> Option<Vec<u8>> {
        let hit = JsFuture::from(self.0.match_url(url)).await.ok()?;
        if hit.is_undefined() || hit.is_null() {
            return None;
        }
        let resp: Response = hit.unchecked_into();
        let buf = JsFuture::from(resp.array_buffer()).await.ok()?;
        Some(Uint8Array::new(&buf).to_vec())
    }

    /// Stores the file `label` as `url`; when the browser refuses (a full quota, most
    /// often), a note for the user: the model still works, it is only not kept.
    pub async fn keep(&self, url: &str, bytes: &[u8], label: &str) -> Option<String> {
        let e = self.try_put(url, bytes).await.err()?;
        log::warn!("could not cache {url}: {e}");
        Some(format!(
            "{label} could not be kept in this browser ({e}), so it will be downloaded again next time. \
             \"Stored in this browser\" on the Start tab shows what takes the space."
        ))
    }

    /// Stores `bytes` as `url` (failures, such as a full quota, are only logged: for the
    /// pieces fetched during a run, which are fetched again when missing).
    pub async fn put(&self, url: &str, bytes: &[u8]) {
        if let Err(e) = self.try_put(url, bytes).await {
            log::warn!("could not cache {url}: {e}");
        }
    }

    /// Stores `bytes` as `url`; the error (a full quota, most often) in words.
    pub async fn try_put(&self, url: &str, bytes: &[u8]) -> Result<(), String> {
        let resp = match SLOW_WRITES_MS.with(|c| c.get()) {
            0 => Response::new(&Uint8Array::from(bytes)),
            ms => slow_response(bytes, ms),
        }
        .map_err(|e| message(&e))?;
        JsFuture::from(self.0.put(url, &resp)).await.map(drop).map_err(|e| message(&e))
    }

    /// Forgets `url`.
    pub async fn delete(&self, url: &str) {
        let _ = JsFuture::from(self.0.delete(url)).await;
    }
}

/// The cache that remembers, by URL, the SHA-256 of each model file downloaded here. It is
/// apart from the models so that deleting a model (the start view's model manager) keeps
/// its record, and a later download that differs is flagged.
const DIGESTS: &str = "ai-art-model-digests-v1";

/// A downloaded file's SHA-256 and what it means ([`digest::check`]): an error when it is
/// not `expected` (the published digest), a note when it differs from an earlier download
/// of `url`. Record the digest with [`record_digest`] once the file has loaded.
pub async fn verify_download(url: &str, label: &str, bytes: &[u8], expected: Option<&str>) -> Result<(String, Option<String>), String> {
    let actual = digest::sha256_hex(bytes);
    let previous = match open_named(DIGESTS).await {
        Some(record) => record.get(url).await.and_then(|b| String::from_utf8(b).ok()),
        None => None,
    };
    let note = digest::check(label, &actual, expected, previous.as_deref())?;
    Ok((actual, note))
}

/// Remembers `sha256` as what `url` gave (see [`verify_download`]).
pub async fn record_digest(url: &str, sha256: &str) {
    if let Some(record) = open_named(DIGESTS).await {
        record.put(url, sha256.as_bytes()).await;
    }
}

/// Several optional notes for the user as one.
pub fn notes(notes: impl IntoIterator<Item = Option<String>>) -> Option<String> {
    let all: Vec<String> = notes.into_iter().flatten().collect();
    (!all.is_empty()).then(|| all.join(" "))
}

fn help(url: &str) -> String {
    format!("Download the file yourself from {url} and drop it on the model box instead.")
}

/// Downloads `url`, calling `progress(done, total)` as bytes arrive (`total` from
/// Content-Length when the server sends it). Errors are for the user and say what to do.
pub async fn download(url: &str, label: &str, progress: impl FnMut(u64, Option<u64>)) -> Result<Vec<u8>, String> {
    let resp = request(url, label, None).await?;
    let total = resp.content_length();
    if total.is_some_and(|t| t > MAX_BYTES) {
        return Err(format!("{label} is larger than the {} MiB the studio accepts", MAX_BYTES >> 20));
    }
    resp.bytes(MAX_BYTES, progress).await
}

/// A response whose body has not been read yet.
pub struct Fetched {
    resp: Response,
    url: String,
    label: String,
}

/// Sends a GET for `url`, with `Range: bytes=start-(end-1)` when `range` is given. Fails
/// (with a message for the user) when the request fails, the status is not 2xx, or the
/// server sends a web page. A server that ignores the range answers 200: see
/// [`Fetched::status`].
pub async fn request(url: &str, label: &str, range: Option<std::ops::Range<u64>>) -> Result<Fetched, String> {
    let promise = match &range {
        None => js_fetch(url),
        Some(r) => {
            let headers = js_sys::Object::new();
            let value = format!("bytes={}-{}", r.start, r.end.saturating_sub(1));
            let init = js_sys::Object::new();
            Reflect::set(&headers, &"Range".into(), &value.into()).map_err(|e| message(&e))?;
            Reflect::set(&init, &"headers".into(), &headers).map_err(|e| message(&e))?;
            js_fetch_with(url, &init)
        }
    };
    let resp = JsFuture::from(promise).await.map_err(|e| {
        format!(
            "could not download {label}: the request failed ({}). You may be offline, or the server \
             does not allow downloads from other web sites (CORS). {}",
            message(&e),
            help(url)
        )
    })?;
    let resp: Response = resp.unchecked_into();
    if !resp.ok() {
        let status = resp.status();
        let text = resp.status_text();
        return Err(format!(
            "could not download {label}: the server answered HTTP {status}{}{text}. {}",
            if text.is_empty() { "" } else { " " },
            help(url)
        ));
    }
    if resp.headers().get("content-type").is_some_and(|t| t.starts_with("text/html")) {
        return Err(format!(
            "could not download {label}: the server sent a web page instead of the model file \
             (the file is probably missing there). {}",
            help(url)
        ));
    }
    Ok(Fetched { resp, url: url.to_string(), label: label.to_string() })
}

impl Fetched {
    /// The HTTP status: 206 when a range was honoured, 200 for the whole file.
    pub fn status(&self) -> u16 {
        self.resp.status()
    }

    /// Content-Length, when the server sends it.
    pub fn content_length(&self) -> Option<u64> {
        self.resp.headers().get("content-length").and_then(|l| l.trim().parse::<u64>().ok())
    }

    /// The file's total size from `Content-Range: bytes a-b/total` (readable only when the
    /// server exposes the header to other origins).
    pub fn range_total(&self) -> Option<u64> {
        let v = self.resp.headers().get("content-range")?;
        v.rsplit_once('/')?.1.trim().parse().ok()
    }

    /// Reads the body, calling `progress(done, total)` as bytes arrive; more than `limit`
    /// bytes is an error.
    pub async fn bytes(self, limit: u64, mut progress: impl FnMut(u64, Option<u64>)) -> Result<Vec<u8>, String> {
        let (label, url) = (self.label.as_str(), self.url.as_str());
        let too_large = || format!("{label} is larger than the {} MiB the studio accepts", limit >> 20);
        let total = self.content_length();
        progress(0, total);
        let Some(body) = self.resp.body() else {
            // No stream (old browsers): the whole body at once.
            let buf = JsFuture::from(self.resp.array_buffer()).await.map_err(|e| interrupted(label, url, &e))?;
            let bytes = Uint8Array::new(&buf);
            if bytes.length() as u64 > limit {
                return Err(too_large());
            }
            let bytes = bytes.to_vec();
            progress(bytes.len() as u64, total);
            return Ok(bytes);
        };
        let reader = body.get_reader();
        let mut bytes = Vec::with_capacity(total.unwrap_or(0).min(limit) as usize);
        let mut reported = 0u64;
        loop {
            let chunk = JsFuture::from(reader.read()).await.map_err(|e| interrupted(label, url, &e))?;
            if Reflect::get(&chunk, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
                break;
            }
            let value: Uint8Array = Reflect::get(&chunk, &"value".into())
                .map_err(|e| interrupted(label, url, &e))?
                .unchecked_into();
            if bytes.len() as u64 + value.length() as u64 > limit {
                let _ = reader.cancel();
                return Err(too_large());
            }
            let start = bytes.len();
            bytes.resize(start + value.length() as usize, 0);
            value.copy_to(&mut bytes[start..]);
            // One event per 256 KiB is plenty for a progress bar.
            if bytes.len() as u64 - reported >= 256 << 10 {
                reported = bytes.len() as u64;
                progress(reported, total);
            }
        }
        progress(bytes.len() as u64, total);
        Ok(bytes)
    }
}

fn interrupted(label: &str, url: &str, e: &JsValue) -> String {
    format!("the download of {label} was interrupted ({}). {}", message(e), help(url))
}
