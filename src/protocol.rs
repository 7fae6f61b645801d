//! Messages between the UI thread and the Web Worker.
//!
//! Both sides are Rust, so the protocol is two serde enums carried by
//! `postMessage` (through `serde-wasm-bindgen`). Pixel buffers are `serde_bytes`,
//! which become `Uint8Array`s rather than arrays of numbers.

use crate::device::{DeviceInfo, Preference};
use crate::models::{ArchChoice, NormChoice};
use crate::techniques::deep_dream::DreamSettings;
use crate::techniques::style_transfer::{self, Losses};
use crate::techniques::training::{DatasetFiles, NamedFile, StateSummary, StepRecord, TrainSpec};
use serde::{Deserialize, Serialize};

/// The Cache API cache the models live in (the worker stores them, the UI's model manager
/// lists and deletes them); bump the version to drop every cached model.
pub const CACHE_NAME: &str = "ai-art-models-v1";

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
    /// Translate one frame of a live camera or video with the slot's generator, fitted to the
    /// device, without dropout (a video must not flicker with noise). The section sends the
    /// next frame when this one is back, so frames never queue up.
    TranslateFrame { id: JobId, slot: Slot, frame: Frame, smoothing: Smoothing },
    /// Make `source` the VGG19 weights style transfer and Deep Dream use (replacing the current ones if
    /// these load). A file is read at once (only `features.*` is kept); for a URL only the
    /// header is read now (HTTP range requests), the convolutions a run needs are fetched
    /// when it starts.
    LoadVgg { id: JobId, source: ModelSource },
    /// Run neural style transfer with the loaded VGG19.
    StyleTransfer { id: JobId, job: StyleTransferJob },
    /// Run Deep Dream with the loaded VGG19.
    Dream { id: JobId, job: DreamJob },
    /// Pause, resume or cancel (stop) the running style transfer, dream or training `id`.
    /// Not queued: it takes effect between two steps of the running job.
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
    /// Make the worker panic with `message`, at once (not queued, so also in the middle of a
    /// job): the diagnostics' "crash the worker" button, which shows, and lets the tests
    /// check, that the studio notices a dead worker, says why and starts a new one.
    Crash { message: String },
    /// How much memory the worker holds ([`JobEvent::Memory`]); not queued, so it is answered
    /// while a job runs: the diagnostics' readout, and what `scripts/soak.mjs` samples.
    Memory { id: JobId },
    /// Destroy the worker's GPU device at once (not queued), as a driver reset or the browser
    /// reclaiming the GPU would lose it: the diagnostics' "lose the GPU" button, which shows,
    /// and lets the tests check, that a new device replaces it and the running job goes on.
    LoseDevice,
    /// Report an out-of-memory error on the worker's GPU device at once (not queued), as the
    /// browser reports a buffer it could not make: the diagnostics' "run out of GPU memory"
    /// button, which shows, and lets the tests check, that the running job ends with a
    /// message and a fresh device takes over.
    ExhaustMemory,
    /// From now on, write to the browser's storage in pieces `ms` apart (not queued): the
    /// diagnostics' "write checkpoints slowly" button, which lets the tests close the page
    /// while a training checkpoint is being written.
    SlowWrites { ms: u32 },
}

impl Request {
    /// The job this request starts or controls (every request but `Init`); the worker's
    /// events about it carry the same id.
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            Request::Init { .. } | Request::Crash { .. } | Request::LoseDevice | Request::ExhaustMemory | Request::SlowWrites { .. } => None,
            Request::Roundtrip { id, .. }
            | Request::Memory { id }
            | Request::LoadModel { id, .. }
            | Request::Translate { id, .. }
            | Request::TranslateFrame { id, .. }
            | Request::LoadVgg { id, .. }
            | Request::StyleTransfer { id, .. }
            | Request::Dream { id, .. }
            | Request::Control { id, .. }
            | Request::Train { id, .. }
            | Request::ResumeTraining { id, .. }
            | Request::QuerySavedTraining { id }
            | Request::DiscardTraining { id }
            | Request::ExportTraining { id, .. } => Some(*id),
        }
    }
}

/// What [`Request::ExportTraining`] asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrainExport {
    Generator(String),
    State,
    /// The checkpoint folder junyanz's `train.py --continue_train` continues, as a `.zip`.
    Junyanz,
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
pub struct StyleTransferJob {
    pub content: NamedImage,
    /// The style images with their blend weights (normalised by the worker).
    pub styles: Vec<(NamedImage, f64)>,
    /// The technique's own settings (the CLI builds them from its options too).
    pub settings: style_transfer::Settings,
}

/// A Deep Dream job: the image and every setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DreamJob {
    pub image: NamedImage,
    pub settings: DreamSettings,
    /// Longer side of the result in pixels (the aspect ratio is kept; a smaller image is not
    /// enlarged).
    pub size: u32,
    /// A preview every this many steps (0: at the end of each octave only).
    pub preview_every: u32,
}

/// One Deep Dream step: `step` counts from 1 over every octave, `octave` from 0; `objective`
/// is that of the image before the step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DreamStep {
    pub step: u32,
    pub octave: u32,
    pub objective: f64,
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
    /// the Cache API so a second load needs no network. `label` names it to the user;
    /// `sha256`, where the file's digest is published, is checked before anything is loaded
    /// or stored.
    Url {
        label: String,
        url: String,
        #[serde(default)]
        sha256: Option<String>,
    },
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

/// A video frame as the page grabbed it: RGBA, `width x height`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    #[serde(with = "serde_bytes")]
    pub rgba: Vec<u8>,
}

/// Temporal smoothing of a live translation: each result shown is `keep` of the one before
/// and `1 - keep` of the new one (0: none). `first` starts a new video: nothing is blended in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Smoothing {
    pub keep: f32,
    pub first: bool,
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

/// A displayable image: RGBA for a canvas and, for a result the user may download, its
/// PNG (previews and training samples have none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImagePayload {
    pub width: u32,
    pub height: u32,
    #[serde(with = "serde_bytes")]
    pub rgba: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub png: Option<Vec<u8>>,
}

/// Worker -> UI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// The worker's wasm is running and listening.
    Loaded,
    /// The device is started (GPU, or the CPU with a fallback reason).
    Ready { device: DeviceInfo },
    /// Something went wrong outside any job (the worker could not start, or got a message
    /// it could not read): no job that was running will finish.
    Broken { message: String },
    /// The worker panicked (`message` says where and why; its panic hook sends this before
    /// the module traps) or stopped with an uncaught error: it is dead, and the UI starts a
    /// new one.
    Crashed { message: String },
    /// The GPU device was lost (`reason`) and `device` replaced it: a new GPU device, or the
    /// CPU when none could be had. What was built on the old one (a loaded model) is gone; a
    /// running style transfer or training run goes on from its last kept state
    /// ([`JobEvent::Recovered`]).
    DeviceLost { reason: String, device: DeviceInfo },
    /// The GPU device ran out of memory (`reason`) under a job, which failed, and `device`
    /// replaced it (a fresh GPU device, or the CPU): what was built on the old one (a loaded
    /// model) is gone.
    OutOfMemory { reason: String, device: DeviceInfo },
    /// About job `id`: the UI routes it to the section that sent the request.
    Job { id: JobId, event: JobEvent },
}

/// What happened to one job. Grouped by technique; the first four are shared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum JobEvent {
    /// Progress, `done` out of `total` stages, with a label.
    Progress { stage: String, done: u32, total: u32 },
    /// A download is under way: `done` bytes of `total` (when the server says).
    Fetching { done: u64, total: Option<u64> },
    /// A stepping job (style transfer, training) is paused (or running again).
    Paused { paused: bool },
    /// The job failed; the message is for the user. The worker stays usable.
    Failed { message: String },
    /// The worker's memory now: its wasm linear memory (which never shrinks), and what Burn
    /// holds on the GPU (none on the CPU backend).
    Memory { wasm_bytes: u64, gpu: Option<crate::device::GpuMemory> },
    /// The device was lost during this stepping job, which goes on, on a new one, from step
    /// (or iteration) `step`, its last kept state: the steps after it are done again. `note`
    /// says what happened and what was not kept.
    Recovered { step: usize, note: String },

    /// Image check: the round trip finished.
    RoundtripDone { input: ImagePayload, output: ImagePayload, millis: f64 },

    /// Image to image: a generator is loaded into `slot`; `description` is its architecture
    /// in words.
    /// `note`: the file differs from an earlier download of the same URL, or could not be
    /// kept in the browser's storage.
    ModelLoaded { slot: Slot, name: String, description: String, from_cache: bool, note: Option<String> },
    /// Image to image: a translation finished. `input` is what the generator saw (scaled
    /// down when it did not fit the device, and then `note` says so).
    Translated { slot: Slot, input: ImagePayload, output: ImagePayload, millis: f64, note: Option<String> },

    /// Image to image: a live frame is translated: `frame` (RGBA, no PNG) has the size the
    /// generator ran at (the frame's, unless it did not fit the device); `millis` is the
    /// worker's time for it.
    FrameTranslated { slot: Slot, frame: ImagePayload, millis: f64 },

    /// Style transfer: VGG19 weights are ready. `description` says what the file holds.
    VggLoaded { name: String, description: String, from_cache: bool, note: Option<String> },
    /// Style transfer: the images and network are ready and the run starts stepping.
    StyleTransferStarted { width: u32, height: u32, steps: u32 },
    /// Style transfer: steps done since the last such event, each with its losses: `step`
    /// counts from 1, the losses are those of the image before the step (unweighted terms
    /// and the weighted total); `rate` in steps per second. Every step is reported; when
    /// steps are fast they come in batches (about ten events a second), so the page is not
    /// flooded.
    StyleTransferSteps { steps: Vec<StepLosses>, rate: f64 },
    /// Style transfer: the image after `step` steps (a preview: no PNG).
    StyleTransferPreview { step: u32, image: ImagePayload },
    /// Style transfer: the run ended, all steps done or cancelled after `steps_done` (then
    /// `note` says so).
    StyleTransferDone { image: ImagePayload, steps_done: u32, cancelled: bool, millis: f64, note: Option<String> },

    /// Deep Dream: the image and network are ready and the dream starts: `sizes` of its
    /// octaves (`[height, width]`, smallest first; the last is the result's), `steps` in all.
    DreamStarted { sizes: Vec<[u32; 2]>, steps: u32 },
    /// Deep Dream: steps done since the last such event (batched as style transfer's);
    /// `rate` in steps per second.
    DreamSteps { steps: Vec<DreamStep>, rate: f64 },
    /// Deep Dream: the image after `step` steps, at its octave's size (a preview: no PNG).
    DreamPreview { step: u32, image: ImagePayload },
    /// Deep Dream: the dream ended, all steps done or cancelled after `steps_done` (then
    /// `note` says so).
    DreamDone { image: ImagePayload, steps_done: u32, cancelled: bool, millis: f64, note: Option<String> },

    /// Training: the run has its data and networks and starts (or resumes) at `iteration`.
    TrainingStarted {
        spec: TrainSpec,
        loss_names: Vec<String>,
        iteration: usize,
        total: usize,
        /// The networks and the data report, in words.
        summary: String,
    },
    /// Training: iterations done since the last such event (about ten events a second at
    /// most); `rate` in iterations per second.
    TrainingSteps { steps: Vec<StepRecord>, rate: f64 },
    /// Training: sample translations after `iteration` (labelled panels; no PNGs).
    TrainingSample { iteration: usize, panels: Vec<(String, ImagePayload)> },
    /// Training: the state after `iteration` is in the browser's storage.
    TrainingSaved { iteration: usize },
    /// Training: the run ended, finished or stopped (then it stays resumable).
    TrainingDone { iteration: usize, total: usize, stopped: bool, note: Option<String> },
    /// Training: the run kept in storage, if any.
    SavedTraining { summary: Option<StateSummary> },
    /// Training: an exported file.
    TrainingExported {
        filename: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
}

impl JobEvent {
    /// This event about job `id`.
    pub fn about(self, id: JobId) -> Event {
        Event::Job { id, event: self }
    }

    /// Whether this is a job's last event, its result or its failure: the worker posts
    /// nothing more about the job (`run_job` returns it, and it is posted once). A new kind
    /// of event is not final until listed here.
    pub fn ends_job(&self) -> bool {
        matches!(
            self,
            JobEvent::Failed { .. }
                | JobEvent::Memory { .. }
                | JobEvent::RoundtripDone { .. }
                | JobEvent::ModelLoaded { .. }
                | JobEvent::Translated { .. }
                | JobEvent::FrameTranslated { .. }
                | JobEvent::VggLoaded { .. }
                | JobEvent::StyleTransferDone { .. }
                | JobEvent::DreamDone { .. }
                | JobEvent::TrainingDone { .. }
                | JobEvent::SavedTraining { .. }
                | JobEvent::TrainingExported { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::techniques::style_transfer::{InitKind, NstConfig};

    #[test]
    fn every_request_but_init_names_its_job() {
        assert_eq!(Request::Init { preference: Preference::Auto }.job_id(), None);
        assert_eq!(Request::Control { id: 9, action: ControlAction::Pause }.job_id(), Some(9));
        assert_eq!(Request::QuerySavedTraining { id: 4 }.job_id(), Some(4));
    }

    #[test]
    fn results_and_failures_end_a_job_progress_does_not() {
        assert!(JobEvent::Failed { message: "x".into() }.ends_job());
        assert!(JobEvent::SavedTraining { summary: None }.ends_job());
        assert!(JobEvent::TrainingDone { iteration: 3, total: 9, stopped: true, note: None }.ends_job());
        assert!(!JobEvent::Progress { stage: "x".into(), done: 1, total: 3 }.ends_job());
        assert!(!JobEvent::Fetching { done: 1, total: None }.ends_job());
        assert!(!JobEvent::Paused { paused: true }.ends_job());
        assert!(!JobEvent::TrainingSaved { iteration: 3 }.ends_job());
        assert!(!JobEvent::StyleTransferSteps { steps: Vec::new(), rate: 1.0 }.ends_job());
        assert!(!JobEvent::DreamPreview { step: 1, image: ImagePayload { width: 1, height: 1, rgba: vec![0; 4], png: None } }.ends_job());
        assert!(
            JobEvent::DreamDone { image: ImagePayload { width: 1, height: 1, rgba: vec![0; 4], png: None }, steps_done: 1, cancelled: false, millis: 1.0, note: None }
                .ends_job()
        );
    }

    #[test]
    fn messages_survive_a_serde_round_trip() {
        // The worker and the UI are compiled from the same enums; this checks
        // the serde attributes (bytes fields) are consistent both ways.
        let req = Request::Roundtrip { id: 7, name: "a.png".into(), bytes: vec![1, 2, 3] };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        let ev = JobEvent::Failed { message: "bad".into() }.about(7);
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
                source: ModelSource::Url { label: "facades".into(), url: "models/x.pth".into(), sha256: Some("ab".repeat(32)) },
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
            Request::TranslateFrame {
                id: 3,
                slot: Slot::CycleGan,
                frame: Frame { width: 1, height: 1, rgba: vec![1, 2, 3, 255] },
                smoothing: Smoothing { keep: 0.5, first: true },
            },
            Request::LoadVgg { id: 4, source: ModelSource::Url { label: "vgg".into(), url: "https://x/v.safetensors".into(), sha256: None } },
            Request::StyleTransfer {
                id: 5,
                job: StyleTransferJob {
                    content: NamedImage { name: "c.png".into(), bytes: vec![1] },
                    styles: vec![(NamedImage { name: "s.png".into(), bytes: vec![2] }, 0.5)],
                    settings: style_transfer::Settings {
                        init: InitKind::Noise { seed: 42 },
                        config: NstConfig {
                            optimizer: crate::techniques::style_transfer::Optimizer::Lbfgs { lr: 1.0, history: 10 },
                            style_weights: crate::techniques::style_transfer::StyleWeights::Decay(0.5),
                            ..NstConfig::default()
                        },
                        ..style_transfer::Settings::default()
                    },
                },
            },
            Request::Dream {
                id: 5,
                job: DreamJob {
                    image: NamedImage { name: "d.jpg".into(), bytes: vec![3] },
                    settings: DreamSettings { channels: vec![3, 7], ..DreamSettings::default() },
                    size: 256,
                    preview_every: 5,
                },
            },
            Request::Control { id: 5, action: ControlAction::Cancel },
            Request::Train {
                id: 6,
                job: TrainJob {
                    spec: TrainSpec::new(crate::techniques::training::Model::CycleGan),
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
            Request::ExportTraining { id: 8, what: TrainExport::Junyanz },
            Request::Crash { message: "test".into() },
            Request::LoseDevice,
            Request::ExhaustMemory,
            Request::SlowWrites { ms: 250 },
            Request::Memory { id: 9 },
        ] {
            let json = serde_json::to_string(&req).unwrap();
            assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        }
        for ev in [
            Event::Broken { message: "m".into() },
            Event::Crashed { message: "panicked".into() },
            Event::DeviceLost {
                reason: "Destroyed".into(),
                device: crate::device::DeviceInfo {
                    backend: "WebGPU".into(),
                    adapter: "a".into(),
                    details: String::new(),
                    is_gpu: true,
                    limits: None,
                    fallback_reason: None,
                },
            },
            Event::OutOfMemory {
                reason: "simulated".into(),
                device: crate::device::DeviceInfo {
                    backend: "CPU".into(),
                    adapter: "burn-flex".into(),
                    details: String::new(),
                    is_gpu: false,
                    limits: None,
                    fallback_reason: Some("the GPU device was renewed 3 times in this session".into()),
                },
            },
            JobEvent::Recovered { step: 40, note: "n".into() }.about(3),
            JobEvent::Memory { wasm_bytes: 1 << 20, gpu: Some(crate::device::GpuMemory { in_use: 3, reserved: 4, allocations: 1 }) }.about(9),
            JobEvent::Fetching { done: 10, total: None }.about(1),
            JobEvent::ModelLoaded { slot: Slot::CycleGan, name: "g".into(), description: "d".into(), from_cache: true, note: Some("n".into()) }.about(1),
            JobEvent::VggLoaded { name: "v".into(), description: "d".into(), from_cache: false, note: Some("n".into()) }.about(2),
            JobEvent::StyleTransferSteps {
                steps: vec![StepLosses { step: 4, losses: Losses { content: 1.0, style: 2.0, tv: 3.0, total: 4.0 } }],
                rate: 5.5,
            }
            .about(3),
            JobEvent::Paused { paused: true }.about(3),
            JobEvent::FrameTranslated { slot: Slot::Pix2Pix, frame: ImagePayload { width: 1, height: 1, rgba: vec![9, 8, 7, 255], png: None }, millis: 2.5 }
                .about(8),
            JobEvent::DreamStarted { sizes: vec![[16, 20], [32, 40]], steps: 20 }.about(6),
            JobEvent::DreamSteps { steps: vec![DreamStep { step: 3, octave: 0, objective: 0.25 }], rate: 4.0 }.about(6),
            JobEvent::TrainingSteps { steps: vec![StepRecord { iteration: 3, epoch: 1, lr: 2e-4, losses: vec![0.5, 1.5] }], rate: 2.0 }
                .about(4),
            JobEvent::TrainingExported { filename: "g.safetensors".into(), bytes: vec![0, 1] }.about(5),
            // A preview has no PNG, a result has one: both survive.
            JobEvent::StyleTransferPreview { step: 2, image: ImagePayload { width: 1, height: 1, rgba: vec![1, 2, 3, 255], png: None } }
                .about(3),
            JobEvent::StyleTransferDone {
                image: ImagePayload { width: 1, height: 1, rgba: vec![1, 2, 3, 255], png: Some(vec![137, 80]) },
                steps_done: 7,
                cancelled: true,
                millis: 1.5,
                note: None,
            }
            .about(3),
        ] {
            let json = serde_json::to_string(&ev).unwrap();
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
        }
    }
}
