//! The Image check section: an image goes to the worker, through the compute device and
//! back (decode, upload, normalise, map back, read out), and both are shown side by side.
//! It checks the device before any network runs.

use super::widgets::{BarAttrs, DownloadLink, DropZone, ImageCanvas, Shared};
use super::{Job, JobIds, Section, abort_job, own_event};
use crate::device::GpuMemory;
use crate::protocol::{ImagePayload, JobEvent, JobId, Request};
use std::rc::Rc;
use yew::prelude::*;

struct Output {
    input: Shared<ImagePayload>,
    output: Shared<ImagePayload>,
    name: String,
    millis: f64,
}

pub enum ImageCheckMsg {
    File { name: String, bytes: Vec<u8> },
    FileError(String),
    /// Crash the worker on purpose, to see the studio recover.
    CrashWorker,
    /// Destroy the worker's GPU device (the diagnostics' button).
    LoseDevice,
    /// Report an out-of-memory error on the worker's GPU device (the diagnostics' button).
    ExhaustMemory,
    /// Have the worker write to storage slowly (the diagnostics' button).
    SlowWrites,
    /// Ask the worker how much memory it holds.
    Memory,
}

/// The Image check section's state.
#[derive(Default)]
pub struct ImageCheck {
    /// The running round trip, about the file named.
    job: Option<Job<String>>,
    result: Option<Output>,
    error: Option<String>,
    /// The worker's last memory readout: its request, wasm bytes, and Burn's GPU memory.
    memory: Option<(JobId, u64, Option<GpuMemory>)>,
}

impl ImageCheck {
    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: ImageCheckMsg, ids: &mut JobIds) -> Option<Request> {
        match msg {
            ImageCheckMsg::File { name, bytes } => {
                let id = ids.fresh();
                self.error = None;
                self.job = Some(Job::sent(id, "sending to the worker", name.clone()));
                Some(Request::Roundtrip { id, name, bytes })
            }
            ImageCheckMsg::FileError(e) => {
                self.error = Some(e);
                None
            }
            ImageCheckMsg::CrashWorker => Some(Request::Crash { message: "crashed on purpose from the diagnostics".into() }),
            ImageCheckMsg::LoseDevice => Some(Request::LoseDevice),
            ImageCheckMsg::ExhaustMemory => Some(Request::ExhaustMemory),
            ImageCheckMsg::SlowWrites => Some(Request::SlowWrites { ms: 250 }),
            ImageCheckMsg::Memory => Some(Request::Memory { id: ids.fresh() }),
        }
    }

    pub fn view(&self, ready: bool, cb: Callback<ImageCheckMsg>) -> Html {
        let busy = self.job.is_some();
        let progress = self.job.as_ref().map(|j| {
            j.progress.bar(BarAttrs { id: Some("progress".into()), ..BarAttrs::default() }, format!("{}: {}", j.about, j.progress.stage))
        });
        let result = self.result.as_ref().map(|r| {
            let stem = r.name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&r.name);
            html! {
                <div class="result">
                    <div class="pair">
                        <figure><ImageCanvas id="input-canvas" image={r.input.clone()} />
                            <figcaption>{ format!("Input, {}x{}", r.input.0.width, r.input.0.height) }</figcaption></figure>
                        <figure><ImageCanvas id="output-canvas" image={r.output.clone()} />
                            <figcaption>{ format!("After the device round trip ({:.0} ms)", r.millis) }</figcaption></figure>
                    </div>
                    <DownloadLink id="download" png={r.output.clone()} filename={format!("{stem}-roundtrip.png")} />
                </div>
            }
        });
        html! {
            <section class="panel">
                <h2>{ "Image check" }</h2>
                <p>{ "Pick or drop an image (PNG, JPEG or WebP). The worker decodes it, uploads it to the compute device, \
                      normalises it the way the networks expect, maps it back and reads it out again. \
                      The output should look exactly like the input: this checks your device before any network runs." }</p>
                <DropZone id="image-input" disabled={!ready || busy}
                    on_file={cb.reform(|(name, bytes)| ImageCheckMsg::File { name, bytes })}
                    on_error={cb.reform(ImageCheckMsg::FileError)} />
                if !ready { <p class="hint">{ "Waiting for the compute device..." }</p> }
                { for progress }
                if let Some(e) = &self.error { <p class="error" id="error" role="alert">{ e }</p> }
                { for result }
                <p>
                    <button data-testid="crash-worker" disabled={!ready} onclick={cb.reform(|_| ImageCheckMsg::CrashWorker)}>
                        { "Crash the compute worker" }</button>
                    <span class="hint">{ " To see the studio recover: a new worker starts, running jobs end with the reason, \
                        a training run continues from its last checkpoint." }</span>
                </p>
                <p>
                    <button data-testid="lose-device" disabled={!ready} onclick={cb.reform(|_| ImageCheckMsg::LoseDevice)}>
                        { "Lose the GPU device" }</button>
                    <span class="hint">{ " As a driver reset would: a new device takes over, and a running style transfer \
                        or training run goes on from its last kept state." }</span>
                </p>
                <p>
                    <button data-testid="exhaust-memory" disabled={!ready} onclick={cb.reform(|_| ImageCheckMsg::ExhaustMemory)}>
                        { "Run out of GPU memory" }</button>
                    <span class="hint">{ " As the browser reports a buffer it could not make: the running job stops with a \
                        message, and a fresh device takes over." }</span>
                </p>
                <p>
                    <button data-testid="slow-writes" disabled={!ready} onclick={cb.reform(|_| ImageCheckMsg::SlowWrites)}>
                        { "Write checkpoints slowly" }</button>
                    <span class="hint">{ " Each training checkpoint takes five seconds to write from now on, to see that \
                        closing the page meanwhile keeps the one before." }</span>
                </p>
                <p>
                    <button data-testid="memory-sample" disabled={!ready} onclick={cb.reform(|_| ImageCheckMsg::Memory)}>
                        { "Memory now" }</button>
                    if let Some((id, wasm, gpu)) = self.memory {
                        <span data-testid="memory" data-id={id.to_string()} data-wasm={wasm.to_string()}
                            data-gpu-in-use={gpu.map(|g| g.in_use.to_string()).unwrap_or_default()}
                            data-gpu-reserved={gpu.map(|g| g.reserved.to_string()).unwrap_or_default()}>
                            { format!(" worker: {}", megabytes(wasm)) }
                            { gpu.map(|g| format!("; GPU: {} in {} tensors, {} reserved", megabytes(g.in_use), g.allocations, megabytes(g.reserved))).unwrap_or_default() }
                        </span>
                    }
                </p>
            </section>
        }
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

impl Section for ImageCheck {
    fn on_event(&mut self, id: JobId, ev: JobEvent) {
        if let JobEvent::Memory { wasm_bytes, gpu } = ev {
            self.memory = Some((id, wasm_bytes, gpu));
            return;
        }
        if let Some(JobEvent::RoundtripDone { input, output, millis }) = own_event(&mut self.job, &mut self.error, id, ev) {
            let name = self.job.take().map(|j| j.about).unwrap_or_default();
            self.result = Some(Output { input: Shared(Rc::new(input)), output: Shared(Rc::new(output)), name, millis });
            self.error = None;
        }
    }

    fn abort(&mut self, message: &str) {
        abort_job(&mut self.job, &mut self.error, message);
    }
}
