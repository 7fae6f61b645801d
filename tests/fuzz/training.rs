//! Resuming a training run: the saved state (`state_summary`, `generator_from_state`,
//! `Session::resume`, then a step and a save) and the saved images (`TrainData::from_bytes`),
//! seeded with the state of tiny runs made here (the fixtures hold none).

use super::driver::{Target, Trace};
use super::protocol::remix;
use super::random_seeds;
use ai_art::models::ArchChoice;
use ai_art::techniques::data::{Preprocess, Rng, TrainData};
use ai_art::techniques::training::session::{Session, generator_from_state, state_summary};
use ai_art::techniques::training::{Model, TrainSpec};
use ai_art::weights::load_checkpoint;
use arbitrary::Unstructured;
use burn::tensor::Device;
use image::{Rgb, RgbImage};
use pollster::block_on;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const MODELS: [Model; 2] = [Model::Pix2Pix, Model::CycleGan];

fn device() -> Device {
    Device::flex().autodiff()
}

fn data(model: Model) -> TrainData {
    let img = |k: u32| {
        RgbImage::from_fn(18, 18, |x, y| {
            Rgb([
                (x * 13 + k * 50) as u8,
                (y * 7 + k) as u8,
                ((x ^ y) * 9) as u8,
            ])
        })
    };
    match model {
        Model::Pix2Pix => TrainData::Paired(vec![(img(0), img(1)), (img(2), img(3))]),
        // A fast style run's data has this shape too (photos, one style image); its states
        // need VGG19 to resume, so they are not fuzzed here.
        Model::CycleGan | Model::FastStyle => TrainData::Unpaired(vec![img(0), img(1)], vec![img(2)]),
    }
}

/// Each model's state after two iterations of a tiny run (ResNet with one block, 16 px).
fn states() -> &'static [Vec<u8>] {
    static STATES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    STATES.get_or_init(|| {
        MODELS
            .iter()
            .map(|&model| {
                let spec = TrainSpec {
                    size: 16,
                    epochs: 1,
                    epochs_decay: 1,
                    netg: ArchChoice::Resnet { n_blocks: 1 },
                    ngf: 2,
                    ndf: 2,
                    n_layers_d: 1,
                    pool_size: 2,
                    seed: 5,
                    ..TrainSpec::new(model)
                };
                let mut s =
                    Session::new(spec, data(model), vec![], &device(), "fuzz").expect("a tiny run");
                for _ in 0..2 {
                    block_on(s.step()).expect("a step");
                }
                block_on(s.save_state()).expect("a saved state")
            })
            .collect()
    })
}

/// Everything the worker does with a saved state: its summary, its generators, and
/// resuming it (with either model's data), stepping (at small sizes) and saving again.
fn check_state(t: &mut Trace, state: &[u8], device: &Device) {
    let summary = t.ok(state_summary(state));
    for name in ["G", "G_A", "G_B"] {
        if let Some(file) = t.ok(generator_from_state(state, name)) {
            t.ok(load_checkpoint(&file));
        }
    }
    for model in MODELS {
        let Some(session) = t.ok(Session::resume(state, data(model), device)) else {
            continue;
        };
        t.check(
            summary
                .as_ref()
                .is_some_and(|s| s.iteration == session.iteration()),
            || "resumed elsewhere than its summary says".into(),
        );
        step_and_save(t, session);
    }
}

/// One more step (unless the run is done, or too large to step quickly here) and a save,
/// which must read again.
fn step_and_save(t: &mut Trace, mut session: Session) {
    // Only run for panics: what they say is not checked.
    let _ = (session.describe(), session.total_iterations());
    if !session.is_finished() && session.spec().size <= 32 {
        t.ok(block_on(session.step()));
    }
    if let Some(saved) = t.ok(block_on(session.save_state())) {
        let again = state_summary(&saved);
        t.check(again.is_ok(), || {
            format!(
                "a resumed run saved a state that does not read: {:?}",
                again.err()
            )
        });
    }
}

pub fn training_state() -> Target {
    let device = device();
    Target::new("training_state", states().to_vec(), move |t, state| {
        check_state(t, state, &device)
    })
}

/// A saved state with its settings, architectures and progress rewritten (valid JSON with
/// other values) and some tensors left out.
fn remixed(u: &mut Unstructured) -> Option<Vec<u8>> {
    let state = u.choose(states()).ok()?;
    let (_, header) = safetensors::SafeTensors::read_metadata(state).ok()?;
    let mut meta: BTreeMap<String, String> = header.metadata().clone()?.into_iter().collect();
    for value in meta.values_mut() {
        match serde_json::from_str(value) {
            Ok(mut json) if u.ratio(1, 2).ok()? => {
                remix(&mut json, u);
                *value = json.to_string();
            }
            Err(_) if u.ratio(1, 16).ok()? => *value = u.arbitrary().ok()?,
            _ => {}
        }
    }
    let mut tensors = safetensors::SafeTensors::deserialize(state).ok()?.tensors();
    tensors.retain(|_| !u.ratio(1, 64).unwrap_or(false));
    safetensors::tensor::serialize(tensors, Some(meta.into_iter().collect())).ok()
}

pub fn training_meta() -> Target {
    let device = device();
    Target::new("training_meta", random_seeds(), move |t, data| {
        if let Some(state) = remixed(&mut Unstructured::new(data)) {
            check_state(t, &state, &device);
        }
    })
}

/// The saved images (seeded with both models' `TrainData::to_bytes`).
pub fn training_data() -> Target {
    let device = device();
    let seeds = MODELS
        .iter()
        .map(|&m| data(m).to_bytes("fuzz").expect("saved images"))
        .collect();
    Target::new("training_data", seeds, move |t, bytes| {
        check_images(t, bytes, &device)
    })
}

/// Saved images: read, written and read again the same, cropped as a step crops them, and
/// trained on (with the saved state of their kind).
fn check_images(t: &mut Trace, bytes: &[u8], device: &Device) {
    let Some((data, run)) = t.ok(TrainData::from_bytes(bytes)) else {
        return;
    };
    let again = data
        .to_bytes(&run)
        .ok()
        .and_then(|b| TrainData::from_bytes(&b).ok());
    t.check(again.as_ref() == Some(&(data.clone(), run.clone())), || {
        "the images read back otherwise".into()
    });
    let images: Vec<&RgbImage> = match &data {
        TrainData::Paired(pairs) => pairs.iter().flat_map(|(a, b)| [a, b]).collect(),
        TrainData::Unpaired(a, b) => a.iter().chain(b).collect(),
    };
    let (pre, mut rng) = (Preprocess::for_crop(16), Rng::new(1));
    for img in images {
        let crops = [pre.one(img, &mut rng), pre.center(img)];
        t.check(crops.iter().all(|c| c.dimensions() == (16, 16)), || {
            format!("a {:?} image cropped wrongly", img.dimensions())
        });
    }
    let state = &states()[usize::from(matches!(data, TrainData::Unpaired(..)))];
    if let Some(session) = t.ok(Session::resume(state, data, device)) {
        step_and_save(t, session);
    }
}
