//! The sample gallery: photos and style images served with the app (`static/samples/`, copied
//! to `samples/` by trunk), so a visitor without pictures of their own can try every
//! technique with one click. `static/samples/samples.json`, written with the images by
//! `scripts/make-samples.py`, gives each one's title, source and licence; the start view
//! shows them under "Credits" (and `CREDITS.md` lists them).

use crate::js::{message, promise};
use serde::Deserialize;
use std::sync::OnceLock;

/// What a sample is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleKind {
    /// A photo to repaint or translate.
    Content,
    /// A painting or texture to take a style from.
    Style,
}

/// One image of the gallery.
#[derive(Debug, Deserialize)]
pub struct Sample {
    /// Its file in `static/samples/`.
    pub file: String,
    pub title: String,
    pub kind: SampleKind,
    /// Who made it and where it was taken from.
    pub source: String,
    pub licence: String,
}

impl Sample {
    /// Where the page fetches it from (relative to the page).
    pub fn url(&self) -> String {
        format!("samples/{}", self.file)
    }

    /// Fetches the image's bytes, as a dropped file would give them.
    pub async fn fetch(&self) -> Result<(String, Vec<u8>), String> {
        let failed = |why: String| format!("could not load the sample {}: {why}", self.file);
        let response: web_sys::Response = promise(gloo::utils::window().fetch_with_str(&self.url())).await.map_err(failed)?;
        if !response.ok() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let buffer: js_sys::ArrayBuffer = promise(response.array_buffer().map_err(|e| failed(message(&e)))?).await.map_err(failed)?;
        Ok((self.file.clone(), js_sys::Uint8Array::new(&buffer).to_vec()))
    }
}

#[derive(Deserialize)]
struct Gallery {
    samples: Vec<Sample>,
}

/// Every sample, in the gallery's order.
pub fn all() -> &'static [Sample] {
    static GALLERY: OnceLock<Gallery> = OnceLock::new();
    // Built into the app; tests/browser.rs checks that it parses, tests/native.rs that it
    // matches the folder.
    &GALLERY.get_or_init(|| serde_json::from_str(include_str!("../../static/samples/samples.json")).expect("samples.json parses")).samples
}

/// The samples of one kind.
pub fn of(kind: SampleKind) -> impl Iterator<Item = &'static Sample> {
    all().iter().filter(move |s| s.kind == kind)
}

/// The sample in `file`.
pub fn find(file: &str) -> Option<&'static Sample> {
    all().iter().find(|s| s.file == file)
}
