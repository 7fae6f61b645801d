//! Saving and resuming runs: an interrupted run must continue exactly as an uninterrupted
//! one (weights, optimiser moments, data order, dropout noise and pools all restored).

use super::*;
use crate::models::detect::detect;
use crate::models::unet::UnetConfig;
use crate::models::vgg::Vgg19;
use crate::techniques::fast_style::FastStyleSettings;
use crate::weights;

fn img(w: u32, h: u32, k: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 9 + k * 40) as u8, (y * 11 + k * 7) as u8, ((x * y + k) % 251) as u8]))
}

fn paired(n: u32) -> TrainData {
    TrainData::Paired((0..n).map(|k| (img(36, 36, k), img(36, 36, k + 50))).collect())
}

fn unpaired() -> TrainData {
    TrainData::Unpaired((0..3).map(|k| img(20, 20, k)).collect(), (0..2).map(|k| img(20, 20, k + 9)).collect())
}

fn tiny(model: Model) -> TrainSpec {
    TrainSpec {
        size: if model == Model::Pix2Pix { 32 } else { 16 },
        batch_size: 2,
        epochs: 1,
        epochs_decay: 2,
        ngf: 4,
        ndf: 4,
        n_layers_d: 2,
        pool_size: 2,
        netg: if model == Model::CycleGan { ArchChoice::Resnet { n_blocks: 2 } } else { ArchChoice::Auto },
        seed: 7,
        ..TrainSpec::new(model)
    }
}

fn device() -> Device {
    Device::flex().autodiff()
}

fn run(session: &mut Session, n: usize) -> Vec<StepRecord> {
    (0..n).map(|_| pollster::block_on(session.step()).expect("step")).collect()
}

fn generators(session: &Session) -> Vec<Checkpoint> {
    let names = session.spec().model.generator_names();
    names
        .iter()
        .map(|n| weights::load_checkpoint(&pollster::block_on(session.export_generator(n)).expect("export")).expect("reads"))
        .collect()
}

fn max_diff(a: &Checkpoint, b: &Checkpoint) -> f32 {
    assert_eq!(a.tensors.keys().collect::<Vec<_>>(), b.tensors.keys().collect::<Vec<_>>());
    let mut worst = 0f32;
    for (k, ta) in &a.tensors {
        if let (Some(x), Some(y)) = (ta.as_f32(), b.tensors[k].as_f32()) {
            for (p, q) in x.iter().zip(y) {
                worst = worst.max((p - q).abs());
            }
        }
    }
    worst
}

fn resume_matches(model: Model, data: fn() -> TrainData) {
    let _rng = crate::test_support::seeded_rng();
    resume_matches_with(tiny(model), data, None);
}

/// A small VGG19 of random weights (widths 4 to 32), deep enough for the fast style loss.
fn small_vgg() -> Vgg19 {
    let layer = FastStyleSettings::default().deepest();
    Vgg19::build([4, 8, 16, 32, 32], layer, crate::models::Pooling::Max, &mut Builder::init(&device(), 0.02)).expect("vgg")
}

/// [`resume_matches`] with any settings and VGG19; the caller holds the seeded RNG's lock.
fn resume_matches_with(spec: TrainSpec, data: fn() -> TrainData, vgg: Option<Vgg19>) {
    let model = spec.model;
    // Straight through: 5 iterations (3 per epoch for Pix2Pix, so an epoch boundary is crossed).
    let mut straight = Session::with_vgg(spec.clone(), data(), vec![], vgg.clone(), &device(), "run").expect("session");
    let all = run(&mut straight, 5);

    // Interrupted after 2: saved, rebuilt from the bytes alone, continued.
    let mut first = Session::with_vgg(spec.clone(), data(), vec![], vgg.clone(), &device(), "run").expect("session");
    let head = run(&mut first, 2);
    let state = pollster::block_on(first.save_state()).expect("state");
    drop(first);
    let summary = state_summary(&state).expect("summary");
    assert_eq!((summary.iteration, summary.run_id.as_str(), summary.spec.clone()), (2, "run", spec));
    let mut resumed = Session::resume_with_vgg(&state, data(), vgg, &device()).expect("resume");
    assert_eq!(resumed.iteration(), 2);
    let tail = run(&mut resumed, 3);

    for (got, want) in head.iter().chain(&tail).zip(&all) {
        assert_eq!((got.iteration, got.epoch, got.lr), (want.iteration, want.epoch, want.lr));
        for (g, w) in got.losses.iter().zip(&want.losses) {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{model:?} iteration {}: {:?} vs {:?}", got.iteration, got.losses, want.losses);
        }
    }
    for (a, b) in generators(&resumed).iter().zip(&generators(&straight)) {
        let d = max_diff(a, b);
        eprintln!("{model:?}: resumed vs uninterrupted generator, max |diff| {d:e}");
        assert!(d <= 1e-6, "{model:?}: the resumed generator differs by {d}");
    }
}

#[test]
fn resumed_pix2pix_runs_continue_exactly() {
    resume_matches(Model::Pix2Pix, || paired(3));
}

#[test]
fn resumed_cyclegan_runs_continue_exactly() {
    resume_matches(Model::CycleGan, unpaired);
}

/// Photos (3, so an epoch of two batches of 2 and 1 crosses its boundary) and one style image.
fn photos_and_style() -> TrainData {
    TrainData::Unpaired((0..3).map(|k| img(16, 16, k)).collect(), vec![img(24, 20, 30)])
}

/// A fast style network in a session: its losses are the perceptual loss's (content and
/// style terms positive, TV off by default, the total their sum), it exports as
/// pytorch/examples' `TransformerNet`, and a run saved and resumed continues exactly.
#[test]
fn a_fast_style_session_trains_exports_and_resumes_exactly() {
    let _rng = crate::test_support::seeded_rng();
    let spec = TrainSpec { size: 16, batch_size: 2, epochs: 2, ngf: 2, seed: 3, ..TrainSpec::new(Model::FastStyle) };
    let vgg = small_vgg();
    let mut s = Session::with_vgg(spec.clone(), photos_and_style(), vec![], Some(vgg.clone()), &device(), "f").expect("session");
    assert_eq!(s.total_iterations(), 4);
    let rec = pollster::block_on(s.step()).expect("a step");
    let [content, style, tv, total] = rec.losses[..] else { panic!("four losses: {:?}", rec.losses) };
    assert!(content > 0.0 && style > 0.0 && tv == 0.0, "{:?}", rec.losses);
    assert!((total - (content + style + tv)).abs() <= 1e-5 * total, "{:?}", rec.losses);
    assert_eq!(rec.lr, 1e-3, "a constant learning rate");
    let g = &generators(&s)[0];
    let arch = detect(g).expect("detects");
    assert!(matches!(&arch, Architecture::FastStyle(c) if c.widths == [2, 4, 8] && c.n_res == 5), "{}", arch.describe());
    assert!(g.tensors.contains_key("conv1.conv2d.weight") && g.tensors.contains_key("res5.in2.weight"), "pytorch/examples' names");
    let panels = pollster::block_on(s.sample()).expect("samples");
    assert_eq!(panels.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(), ["photo", "stylised", "style"]);
    // Without VGG19 there is no loss to train on.
    let err = Session::new(spec.clone(), photos_and_style(), vec![], &device(), "f").err().expect("refused");
    assert!(err.to_string().contains("VGG19"), "{err}");
    let err = Session::with_vgg(spec.clone(), unpaired(), vec![], Some(vgg.clone()), &device(), "f").err().expect("refused");
    assert!(err.to_string().contains("photos and one style image"), "{err}");
    resume_matches_with(TrainSpec { epochs: 3, ..spec }, photos_and_style, Some(vgg));
}

#[test]
fn without_the_optimiser_state_a_resumed_run_would_differ() {
    let _rng = crate::test_support::seeded_rng();
    // The check above can fail: dropping the moments from the saved state changes the
    // next update (Adam's first step is lr * sign(g), not a continuation).
    let spec = tiny(Model::Pix2Pix);
    let mut straight = Session::new(spec.clone(), paired(3), vec![], &device(), "r").expect("session");
    run(&mut straight, 3);
    let mut first = Session::new(spec, paired(3), vec![], &device(), "r").expect("session");
    run(&mut first, 2);
    let state = pollster::block_on(first.save_state()).expect("state");
    let st = safetensors::SafeTensors::deserialize(&state).expect("safetensors");
    let moments = st.names().iter().filter(|n| n.starts_with("opt_G.G.") && n.ends_with(".exp_avg")).count();
    assert_eq!(moments, generators(&first)[0].tensors.len(), "every generator tensor has its moments");
    // Rewrite the state without the optimiser entries.
    let (_, meta) = safetensors::SafeTensors::read_metadata(&state).expect("meta");
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        st.tensors().into_iter().filter(|(n, _)| !n.starts_with("opt_")).collect();
    let stripped = safetensors::tensor::serialize(views, meta.metadata().clone()).expect("serialize");
    let mut resumed = Session::resume(&stripped, paired(3), &device()).expect("resume");
    run(&mut resumed, 1);
    let d = max_diff(&generators(&resumed)[0], &generators(&straight)[0]);
    assert!(d > 1e-4, "without its moments Adam must take a different step ({d})");
}

#[test]
fn a_generator_taken_from_a_saved_state_is_the_exported_one() {
    let _rng = crate::test_support::seeded_rng();
    let mut s = Session::new(tiny(Model::CycleGan), unpaired(), vec![], &device(), "x").expect("session");
    run(&mut s, 1);
    let state = pollster::block_on(s.save_state()).expect("state");
    for (i, name) in ["G_A", "G_B"].into_iter().enumerate() {
        let from_state = weights::load_checkpoint(&generator_from_state(&state, name).expect("extract")).expect("reads");
        assert_eq!(max_diff(&from_state, &generators(&s)[i]), 0.0);
        assert!(matches!(detect(&from_state), Ok(Architecture::Resnet(_))));
    }
    let err = generator_from_state(&state, "G").unwrap_err();
    assert!(matches!(err, StateError::NoGenerator(_)) && err.to_string().contains("no generator G"), "{err}");
    let err = generator_from_state(b"not a state", "G_A").unwrap_err();
    assert!(matches!(err, StateError::NotAState) && err.to_string().contains("not a saved training state"), "{err}");
    let err = Session::resume(b"not a state", unpaired(), &device()).err().expect("refused");
    assert!(matches!(err, TrainingError::State(StateError::NotAState)), "{err}");
    // The wrong images: a clear error rather than a silent mismatch.
    let err = Session::resume(&state, TrainData::Unpaired(vec![img(20, 20, 1)], vec![img(20, 20, 2)]), &device()).err().expect("refused");
    assert!(matches!(err, TrainingError::Data(DataError::NotTheSavedImages { .. })), "{err}");
    assert!(err.to_string().contains("resume it with the same images"), "{err}");
}

/// `state` with metadata entry `key` (JSON) changed by `edit`.
fn edited(state: &[u8], key: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(state).expect("safetensors");
    let (_, header) = safetensors::SafeTensors::read_metadata(state).expect("meta");
    let mut meta = header.metadata().clone().expect("metadata");
    let mut value = serde_json::from_str(&meta[key]).expect("JSON");
    edit(&mut value);
    meta.insert(key.to_string(), value.to_string());
    safetensors::tensor::serialize(st.tensors(), Some(meta)).expect("serialize")
}

/// Found by tests/fuzz: an edited state's metadata sized the networks (a discriminator
/// `ndf` of 2^40 overflowed, or asked for terabytes), its epoch order could point past
/// the data (the next step panicked), huge epoch counts overflowed, and f64 settings came
/// back an ulp off.
#[test]
fn an_edited_state_is_refused_before_anything_is_built() {
    let _rng = crate::test_support::seeded_rng();
    let spec = TrainSpec { lr: 0.000_946_070_827_958_787_1, ..tiny(Model::Pix2Pix) };
    let state = pollster::block_on(Session::new(spec.clone(), paired(3), vec![], &device(), "e").expect("session").save_state()).expect("state");
    assert_eq!(state_summary(&state).expect("summary").spec, spec, "every setting reads back exactly");
    let wide = edited(&state, "archs", |archs| archs[1]["PatchGan"]["ndf"] = (1u64 << 40).into());
    let err = Session::resume(&wide, paired(3), &device()).err().expect("refused");
    assert!(matches!(err, TrainingError::State(StateError::Build(_))) && err.to_string().contains("not the network"), "{err}");
    let past = edited(&state, "progress", |p| p["order"][0] = 3.into());
    let err = Session::resume(&past, paired(3), &device()).err().expect("refused");
    assert!(matches!(err, TrainingError::State(StateError::Position)), "{err}");
    let endless = edited(&state, "spec", |s| {
        s["epochs"] = usize::MAX.into();
        s["epochs_decay"] = usize::MAX.into();
    });
    assert_eq!(Session::resume(&endless, paired(3), &device()).expect("resumes").total_iterations(), usize::MAX);
}

#[test]
fn fine_tuning_starts_from_the_given_generator() {
    let _rng = crate::test_support::seeded_rng();
    let mut s = Session::new(tiny(Model::Pix2Pix), paired(2), vec![], &device(), "a").expect("session");
    let pretrained = generators(&s).remove(0);
    run(&mut s, 1);
    let tuned = Session::new(tiny(Model::Pix2Pix), paired(2), vec![Some(pretrained.clone())], &device(), "b").expect("fine-tune");
    assert_eq!(max_diff(&generators(&tuned)[0], &pretrained), 0.0, "starts exactly from the checkpoint");
    // A checkpoint that needs larger images is named.
    let mut spec = tiny(Model::Pix2Pix);
    spec.size = 48;
    spec.netg = ArchChoice::Resnet { n_blocks: 1 };
    let err = Session::new(spec, paired(2), vec![Some(pretrained)], &device(), "c").err().expect("refused");
    assert!(matches!(err, TrainingError::CheckpointSize { network: "G", .. }), "{err}");
    assert!(err.to_string().contains("multiple of 32, not 48"), "{err}");
}

#[test]
fn settings_that_cannot_train_are_refused_with_a_reason() {
    let mut spec = TrainSpec::new(Model::Pix2Pix);
    spec.size = 96;
    spec.netg = ArchChoice::Unet { num_downs: 8 };
    let err = spec.check().unwrap_err();
    assert!(err.contains("multiple of 256"), "{err}");
    spec.netg = ArchChoice::Auto;
    assert!(spec.check().is_ok(), "auto picks unet_32 for 96 px");
    assert!(matches!(spec.generator_architecture(), Ok(Architecture::Unet(UnetConfig { num_downs: 5, .. }))));
    spec.batch_size = 0;
    assert!(spec.check().unwrap_err().to_string().contains("batch size"));
    spec.batch_size = 1;
    spec.size = 48;
    assert!(spec.check().unwrap_err().to_string().contains("multiple of 32"), "a U-Net halves at least 5 times");
    let err = Session::new(tiny(Model::CycleGan), paired(2), vec![], &device(), "x").err().expect("refused");
    assert!(matches!(err, TrainingError::Data(DataError::NeedsUnpaired)), "{err}");
    assert!(err.to_string().contains("unpaired"), "{err}");
    let err = "gan".parse::<Model>().unwrap_err();
    assert!(err.contains("unknown model `gan`"), "{err}");
}

#[test]
fn training_images_survive_a_round_trip_through_bytes() {
    for data in [paired(2), unpaired()] {
        let bytes = data.to_bytes("run-9").expect("bytes");
        let (back, id) = TrainData::from_bytes(&bytes).expect("reads");
        assert_eq!((back, id.as_str()), (data, "run-9"));
    }
    assert!(matches!(TrainData::from_bytes(b"junk"), Err(DataError::Unreadable(_))));
}

#[test]
fn benchmark_runs_use_the_official_networks_and_full_batches() {
    let _rng = crate::test_support::seeded_rng();
    let device = device();
    let p2p = Session::for_benchmark(Model::Pix2Pix, 32, 2, &device).expect("pix2pix");
    match &p2p.archs[0] {
        Architecture::Unet(c) => assert_eq!((c.num_downs, c.ngf, c.use_dropout), (5, 64, true)),
        other => panic!("{other:?}"),
    }
    let cyc = Session::for_benchmark(Model::CycleGan, 32, 2, &device).expect("cyclegan");
    match &cyc.archs[0] {
        Architecture::Resnet(c) => assert_eq!((c.n_blocks, c.ngf, c.use_dropout), (9, 64, false)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(&cyc.archs[2], Architecture::PatchGan(d) if d.ndf == 64 && d.n_layers == 3 && d.input_nc == 3));
    for mut s in [p2p, cyc] {
        // One batch is the whole epoch, so no iteration takes a short batch.
        assert_eq!(s.data().epoch_len(), s.spec().batch_size);
        let r = run(&mut s, 2);
        assert!(r.iter().all(|r| r.losses.iter().all(|v| v.is_finite())), "{r:?}");
    }
    assert!(matches!(Session::for_benchmark(Model::Pix2Pix, 48, 1, &device), Err(TrainingError::Setting(_))), "48 px has no U-Net");
}

/// The session runs either GAN through the `Gan` trait: what each trainer reports (losses,
/// networks with their optimisers, sample panels, pools) is what the model promises the UI,
/// the CLI and the saved state.
#[test]
fn each_gan_reports_what_its_model_promises() {
    let device = device();
    for (model, data, panels, pools) in [
        (Model::Pix2Pix, paired(2), vec!["A", "G(A)", "B"], vec![]),
        (Model::CycleGan, unpaired(), vec!["A", "G_A(A)", "B", "G_B(B)"], vec!["pool_A", "pool_B"]),
    ] {
        let session = Session::new(tiny(model), data, vec![], &device, "t").expect("session");
        let gan = &session.trainer;
        assert_eq!(gan.loss_names(), model.loss_names(), "{model:?}");
        let networks: Vec<&str> = gan.networks().iter().map(|(n, _, _)| *n).collect();
        assert_eq!(networks, model.network_names(), "{model:?}");
        for (name, opt, net) in gan.networks() {
            assert!(gan.optimizer(opt).is_some(), "{model:?}: {name} has no optimiser {opt}");
            let is_generator = matches!(net, Network::Generator(_));
            assert_eq!(is_generator, model.generator_names().contains(&name), "{model:?}: {name}");
        }
        assert!(gan.optimizer("opt_X").is_none());
        let labels: Vec<&str> = gan.sample_panels().iter().map(|(l, _, _)| *l).collect();
        assert_eq!(labels, panels, "{model:?}");
        let names: Vec<&str> = gan.pools().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, pools, "{model:?}");
    }
}

/// The tensors of network `name` in a saved state, under their official names.
fn network_in_state(state: &[u8], name: &str) -> Checkpoint {
    let mut all = weights::load_checkpoint(state).expect("state");
    let prefix = format!("{name}.");
    all.tensors = all.tensors.into_iter().filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v))).collect();
    all
}

/// A run handed over to junyanz's trainer: a `torch.save` file per network with the state's
/// tensors under the same names, `train_opt.txt` in `print_options`' layout, and a README
/// whose command continues the run at the next epoch. (PyTorch itself loads such a folder
/// into junyanz's classes and trains on: `scripts/reference/continue_junyanz.py`.)
#[test]
fn a_run_hands_over_to_junyanz_as_its_checkpoint_folder() {
    let _rng = crate::test_support::seeded_rng();
    let spec = TrainSpec {
        size: 16,
        batch_size: 1,
        epochs: 1,
        epochs_decay: 1,
        ngf: 2,
        ndf: 2,
        n_layers_d: 2,
        pool_size: 2,
        netg: ArchChoice::Resnet { n_blocks: 6 },
        seed: 1,
        ..TrainSpec::new(Model::CycleGan)
    };
    let mut s = Session::new(spec, unpaired(), vec![], &device(), "j").expect("session");
    // Three iterations an epoch: four is one epoch and one iteration into the second.
    run(&mut s, 4);
    let state = pollster::block_on(s.save_state()).expect("state");
    let files = junyanz_folder(&state, "horses").expect("exports");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["latest_net_G_A.pth", "latest_net_G_B.pth", "latest_net_D_A.pth", "latest_net_D_B.pth", "train_opt.txt", "README.md"]);
    for (file, bytes) in &files[..4] {
        let net = &file["latest_net_".len()..file.len() - ".pth".len()];
        let got = weights::load_checkpoint(bytes).expect("reads");
        assert_eq!(got.format, weights::CheckpointFormat::TorchZip, "{file}");
        let want = network_in_state(&state, net);
        assert!(!want.tensors.is_empty(), "{net}");
        assert_eq!(max_diff(&got, &want), 0.0, "{file}: the state's tensors, as they are");
    }
    let text = |name: &str| String::from_utf8(files.iter().find(|(n, _)| n == name).expect(name).1.clone()).expect("utf-8");
    let opt = text("train_opt.txt");
    assert!(opt.starts_with("----------------- Options ---------------\n") && opt.ends_with("----------------- End -------------------\n"), "{opt}");
    for line in [
        "                    model: cycle_gan                     \n",
        "                     netG: resnet_6blocks                \t[default: resnet_9blocks]\n",
        "              epoch_count: 2                             \t[default: 1]\n",
        "                     name: horses                        \t[default: experiment_name]\n",
        "                     norm: instance                      \n",
    ] {
        assert!(opt.contains(line), "{line:?} in\n{opt}");
    }
    let readme = text("README.md");
    for part in ["--name horses", "--netG resnet_6blocks", "--netD n_layers", "--n_layers_D 2", "--epoch_count 2", "--load_size 18 ", "--continue_train\n"] {
        assert!(readme.contains(part), "{part:?} in\n{readme}");
    }
    assert!(!readme.contains("--gan_mode"), "lsgan is cycle_gan's default");

    // Pix2Pix: LSGAN and instance norm, which are not pix2pix's defaults, are said.
    let spec = TrainSpec { size: 128, batch_size: 1, ngf: 2, ndf: 2, n_layers_d: 1, netg: ArchChoice::Unet { num_downs: 7 }, ..TrainSpec::new(Model::Pix2Pix) };
    let mut s = Session::new(spec, paired(2), vec![], &device(), "p").expect("session");
    run(&mut s, 1);
    let files = junyanz_folder(&pollster::block_on(s.save_state()).expect("state"), "facades").expect("exports");
    let readme = String::from_utf8(files.last().expect("readme").1.clone()).expect("utf-8");
    for part in ["--model pix2pix", "--netG unet_128", "--gan_mode lsgan", "--norm instance", "--epoch_count 1"] {
        assert!(readme.contains(part), "{part:?} in\n{readme}");
    }
    // junyanz builds no unet_32, and has no fast style network.
    let mut s = Session::new(tiny(Model::Pix2Pix), paired(2), vec![], &device(), "u").expect("session");
    run(&mut s, 1);
    let err = junyanz_folder(&pollster::block_on(s.save_state()).expect("state"), "x").err().expect("refused").to_string();
    assert!(err.contains("unet_128, unet_256, resnet_6blocks and resnet_9blocks") && err.contains("unet_32"), "{err}");
}
