//! Messages between the UI thread and the Web Worker.
//!
//! Both sides are Rust, so the protocol is two serde enums carried by
//! `postMessage` (through `serde-wasm-bindgen`). Pixel buffers are `serde_bytes`,
//! which become `Uint8Array`s rather than arrays of numbers.

use crate::device::{DeviceInfo, Preference};
use crate::models::{ArchChoice, NormChoice};
use crate::techniques::data::{DatasetFiles, NamedFile};
use crate::techniques::nst::Losses;
use crate::techniques::training::session::{StateSummary, StepRecord, TrainSpec};
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
    /// Make `source` the VGG19 weights style transfer uses (replacing the current ones if
    /// these load). A file is read at once (only `features.*` is kept); for a URL only the
    /// header is read now (HTTP range requests), the convolutions a run needs are fetched
    /// when it starts.
    LoadVgg { id: JobId, source: ModelSource },
    /// Run neural style transfer with the loaded VGG19.
    Stylize { id: JobId, job: StylizeJob },
    /// Pause, resume or cancel (stop) the running style transfer or training `id`. Not
    /// queued: it takes effect between two steps of the running job.
    Control { id: JobId, action: ControlAction },
    /// Train Pix2Pix or CycleGAN on the user's images. The run (images and state) is kept in
    /// the browser's storage and replaces any run kept there before.
    Train { id: JobId, job: TrainJob },
    /// Continue the run kept in the browser's storage.
    ResumeTraining { id: JobId, save_every_s: u32, sample_every: u32 },
    /// What run, if any, is kept in the browser's storage ([`Event::SavedTraining`]).
    QuerySavedTraining { id: JobId },
    /// Forget the kept run.
    DiscardTraining { id: JobId },
    /// A file from the kept run, as of its last checkpoint: a generator by its official name
    /// (`G`, `G_A`, `G_B`) as `.safetensors`, or the whole state. Not queued: it is answered
    /// from storage while a run goes on.
    ExportTraining { id: JobId, what: TrainExport },
}

/// What [`Request::ExportTraining`] asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrainExport {
    Generator(String),
    State,
}

/// A training run: the settings, the images, and optionally pretrained generators to
/// fine-tune (Pix2Pix: `[G]`; CycleGAN: `[G_A, G_B]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainJob {
    pub spec: TrainSpec,
    pub files: DatasetFiles,
    pub init: Vec<Option<NamedFile>>,
    /// Save the state at least this often (seconds), besides on pause, stop and the end.
    pub save_every_s: u32,
    /// A sample translation every this many iterations.
    pub sample_every: u32,
}

/// What a control message asks of a running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlAction {
    Pause,
    Resume,
    /// Stop after the current step; the current image is the result.
    Cancel,
}

/// An image file sent to the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedImage {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// A style transfer job: the images and every setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StylizeJob {
    pub content: NamedImage,
    /// The style images with their blend weights (normalised by the worker).
    pub styles: Vec<(NamedImage, f64)>,
    pub settings: StylizeSettings,
}

/// The settings of a style transfer run: the technique's own ([`crate::techniques::nst::Settings`],
/// which the CLI builds from its options too).
pub type StylizeSettings = crate::techniques::nst::Settings;

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

/// One style transfer step's losses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLosses {
    pub step: u32,
    pub losses: Losses,
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
    /// VGG19 weights are ready for style transfer. `description` says what the file holds.
    VggLoaded { id: JobId, name: String, description: String, from_cache: bool, note: Option<String> },
    /// A style transfer has its images and network ready and starts stepping.
    StylizeStarted { id: JobId, width: u32, height: u32, steps: u32 },
    /// Steps done since the last such event, each with its losses: `step` counts from 1,
    /// the losses are those of the image before the step (unweighted terms and the weighted
    /// total); `rate` in steps per second. Every step is reported; when steps are fast they
    /// come in batches (about ten events a second), so the page is not flooded.
    StylizeSteps { id: JobId, steps: Vec<StepLosses>, rate: f64 },
    /// The image after `step` steps (its `png` is left empty: previews are not downloaded).
    StylizePreview { id: JobId, step: u32, image: ImagePayload },
    /// The job is paused (or running again).
    StylizePaused { id: JobId, paused: bool },
    /// The run ended: all steps done, or cancelled after `steps_done` (then `note` says so).
    StylizeDone { id: JobId, image: ImagePayload, steps_done: u32, cancelled: bool, millis: f64, note: Option<String> },
    /// A training run has its data and networks and starts (or resumes) at `iteration`.
    TrainStarted {
        id: JobId,
        spec: TrainSpec,
        loss_names: Vec<String>,
        iteration: usize,
        total: usize,
        /// The networks and the data report, in words.
        summary: String,
    },
    /// Iterations done since the last such event (about ten events a second at most);
    /// `rate` in iterations per second.
    TrainSteps { id: JobId, steps: Vec<StepRecord>, rate: f64 },
    /// Sample translations after `iteration` (labelled panels; no PNGs).
    TrainSample { id: JobId, iteration: usize, panels: Vec<(String, ImagePayload)> },
    TrainPaused { id: JobId, paused: bool },
    /// The state after `iteration` is in the browser's storage.
    TrainSaved { id: JobId, iteration: usize },
    /// The run ended: finished, or stopped (then it stays resumable).
    TrainDone { id: JobId, iteration: usize, total: usize, stopped: bool, note: Option<String> },
    /// The run kept in storage, if any.
    SavedTraining { id: JobId, summary: Option<StateSummary> },
    /// An exported file.
    TrainExported {
        id: JobId,
        filename: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// A job failed; the message is for the user. The worker stays usable.
    Failed { id: Option<JobId>, message: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::techniques::nst::{InitKind, NstConfig};

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
            Request::LoadVgg { id: 4, source: ModelSource::Url { label: "vgg".into(), url: "https://x/v.safetensors".into() } },
            Request::Stylize {
                id: 5,
                job: StylizeJob {
                    content: NamedImage { name: "c.png".into(), bytes: vec![1] },
                    styles: vec![(NamedImage { name: "s.png".into(), bytes: vec![2] }, 0.5)],
                    settings: StylizeSettings {
                        init: InitKind::Noise { seed: 42 },
                        config: NstConfig {
                            optimizer: crate::techniques::nst::Optimizer::Lbfgs { lr: 1.0, history: 10 },
                            style_weights: crate::techniques::nst::StyleWeights::Decay(0.5),
                            ..NstConfig::default()
                        },
                        ..StylizeSettings::default()
                    },
                },
            },
            Request::Control { id: 5, action: ControlAction::Cancel },
            Request::Train {
                id: 6,
                job: TrainJob {
                    spec: TrainSpec::new(crate::techniques::training::session::Model::CycleGan),
                    files: DatasetFiles::Unpaired {
                        a: vec![NamedFile { name: "a.png".into(), bytes: vec![1, 2] }],
                        b: vec![NamedFile { name: "b.jpg".into(), bytes: vec![3] }],
                    },
                    init: vec![None, Some(NamedFile { name: "g.pth".into(), bytes: vec![9] })],
                    save_every_s: 30,
                    sample_every: 10,
                },
            },
            Request::ResumeTraining { id: 7, save_every_s: 5, sample_every: 2 },
            Request::ExportTraining { id: 8, what: TrainExport::Generator("G_A".into()) },
        ] {
            let json = serde_json::to_string(&req).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        }
        for ev in [
            Event::Fetching { id: 1, done: 10, total: None },
            Event::ModelLoaded { id: 1, slot: Slot::CycleGan, name: "g".into(), description: "d".into(), from_cache: true },
            Event::VggLoaded { id: 2, name: "v".into(), description: "d".into(), from_cache: false, note: Some("n".into()) },
            Event::StylizeSteps {
                id: 3,
                steps: vec![StepLosses { step: 4, losses: Losses { content: 1.0, style: 2.0, tv: 3.0, total: 4.0 } }],
                rate: 5.5,
            },
            Event::StylizePaused { id: 3, paused: true },
            Event::TrainSteps {
                id: 4,
                steps: vec![StepRecord { iteration: 3, epoch: 1, lr: 2e-4, losses: vec![0.5, 1.5] }],
                rate: 2.0,
            },
            Event::TrainExported { id: 5, filename: "g.safetensors".into(), bytes: vec![0, 1] },
            Event::StylizeDone {
                id: 3,
                image: ImagePayload { width: 1, height: 1, rgba: vec![1, 2, 3, 255], png: vec![] },
                steps_done: 7,
                cancelled: true,
                millis: 1.5,
                note: None,
            },
        ] {
            let json = serde_json::to_string(&ev).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
        }
    }
}
