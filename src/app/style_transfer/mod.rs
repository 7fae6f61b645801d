//! The Style Transfer section: content and style images, VGG19 weights (a dropped file or a
//! URL read with range requests), the settings of `ai-art stylize` ([`form`]), and a live
//! view of the run ([`view`]: step, losses, speed, preview, a loss chart) with Pause, Resume
//! and Cancel. Every tensor operation runs in the worker (`src/worker/style_transfer.rs`,
//! on `src/techniques/style_transfer.rs`); this holds the state.

mod form;
mod view;

use super::vgg::{VggChooser, VggInfo, VggMsg};
use super::widgets::{JobControl, Shared};
use super::{Job, JobIds, Section, abort_job, own_event, take_next_step};
use crate::protocol::{ControlAction, ImagePayload, JobEvent, JobId, NamedImage, Request, StyleTransferJob};
use crate::techniques::style_transfer::Losses;
use super::widgets::parse_f64;
use form::{Field, Form};
use std::rc::Rc;

struct StyleEntry {
    name: String,
    bytes: Shared<Vec<u8>>,
    weight: String,
}

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

/// What a run shows while it goes and after it ends.
struct RunView {
    width: u32,
    height: u32,
    steps: u32,
    step: u32,
    losses: Option<Losses>,
    rate: f64,
    /// (step, losses) of every step.
    history: Vec<(u32, Losses)>,
    /// alpha, beta, gamma of the run (the chart shows weighted terms).
    weights: [f64; 3],
    preview: Option<(u32, Shared<ImagePayload>)>,
    /// What a device loss cost the run, when it had one.
    recovered: Option<String>,
}

struct Output {
    image: Shared<ImagePayload>,
    name: String,
    steps_done: u32,
    millis: f64,
    note: Option<String>,
    cancelled: bool,
}

pub enum StyleTransferMsg {
    Content { name: String, bytes: Vec<u8> },
    AddStyle { name: String, bytes: Vec<u8> },
    RemoveStyle(usize),
    StyleWeight(usize, String),
    Vgg(VggMsg),
    /// The start view's demo: these images, then the weights if none are loaded, then a run.
    Demo { content: (String, Vec<u8>), style: (String, Vec<u8>) },
    Set(Field, String),
    Preserve(bool),
    Start,
    Control(ControlAction),
    FileError(String),
}

/// The Style Transfer section's state.
#[derive(Default)]
pub struct StyleTransfer {
    content: Option<(String, Shared<Vec<u8>>)>,
    styles: Vec<StyleEntry>,
    vgg: VggChooser,
    form: Form,
    job: Option<Job<Task>>,
    run: Option<RunView>,
    result: Option<Output>,
    error: Option<String>,
    /// A demo is on: start as soon as the VGG19 weights it loads are in.
    start_after_load: bool,
}

impl StyleTransfer {
    fn new_job(&mut self, id: JobId, kind: JobKind, stage: &str) {
        self.error = None;
        self.job = Some(Job::sent(id, stage, Task { kind, control: JobControl::default() }));
    }

    /// Handles the user's input; returns the request to send to the worker, if any.
    pub fn update(&mut self, msg: StyleTransferMsg, ids: &mut JobIds) -> Option<Request> {
        match msg {
            StyleTransferMsg::Content { name, bytes } => self.content = Some((name, Shared(Rc::new(bytes)))),
            StyleTransferMsg::AddStyle { name, bytes } => {
                self.styles.push(StyleEntry { name, bytes: Shared(Rc::new(bytes)), weight: "1".into() })
            }
            StyleTransferMsg::RemoveStyle(i) => {
                if i < self.styles.len() {
                    self.styles.remove(i);
                }
            }
            StyleTransferMsg::StyleWeight(i, w) => {
                if let Some(s) = self.styles.get_mut(i) {
                    s.weight = w;
                }
            }
            StyleTransferMsg::Vgg(m) => match self.vgg.update(m, ids) {
                Ok(Some((id, req))) => {
                    self.new_job(id, JobKind::LoadVgg, "sending to the worker");
                    return Some(req);
                }
                Ok(None) => {}
                Err(e) => self.error = Some(e),
            },
            StyleTransferMsg::Demo { content: (name, bytes), style } => {
                self.content = Some((name, Shared(Rc::new(bytes))));
                self.styles = vec![StyleEntry { name: style.0, bytes: Shared(Rc::new(style.1)), weight: "1".into() }];
                if self.job.is_some() {
                    return None;
                }
                if self.vgg.info.is_none() {
                    self.start_after_load = true;
                    return self.update(StyleTransferMsg::Vgg(VggMsg::LoadHub), ids);
                }
                return self.start(ids.fresh());
            }
            StyleTransferMsg::Set(field, v) => self.form.set(field, v),
            StyleTransferMsg::Preserve(p) => self.form.preserve = p,
            StyleTransferMsg::FileError(e) => self.error = Some(e),
            StyleTransferMsg::Start => return self.start(ids.fresh()),
            StyleTransferMsg::Control(action) => {
                let job = self.job.as_mut().filter(|j| j.about.kind == JobKind::Run)?;
                return Some(job.about.control.request(job.id, action));
            }
        }
        None
    }

    fn start(&mut self, id: JobId) -> Option<Request> {
        let result = (|| {
            let (name, bytes) = self.content.clone().ok_or("choose a content image first")?;
            if self.styles.is_empty() {
                return Err("add at least one style image".to_string());
            }
            if self.vgg.info.is_none() {
                return Err("load the VGG19 weights first".to_string());
            }
            let styles = self
                .styles
                .iter()
                .map(|s| {
                    let w = parse_f64(&format!("weight of {}", s.name), &s.weight, None)?;
                    Ok((NamedImage { name: s.name.clone(), bytes: (*s.bytes.0).clone() }, w))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let settings = self.form.settings()?;
            Ok((StyleTransferJob { content: NamedImage { name, bytes: (*bytes.0).clone() }, styles, settings }, bytes))
        })();
        match result {
            Ok((job, _)) => {
                let c = &job.settings.config;
                let weights = [c.content_weight, c.style_weight, c.tv_weight];
                self.new_job(id, JobKind::Run, "sending to the worker");
                self.run = Some(RunView {
                    width: 0,
                    height: 0,
                    steps: job.settings.steps,
                    step: 0,
                    losses: None,
                    rate: 0.0,
                    history: Vec::new(),
                    weights,
                    preview: None,
                    recovered: None,
                });
                Some(Request::StyleTransfer { id, job })
            }
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl Section for StyleTransfer {
    fn on_event(&mut self, id: JobId, ev: JobEvent) {
        let Some(ev) = own_event(&mut self.job, &mut self.error, id, ev) else { return };
        if let Some(info) = VggInfo::from_event(&ev) {
            self.job = None;
            self.error = None;
            self.vgg.info = Some(info);
            return;
        }
        match ev {
            JobEvent::StyleTransferStarted { width, height, steps, .. } => {
                if let Some(j) = self.job.as_mut() {
                    j.progress.fetched = None;
                }
                if let Some(r) = self.run.as_mut() {
                    r.width = width;
                    r.height = height;
                    r.steps = steps;
                }
            }
            JobEvent::StyleTransferSteps { steps, rate, .. } => {
                if let Some(r) = self.run.as_mut() {
                    if let Some(last) = steps.last() {
                        r.step = last.step;
                        r.losses = Some(last.losses);
                    }
                    r.rate = rate;
                    r.history.extend(steps.iter().map(|s| (s.step, s.losses)));
                }
            }
            JobEvent::Recovered { step, note } => {
                if let Some(r) = self.run.as_mut() {
                    let step = step as u32;
                    r.history.retain(|(s, _)| *s <= step);
                    r.step = step;
                    r.recovered = Some(note);
                }
            }
            JobEvent::StyleTransferPreview { step, image, .. } => {
                if let Some(r) = self.run.as_mut() {
                    r.preview = Some((step, Shared(Rc::new(image))));
                }
            }
            JobEvent::Paused { paused } => {
                if let Some(j) = self.job.as_mut() {
                    j.about.control.on_paused(paused);
                }
            }
            JobEvent::StyleTransferDone { image, steps_done, cancelled, millis, note, .. } => {
                self.job = None;
                self.error = None;
                let image = Shared(Rc::new(image));
                if let Some(r) = self.run.as_mut() {
                    r.preview = Some((steps_done, image.clone()));
                }
                let name = self.content.as_ref().map(|(n, _)| n.clone()).unwrap_or_default();
                self.result = Some(Output { image, name, steps_done, millis, note, cancelled });
            }
            // Not sent for this section's jobs.
            _ => {}
        }
    }

    fn abort(&mut self, message: &str) {
        self.start_after_load = false;
        abort_job(&mut self.job, &mut self.error, message);
    }

    fn device_replaced(&mut self, worker: bool) {
        self.vgg.device_replaced(worker);
    }

    fn vgg_loaded(&mut self, info: &VggInfo) {
        self.vgg.loaded(info);
    }

    fn follow_up(&mut self, ids: &mut JobIds) -> Option<Request> {
        // Failed weights are already said by the section.
        take_next_step(&mut self.start_after_load, &self.job, self.vgg.info.is_some()).then(|| self.start(ids.fresh()))?
    }
}
