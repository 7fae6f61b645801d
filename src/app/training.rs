//! The Training section: the user's images (Pix2Pix: side-by-side AB images or two sets
//! matched by name; CycleGAN: two unpaired sets), the settings of `ai-art train`, optional
//! pretrained generators to fine-tune, and a live view of the run (iteration, it/s, each
//! loss term on a chart, sample translations) with Pause, Resume and Stop. The run is kept
//! in the browser's storage by the worker; after a reload this section offers to resume it,
//! and exports the generators and the whole state. Every tensor operation runs in the worker.

use super::widgets::{BarAttrs, DropZone, FileDownload, ImageCanvas, JobProgress, Shared};
use crate::models::ArchChoice;
use crate::protocol::{ControlAction, Event, ImagePayload, JobId, Request, TrainExport, TrainJob};
use crate::techniques::data::{DatasetFiles, NamedFile};
use crate::techniques::training::session::{Model, StateSummary, StepRecord, TrainSpec};
use std::collections::HashSet;
use std::rc::Rc;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Most points drawn per series in the loss chart.
const CHART_POINTS: usize = 240;
const COLOURS: [&str; 9] = ["#e0a458", "#7ad89a", "#7aa8ff", "#c58af9", "#ff7a7a", "#5fd4d4", "#d4d45f", "#b0b0b0", "#ffffff"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Set {
    A,
    B,
    /// Pix2Pix's side-by-side AB images.
    Ab,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Field {
    Size,
    Batch,
    Epochs,
    EpochsDecay,
    MaxIterations,
    Lr,
    Netg,
    Ngf,
    Ndf,
    LayersD,
    LambdaL1,
    LambdaCycle,
    LambdaIdentity,
    Pool,
    Seed,
    SaveEvery,
    SampleEvery,
}

pub enum TrainMsg {
    Model(Model),
    ByName(bool),
    AddFile { set: Set, name: String, bytes: Vec<u8> },
    ClearFiles(Set),
    InitFile { index: usize, name: String, bytes: Vec<u8> },
    ClearInit(usize),
    Set(Field, String),
    Dropout(bool),
    FileError(String),
    Start,
    Resume,
    Pause,
    Continue,
    Stop,
    Discard,
    Export(TrainExport),
    /// The device is ready: ask the worker whether a run is kept.
    Query,
}

#[derive(PartialEq)]
enum Kind {
    Run,
    Other,
}

struct Job {
    id: JobId,
    kind: Kind,
    progress: JobProgress,
    pause_requested: bool,
    paused: bool,
    stop_requested: bool,
}

struct RunView {
    model: Model,
    loss_names: Vec<String>,
    iteration: usize,
    total: usize,
    rate: f64,
    history: Vec<StepRecord>,
    sample: Option<(usize, Vec<(String, Shared<ImagePayload>)>)>,
    saved: Option<usize>,
    summary: String,
}

/// The settings as typed (validated on Start).
struct Form {
    size: String,
    batch: String,
    epochs: String,
    epochs_decay: String,
    max_iterations: String,
    lr: String,
    netg: String,
    ngf: String,
    ndf: String,
    layers_d: String,
    lambda_l1: String,
    lambda_cycle: String,
    lambda_identity: String,
    pool: String,
    seed: String,
    save_every: String,
    sample_every: String,
    dropout: bool,
}

impl Form {
    /// Small enough to see the losses move within a minute on most GPUs.
    fn for_model(model: Model) -> Self {
        let s = TrainSpec::new(model);
        Form {
            size: "128".into(),
            batch: "1".into(),
            epochs: "100".into(),
            epochs_decay: "100".into(),
            max_iterations: String::new(),
            lr: s.lr.to_string(),
            netg: "auto".into(),
            ngf: "32".into(),
            ndf: "32".into(),
            layers_d: s.n_layers_d.to_string(),
            lambda_l1: s.lambda_l1.to_string(),
            lambda_cycle: s.lambda_cycle.to_string(),
            lambda_identity: s.lambda_identity.to_string(),
            pool: s.pool_size.to_string(),
            seed: "0".into(),
            save_every: "30".into(),
            sample_every: "10".into(),
            dropout: s.dropout,
        }
    }
}

pub struct TrainPanel {
    model: Model,
    by_name: bool,
    files: [Vec<NamedFile>; 3],
    init: [Option<NamedFile>; 2],
    form: Form,
    ids: HashSet<JobId>,
    job: Option<Job>,
    run: Option<RunView>,
    saved: Option<StateSummary>,
    note: Option<String>,
    error: Option<String>,
    export: Option<(String, Shared<Vec<u8>>)>,
}

fn set_index(set: Set) -> usize {
    match set {
        Set::A => 0,
        Set::B => 1,
        Set::Ab => 2,
    }
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.trim().parse().map_err(|_| format!("{what}: `{s}` is not a valid number"))
}

impl TrainPanel {
    pub fn new() -> Self {
        TrainPanel {
            model: Model::Pix2Pix,
            by_name: false,
            files: Default::default(),
            init: Default::default(),
            form: Form::for_model(Model::Pix2Pix),
            ids: HashSet::new(),
            job: None,
            run: None,
            saved: None,
            note: None,
            error: None,
            export: None,
        }
    }

    pub fn owns(&self, id: JobId) -> bool {
        self.ids.contains(&id)
    }

    /// A failure outside any job (the worker broke): nothing runs any more.
    pub fn abort(&mut self, message: &str) {
        if self.job.take().is_some() {
            self.error = Some(message.to_string());
        }
    }

    fn spec(&self) -> Result<TrainSpec, String> {
        let f = &self.form;
        let max: Option<usize> = if f.max_iterations.trim().is_empty() { None } else { Some(parse("iterations", &f.max_iterations)?) };
        let spec = TrainSpec {
            size: parse("size", &f.size)?,
            batch_size: parse("batch size", &f.batch)?,
            epochs: parse("epochs", &f.epochs)?,
            epochs_decay: parse("decay epochs", &f.epochs_decay)?,
            max_iterations: max,
            lr: parse("learning rate", &f.lr)?,
            netg: f.netg.parse::<ArchChoice>()?,
            ngf: parse("ngf", &f.ngf)?,
            ndf: parse("ndf", &f.ndf)?,
            n_layers_d: parse("PatchGAN layers", &f.layers_d)?,
            dropout: f.dropout,
            lambda_l1: parse("lambda L1", &f.lambda_l1)?,
            lambda_cycle: parse("lambda cycle", &f.lambda_cycle)?,
            lambda_identity: parse("lambda identity", &f.lambda_identity)?,
            pool_size: parse("pool size", &f.pool)?,
            seed: parse("seed", &f.seed)?,
            ..TrainSpec::new(self.model)
        };
        spec.check()?;
        Ok(spec)
    }

    fn files(&self) -> Result<DatasetFiles, String> {
        let [a, b, ab] = &self.files;
        match self.model {
            Model::Pix2Pix if !self.by_name => {
                if ab.is_empty() {
                    return Err("add some side-by-side AB images (A on the left, B on the right)".into());
                }
                Ok(DatasetFiles::AlignedAb(ab.clone()))
            }
            _ if a.is_empty() || b.is_empty() => Err("add images to both sets, A and B".into()),
            Model::Pix2Pix => Ok(DatasetFiles::PairedByName { a: a.clone(), b: b.clone() }),
            Model::CycleGan => Ok(DatasetFiles::Unpaired { a: a.clone(), b: b.clone() }),
        }
    }

    fn intervals(&self) -> Result<(u32, u32), String> {
        Ok((parse("save interval", &self.form.save_every)?, parse("sample interval", &self.form.sample_every)?))
    }

    fn new_job(&mut self, id: JobId, kind: Kind, stage: &str) {
        self.ids.insert(id);
        self.error = None;
        self.job = Some(Job { id, kind, progress: JobProgress { stage: stage.into(), ..JobProgress::sent(3) }, pause_requested: false, paused: false, stop_requested: false });
    }

    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: TrainMsg, next_id: &mut JobId) -> Option<Request> {
        let mut new_id = || {
            let id = *next_id;
            *next_id += 1;
            id
        };
        match msg {
            TrainMsg::Model(m) => {
                self.model = m;
                self.form = Form::for_model(m);
                self.init = Default::default();
            }
            TrainMsg::ByName(b) => self.by_name = b,
            TrainMsg::AddFile { set, name, bytes } => {
                let files = &mut self.files[set_index(set)];
                files.retain(|f| f.name != name);
                files.push(NamedFile { name, bytes });
            }
            TrainMsg::ClearFiles(set) => self.files[set_index(set)].clear(),
            TrainMsg::InitFile { index, name, bytes } => self.init[index.min(1)] = Some(NamedFile { name, bytes }),
            TrainMsg::ClearInit(i) => self.init[i.min(1)] = None,
            TrainMsg::Dropout(d) => self.form.dropout = d,
            TrainMsg::Set(field, v) => {
                let f = &mut self.form;
                let slot = match field {
                    Field::Size => &mut f.size,
                    Field::Batch => &mut f.batch,
                    Field::Epochs => &mut f.epochs,
                    Field::EpochsDecay => &mut f.epochs_decay,
                    Field::MaxIterations => &mut f.max_iterations,
                    Field::Lr => &mut f.lr,
                    Field::Netg => &mut f.netg,
                    Field::Ngf => &mut f.ngf,
                    Field::Ndf => &mut f.ndf,
                    Field::LayersD => &mut f.layers_d,
                    Field::LambdaL1 => &mut f.lambda_l1,
                    Field::LambdaCycle => &mut f.lambda_cycle,
                    Field::LambdaIdentity => &mut f.lambda_identity,
                    Field::Pool => &mut f.pool,
                    Field::Seed => &mut f.seed,
                    Field::SaveEvery => &mut f.save_every,
                    Field::SampleEvery => &mut f.sample_every,
                };
                *slot = v;
            }
            TrainMsg::FileError(e) => self.error = Some(e),
            TrainMsg::Start => {
                let job = (|| {
                    let (save_every_s, sample_every) = self.intervals()?;
                    let n = self.model.generator_names().len();
                    Ok::<_, String>(TrainJob {
                        spec: self.spec()?,
                        files: self.files()?,
                        init: self.init.iter().take(n).cloned().collect(),
                        save_every_s,
                        sample_every,
                    })
                })();
                match job {
                    Ok(job) => {
                        let id = new_id();
                        self.new_job(id, Kind::Run, "sending the images to the worker");
                        self.run = None;
                        self.note = None;
                        self.export = None;
                        return Some(Request::Train { id, job });
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            TrainMsg::Resume => match self.intervals() {
                Ok((save_every_s, sample_every)) => {
                    let id = new_id();
                    self.new_job(id, Kind::Run, "reading the saved run");
                    self.run = None;
                    self.note = None;
                    return Some(Request::ResumeTraining { id, save_every_s, sample_every });
                }
                Err(e) => self.error = Some(e),
            },
            TrainMsg::Pause | TrainMsg::Continue | TrainMsg::Stop => {
                let j = self.job.as_mut().filter(|j| j.kind == Kind::Run)?;
                let action = match msg {
                    TrainMsg::Pause => {
                        j.pause_requested = true;
                        ControlAction::Pause
                    }
                    TrainMsg::Continue => {
                        j.pause_requested = false;
                        ControlAction::Resume
                    }
                    _ => {
                        j.stop_requested = true;
                        ControlAction::Cancel
                    }
                };
                return Some(Request::Control { id: j.id, action });
            }
            TrainMsg::Discard => {
                let id = new_id();
                self.new_job(id, Kind::Other, "forgetting the saved run");
                return Some(Request::DiscardTraining { id });
            }
            TrainMsg::Export(what) => {
                // Answered from storage, even while a run goes on: not a job.
                let id = new_id();
                self.ids.insert(id);
                self.error = None;
                return Some(Request::ExportTraining { id, what });
            }
            TrainMsg::Query => {
                let id = new_id();
                self.ids.insert(id);
                return Some(Request::QuerySavedTraining { id });
            }
        }
        None
    }

    /// Takes a worker event about this section's jobs (the caller checked [`Self::owns`]).
    pub fn on_event(&mut self, ev: Event) {
        let current = |job: &Option<Job>, id: JobId| job.as_ref().is_some_and(|j| j.id == id);
        match ev {
            Event::Progress { id, .. } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.id == id) {
                    j.progress.on_event(&ev);
                }
            }
            Event::TrainStarted { id, spec, loss_names, iteration, total, summary } if current(&self.job, id) => {
                self.run = Some(RunView {
                    model: spec.model,
                    loss_names,
                    iteration,
                    total,
                    rate: 0.0,
                    history: Vec::new(),
                    sample: None,
                    saved: None,
                    summary,
                });
                self.saved = None;
            }
            Event::TrainSteps { steps, rate, .. } => {
                if let Some(r) = &mut self.run {
                    if let Some(last) = steps.last() {
                        r.iteration = last.iteration;
                    }
                    r.rate = rate;
                    r.history.extend(steps);
                }
            }
            Event::TrainSample { iteration, panels, .. } => {
                if let Some(r) = &mut self.run {
                    r.sample = Some((iteration, panels.into_iter().map(|(l, p)| (l, Shared(Rc::new(p)))).collect()));
                }
            }
            Event::TrainPaused { id, paused } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.id == id) {
                    j.paused = paused;
                    j.pause_requested = paused;
                }
            }
            Event::TrainSaved { iteration, .. } => {
                if let Some(r) = &mut self.run {
                    r.saved = Some(iteration);
                }
            }
            Event::TrainDone { id, iteration, total, stopped, note } => {
                if current(&self.job, id) {
                    self.job = None;
                }
                if let Some(r) = &mut self.run {
                    r.iteration = iteration;
                    r.total = total;
                    r.saved = Some(iteration);
                }
                self.note = note.or_else(|| (!stopped).then(|| format!("Finished: {iteration} iterations.")));
            }
            Event::SavedTraining { id, summary } => {
                if current(&self.job, id) {
                    self.job = None;
                }
                self.saved = summary;
                if self.saved.is_none() {
                    self.run = None;
                    self.export = None;
                }
            }
            Event::TrainExported { filename, bytes, .. } => self.export = Some((filename, Shared(Rc::new(bytes)))),
            Event::Failed { id, message } => {
                if id.is_some_and(|id| current(&self.job, id)) {
                    self.job = None;
                }
                self.error = Some(message);
            }
            _ => {}
        }
    }

    pub fn view(&self, ready: bool, cb: Callback<TrainMsg>) -> Html {
        let busy = self.job.is_some();
        html! {
            <section class="panel" data-testid="train-panel">
                <h2>{ "Train Pix2Pix or CycleGAN on your images" }</h2>
                <p class="hint">{ "Small-batch training on this device. The run is saved in this browser as it goes: reload the page and it resumes where it stopped." }</p>
                { self.view_saved(ready, busy, &cb) }
                { self.view_data(busy, &cb) }
                { self.view_settings(busy, &cb) }
                { self.view_controls(ready, &cb) }
                if let Some(e) = &self.error { <p class="error" role="alert" data-testid="train-error">{ e }</p> }
                { self.view_job() }
                { self.view_run(&cb) }
            </section>
        }
    }

    fn view_saved(&self, ready: bool, busy: bool, cb: &Callback<TrainMsg>) -> Html {
        let Some(s) = &self.saved else { return html! {} };
        html! {
            <div class="notice" data-testid="train-saved" data-iteration={s.iteration.to_string()}>
                { format!("A {} run is saved at iteration {} of {} ({} px, batch {}).", s.spec.model.label(), s.iteration, s.total_iterations, s.spec.size, s.spec.batch_size) }
                <button class="button" data-testid="train-resume" disabled={!ready || busy}
                    onclick={cb.reform(|_| TrainMsg::Resume)}>{ "Resume training" }</button>
                <button class="button secondary" data-testid="train-discard" disabled={!ready || busy}
                    onclick={cb.reform(|_| TrainMsg::Discard)}>{ "Discard it" }</button>
            </div>
        }
    }

    fn view_files(&self, set: Set, label: &'static str, busy: bool, cb: &Callback<TrainMsg>) -> Html {
        let files = &self.files[set_index(set)];
        let key = match set {
            Set::A => "a",
            Set::B => "b",
            Set::Ab => "ab",
        };
        html! {
            <div class="field">
                <DropZone id={format!("train-files-{key}")} testid={format!("train-files-{key}")} disabled={busy} multiple=true
                    label={label}
                    on_file={cb.reform(move |(name, bytes)| TrainMsg::AddFile { set, name, bytes })}
                    on_error={cb.reform(TrainMsg::FileError)} />
                <span class="hint" data-testid={format!("train-count-{key}")} data-count={files.len().to_string()}>
                    { format!("{} file(s)", files.len()) }
                </span>
                if !files.is_empty() {
                    <button class="button secondary" disabled={busy} onclick={cb.reform(move |_| TrainMsg::ClearFiles(set))}>{ "Clear" }</button>
                }
            </div>
        }
    }

    fn view_data(&self, busy: bool, cb: &Callback<TrainMsg>) -> Html {
        let on_model = cb.reform(|e: web_sys::Event| {
            if e.target_unchecked_into::<HtmlInputElement>().value() == "cyclegan" { TrainMsg::Model(Model::CycleGan) } else { TrainMsg::Model(Model::Pix2Pix) }
        });
        let on_pairing = cb.reform(|e: web_sys::Event| TrainMsg::ByName(e.target_unchecked_into::<HtmlInputElement>().value() == "name"));
        let inits: Vec<Html> = self
            .model
            .generator_names()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let label = match &self.init[i] {
                    Some(f) => format!("{name}: fine-tune from {}", f.name),
                    None => format!("{name}: random N(0, 0.02) start; drop a pretrained generator to fine-tune it"),
                };
                html! {
                    <div class="field">
                        <DropZone id={format!("train-init-{i}")} testid={format!("train-init-{i}")} disabled={busy}
                            accept=".pth,.pt,.safetensors,.bin" label={label}
                            on_file={cb.reform(move |(name, bytes)| TrainMsg::InitFile { index: i, name, bytes })}
                            on_error={cb.reform(TrainMsg::FileError)} />
                        if self.init[i].is_some() {
                            <button class="button secondary" disabled={busy} onclick={cb.reform(move |_| TrainMsg::ClearInit(i))}>{ "Start from random weights" }</button>
                        }
                    </div>
                }
            })
            .collect();
        html! {
            <div class="group">
                <label>{ "Model " }
                    <select data-testid="train-model" disabled={busy} onchange={on_model}>
                        <option value="pix2pix" selected={self.model == Model::Pix2Pix}>{ "Pix2Pix (aligned pairs)" }</option>
                        <option value="cyclegan" selected={self.model == Model::CycleGan}>{ "CycleGAN (two unpaired sets)" }</option>
                    </select>
                </label>
                if self.model == Model::Pix2Pix {
                    <label>{ " Pairs as " }
                        <select data-testid="train-pairing" disabled={busy} onchange={on_pairing}>
                            <option value="ab" selected={!self.by_name}>{ "side-by-side AB images" }</option>
                            <option value="name" selected={self.by_name}>{ "two sets matched by file name" }</option>
                        </select>
                    </label>
                }
                if self.model == Model::Pix2Pix && !self.by_name {
                    { self.view_files(Set::Ab, "Choose or drop AB images (A left, B right)", busy, cb) }
                } else {
                    { self.view_files(Set::A, "Choose or drop the A images", busy, cb) }
                    { self.view_files(Set::B, "Choose or drop the B images", busy, cb) }
                }
                { for inits }
            </div>
        }
    }

    fn view_settings(&self, busy: bool, cb: &Callback<TrainMsg>) -> Html {
        let f = &self.form;
        let input = |field: Field, label: &'static str, value: &str, testid: &'static str| {
            let oninput = cb.reform(move |e: InputEvent| TrainMsg::Set(field, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! {
                <label class="setting">{ label }
                    <input type="text" size="6" data-testid={testid} value={value.to_string()} disabled={busy} {oninput} />
                </label>
            }
        };
        let on_dropout = cb.reform(|e: web_sys::Event| TrainMsg::Dropout(e.target_unchecked_into::<HtmlInputElement>().checked()));
        html! {
            <details class="group" open=true>
                <summary>{ "Settings" }</summary>
                <div class="settings">
                    { input(Field::Size, "Size (px) ", &f.size, "train-size") }
                    { input(Field::Batch, "Batch ", &f.batch, "train-batch") }
                    { input(Field::Epochs, "Epochs ", &f.epochs, "train-epochs") }
                    { input(Field::EpochsDecay, "Decay epochs ", &f.epochs_decay, "train-epochs-decay") }
                    { input(Field::MaxIterations, "Stop after (iterations, optional) ", &f.max_iterations, "train-max-iterations") }
                    { input(Field::Lr, "Learning rate ", &f.lr, "train-lr") }
                    { input(Field::Netg, "Generator (auto, unet_128, resnet_9blocks...) ", &f.netg, "train-netg") }
                    { input(Field::Ngf, "ngf ", &f.ngf, "train-ngf") }
                    { input(Field::Ndf, "ndf ", &f.ndf, "train-ndf") }
                    { input(Field::LayersD, "PatchGAN layers ", &f.layers_d, "train-layers-d") }
                    if self.model == Model::Pix2Pix {
                        { input(Field::LambdaL1, "lambda L1 ", &f.lambda_l1, "train-lambda-l1") }
                    } else {
                        { input(Field::LambdaCycle, "lambda cycle ", &f.lambda_cycle, "train-lambda-cycle") }
                        { input(Field::LambdaIdentity, "identity (x lambda, 0 = off) ", &f.lambda_identity, "train-lambda-identity") }
                        { input(Field::Pool, "History pool ", &f.pool, "train-pool") }
                    }
                    { input(Field::Seed, "Seed ", &f.seed, "train-seed") }
                    { input(Field::SaveEvery, "Save every (s) ", &f.save_every, "train-save-every") }
                    { input(Field::SampleEvery, "Sample every (iterations) ", &f.sample_every, "train-sample-every") }
                    <label class="setting"><input type="checkbox" checked={f.dropout} disabled={busy} onchange={on_dropout} />{ " Dropout 0.5" }</label>
                </div>
            </details>
        }
    }

    fn view_controls(&self, ready: bool, cb: &Callback<TrainMsg>) -> Html {
        let running = self.job.as_ref().filter(|j| j.kind == Kind::Run);
        let can_export = self.run.as_ref().is_some_and(|r| r.saved.is_some()) || self.saved.is_some();
        let names: Vec<&'static str> = self.run.as_ref().map(|r| r.model).or(self.saved.as_ref().map(|s| s.spec.model)).unwrap_or(self.model).generator_names().to_vec();
        let exports = names.into_iter().map(|name| {
            html! {
                <button class="button secondary" data-testid={format!("train-export-{name}")} disabled={!can_export}
                    onclick={cb.reform(move |_| TrainMsg::Export(TrainExport::Generator(name.to_string())))}>
                    { format!("Export {name} (.safetensors)") }</button>
            }
        });
        html! {
            <div class="row controls">
                <button class="button" data-testid="train-start" disabled={!ready || self.job.is_some()}
                    onclick={cb.reform(|_| TrainMsg::Start)}>{ "Start training" }</button>
                if let Some(j) = running {
                    if j.pause_requested {
                        <button class="button" data-testid="train-continue" onclick={cb.reform(|_| TrainMsg::Continue)}>{ "Resume" }</button>
                    } else {
                        <button class="button" data-testid="train-pause" onclick={cb.reform(|_| TrainMsg::Pause)}>{ "Pause" }</button>
                    }
                    <button class="button secondary" data-testid="train-stop" disabled={j.stop_requested}
                        onclick={cb.reform(|_| TrainMsg::Stop)}>{ if j.stop_requested { "Stopping..." } else { "Stop" } }</button>
                }
                { for exports }
                <button class="button secondary" data-testid="train-export-state" disabled={!can_export}
                    onclick={cb.reform(|_| TrainMsg::Export(TrainExport::State))}>{ "Export the whole run" }</button>
                if let Some((name, bytes)) = &self.export {
                    <FileDownload id="train-download" testid="train-download" bytes={bytes.clone()} filename={name.clone()}
                        label={format!("Download {name}")} />
                }
            </div>
        }
    }

    fn view_job(&self) -> Html {
        let Some(j) = &self.job else { return html! {} };
        let state = if j.paused { "paused" } else { "running" };
        let label = if j.paused { "Paused (saved)".to_string() } else { j.progress.stage.clone() };
        j.progress.bar(BarAttrs { testid: Some("train-status"), state: Some(state), ..BarAttrs::default() }, label)
    }

    fn view_run(&self, _cb: &Callback<TrainMsg>) -> Html {
        let Some(r) = &self.run else { return html! {} };
        let last = r.history.last();
        let losses = r.loss_names.iter().enumerate().map(|(i, name)| {
            let v = last.and_then(|s| s.losses.get(i)).copied();
            html! {
                <span class="loss" data-testid={format!("train-loss-{name}")} data-value={v.map(|v| v.to_string()).unwrap_or_default()}
                    style={format!("color: {}", COLOURS[i % COLOURS.len()])}>
                    { format!("{name}: {}", v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into())) }
                </span>
            }
        });
        let sample = r.sample.as_ref().map(|(it, panels)| {
            let figs = panels.iter().enumerate().map(|(k, (label, img))| {
                html! {
                    <figure>
                        <ImageCanvas id={format!("train-sample-{k}")} testid={format!("train-sample-{k}")} image={img.clone()} />
                        <figcaption>{ label }</figcaption>
                    </figure>
                }
            });
            html! {
                <div class="pair" data-testid="train-sample" data-iteration={it.to_string()}>
                    { for figs }
                    <p class="hint">{ format!("Sample after iteration {it}") }</p>
                </div>
            }
        });
        html! {
            <div class="run" data-testid="train-run">
                <p class="hint" data-testid="train-summary">{ &r.summary }</p>
                <div class="row">
                    <span data-testid="train-iteration" data-iteration={r.iteration.to_string()} data-total={r.total.to_string()}>
                        { format!("Iteration {} of {}", r.iteration, r.total) }
                    </span>
                    <progress max={r.total.max(1).to_string()} value={r.iteration.to_string()} />
                    <span data-testid="train-rate" data-value={r.rate.to_string()}>{ format!("{:.2} it/s", r.rate) }</span>
                    <span class="hint" data-testid="train-saved-at" data-iteration={r.saved.map(|s| s.to_string()).unwrap_or_default()}>
                        { r.saved.map(|s| format!("saved at iteration {s}")).unwrap_or_else(|| "not saved yet".into()) }
                    </span>
                </div>
                <div class="row losses">{ for losses }</div>
                <div class="pair">
                    <figure>{ loss_chart(&r.loss_names, &r.history) }
                        <figcaption>{ "log10 of each loss term over the iterations" }</figcaption></figure>
                </div>
                { for sample }
            </div>
        }
    }
}

/// An inline SVG of log10 of every loss term over the iterations (non-positive values,
/// such as a switched-off identity loss, are left out).
fn loss_chart(names: &[String], history: &[StepRecord]) -> Html {
    const W: f64 = 360.0;
    const H: f64 = 150.0;
    const PAD: f64 = 6.0;
    let stride = history.len().div_ceil(CHART_POINTS).max(1);
    let mut sampled: Vec<&StepRecord> = history.iter().step_by(stride).collect();
    if let Some(last) = history.last()
        && sampled.last().map(|s| s.iteration) != Some(last.iteration)
    {
        sampled.push(last);
    }
    let logs: Vec<Vec<(usize, f64)>> = (0..names.len())
        .map(|i| {
            sampled
                .iter()
                .filter_map(|s| s.losses.get(i).copied().filter(|v| v.is_finite() && *v > 0.0).map(|v| (s.iteration, v.log10())))
                .collect()
        })
        .collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, v) in logs.iter().flatten() {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-6 {
        hi = lo + 1.0;
    }
    let first = sampled.first().map_or(0, |s| s.iteration) as f64;
    let last = sampled.last().map_or(1, |s| s.iteration) as f64;
    let span = (last - first).max(1.0);
    let x = |s: usize| PAD + (s as f64 - first) / span * (W - 2.0 * PAD);
    let y = |v: f64| PAD + (hi - v) / (hi - lo) * (H - 2.0 * PAD);
    let lines = names.iter().zip(&logs).enumerate().map(|(i, (name, pts))| {
        let points = pts.iter().map(|&(s, v)| format!("{:.1},{:.1}", x(s), y(v))).collect::<Vec<_>>().join(" ");
        html! {
            <polyline data-series={name.clone()} data-points={pts.len().to_string()} points={points}
                fill="none" stroke={COLOURS[i % COLOURS.len()]} stroke-width="1.3" />
        }
    });
    html! {
        <svg class="loss-chart" data-testid="train-chart" data-iterations={history.len().to_string()} viewBox={format!("0 0 {W} {H}")}
            role="img" aria-label="training losses over the iterations (log scale)">
            <rect x="0" y="0" width={W.to_string()} height={H.to_string()} fill="#111" />
            <text x={PAD.to_string()} y="12" fill="#9aa0aa" font-size="10">{ format!("10^{hi:.1}") }</text>
            <text x={PAD.to_string()} y={(H - 4.0).to_string()} fill="#9aa0aa" font-size="10">{ format!("10^{lo:.1}") }</text>
            { for lines }
        </svg>
    }
}
