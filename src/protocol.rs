//! Messages between the UI thread and the Web Worker.
//!
//! Both sides are Rust, so the protocol is two serde enums carried by
//! `postMessage` (through `serde-wasm-bindgen`). Pixel buffers are `serde_bytes`,
//! which become `Uint8Array`s rather than arrays of numbers.

use crate::device::{DeviceInfo, Preference};
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
    }
}
