//! The Training section: the user's images (Pix2Pix: side-by-side AB images or two sets
//! matched by name; CycleGAN: two unpaired sets; a fast style network: photos and one style
//! image, with the VGG19 weights of [`super::vgg`]), the settings of `ai-art train`
//! ([`form`]), optional pretrained generators to fine-tune, and a live view of the run
//! ([`view`]: iteration, it/s, each loss term on a chart, sample translations) with Pause,
//! Resume and Stop. The run is kept in the browser's storage by the worker
//! (`src/worker/training.rs`, on `src/techniques/training/`); after a reload this section
//! offers to resume it, and exports the generators and the whole state.

mod form;
mod view;

use super::vgg::{VggChooser, VggInfo, VggMsg};
use super::widgets::{JobControl, Shared};
use super::{Job, JobIds, Section, abort_job};
use crate::protocol::{ControlAction, ImagePayload, JobEvent, JobId, Request, TrainExport, TrainJob};
use crate::techniques::training::{DatasetFiles, Model, NamedFile, StateSummary, StepRecord};
use form::{Field, Form};
use std::rc::Rc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Set {
    /// CycleGAN's A set, Pix2Pix's A images matched by name, a fast style network's photos.
    A,
    /// CycleGAN's B set, Pix2Pix's B images, a fast style network's one style image.
    B,
    /// Pix2Pix's side-by-side AB images.
    Ab,
}

pub enum TrainingMsg {
    Model(Model),
    ByName(bool),
    AddFile { set: Set, name: String, bytes: Vec<u8> },
    ClearFiles(Set),
    InitFile { index: usize, name: String, bytes: Vec<u8> },
    /// A file of junyanz's checkpoints folder (`latest_net_D_A.pth`...): it goes to the
    /// network its name names.
    JunyanzFile { name: String, bytes: Vec<u8> },
    ClearInit(usize),
    Set(Field, String),
    Dropout(bool),
    FileError(String),
    Start,
    Resume,
    /// Pause, Resume or Stop the run.
    Control(ControlAction),
    Discard,
    Export(TrainExport),
    /// The device is ready: ask the worker whether a run is kept.
    Query,
    Vgg(VggMsg),
}

#[derive(PartialEq)]
enum Kind {
    Run,
    Other,
}

/// What a job of this section is, and its Pause / Resume / Cancel state.
struct Task {
    kind: Kind,
    control: JobControl,
}

/// A labelled sample image.
type Panel = (String, Shared<ImagePayload>);

struct RunView {
    model: Model,
    loss_names: Vec<String>,
    iteration: usize,
    total: usize,
    rate: f64,
    history: Vec<StepRecord>,
    /// The last sample: its iteration and labelled panels.
    sample: Option<(usize, Vec<Panel>)>,
    saved: Option<usize>,
    summary: String,
    /// What a device loss cost the run, when it had one.
    recovered: Option<String>,
}

/// The Training section's state.
pub struct Training {
    model: Model,
    by_name: bool,
    files: [Vec<NamedFile>; 3],
    /// Pretrained networks, by [`Model::network_names`] index: generators to fine-tune, or
    /// every network of a run from junyanz's trainer (its `latest_net_*.pth`).
    init: [Option<NamedFile>; 4],
    form: Form,
    job: Option<Job<Task>>,
    run: Option<RunView>,
    saved: Option<StateSummary>,
    note: Option<String>,
    error: Option<String>,
    export: Option<(String, Shared<Vec<u8>>)>,
    /// The VGG19 weights a fast style network's loss reads.
    vgg: VggChooser,
}

fn set_index(set: Set) -> usize {
    match set {
        Set::A => 0,
        Set::B => 1,
        Set::Ab => 2,
    }
}

impl Default for Training {
    fn default() -> Self {
        Training {
            model: Model::Pix2Pix,
            by_name: false,
            files: Default::default(),
            init: Default::default(),
            form: Form::for_model(Model::Pix2Pix),
            job: None,
            run: None,
            saved: None,
            note: None,
            error: None,
            export: None,
            vgg: VggChooser::default(),
        }
    }
}

impl Training {
    fn files(&self) -> Result<DatasetFiles, String> {
        let [a, b, ab] = &self.files;
        match self.model {
            Model::Pix2Pix if !self.by_name => {
                if ab.is_empty() {
                    return Err("add some side-by-side AB images (A on the left, B on the right)".into());
                }
                Ok(DatasetFiles::AlignedAb(ab.clone()))
            }
            Model::FastStyle => match b.first() {
                _ if a.is_empty() => Err("add some photos to learn from".into()),
                Some(style) => Ok(DatasetFiles::PhotosAndStyle { photos: a.clone(), style: style.clone() }),
                None => Err("add the style image (a painting...)".into()),
            },
            _ if a.is_empty() || b.is_empty() => Err("add images to both sets, A and B".into()),
            Model::Pix2Pix => Ok(DatasetFiles::PairedByName { a: a.clone(), b: b.clone() }),
            Model::CycleGan => Ok(DatasetFiles::Unpaired { a: a.clone(), b: b.clone() }),
        }
    }

    fn new_job(&mut self, id: JobId, kind: Kind, stage: &str) {
        self.error = None;
        self.job = Some(Job::sent(id, stage, Task { kind, control: JobControl::default() }));
    }

    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: TrainingMsg, ids: &mut JobIds) -> Option<Request> {
        match msg {
            TrainingMsg::Model(m) => {
                self.model = m;
                self.form = Form::for_model(m);
                self.init = Default::default();
            }
            TrainingMsg::ByName(b) => self.by_name = b,
            TrainingMsg::AddFile { set, name, bytes } => {
                let files = &mut self.files[set_index(set)];
                // A fast style network learns one style: a new style image replaces the last.
                if self.model == Model::FastStyle && set == Set::B {
                    files.clear();
                }
                files.retain(|f| f.name != name);
                files.push(NamedFile { name, bytes });
            }
            TrainingMsg::ClearFiles(set) => self.files[set_index(set)].clear(),
            TrainingMsg::InitFile { index, name, bytes } => self.init[index.min(3)] = Some(NamedFile { name, bytes }),
            TrainingMsg::ClearInit(i) => self.init[i.min(3)] = None,
            TrainingMsg::JunyanzFile { name, bytes } => {
                let networks = self.model.network_names();
                let net = name.strip_prefix("latest_net_").and_then(|n| n.strip_suffix(".pth"));
                match net.and_then(|n| networks.iter().position(|m| *m == n)) {
                    Some(i) => self.init[i] = Some(NamedFile { name, bytes }),
                    None => {
                        self.error = Some(format!(
                            "{name}: not one of a {} run's checkpoints ({})",
                            self.model.label(),
                            networks.iter().map(|n| format!("latest_net_{n}.pth")).collect::<Vec<_>>().join(", ")
                        ))
                    }
                }
            }
            TrainingMsg::Dropout(d) => self.form.dropout = d,
            TrainingMsg::Set(field, v) => self.form.set(field, v),
            TrainingMsg::FileError(e) => self.error = Some(e),
            TrainingMsg::Start => {
                let job = (|| {
                    let (save_every_s, sample_every) = self.form.intervals()?;
                    let n = self.model.network_names().len();
                    Ok::<_, String>(TrainJob {
                        spec: self.form.spec(self.model)?,
                        files: self.files()?,
                        init: self.init.iter().take(n).cloned().collect(),
                        save_every_s,
                        sample_every,
                    })
                })();
                match job {
                    Ok(job) => {
                        let id = ids.fresh();
                        self.new_job(id, Kind::Run, "sending the images to the worker");
                        self.run = None;
                        self.note = None;
                        self.export = None;
                        return Some(Request::Train { id, job });
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            TrainingMsg::Resume => match self.form.intervals() {
                Ok((save_every_s, sample_every)) => {
                    let id = ids.fresh();
                    self.new_job(id, Kind::Run, "reading the saved run");
                    self.run = None;
                    self.note = None;
                    return Some(Request::ResumeTraining { id, save_every_s, sample_every });
                }
                Err(e) => self.error = Some(e),
            },
            TrainingMsg::Control(action) => {
                let j = self.job.as_mut().filter(|j| j.about.kind == Kind::Run)?;
                return Some(j.about.control.request(j.id, action));
            }
            TrainingMsg::Discard => {
                let id = ids.fresh();
                self.new_job(id, Kind::Other, "forgetting the saved run");
                return Some(Request::DiscardTraining { id });
            }
            TrainingMsg::Export(what) => {
                // Answered from storage, even while a run goes on: not a job.
                let id = ids.fresh();
                self.error = None;
                return Some(Request::ExportTraining { id, what });
            }
            TrainingMsg::Query => {
                return Some(Request::QuerySavedTraining { id: ids.fresh() });
            }
            TrainingMsg::Vgg(m) => match self.vgg.update(m, ids) {
                Ok(Some((id, req))) => {
                    self.new_job(id, Kind::Other, "loading VGG19");
                    return Some(req);
                }
                Ok(None) => {}
                Err(e) => self.error = Some(e),
            },
        }
        None
    }
}

impl Section for Training {
    /// Events about the running job, and the answers to Query and Export (not jobs: they
    /// are answered while a run goes on).
    fn on_event(&mut self, id: JobId, ev: JobEvent) {
        let current = |job: &Option<Job<Task>>, id: JobId| job.as_ref().is_some_and(|j| j.id == id);
        if let Some(info) = VggInfo::from_event(&ev) {
            if current(&self.job, id) {
                self.job = None;
            }
            self.vgg.info = Some(info);
            return;
        }
        match ev {
            JobEvent::Progress { .. } | JobEvent::Fetching { .. } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.id == id) {
                    j.progress.on_event(&ev);
                }
            }
            JobEvent::TrainingStarted { spec, loss_names, iteration, total, summary } if current(&self.job, id) => {
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
                    recovered: None,
                });
                self.saved = None;
            }
            JobEvent::TrainingSteps { steps, rate, .. } => {
                if let Some(r) = &mut self.run {
                    if let Some(last) = steps.last() {
                        r.iteration = last.iteration;
                    }
                    r.rate = rate;
                    r.history.extend(steps);
                }
            }
            JobEvent::Recovered { step, note } => {
                if let Some(r) = &mut self.run {
                    r.history.retain(|s| s.iteration <= step);
                    r.iteration = step;
                    r.recovered = Some(note);
                }
            }
            JobEvent::TrainingSample { iteration, panels, .. } => {
                if let Some(r) = &mut self.run {
                    r.sample = Some((iteration, panels.into_iter().map(|(l, p)| (l, Shared(Rc::new(p)))).collect()));
                }
            }
            JobEvent::Paused { paused } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.id == id) {
                    j.about.control.on_paused(paused);
                }
            }
            JobEvent::TrainingSaved { iteration, .. } => {
                if let Some(r) = &mut self.run {
                    r.saved = Some(iteration);
                }
            }
            JobEvent::TrainingDone { iteration, total, stopped, note } => {
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
            JobEvent::SavedTraining { summary } => {
                if current(&self.job, id) {
                    self.job = None;
                }
                self.saved = summary;
                if self.saved.is_none() {
                    self.run = None;
                    self.export = None;
                }
            }
            JobEvent::TrainingExported { filename, bytes, .. } => self.export = Some((filename, Shared(Rc::new(bytes)))),
            JobEvent::Failed { message } => {
                if current(&self.job, id) {
                    self.job = None;
                }
                self.error = Some(message);
            }
            _ => {}
        }
    }

    /// A failure outside any job (the worker broke): nothing runs any more.
    fn abort(&mut self, message: &str) {
        abort_job(&mut self.job, &mut self.error, message);
    }

    fn device_replaced(&mut self, worker: bool) {
        self.vgg.device_replaced(worker);
    }

    fn vgg_loaded(&mut self, info: &VggInfo) {
        self.vgg.loaded(info);
    }
}
