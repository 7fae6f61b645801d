//! What this browser keeps for the studio, for the start view's "Stored in this browser" fold:
//! the models in the Cache API store the worker fills (`src/worker/fetch.rs`), one entry per
//! file (VGG19's pieces, kept under `<url>?ai-art-part=<tensor>`, count as their file), with
//! their sizes; the storage used against the quota (`navigator.storage.estimate()`); delete;
//! and the request that the browser keep it all (`navigator.storage.persist()`), made before
//! a large download.

use crate::js::{message, promise};
use crate::protocol::CACHE_NAME;
use js_sys::Array;
use std::collections::BTreeMap;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// One stored file.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredModel {
    /// The URL it was downloaded from (without the piece suffix).
    pub url: String,
    /// Its Cache API keys (one, or one per VGG19 piece and its header).
    pub keys: Vec<String>,
    pub bytes: u64,
}

impl StoredModel {
    /// The file's name, for the user.
    pub fn name(&self) -> &str {
        let path = self.url.split(['?', '#']).next().unwrap_or(&self.url);
        path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(&self.url)
    }

    /// Where it came from: this page, or another site's host.
    pub fn source(&self) -> String {
        let here = gloo::utils::window().location().origin().unwrap_or_default();
        if self.url.starts_with(&here) {
            return "served with the studio".into();
        }
        self.url.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or("").to_string()
    }
}

/// How much this origin stores, and may store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub used: u64,
    pub quota: u64,
    /// Whether the browser promised not to evict it under storage pressure.
    pub persisted: bool,
}

async fn cache() -> Result<web_sys::Cache, String> {
    let caches = gloo::utils::window().caches().map_err(|e| message(&e))?;
    promise(caches.open(CACHE_NAME)).await
}

/// The key a stored piece belongs to (`…?ai-art-part=features.0.weight` -> `…`).
fn file_of(key: &str) -> &str {
    key.split_once("?ai-art-part=").or_else(|| key.split_once("&ai-art-part=")).map_or(key, |(file, _)| file)
}

/// Every stored model, largest first.
pub async fn list() -> Result<Vec<StoredModel>, String> {
    let cache = cache().await?;
    let keys: Array = promise(cache.keys()).await?;
    let mut files: BTreeMap<String, StoredModel> = BTreeMap::new();
    for request in keys.iter() {
        let request: web_sys::Request = request.dyn_into().map_err(|v| format!("unexpected {v:?}"))?;
        let key = request.url();
        let response: web_sys::Response = promise(cache.match_with_request(&request)).await?;
        let blob: web_sys::Blob = promise(response.blob().map_err(|e| message(&e))?).await?;
        let url = file_of(&key).to_string();
        let entry = files.entry(url.clone()).or_insert_with(|| StoredModel { url, keys: Vec::new(), bytes: 0 });
        entry.keys.push(key);
        entry.bytes += blob.size() as u64;
    }
    let mut models: Vec<StoredModel> = files.into_values().collect();
    models.sort_by_key(|m| std::cmp::Reverse(m.bytes));
    Ok(models)
}

/// Forgets a stored model (all its pieces).
pub async fn delete(model: &StoredModel) -> Result<(), String> {
    let cache = cache().await?;
    for key in &model.keys {
        JsFuture::from(cache.delete_with_str(key)).await.map_err(|e| message(&e))?;
    }
    Ok(())
}

/// The storage used and allowed, if the browser says.
pub async fn usage() -> Option<Usage> {
    let storage = gloo::utils::window().navigator().storage();
    // A dictionary, a plain object: no class to check it against.
    let estimate: web_sys::StorageEstimate = JsFuture::from(storage.estimate().ok()?).await.ok()?.unchecked_into();
    let persisted = JsFuture::from(storage.persisted().ok()?).await.ok()?.as_bool().unwrap_or(false);
    Some(Usage { used: estimate.get_usage()? as u64, quota: estimate.get_quota()? as u64, persisted })
}

/// Asks the browser to keep what the studio stores (models of tens to hundreds of MB) even
/// under storage pressure; it may say no, which costs only a new download later.
pub fn request_persistence() {
    let storage = gloo::utils::window().navigator().storage();
    if let Ok(p) = storage.persist() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(p).await;
        });
    }
}
