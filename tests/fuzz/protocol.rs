//! The worker protocol's messages as JSON: mutated text, and valid messages whose values
//! are rewritten in place. Reading must not panic, and what reads must round-trip.

use super::driver::{Target, Trace};
use super::random_seeds;
use ai_art::device::{DeviceInfo, GpuLimits, GpuMemory, Preference};
use ai_art::models::{ArchChoice, NormChoice, NormKind};
use ai_art::protocol::*;
use ai_art::techniques::style_transfer::{InitKind, Losses, Settings};
use ai_art::techniques::training::{
    DatasetFiles, Model, NamedFile, StateSummary, StepRecord, TrainSpec,
};
use arbitrary::Unstructured;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn image(width: u32, height: u32) -> ImagePayload {
    ImagePayload {
        width,
        height,
        rgba: vec![7; (width * height * 4) as usize],
        png: Some(vec![137, 80, 78, 71]),
    }
}

fn file(name: &str) -> NamedFile {
    NamedFile {
        name: name.into(),
        bytes: vec![1, 2, 3],
    }
}

/// One message of each shape the worker and the UI exchange.
fn messages() -> Vec<Value> {
    let spec = TrainSpec {
        netg: ArchChoice::Unet { num_downs: 7 },
        max_iterations: Some(9),
        ..TrainSpec::new(Model::Pix2Pix)
    };
    let requests = [
        Request::Init {
            preference: Preference::Gpu,
        },
        Request::Roundtrip {
            id: 1,
            name: "a.png".into(),
            bytes: vec![0, 255],
        },
        Request::LoadModel {
            id: 2,
            slot: Slot::CycleGan,
            source: ModelSource::Url {
                label: "m".into(),
                url: "models/m.pth".into(),
                sha256: Some("ab".repeat(32)),
            },
            arch: ArchChoice::Resnet { n_blocks: 9 },
            norm: NormChoice::Fixed(NormKind::Instance { affine: true }),
        },
        Request::Translate {
            id: 3,
            slot: Slot::Pix2Pix,
            name: "b.jpg".into(),
            bytes: vec![9],
            options: TranslateOptions::default(),
        },
        Request::LoadVgg {
            id: 4,
            source: ModelSource::File {
                name: "vgg.safetensors".into(),
                bytes: vec![8, 0],
            },
        },
        Request::StyleTransfer {
            id: 5,
            job: StyleTransferJob {
                content: NamedImage {
                    name: "c.png".into(),
                    bytes: vec![1],
                },
                styles: vec![(
                    NamedImage {
                        name: "s.png".into(),
                        bytes: vec![2],
                    },
                    0.25,
                )],
                settings: Settings {
                    init: InitKind::Noise { seed: 3 },
                    ..Settings::default()
                },
            },
        },
        Request::Control {
            id: 5,
            action: ControlAction::Pause,
        },
        Request::Train {
            id: 6,
            job: TrainJob {
                spec: spec.clone(),
                files: DatasetFiles::PairedByName {
                    a: vec![file("1.png")],
                    b: vec![file("1.png")],
                },
                init: vec![Some(file("g.pth")), None],
                save_every_s: 30,
                sample_every: 10,
            },
        },
        Request::ResumeTraining {
            id: 7,
            save_every_s: 5,
            sample_every: 2,
        },
        Request::ExportTraining {
            id: 8,
            what: TrainExport::Generator("G_A".into()),
        },
        Request::Crash {
            message: "test".into(),
        },
        Request::LoseDevice,
        Request::ExhaustMemory,
        Request::SlowWrites { ms: 250 },
        Request::Memory { id: 9 },
    ];
    let limits = GpuLimits {
        max_buffer_size: 1 << 30,
        max_storage_buffer_binding_size: 1 << 27,
        max_compute_workgroups_per_dimension: 65535,
        max_compute_invocations_per_workgroup: 256,
        max_compute_workgroup_storage_size: 16384,
    };
    let device = DeviceInfo {
        backend: "Vulkan".into(),
        adapter: "llvmpipe".into(),
        details: "".into(),
        is_gpu: true,
        limits: Some(limits),
        fallback_reason: None,
    };
    let events = [
        Event::Loaded,
        Event::Ready {
            device: device.clone(),
        },
        Event::Crashed {
            message: "panicked".into(),
        },
        Event::DeviceLost {
            reason: "Destroyed: Device was destroyed.".into(),
            device: device.clone(),
        },
        Event::OutOfMemory {
            reason: "out of memory".into(),
            device,
        },
        JobEvent::Recovered {
            step: 40,
            note: "n".into(),
        }
        .about(2),
        JobEvent::Memory {
            wasm_bytes: 1 << 24,
            gpu: Some(GpuMemory {
                in_use: 1,
                reserved: 2,
                allocations: 3,
            }),
        }
        .about(9),
        JobEvent::Fetching {
            done: 10,
            total: Some(1 << 40),
        }
        .about(1),
        JobEvent::RoundtripDone {
            input: image(2, 1),
            output: image(2, 1),
            millis: 1.5,
        }
        .about(1),
        JobEvent::StyleTransferSteps {
            steps: vec![StepLosses {
                step: 4,
                losses: Losses {
                    content: 1.0,
                    style: 2e-9,
                    tv: 3.0,
                    total: 4.0,
                },
            }],
            rate: 5.5,
        }
        .about(2),
        JobEvent::TrainingStarted {
            spec: spec.clone(),
            loss_names: vec!["G".into()],
            iteration: 3,
            total: 9,
            summary: "s".into(),
        }
        .about(3),
        JobEvent::TrainingSteps {
            steps: vec![StepRecord {
                iteration: 3,
                epoch: 1,
                lr: 2e-4,
                losses: vec![0.5, -1.5],
            }],
            rate: 2.0,
        }
        .about(3),
        JobEvent::TrainingSample {
            iteration: 3,
            panels: vec![("A".into(), image(1, 1))],
        }
        .about(3),
        JobEvent::SavedTraining {
            summary: Some(StateSummary {
                run_id: "r".into(),
                spec,
                iteration: 3,
                total_iterations: 9,
            }),
        }
        .about(4),
        JobEvent::TrainingDone {
            iteration: 9,
            total: 9,
            stopped: false,
            note: Some("n".into()),
        }
        .about(4),
    ];
    let requests = requests.iter().map(serde_json::to_value);
    requests
        .chain(events.iter().map(serde_json::to_value))
        .collect::<Result<_, _>>()
        .expect("messages serialise")
}

/// Read as `T`; what reads must write the same JSON again after a second read.
fn round_trip<T: Serialize + DeserializeOwned>(t: &mut Trace, read: Result<T, serde_json::Error>) {
    let Some(message) = t.ok(read) else { return };
    let Some(first) = t.ok(serde_json::to_string(&message)) else {
        return;
    };
    let again = serde_json::from_str::<T>(&first).and_then(|m| serde_json::to_string(&m));
    t.check(again.as_ref().is_ok_and(|second| *second == first), || {
        format!("{first}\nreads back as {again:?}")
    });
}

fn check_message(t: &mut Trace, json: &[u8]) {
    round_trip(t, serde_json::from_slice::<Request>(json));
    round_trip(t, serde_json::from_slice::<Event>(json));
}

pub fn protocol_json() -> Target {
    let seeds = messages()
        .iter()
        .map(|m| serde_json::to_vec(m).expect("JSON"))
        .collect();
    Target::new("protocol_json", seeds, check_message)
}

/// Numbers at the edges of the protocol's integer and float fields.
const EDGES: [f64; 11] = [
    0.0,
    1.0,
    -1.0,
    0.5,
    4294967295.0,
    4294967296.0,
    -9.2e18,
    1.8e19,
    1e300,
    -0.0,
    5e-324,
];

/// A value like `v` (mostly of the same JSON type), with boundary numbers and arbitrary text.
fn rewrite(v: &Value, u: &mut Unstructured) -> Value {
    match (v, u.int_in_range(0..=9u8).unwrap_or(0)) {
        (_, 0) => Value::Null,
        (_, 1) => Value::from(u.arbitrary::<String>().unwrap_or_default()),
        (Value::Number(_), 2..=4) => Value::from(u.arbitrary::<u64>().unwrap_or(0)),
        (Value::Number(_), 5..=6) => Value::from(u.arbitrary::<i64>().unwrap_or(0)),
        (Value::Number(_), _) => serde_json::Number::from_f64(*u.choose(&EDGES).unwrap_or(&0.0))
            .map_or(Value::Null, Value::Number),
        (Value::Bool(b), _) => Value::Bool(!b),
        (Value::Array(items), _) => {
            let mut items = items.clone();
            match u.choose_index(items.len().max(1)) {
                Ok(i) if i < items.len() && u.arbitrary().unwrap_or(false) => drop(items.remove(i)),
                Ok(i) if i < items.len() => items.insert(i, items[i].clone()),
                _ => items.clear(),
            }
            Value::Array(items)
        }
        _ => Value::from(u.arbitrary::<String>().unwrap_or_default()),
    }
}

/// Walks `v`, rewriting some of its values and dropping some object fields.
pub fn remix(v: &mut Value, u: &mut Unstructured) {
    if u.ratio(1, 8).unwrap_or(false) {
        *v = rewrite(v, u);
        return;
    }
    match v {
        Value::Array(items) => items.iter_mut().for_each(|x| remix(x, u)),
        Value::Object(fields) => {
            if u.ratio(1, 16).unwrap_or(false)
                && let Ok(key) = u.choose_iter(fields.keys().cloned())
            {
                fields.remove(&key);
            }
            fields.values_mut().for_each(|x| remix(x, u));
        }
        _ => {}
    }
}

pub fn protocol_values() -> Target {
    let messages = messages();
    Target::new("protocol_values", random_seeds(), move |t, data| {
        let mut u = Unstructured::new(data);
        let Ok(message) = u.choose(&messages) else {
            return;
        };
        let mut message = message.clone();
        remix(&mut message, &mut u);
        let json = serde_json::to_vec(&message).expect("JSON");
        check_message(t, &json);
    })
}
