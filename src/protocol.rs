//! Messages between the UI thread and the Web Worker.
//!
//! Both sides are Rust, so the protocol is two serde enums carried by
//! `postMessage` (through `serde-wasm-bindgen`). Pixel buffers are `serde_bytes`,
//! which become `Uint8Array`s rather than arrays of numbers.

use crate::device::{DeviceInfo, Preference};
use crate::models::{ArchChoice, NormChoice};
use serde::{Deserialize, Serialize};

/// A job id chosen by the UI; every reply about a job carries it.
pub type JobId = u32;

/// UI -> worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Start the compute device. Sent once, after [`Event::Loaded`].
    Init { preference: Preference },
    /// Decode an image file and send it through the device round trip.
    Roundtrip {
        id: JobId,
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// Load a generator into a section's slot, replacing the one there (if the new one
    /// loads; a failure keeps the old one).
    LoadModel { id: JobId, slot: Slot, source: ModelSource, arch: ArchChoice, norm: NormChoice },
    /// Translate an image with the slot's generator.
    Translate {
        id: JobId,
        slot: Slot,
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
        options: TranslateOptions,
    },
}

/// The sections that hold a generator: each has its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Slot {
    Pix2Pix,
    CycleGan,
}

/// Where a generator checkpoint comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelSource {
    /// A file the user picked or dropped (`.pth` or `.safetensors`).
    File {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A URL the worker downloads (relative ones resolve against the page), cached with
    /// the Cache API so a second load needs no network. `label` names it to the user.
    Url { label: String, url: String },
}

impl ModelSource {
    /// What the user calls this model.
    pub fn label(&self) -> &str {
        match self {
            ModelSource::File { name, .. } => name,
            ModelSource::Url { label, .. } => label,
        }
    }
}

/// How to translate an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslateOptions {
    /// Scale the image down (keeping the aspect ratio) when it is too large for the
    /// device; otherwise too large an image is an error.
    pub fit_to_device: bool,
    /// Keep dropout active at test time (Pix2Pix's noise, as in the paper).
    pub dropout: bool,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        Self { fit_to_device: true, dropout: true }
    }
}

/// A displayable image: RGBA for a canvas, PNG for the download button.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImagePayload {
    pub width: u32,
    pub height: u32,
    #[serde(with = "serde_bytes")]
    pub rgba: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub png: Vec<u8>,
}

/// Worker -> UI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// The worker's wasm is running and listening.
    Loaded,
    /// The device is started (GPU, or the CPU with a fallback reason).
    Ready { device: DeviceInfo },
    /// Progress of a job, `done` out of `total` stages, with a label.
    Progress { id: JobId, stage: String, done: u32, total: u32 },
    /// The round trip finished.
    RoundtripDone { id: JobId, input: ImagePayload, output: ImagePayload, millis: f64 },
    /// A model download is under way: `done` bytes of `total` (when the server says).
    Fetching { id: JobId, done: u64, total: Option<u64> },
    /// A generator is loaded into `slot`; `description` is its architecture in words.
    ModelLoaded { id: JobId, slot: Slot, name: String, description: String, from_cache: bool },
    /// A translation finished. `input` is what the generator saw (scaled down when it did
    /// not fit the device, and then `note` says so).
    TranslateDone {
        id: JobId,
        slot: Slot,
        input: ImagePayload,
        output: ImagePayload,
        millis: f64,
        note: Option<String>,
    },
    /// A job failed; the message is for the user. The worker stays usable.
    Failed { id: Option<JobId>, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_a_serde_round_trip() {
        // The worker and the UI are compiled from the same enums; this checks
        // the serde attributes (bytes fields) are consistent both ways.
        let req = Request::Roundtrip { id: 7, name: "a.png".into(), bytes: vec![1, 2, 3] };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        let ev = Event::Failed { id: Some(7), message: "bad".into() };
        let json = serde_json::to_string(&ev).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
        for req in [
            Request::LoadModel {
                id: 1,
                slot: Slot::CycleGan,
                source: ModelSource::File { name: "g.pth".into(), bytes: vec![0, 255] },
                arch: ArchChoice::Resnet { n_blocks: 9 },
                norm: NormChoice::Auto,
            },
            Request::LoadModel {
                id: 2,
                slot: Slot::Pix2Pix,
                source: ModelSource::Url { label: "facades".into(), url: "models/x.pth".into() },
                arch: ArchChoice::Auto,
                norm: NormChoice::Fixed(crate::models::NormKind::Batch),
            },
            Request::Translate {
                id: 3,
                slot: Slot::Pix2Pix,
                name: "a.png".into(),
                bytes: vec![4, 5],
                options: TranslateOptions { fit_to_device: false, dropout: true },
            },
        ] {
            let json = serde_json::to_string(&req).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        }
        for ev in [
            Event::Fetching { id: 1, done: 10, total: None },
            Event::ModelLoaded { id: 1, slot: Slot::CycleGan, name: "g".into(), description: "d".into(), from_cache: true },
        ] {
            let json = serde_json::to_string(&ev).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
        }
    }
}
