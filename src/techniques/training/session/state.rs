//! Saving a run and resuming it: the state format.
//!
//! The saved state is one `.safetensors` file ([`Session::save_state`]):
//! * each network's tensors under its official names, prefixed with the network
//!   (`G.model.1.weight`, `D_A.model.0.bias`, ...), so a generator can be taken out of it
//!   as an official checkpoint without a GPU ([`generator_from_state`]);
//! * each optimiser's moments, `opt_G.G.model.1.weight.exp_avg` / `.exp_avg_sq` / `.step`;
//! * the CycleGAN history pools, `pool_A.N` / `pool_B.N`;
//! * in the header metadata, the settings, the architectures and the progress, as JSON.
//!
//! Resuming rebuilds everything from that file and continues bit for bit: the dropout noise
//! is seeded from the run's seed and the iteration, so an interrupted run and an
//! uninterrupted one take the same steps (`resumed_runs_continue_exactly` checks it).

use std::collections::{BTreeMap, HashMap};

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use safetensors::SafeTensorError;

use super::{Session, StateSummary, TrainSpec, build_discriminator, build_generator, check_data};
use crate::models::vgg::Vgg19;
use crate::models::detect::{Architecture, detect};
use crate::models::unet::UnetConfig;
use crate::models::{Builder, ModelError, export, layout_of};
use crate::techniques::data::{DataError, Rng, TrainData};
use crate::techniques::training::adam::{Moments, param_ids};
use crate::techniques::training::{Network, TrainingError, read_back};
use crate::weights::{self, Checkpoint, WeightsError};

/// The `format` entry of a saved state's metadata.
pub const STATE_FORMAT: &str = "ai-art-training-state/1";

/// What makes a saved state unusable (it cannot be read, resumed or exported), or keeps one
/// from being written; in words for the user (its `Display`).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not a state this app saved: another file, or another version of the format.
    #[error("this file is not a saved training state of this app")]
    NotAState,
    /// An entry of the metadata is missing.
    #[error("the saved state has no `{0}`")]
    Missing(&'static str),
    /// An entry of the metadata is damaged.
    #[error("the saved state's `{key}` is unreadable: {source}")]
    Field { key: &'static str, source: serde_json::Error },
    /// The architectures listed are not one per network of the model.
    #[error("the saved state does not list its networks")]
    Networks,
    /// The tensors cannot be read.
    #[error("the saved state is unreadable: {0}")]
    Unreadable(#[source] WeightsError),
    /// A saved architecture cannot be built (or is not the kind of network expected).
    #[error(transparent)]
    Build(ModelError),
    /// A saved network's tensors do not fit its architecture (missing, extra or misshapen).
    #[error("the saved {network} does not fit its architecture: {source}")]
    Mismatch { network: &'static str, source: WeightsError },
    /// A tensor the state should hold (a history-pool image) is missing.
    #[error("{0} is missing")]
    MissingTensor(String),
    /// A tensor that should hold floats does not.
    #[error("{0} is not float")]
    NotFloat(String),
    /// An optimiser's moments for this parameter (`net.name`) have the wrong size or type.
    #[error("the saved optimiser state of {0} does not fit")]
    Optimizer(String),
    /// The position in the epoch is outside the data.
    #[error("the saved position in the epoch does not fit the data")]
    Position,
    /// No generator of that name in the state.
    #[error("the saved state has no generator {0}")]
    NoGenerator(String),
    /// The file's tensors cannot be read.
    #[error(transparent)]
    Tensors(SafeTensorError),
    /// The settings or progress cannot be written as JSON (a bug, not the user's input).
    #[error(transparent)]
    Encode(serde_json::Error),
    /// A tensor cannot be laid out in the file (a bug, not the user's input).
    #[error("`{name}`: {source}")]
    Pack { name: String, source: SafeTensorError },
    /// Writing the file failed.
    #[error("writing the state failed: {0}")]
    Write(#[source] SafeTensorError),
}

/// Where a run is: everything besides tensors that a resumed run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Progress {
    run_id: String,
    iteration: usize,
    epoch: usize,
    order: Vec<usize>,
    pos: usize,
    rng: u64,
    pool_rngs: Vec<u64>,
    counts: (usize, usize),
}

impl Session {
    /// The whole run as `.safetensors` bytes (see the module documentation). Every tensor is
    /// read asynchronously, so this works on WebGPU.
    pub async fn save_state(&self) -> Result<Vec<u8>, TrainingError> {
        let mut out = StateWriter::default();
        for (i, (net, opt, module)) in self.trainer.networks().into_iter().enumerate() {
            let layout = layout_of(&self.archs[i])?;
            let (tensors, ids) = match module {
                Network::Generator(g) => (export(g, &layout).await.map_err(TrainingError::Export)?, param_ids(g)),
                Network::Discriminator(d) => (export(d, &layout).await.map_err(TrainingError::Export)?, param_ids(d)),
            };
            let optimizer = self.trainer.optimizer(opt).ok_or_else(|| no_optimizer(opt))?;
            for ((name, shape, values), id) in tensors.into_iter().zip(ids) {
                if let Some(m) = optimizer.moments(id) {
                    let key = format!("{opt}.{net}.{name}");
                    out.f32(&format!("{key}.exp_avg"), shape.clone(), read(m.exp_avg.clone(), &key).await?);
                    out.f32(&format!("{key}.exp_avg_sq"), shape.clone(), read(m.exp_avg_sq.clone(), &key).await?);
                    out.i64(&format!("{key}.step"), m.steps as i64);
                }
                out.f32(&format!("{net}.{name}"), shape, values);
            }
        }
        let mut pool_rngs = Vec::new();
        for (name, pool) in self.trainer.pools() {
            pool_rngs.push(pool.rng);
            for (k, img) in pool.images.iter().enumerate() {
                let shape = img.dims().to_vec();
                let n = shape.iter().product::<usize>();
                out.f32(&format!("{name}.{k}"), shape, read(img.clone().reshape([n]), name).await?);
            }
        }
        let progress = Progress {
            run_id: self.run_id.clone(),
            iteration: self.iteration(),
            epoch: self.epoch,
            order: self.order.clone(),
            pos: self.pos,
            rng: self.rng.state(),
            pool_rngs,
            counts: self.data.counts(),
        };
        let meta: HashMap<String, String> = [
            ("format".to_string(), STATE_FORMAT.to_string()),
            ("spec".to_string(), json(&self.spec)?),
            ("archs".to_string(), json(&self.archs)?),
            ("progress".to_string(), json(&progress)?),
            ("total_iterations".to_string(), self.total_iterations().to_string()),
        ]
        .into_iter()
        .collect();
        Ok(out.finish(meta)?)
    }

    /// Continues a run from [`Session::save_state`] bytes with the same data (checked by
    /// its counts). `device` must be an autodiff device. A fast style run needs VGG19 too:
    /// [`Session::resume_with_vgg`].
    pub fn resume(state: &[u8], data: TrainData, device: &Device) -> Result<Session, TrainingError> {
        Session::resume_with_vgg(state, data, None, device)
    }

    /// [`Session::resume`] with VGG19 (on `device`), which a fast style network's loss reads.
    pub fn resume_with_vgg(state: &[u8], data: TrainData, vgg: Option<Vgg19>, device: &Device) -> Result<Session, TrainingError> {
        let meta = state_metadata(state)?;
        let spec: TrainSpec = from_json(&meta, "spec")?;
        check_data(&spec, &data)?;
        let archs: Vec<Architecture> = from_json(&meta, "archs")?;
        let progress: Progress = from_json(&meta, "progress")?;
        if data.counts() != progress.counts {
            return Err(DataError::NotTheSavedImages { saved: progress.counts, given: data.counts() }.into());
        }
        let names = spec.model.network_names();
        if archs.len() != names.len() {
            return Err(StateError::Networks.into());
        }
        let mut ckpt = weights::load_checkpoint(state).map_err(StateError::Unreadable)?;
        let part = |ckpt: &mut Checkpoint, prefix: &str| {
            let mut part = Checkpoint { format: ckpt.format, tensors: BTreeMap::new(), nested_dicts: Default::default() };
            let keys: Vec<String> = ckpt.tensors.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
            for k in keys {
                if let Some(v) = ckpt.tensors.remove(&k) {
                    part.tensors.insert(k[prefix.len()..].to_string(), v);
                }
            }
            part
        };
        let mut generators = Vec::new();
        let mut discriminators = Vec::new();
        for (name, arch) in names.iter().zip(&archs) {
            let mut net = part(&mut ckpt, &format!("{name}."));
            check_architecture(name, arch, &net)?;
            let mut b = Builder::from_checkpoint(&mut net, device);
            if name.starts_with('G') {
                generators.push(build_generator(arch, &mut b).map_err(StateError::Build)?);
            } else {
                discriminators.push(build_discriminator(arch, &mut b).map_err(StateError::Build)?);
            }
            b.finish().map_err(|source| StateError::Mismatch { network: name, source })?;
        }
        let mut session = Session::assemble(spec, data, (generators, discriminators, vgg), archs, device, &progress.run_id)?;
        session.trainer.set_iterations(progress.iteration);
        let inner = device.clone().inner();
        for (i, (name, pool)) in session.trainer.pools_mut().into_iter().enumerate() {
            pool.rng = progress.pool_rngs.get(i).copied().unwrap_or(pool.rng);
            pool.images.clear();
            let images = part(&mut ckpt, &format!("{name}."));
            for k in 0..images.tensors.len() {
                let entry = images.get(&k.to_string()).ok_or_else(|| StateError::MissingTensor(format!("{name}.{k}")))?;
                let values = entry.as_f32().ok_or_else(|| StateError::NotFloat(format!("{name}.{k}")))?;
                pool.images.push(Tensor::<4>::from_data(TensorData::new(values.to_vec(), entry.shape.clone()), &inner).autodiff());
            }
        }
        // The optimisers' moments, matched to the rebuilt parameters by official name.
        let mut moments: Vec<(&str, burn::module::ParamId, Moments)> = Vec::new();
        for (i, (net, opt, module)) in session.trainer.networks().into_iter().enumerate() {
            let layout = layout_of(&session.archs[i])?;
            let ids = match module {
                Network::Generator(g) => param_ids(g),
                Network::Discriminator(d) => param_ids(d),
            };
            for ((name, shape), id) in layout.iter().zip(ids) {
                let key = format!("{opt}.{net}.{name}");
                let (Some(m), Some(v), Some(step)) =
                    (ckpt.get(&format!("{key}.exp_avg")), ckpt.get(&format!("{key}.exp_avg_sq")), ckpt.get(&format!("{key}.step")))
                else {
                    continue;
                };
                let n: usize = shape.iter().product();
                let tensor = |e: &weights::TensorEntry| -> Result<Tensor<1>, StateError> {
                    match e.as_f32() {
                        Some(values) if values.len() == n => Ok(Tensor::from_data(TensorData::new(values.to_vec(), [n]), &inner)),
                        _ => Err(StateError::Optimizer(format!("{net}.{name}"))),
                    }
                };
                let steps = step.as_i64().and_then(|s| s.first().copied()).unwrap_or(0).max(0) as u32;
                moments.push((opt, id, Moments { exp_avg: tensor(m)?, exp_avg_sq: tensor(v)?, steps }));
            }
        }
        for (opt, id, m) in moments {
            session.trainer.optimizer_mut(opt).ok_or_else(|| no_optimizer(opt))?.set_moments(id, m);
        }
        session.rng = Rng::from_state(progress.rng);
        session.epoch = progress.epoch;
        session.order = progress.order;
        session.pos = progress.pos;
        let len = session.data.epoch_len();
        if session.order.len() != len || session.pos > len || session.order.iter().any(|&i| i >= len) {
            return Err(StateError::Position.into());
        }
        Ok(session)
    }
}

/// An error unless `arch` is the architecture the saved tensors of network `name` have
/// (detection cannot see a U-Net's dropout, which is taken as saved): the metadata alone
/// must not size a network, or an edited file could ask for any amount of memory.
fn check_architecture(name: &str, arch: &Architecture, tensors: &Checkpoint) -> Result<(), StateError> {
    let found = match (detect(tensors).map_err(StateError::Build)?, arch) {
        (Architecture::Unet(found), Architecture::Unet(saved)) => {
            Architecture::Unet(UnetConfig { use_dropout: saved.use_dropout, ..found })
        }
        (found, _) => found,
    };
    if found == *arch {
        return Ok(());
    }
    Err(StateError::Build(ModelError::Detect(format!(
        "the saved {name} is not the network its metadata lists (its tensors are a {})",
        found.describe()
    ))))
}

/// A trainer without the optimiser its networks name (a bug, not the user's input).
fn no_optimizer(opt: &str) -> TrainingError {
    TrainingError::Internal(format!("no optimiser {opt}"))
}

async fn read(t: Tensor<1>, what: &str) -> Result<Vec<f32>, TrainingError> {
    read_back(t.without_autodiff(), what).await
}

fn json<T: Serialize>(v: &T) -> Result<String, StateError> {
    serde_json::to_string(v).map_err(StateError::Encode)
}

fn from_json<T: serde::de::DeserializeOwned>(meta: &HashMap<String, String>, key: &'static str) -> Result<T, StateError> {
    let text = meta.get(key).ok_or(StateError::Missing(key))?;
    serde_json::from_str(text).map_err(|source| StateError::Field { key, source })
}

/// The metadata of a saved state; an error unless it is one.
fn state_metadata(state: &[u8]) -> Result<HashMap<String, String>, StateError> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(state).map_err(|_| StateError::NotAState)?;
    let meta: HashMap<String, String> = meta.metadata().clone().unwrap_or_default().into_iter().collect();
    if meta.get("format").map(String::as_str) != Some(STATE_FORMAT) {
        return Err(StateError::NotAState);
    }
    Ok(meta)
}

/// What a saved state is (settings, iteration), from its header only.
pub fn state_summary(state: &[u8]) -> Result<StateSummary, StateError> {
    let meta = state_metadata(state)?;
    let progress: Progress = from_json(&meta, "progress")?;
    Ok(StateSummary {
        run_id: progress.run_id,
        spec: from_json(&meta, "spec")?,
        iteration: progress.iteration,
        total_iterations: meta.get("total_iterations").and_then(|t| t.parse().ok()).unwrap_or(0),
    })
}

/// One network of a saved run: its name (`G`, `D_A`, ...), architecture and tensors under
/// the official names, in the network's order (BatchNorm layers with PyTorch's
/// `num_batches_tracked`).
pub struct SavedNetwork {
    pub name: String,
    pub arch: Architecture,
    pub tensors: Vec<(String, weights::TensorEntry)>,
}

/// A saved run's settings and networks, read without a GPU.
pub struct SavedRun {
    pub summary: StateSummary,
    /// Epochs finished (the one in progress is not).
    pub epochs_done: usize,
    pub networks: Vec<SavedNetwork>,
}

/// The settings and networks of a saved state (for handing it to another trainer).
pub fn saved_run(state: &[u8]) -> Result<SavedRun, StateError> {
    let summary = state_summary(state)?;
    let meta = state_metadata(state)?;
    let archs: Vec<Architecture> = from_json(&meta, "archs")?;
    let progress: Progress = from_json(&meta, "progress")?;
    let names = summary.spec.model.network_names();
    if archs.len() != names.len() {
        return Err(StateError::Networks);
    }
    let mut ckpt = weights::load_checkpoint(state).map_err(StateError::Unreadable)?;
    let mut networks = Vec::new();
    for (name, arch) in names.iter().zip(archs) {
        let layout = layout_of(&arch).map_err(StateError::Build)?;
        let mut tensors = Vec::with_capacity(layout.len());
        for (key, _) in layout {
            let full = format!("{name}.{key}");
            let entry = ckpt.tensors.remove(&full).ok_or_else(|| StateError::MissingTensor(full.clone()))?;
            tensors.push((key.clone(), entry));
            if let Some(layer) = key.strip_suffix(".running_var") {
                tensors.push((format!("{layer}.num_batches_tracked"), weights::TensorEntry { shape: vec![], data: weights::TensorValues::I64(vec![0]) }));
            }
        }
        networks.push(SavedNetwork { name: name.to_string(), arch, tensors });
    }
    // A finished epoch has its whole order taken.
    let epochs_done = if progress.pos >= progress.order.len() { progress.epoch } else { progress.epoch.saturating_sub(1) };
    Ok(SavedRun { summary, epochs_done, networks })
}

/// Generator `name` of a saved state, as an official `.safetensors` checkpoint (no GPU
/// needed: the tensors are copied out of the file).
pub fn generator_from_state(state: &[u8], name: &str) -> Result<Vec<u8>, StateError> {
    state_metadata(state)?;
    let st = safetensors::SafeTensors::deserialize(state).map_err(StateError::Tensors)?;
    let prefix = format!("{name}.");
    let mut out = StateWriter::default();
    let mut names: Vec<String> = st.names().into_iter().filter(|n| n.starts_with(&prefix)).map(str::to_string).collect();
    names.sort();
    if names.is_empty() {
        return Err(StateError::NoGenerator(name.to_string()));
    }
    for full in names {
        let view = st.tensor(&full).map_err(StateError::Tensors)?;
        let key = &full[prefix.len()..];
        if let Some(layer) = key.strip_suffix(".running_var") {
            out.i64(&format!("{layer}.num_batches_tracked"), 0);
        }
        out.raw(key, view.dtype(), view.shape().to_vec(), view.data().to_vec());
    }
    out.finish(HashMap::new())
}

#[derive(Default)]
struct StateWriter(Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)>);

impl StateWriter {
    fn raw(&mut self, name: &str, dtype: safetensors::Dtype, shape: Vec<usize>, bytes: Vec<u8>) {
        self.0.push((name.to_string(), dtype, shape, bytes));
    }

    fn f32(&mut self, name: &str, shape: Vec<usize>, values: Vec<f32>) {
        self.raw(name, safetensors::Dtype::F32, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect());
    }

    fn i64(&mut self, name: &str, value: i64) {
        self.raw(name, safetensors::Dtype::I64, vec![], value.to_le_bytes().to_vec());
    }

    fn finish(self, meta: HashMap<String, String>) -> Result<Vec<u8>, StateError> {
        let views = self
            .0
            .iter()
            .map(|(name, dtype, shape, data)| {
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|source| StateError::Pack { name: name.clone(), source })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
        let meta = if meta.is_empty() { None } else { Some(meta.into_iter().collect()) };
        safetensors::tensor::serialize(views, meta).map_err(StateError::Write)
    }
}
