//! The training job: Pix2Pix, CycleGAN or a fast style network (with the VGG19 weights the
//! worker holds) trained in the worker on the user's images, with
//! each iteration's losses streamed, a sample translation every few iterations, Pause /
//! Resume / Stop between iterations, and the whole run kept in the browser's storage.
//!
//! Storage is the Cache API (cache [`CACHE`]): the images once, when the run starts
//! ([`DATA_KEY`], prepared at the crop's load size), and the state
//! ([`crate::techniques::training::session`]) every `save_every_s` seconds, on pause, on stop
//! and at the end ([`STATE_KEY`]). Each `put` replaces its entry whole, and both carry the
//! run's id, so a reload finds either the last complete state or none. After a reload,
//! [`Request::ResumeTraining`](crate::protocol::Request) rebuilds the run from them and it
//! continues exactly where it stopped.

use super::device::WorkerDevice;
use super::job::{RunControl, StepLoop, sleep};
use super::vgg::VggWeights;
use super::{fetch, now_ms, post_job, preview, progress};
use crate::device::Compute;
use crate::models::Pooling;
use crate::models::vgg::Vgg19;
use crate::protocol::{JobEvent, JobId, TrainExport, TrainJob};
use crate::techniques::data::TrainData;
use crate::techniques::fast_style::FastStyleSettings;
use crate::techniques::training::Model;
use crate::techniques::training::session::{self, Session, StepRecord};
use crate::weights;

/// The Cache API cache that keeps the training run.
pub const CACHE: &str = "ai-art-training-v1";
const STATE_KEY: &str = "training/state.safetensors";
const DATA_KEY: &str = "training/data.safetensors";

async fn storage() -> Result<fetch::ModelCache, String> {
    fetch::open_named(CACHE).await.ok_or_else(|| {
        "this browser does not let the page keep data (private browsing?): training cannot be saved or resumed".to_string()
    })
}

/// The kept run's state, if any.
async fn saved_state() -> Result<Option<Vec<u8>>, String> {
    Ok(storage().await?.get(&fetch::absolute(STATE_KEY)).await)
}

/// What run is kept, for the page to offer resuming it.
pub async fn query() -> JobEvent {
    let summary = match saved_state().await {
        Ok(Some(state)) => session::state_summary(&state).ok(),
        _ => None,
    };
    JobEvent::SavedTraining { summary }
}

/// Forgets the kept run.
pub async fn discard() -> JobEvent {
    if let Ok(cache) = storage().await {
        cache.delete(&fetch::absolute(STATE_KEY)).await;
        cache.delete(&fetch::absolute(DATA_KEY)).await;
    }
    JobEvent::SavedTraining { summary: None }
}

/// A file from the kept run (generators are copied out of the state, no GPU needed).
pub async fn export(what: TrainExport) -> Result<JobEvent, String> {
    let state = saved_state().await?.ok_or("no training run is saved yet: train for a while first")?;
    let summary = session::state_summary(&state).map_err(|e| e.to_string())?;
    let stem = format!("{}-{}-iter{}", summary.spec.model.id(), summary.run_id, summary.iteration);
    Ok(match what {
        TrainExport::State => JobEvent::TrainingExported { filename: format!("{stem}-state.safetensors"), bytes: state },
        TrainExport::Generator(name) => {
            let bytes = session::generator_from_state(&state, &name).map_err(|e| e.to_string())?;
            JobEvent::TrainingExported { filename: format!("{stem}-{name}.safetensors"), bytes }
        }
        TrainExport::Junyanz => {
            // The experiment's --name is the folder's, as junyanz's checkpoints/<name>/.
            let name = format!("ai-art-{}", summary.run_id);
            let files = session::junyanz_folder(&state, &name).map_err(|e| e.to_string())?;
            let bytes = crate::weights::torch_save::zip_folder(&name, &files).map_err(|e| e.to_string())?;
            JobEvent::TrainingExported { filename: format!("{stem}-junyanz.zip"), bytes }
        }
    })
}

/// VGG19 on `compute`, for a fast style run's loss (none for the GANs).
async fn perceptual(id: JobId, model: Model, vgg: &mut Option<VggWeights>, compute: &Compute) -> Result<Option<Vgg19>, String> {
    if model != Model::FastStyle {
        return Ok(None);
    }
    let weights = vgg.as_mut().ok_or(
        "a fast style network learns from VGG19's features: load VGG19's weights first (in this tab, or in Style Transfer)",
    )?;
    weights.network(id, FastStyleSettings::default().deepest(), Pooling::Max, compute, &|| false).await.map(Some)
}

/// Starts a new run from the user's files; keeps its images, then trains. `vgg`: the
/// weights the worker holds, which a fast style network's loss needs.
pub async fn start(id: JobId, job: TrainJob, device: &WorkerDevice, control: &RunControl, vgg: &mut Option<VggWeights>) -> Result<JobEvent, String> {
    control.start(id);
    let res = async {
        let compute = device.get()?;
        const STAGES: u32 = 3;
        job.spec.check().map_err(|e| e.to_string())?;
        progress(id, 0, STAGES, "decoding the images");
        let (data, report) = job.files.decode(job.spec.load_size()).map_err(|e| e.to_string())?;
        let mut init = Vec::new();
        for file in job.init {
            init.push(match file {
                Some(f) => Some(weights::load_state_dict(&f.bytes).map_err(|e| format!("{}: {e}", f.name))?),
                None => None,
            });
        }
        progress(id, 1, STAGES, "building the networks");
        let run_id = format!("{:x}", js_sys::Date::now() as u64);
        let net = perceptual(id, job.spec.model, vgg, &compute).await?;
        let session = Session::with_vgg(job.spec, data, init, net, &compute.device.clone().autodiff(), &run_id).map_err(|e| e.to_string())?;
        progress(id, 2, STAGES, "keeping the images in the browser's storage");
        let cache = storage().await?;
        // A new run replaces the kept one: its state goes first, so a reload in between
        // never pairs the old state with the new images.
        cache.delete(&fetch::absolute(STATE_KEY)).await;
        let bytes = session.data().to_bytes(&run_id).map_err(|e| e.to_string())?;
        cache
            .try_put(&fetch::absolute(DATA_KEY), &bytes)
            .await
            .map_err(|e| format!("could not keep the training images in the browser's storage ({e}); use fewer or smaller images"))?;
        progress(id, STAGES, STAGES, "training");
        let pace = Pace { save_every_s: job.save_every_s, sample_every: job.sample_every.max(1) };
        run(id, session, None, report.summary(), pace, control, &cache, (device, compute, vgg)).await
    }
    .await;
    control.finish();
    res
}

/// Continues the kept run.
pub async fn resume(
    id: JobId,
    device: &WorkerDevice,
    control: &RunControl,
    (save_every_s, sample_every): (u32, u32),
    vgg: &mut Option<VggWeights>,
) -> Result<JobEvent, String> {
    control.start(id);
    let res = async {
        let compute = device.get()?;
        progress(id, 0, 2, "reading the saved run");
        let cache = storage().await?;
        let state = cache.get(&fetch::absolute(STATE_KEY)).await.ok_or("no saved training run to resume")?;
        let data = cache.get(&fetch::absolute(DATA_KEY)).await.ok_or("the saved run's images are missing from the browser's storage")?;
        let (data, data_run) = TrainData::from_bytes(&data).map_err(|e| e.to_string())?;
        let summary = session::state_summary(&state).map_err(|e| e.to_string())?;
        if data_run != summary.run_id {
            return Err("the saved images belong to another run: start a new one".into());
        }
        progress(id, 1, 2, "rebuilding the networks and optimisers");
        let net = perceptual(id, summary.spec.model, vgg, &compute).await?;
        let session = Session::resume_with_vgg(&state, data, net, &compute.device.clone().autodiff()).map_err(|e| e.to_string())?;
        let note = format!("resumed at iteration {} of {}", session.iteration(), session.total_iterations());
        let saved = Some(session.iteration());
        let pace = Pace { save_every_s, sample_every: sample_every.max(1) };
        run(id, session, saved, note, pace, control, &cache, (device, compute, vgg)).await
    }
    .await;
    control.finish();
    res
}

/// What is kept of a run whose last checkpoint is `saved` (an iteration, `None` before the
/// first), for a message that ends it.
fn kept(saved: Option<usize>) -> String {
    match saved {
        Some(i) => format!("the run is kept as of iteration {i}, its last checkpoint, and can be resumed from there"),
        None => "no checkpoint of this run was kept yet".into(),
    }
}

/// An error once the GPU has run out of memory under the run: what was read since is not to
/// be trusted (see [`Compute::out_of_memory`]), so nothing more is saved.
fn exhausted(compute: &Compute, session: &Session, saved: Option<usize>) -> Result<(), String> {
    match compute.out_of_memory() {
        Some(_) => Err(format!("iteration {} ran out of GPU memory. {}", session.iteration(), capitalised(&kept(saved)))),
        None => Ok(()),
    }
}

/// `s` with its first letter in capitals.
fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Saves the run; `saved` is the iteration of the last checkpoint kept, updated on success.
/// A failure (a full quota, most often) leaves that checkpoint as it was: the Cache API
/// replaces an entry whole or not at all. Nothing read from a device that ran out of memory
/// is saved over it.
async fn save(id: JobId, session: &Session, compute: &Compute, cache: &fetch::ModelCache, saved: &mut Option<usize>) -> Result<(), String> {
    let state = session.save_state().await.map_err(|e| e.to_string())?;
    exhausted(compute, session, *saved)?;
    log::info!("writing the checkpoint of iteration {} ({} bytes)", session.iteration(), state.len());
    cache.try_put(&fetch::absolute(STATE_KEY), &state).await.map_err(|e| {
        format!(
            "could not save the training state in the browser's storage ({e}); {}. Free space under \
             \"Stored in this browser\" on the Start tab first.",
            kept(*saved)
        )
    })?;
    *saved = Some(session.iteration());
    post_job(id, JobEvent::TrainingSaved { iteration: session.iteration() });
    Ok(())
}

async fn sample(id: JobId, session: &Session) -> Result<(), String> {
    let panels = session.sample().await.map_err(|e| e.to_string())?;
    let panels = panels.iter().map(|(label, img)| (label.clone(), preview(img))).collect();
    post_job(id, JobEvent::TrainingSample { iteration: session.iteration(), panels });
    Ok(())
}

/// How often a run saves (seconds) and shows a sample (iterations).
struct Pace {
    save_every_s: u32,
    sample_every: u32,
}

/// Runs `session` to its end or until stopped; `saved` is the iteration of its checkpoint in
/// storage, if it has one (a resumed run). When the GPU device is lost, the run goes on, on
/// the device that replaces it, from that checkpoint.
#[allow(clippy::too_many_arguments)]
async fn run(
    id: JobId,
    mut session: Session,
    mut saved: Option<usize>,
    summary: String,
    pace: Pace,
    control: &RunControl,
    cache: &fetch::ModelCache,
    (device, mut compute, vgg): (&WorkerDevice, Compute, &mut Option<VggWeights>),
) -> Result<JobEvent, String> {
    let spec = session.spec().clone();
    post_job(
        id,
        JobEvent::TrainingStarted {
            spec: spec.clone(),
            loss_names: spec.model.loss_names().iter().map(|s| s.to_string()).collect(),
            iteration: session.iteration(),
            total: session.total_iterations(),
            summary: format!("{}. {summary}", session.describe()),
        },
    );
    let mut steps = StepLoop::new(id, control, |steps, rate| JobEvent::TrainingSteps { steps, rate });
    let mut notes = Vec::new();
    let stopped = loop {
        match train(id, &mut session, &mut saved, &pace, &mut steps, (&compute, cache)).await {
            Ok(stopped) => break stopped,
            Err(e) => {
                let Some((next, reason)) = device.after_failure(&compute).await else { return Err(e) };
                let Some(at) = saved else {
                    return Err(format!("The GPU device was lost ({reason}); {}: start the run again.", kept(saved)));
                };
                let state = cache.get(&fetch::absolute(STATE_KEY)).await.ok_or("the saved run is missing from the browser's storage")?;
                let net = perceptual(id, spec.model, vgg, &next).await?;
                session = Session::resume_with_vgg(&state, session.data().clone(), net, &next.device.clone().autodiff()).map_err(|e| e.to_string())?;
                let note = format!(
                    "The GPU device was lost ({reason}). The run goes on on {} from iteration {at}, its last checkpoint.",
                    next.info.summary()
                );
                post_job(id, JobEvent::Recovered { step: at, note: note.clone() });
                notes.push(note);
                compute = next;
            }
        }
    };
    let (iteration, total) = (session.iteration(), session.total_iterations());
    if stopped {
        notes.push(format!("Stopped at iteration {iteration} of {total}; the run is saved and can be resumed."));
    }
    let note = (!notes.is_empty()).then(|| notes.join(" "));
    Ok(JobEvent::TrainingDone { iteration, total, stopped, note })
}

/// Trains until the end or a stop (true), saving every `pace.save_every_s`, on a pause and
/// at the end.
async fn train(
    id: JobId,
    session: &mut Session,
    saved: &mut Option<usize>,
    pace: &Pace,
    steps: &mut StepLoop<'_, StepRecord>,
    (compute, cache): (&Compute, &fetch::ModelCache),
) -> Result<bool, String> {
    sample(id, session).await?;
    let mut saved_at = now_ms();
    let mut stopped = false;
    while !session.is_finished() {
        if steps.pause_requested() {
            steps.flush();
            save(id, session, compute, cache, saved).await?;
            saved_at = now_ms();
            steps.wait_while_paused().await;
        }
        if steps.cancelled() {
            stopped = true;
            break;
        }
        let rec: StepRecord = session.step().await.map_err(|e| {
            format!("{e}. {}; if the device ran out of memory, resume with a smaller size or batch", capitalised(&kept(*saved)))
        })?;
        exhausted(compute, session, *saved)?;
        let want_sample = rec.iteration.is_multiple_of(pace.sample_every as usize);
        steps.record(rec, want_sample);
        if want_sample {
            sample(id, session).await?;
        }
        if now_ms() - saved_at >= pace.save_every_s.max(1) as f64 * 1000.0 {
            save(id, session, compute, cache, saved).await?;
            saved_at = now_ms();
        }
        // Let control messages (and everything else) through between iterations.
        sleep(0).await;
    }
    steps.flush();
    save(id, session, compute, cache, saved).await?;
    sample(id, session).await?;
    Ok(stopped)
}
