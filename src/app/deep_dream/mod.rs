//! The Deep Dream section: an image, the VGG19 weights (shared with Style Transfer,
//! [`super::vgg`]), the settings of `ai-art dream` ([`form`]), and a live view of the dream
//! ([`view`]: step, octave, objective, speed, preview, a chart of the objective) with Pause,
//! Resume and Cancel. Every tensor operation runs in the worker (`src/worker/deep_dream.rs`,
//! on `src/techniques/deep_dream/`); this holds the state.

mod form;
mod view;

use super::vgg::{VggChooser, VggInfo, VggMsg};
use super::widgets::{JobControl, Shared};
use super::{Job, JobIds, Section, abort_job, own_event};
use crate::protocol::{ControlAction, DreamJob, DreamStep, ImagePayload, JobEvent, JobId, NamedImage, Request};
use form::{Field, Form};
use std::rc::Rc;

#[derive(PartialEq)]
enum JobKind {
    LoadVgg,
    Run,
}

/// What a job of this section is, and its Pause / Resume / Cancel state.
struct Task {
    kind: JobKind,
    control: JobControl,
}

/// What a dream shows while it goes and after it ends.
#[derive(Default)]
struct DreamView {
    /// The octaves' sizes, `[height, width]`, smallest first.
    sizes: Vec<[u32; 2]>,
    steps: u32,
    /// Every step so far.
    history: Vec<DreamStep>,
    rate: f64,
    preview: Option<(u32, Shared<ImagePayload>)>,
}

struct Output {
    image: Shared<ImagePayload>,
    name: String,
    steps_done: u32,
    millis: f64,
    note: Option<String>,
    cancelled: bool,
}

pub enum DeepDreamMsg {
    Image { name: String, bytes: Vec<u8> },
    Vgg(VggMsg),
    Set(Field, String),
    Start,
    Control(ControlAction),
    FileError(String),
}

/// The Deep Dream section's state.
#[derive(Default)]
pub struct DeepDream {
    image: Option<(String, Shared<Vec<u8>>)>,
    vgg: VggChooser,
    form: Form,
    job: Option<Job<Task>>,
    dream: Option<DreamView>,
    result: Option<Output>,
    error: Option<String>,
}

impl DeepDream {
    fn new_job(&mut self, id: JobId, kind: JobKind) {
        self.error = None;
        self.job = Some(Job::sent(id, "sending to the worker", Task { kind, control: JobControl::default() }));
    }

    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: DeepDreamMsg, ids: &mut JobIds) -> Option<Request> {
        match msg {
            DeepDreamMsg::Image { name, bytes } => self.image = Some((name, Shared(Rc::new(bytes)))),
            DeepDreamMsg::Vgg(m) => match self.vgg.update(m, ids) {
                Ok(Some((id, req))) => {
                    self.new_job(id, JobKind::LoadVgg);
                    return Some(req);
                }
                Ok(None) => {}
                Err(e) => self.error = Some(e),
            },
            DeepDreamMsg::Set(field, v) => self.form.set(field, v),
            DeepDreamMsg::FileError(e) => self.error = Some(e),
            DeepDreamMsg::Start => return self.start(ids.fresh()),
            DeepDreamMsg::Control(action) => {
                let job = self.job.as_mut().filter(|j| j.about.kind == JobKind::Run)?;
                return Some(job.about.control.request(job.id, action));
            }
        }
        None
    }

    fn start(&mut self, id: JobId) -> Option<Request> {
        let job = (|| {
            let (name, bytes) = self.image.clone().ok_or("choose an image first")?;
            if self.vgg.info.is_none() {
                return Err("load the VGG19 weights first".to_string());
            }
            let (settings, size, preview_every) = self.form.settings()?;
            Ok(DreamJob { image: NamedImage { name, bytes: (*bytes.0).clone() }, settings, size, preview_every })
        })();
        match job {
            Ok(job) => {
                self.new_job(id, JobKind::Run);
                self.dream = Some(DreamView { steps: job.settings.total_steps() as u32, ..DreamView::default() });
                Some(Request::Dream { id, job })
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl Section for DeepDream {
    fn on_event(&mut self, id: JobId, ev: JobEvent) {
        let Some(ev) = own_event(&mut self.job, &mut self.error, id, ev) else { return };
        if let Some(info) = VggInfo::from_event(&ev) {
            self.job = None;
            self.vgg.info = Some(info);
            return;
        }
        let Some(d) = self.dream.as_mut() else { return };
        match ev {
            JobEvent::DreamStarted { sizes, steps } => {
                if let Some(j) = self.job.as_mut() {
                    j.progress.fetched = None;
                }
                d.sizes = sizes;
                d.steps = steps;
            }
            JobEvent::DreamSteps { steps, rate } => {
                d.history.extend(steps);
                d.rate = rate;
            }
            JobEvent::DreamPreview { step, image } => d.preview = Some((step, Shared(Rc::new(image)))),
            JobEvent::Paused { paused } => {
                if let Some(j) = self.job.as_mut() {
                    j.about.control.on_paused(paused);
                }
            }
            JobEvent::DreamDone { image, steps_done, cancelled, millis, note } => {
                self.job = None;
                let image = Shared(Rc::new(image));
                d.preview = Some((steps_done, image.clone()));
                let name = self.image.as_ref().map(|(n, _)| n.clone()).unwrap_or_default();
                self.result = Some(Output { image, name, steps_done, millis, note, cancelled });
            }
            // Not sent for this section's jobs.
            _ => {}
        }
    }

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
