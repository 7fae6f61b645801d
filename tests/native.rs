//! Native integration tests: the GPU path through wgpu (lavapipe on machines
//! without a GPU) and the CLI.
#![cfg(not(target_arch = "wasm32"))]

use ai_art::device::{self, Preference};
use ai_art::imaging;
use burn::tensor::Device;
use std::process::Command;

fn test_image(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5 % 256) as u8, (y * 11 % 256) as u8, ((x + 3 * y) % 256) as u8]))
}

/// The GPU path must work on every machine that runs the tests: lavapipe
/// (installed by scripts/setup-tools.sh) provides Vulkan on the CPU.
/// The wgpu device, started once per test binary (Burn's runtime starts once per process).
fn gpu() -> device::Compute {
    static GPU: std::sync::OnceLock<device::Compute> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        pollster::block_on(device::start(Preference::Gpu)).expect("a wgpu adapter (lavapipe is installed by scripts/setup-tools.sh)")
    })
    .clone()
}

#[test]
fn wgpu_device_starts_and_round_trips_an_image() {
    let c = gpu();
    assert!(c.info.is_gpu);
    assert!(!c.info.adapter.is_empty());
    assert!(c.info.limits.is_some());
    let img = test_image(31, 20);
    let out = pollster::block_on(imaging::roundtrip(&img, &c.device)).unwrap();
    assert_eq!(out, img);
    // Same numbers as the CPU backend.
    let cpu = pollster::block_on(imaging::roundtrip(&img, &Device::flex())).unwrap();
    assert_eq!(out, cpu);
}

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ai-art"))
}

#[test]
fn cli_help_lists_the_commands() {
    let out = cli().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("info"), "{text}");
}

#[test]
fn cli_info_reports_the_wgpu_adapter() {
    let out = cli().args(["info", "--backend", "wgpu"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("adapter: "), "{text}");
    assert!(text.contains("maxStorageBufferBindingSize: "), "{text}");
    assert!(!text.contains("falling back"), "{text}");
}

#[test]
fn cli_info_on_the_cpu_says_so() {
    let out = cli().args(["info", "--backend", "cpu"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("backend: CPU"), "{text}");
}

#[test]
fn cli_falls_back_to_the_cpu_when_no_adapter_exists() {
    // Point the Vulkan loader and EGL (wgpu's GL fallback) at no driver at all:
    // wgpu finds no adapter, so
    // `auto` must fall back (and say why) while `wgpu` must fail clearly.
    let no_gpu = |args: &[&str]| {
        cli()
            .args(args)
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .env("VK_DRIVER_FILES", "/nonexistent.json")
            .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json")
            .output()
            .unwrap()
    };
    let out = no_gpu(&["info"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("falling back to the CPU backend"), "{text}");
    assert!(text.contains("backend: CPU"), "{text}");
    let out = no_gpu(&["info", "--backend", "wgpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no GPU available"));
}

#[test]
fn cli_rejects_an_unknown_backend() {
    let out = cli().args(["info", "--backend", "cuda"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend"));
}

// ------------------------------------------------ the real pretrained model (vintagify) -----
//
// vintagify 0.1.2 (PyPI) ships a CycleGAN ResNet-9 generator (affine instance norm, residual
// blocks named `block`). scripts/fetch-models.sh (run by the test command) downloads it once
// into .tools/models/; tests/fixtures/networks/vintagify_scene.safetensors holds PyTorch's
// output for tests/fixtures/images/scene.png (scripts/reference/make_network_fixtures.py).

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vintagify_path() -> std::path::PathBuf {
    let path = std::env::var_os("AI_ART_VINTAGIFY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/models/vintagify-photo2vintage.pth"));
    assert!(path.exists(), "{} is missing: run scripts/fetch-models.sh (scripts/test.sh does)", path.display());
    path
}

/// PSNR in dB of `got` against `want`, both in [-1, 1] (peak-to-peak 2).
fn psnr(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len());
    let mse = got.iter().zip(want).map(|(g, w)| (*g as f64 - *w as f64).powi(2)).sum::<f64>() / got.len() as f64;
    10.0 * (4.0 / mse.max(1e-30)).log10()
}

fn vintagify_matches_pytorch(device: &Device, backend: &str) {
    use ai_art::models::{ArchChoice, NormChoice, load_generator};
    use ai_art::techniques::image_to_image;
    let bytes = std::fs::read(vintagify_path()).unwrap();
    let ckpt = ai_art::weights::load_state_dict(&bytes).expect("the vintagify checkpoint loads");
    let (generator, arch) = load_generator(ckpt, ArchChoice::Auto, NormChoice::Auto, device).expect("builds");
    let text = arch.describe();
    assert!(text.contains("resnet_9blocks") && text.contains("instance-affine") && text.contains("ngf 64"), "{text}");

    let fixture = std::fs::read(root().join("tests/fixtures/networks/vintagify_scene.safetensors")).unwrap();
    let fixture = ai_art::weights::load_checkpoint(&fixture).unwrap().tensors;
    let scene = imaging::decode(&std::fs::read(root().join("tests/fixtures/images/scene.png")).unwrap()).unwrap();
    // Our preprocessing gives PyTorch's input (x / 255 * 2 - 1) to float precision.
    let x = image_to_image::to_network_input(&scene, 3, device).unwrap();
    let ours_in = x.clone().into_data().try_into_vec::<f32>().unwrap();
    let torch_in = fixture["input"].as_f32().unwrap();
    assert_eq!(x.dims().to_vec(), fixture["input"].shape);
    assert!(ours_in.iter().zip(torch_in).all(|(a, b)| (a - b).abs() <= 1e-6));

    let y = image_to_image::forward_any_size(&generator, x);
    assert_eq!(y.dims().to_vec(), fixture["output"].shape);
    let y = y.into_data().try_into_vec::<f32>().unwrap();
    let want = fixture["output"].as_f32().unwrap();
    let db = psnr(&y, want);
    let max_abs = y.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    eprintln!("vintagify on {backend}: PSNR {db:.1} dB, max |ours - torch| {max_abs:.2e}");
    assert!(db >= 40.0, "vintagify on {backend}: PSNR {db:.1} dB < 40 dB");
}

#[test]
fn pretrained_vintagify_matches_pytorch_on_the_cpu() {
    vintagify_matches_pytorch(&Device::flex(), "CPU (burn-flex)");
}

#[test]
fn pretrained_vintagify_matches_pytorch_on_wgpu() {
    let before = ai_art::kernels::kernel_launches();
    vintagify_matches_pytorch(&gpu().device, "wgpu (our WGSL instance norm and convolutions)");
    let after = ai_art::kernels::kernel_launches();
    // The ResNet's convolutions and its two transposed convolutions ran in our WGSL.
    assert!(after.conv_forward >= before.conv_forward + 22, "{before:?} -> {after:?}");
    assert!(after.conv_transposed >= before.conv_transposed + 2, "{before:?} -> {after:?}");
    assert!(after.instance_norm_forward > before.instance_norm_forward);
}

/// `ai-art translate` on the CPU.
fn translate(checkpoint: &std::path::Path, input: &std::path::Path, output: &std::path::Path) -> std::process::Output {
    cli()
        .args(["translate", "--backend", "cpu", "--checkpoint"])
        .arg(checkpoint)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .output()
        .unwrap()
}

#[test]
fn cli_translate_runs_the_pretrained_model_at_any_size() {
    let dir = std::env::temp_dir().join(format!("ai-art-translate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // An odd size: the generator needs multiples of 4; the output keeps the input's size.
    let input = dir.join("odd.png");
    test_image(37, 22).save(&input).unwrap();
    let output = dir.join("out.png");
    let out = translate(&vintagify_path(), &input, &output);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("detected: ResNet generator resnet_9blocks"), "{text}");
    let img = image::open(&output).unwrap();
    assert_eq!((img.width(), img.height()), (37, 22));

    // A corrupt checkpoint and a non-image input: a readable error, no panic.
    let bad = dir.join("bad.pth");
    std::fs::write(&bad, b"PK\x03\x04 definitely not a checkpoint").unwrap();
    let out = translate(&bad, &input, &output);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("error: ") && err.contains("bad.pth") && !err.contains("panicked"), "{err}");
    let out = translate(&vintagify_path(), &bad, &output);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unsupported image format") || err.contains("could not be decoded"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_translate_runs_a_fast_style_network_from_its_old_checkpoint_format() {
    let dir = std::env::temp_dir().join(format!("ai-art-fast-style-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("odd.png");
    test_image(37, 22).save(&input).unwrap();
    let output = dir.join("out.png");
    // pytorch/examples' TransformerNet layout, saved as its published models were (legacy
    // format, InstanceNorm running statistics): detected from its keys.
    let out = translate(&root().join("tests/fixtures/networks/fast_style_small.pth"), &input, &output);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("detected: fast style network (Johnson et al., pytorch/examples' TransformerNet), widths 4/8/16, 2 residual blocks"), "{text}");
    let img = image::open(&output).unwrap();
    assert_eq!((img.width(), img.height()), (37, 22));
    std::fs::remove_dir_all(&dir).ok();
}

// ------------------------------------------------------------------ style transfer CLI -----

#[test]
fn cli_stylize_writes_the_image_and_a_loss_log_with_both_optimizers() {
    let dir = std::env::temp_dir().join(format!("ai-art-stylize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = root().join("tests/fixtures");
    for (optimizer, steps) in [("adam", "12"), ("lbfgs", "8")] {
        let output = dir.join(format!("{optimizer}.png"));
        let log = dir.join(format!("{optimizer}.csv"));
        let out = cli()
            .args(["stylize", "--backend", "cpu", "--size", "40", "--steps", steps, "--optimizer", optimizer])
            .args(["--style-weight", "1", "--tv-weight", "0.01", "--pool", "max", "--layer-weights", "decay:0.5"])
            .arg("--content")
            .arg(fixtures.join("nst/content.png"))
            .arg("--style")
            .arg(format!("{}:0.7", fixtures.join("nst/style.png").display()))
            .arg("--style")
            .arg(fixtures.join("images/scene.png"))
            .arg("--vgg")
            .arg(fixtures.join("networks/vgg19_small.pth"))
            .arg("--output")
            .arg(&output)
            .arg("--log")
            .arg(&log)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{optimizer}: {err}");
        let img = image::open(&output).unwrap();
        assert_eq!((img.width(), img.height()), (40, 32), "{optimizer}: aspect ratio kept");
        let csv = std::fs::read_to_string(&log).unwrap();
        let rows: Vec<Vec<f64>> = csv.lines().skip(1).map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
        assert_eq!(csv.lines().next(), Some("step,content,style,tv,total"));
        assert_eq!(rows.len(), steps.parse::<usize>().unwrap(), "{optimizer}: one row per step");
        let (first, last) = (rows[0][4], rows[rows.len() - 1][4]);
        assert!(last < first, "{optimizer}: total loss {first} -> {last} must fall");
    }
    // Bad input: a readable error, no panic.
    let out = cli()
        .args(["stylize", "--backend", "cpu", "--content", "/nonexistent.png", "--style", "x.png", "--vgg", "v.pth", "--output", "o.png"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cannot read /nonexistent.png") && !err.contains("panicked"), "{err}");
    let out = cli()
        .args(["stylize", "--backend", "cpu", "--content-layer", "conv9_9", "--content", "a", "--style", "b", "--vgg", "c", "--output", "d"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a VGG19 layer"));
    std::fs::remove_dir_all(&dir).ok();
}

// ------------------------------------------------------------------------- training CLI -----

/// The CLI refuses a style-transfer size with the very message the app's worker gives: both
/// call `techniques::style_transfer::Settings::prepare` (here against the CPU fallback's bound).
#[test]
fn cli_stylize_refuses_the_sizes_the_app_refuses() {
    use ai_art::techniques::style_transfer::Settings;
    let fixtures = root().join("tests/fixtures");
    let read_image = |p: &str| imaging::decode(&std::fs::read(fixtures.join(p)).unwrap()).unwrap();
    let (content, style) = (read_image("nst/content.png"), read_image("nst/style.png"));
    let settings = Settings { size: 1000, ..Settings::default() };
    let want = settings.prepare(&content, &[(style, 1.0)], 64, None).err().expect("1000 px is over the CPU bound").to_string();
    let out = cli()
        .args(["stylize", "--backend", "cpu", "--size", "1000", "--steps", "1"])
        .arg("--content")
        .arg(fixtures.join("nst/content.png"))
        .arg("--style")
        .arg(fixtures.join("nst/style.png"))
        .arg("--vgg")
        .arg(fixtures.join("networks/vgg19_small.pth"))
        .args(["--output", "/nonexistent/never-written.png"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(&want), "the CLI said: {err}\nthe worker says: {want}");
}

/// `bench fast-style` prints the JSON lines `scripts/reference/gpu_report.py` pairs with
/// `bench_fast_style.py`'s (the same fields), one per case.
#[test]
fn cli_bench_fast_style_prints_one_record_per_case() {
    let out = cli().args(["bench", "fast-style", "--backend", "cpu", "--sizes", "16,24", "--train-sizes", "16", "--batches", "1", "--steps", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(records.len(), 3);
    for (r, (what, size)) in records.iter().zip([("inference", 16), ("inference", 24), ("training", 16)]) {
        assert_eq!((r["what"].as_str(), r["size"].as_u64()), (Some(what), Some(size)), "{r}");
        let (ms, rate) = if what == "inference" { ("ms_per_image", "fps") } else { ("ms_per_iter", "it_per_s") };
        let (ms, rate) = (r[ms].as_f64().expect("ms"), r[rate].as_f64().expect("rate"));
        assert!(ms > 0.0 && (rate * ms / 1e3 - 1.0).abs() < 0.01, "{r}");
    }
}

#[test]
fn cli_dream_writes_a_changed_image_of_the_same_size() {
    let dir = std::env::temp_dir().join(format!("ai-art-dream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = root().join("tests/fixtures");
    let output = dir.join("dream.png");
    let dream = |layer: &str, channels: &str| {
        cli()
            .args(["dream", "--backend", "cpu", "--layer", layer, "--channels", channels, "--octaves", "2", "--steps", "3", "--jitter", "4"])
            .arg("--vgg")
            .arg(fixtures.join("networks/vgg19_small.pth"))
            .arg("--input")
            .arg(fixtures.join("nst/content.png"))
            .arg("--output")
            .arg(&output)
            .output()
            .unwrap()
    };
    let out = dream("relu3_1", "0,2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (input, result) = (image::open(fixtures.join("nst/content.png")).unwrap().to_rgb8(), image::open(&output).unwrap().to_rgb8());
    assert_eq!(result.dimensions(), input.dimensions());
    let changed = input.pixels().zip(result.pixels()).filter(|(a, b)| a != b).count();
    assert!(changed > input.len() / 3 / 2, "most pixels changed ({changed})");
    // A layer VGG19 does not have, and a channel the layer does not have: readable errors.
    let out = dream("conv9_9", "0");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("conv9_9"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = dream("conv1_1", "4");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("conv1_1 has 4 channels (0 to 3); there is no channel 4"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_trains_a_fast_style_network_that_translate_then_runs() {
    let dir = std::env::temp_dir().join(format!("ai-art-train-fast-style-{}", std::process::id()));
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    // Three photos of other sizes and shapes (the shorter side is resized to 32, the centre
    // kept) and a broken file, which is skipped and named.
    for (k, (w, h)) in [(48u32, 40u32), (40, 64), (33, 33)].into_iter().enumerate() {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5 + k as u32 * 30) as u8, (y * 6) as u8, ((x + y) * 2) as u8]))
            .save(photos.join(format!("{k}.png")))
            .unwrap();
    }
    std::fs::write(photos.join("broken.png"), b"not a png").unwrap();
    let out_dir = dir.join("out");
    let fixtures = root().join("tests/fixtures");
    let out = cli()
        .args(["train", "fast-style", "--backend", "cpu", "--size", "32", "--batch-size", "2", "--max-iterations", "3"])
        .arg("--data")
        .arg(&photos)
        .arg("--style")
        .arg(fixtures.join("nst/style.png"))
        .arg("--vgg")
        .arg(fixtures.join("networks/vgg19_small.pth"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("3 photo(s) loaded, 1 skipped: broken.png"), "{err}");
    let log = std::fs::read_to_string(out_dir.join("losses.csv")).unwrap();
    let rows: Vec<&str> = log.lines().collect();
    assert_eq!(rows[0], "epoch,iteration,content,style,tv,total");
    // 3 photos in batches of 2: two iterations an epoch, the third in epoch 2.
    assert_eq!(rows.iter().skip(1).map(|r| r.split(',').take(2).collect::<Vec<_>>().join(",")).collect::<Vec<_>>(), ["1,1", "1,2", "2,3"]);
    for row in &rows[1..] {
        assert!(row.split(',').skip(2).all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)), "{row}");
    }
    // The network under pytorch/examples' names and shapes: exactly the state dict PyTorch's
    // TransformerNet has (full_layouts.json, written from it), so `load_state_dict(strict=True)`
    // takes it.
    let exported = ai_art::weights::load_checkpoint(&std::fs::read(out_dir.join("fast_style.safetensors")).unwrap()).unwrap();
    let layouts: serde_json::Value = serde_json::from_slice(&std::fs::read(fixtures.join("networks/full_layouts.json")).unwrap()).unwrap();
    let want: std::collections::BTreeMap<String, Vec<usize>> = serde_json::from_value(layouts["fast_style"]["keys"].clone()).unwrap();
    let got: std::collections::BTreeMap<String, Vec<usize>> = exported.tensors.iter().map(|(k, t)| (k.clone(), t.shape.clone())).collect();
    assert_eq!(got, want);
    // It stylises an image of any size.
    let image = dir.join("odd.png");
    test_image(37, 22).save(&image).unwrap();
    let out = translate(&out_dir.join("fast_style.safetensors"), &image, &dir.join("styled.png"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("fast style network (Johnson et al., pytorch/examples' TransformerNet), widths 32/64/128, 5 residual blocks"), "{text}");
    assert_eq!(image::image_dimensions(dir.join("styled.png")).unwrap(), (37, 22));
    // Without a style image: a readable error.
    let out = cli().args(["train", "fast-style", "--data"]).arg(&photos).arg("--out").arg(&out_dir).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("fast-style needs --data (a folder of photos), --style"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn cli_trains_pix2pix_and_cyclegan_and_the_exported_generators_translate() {
    let dir = std::env::temp_dir().join(format!("ai-art-train-{}", std::process::id()));
    let (ab, a, b) = (dir.join("ab"), dir.join("a"), dir.join("b"));
    for d in [&ab, &a, &b] {
        std::fs::create_dir_all(d).unwrap();
    }
    for k in 0..3u32 {
        let img = image::RgbImage::from_fn(48, 40, |x, y| image::Rgb([(x * 5 + k * 30) as u8, (y * 6) as u8, ((x + y) * 2) as u8]));
        // Side-by-side AB: A left, its inverse right.
        let pair = image::RgbImage::from_fn(96, 40, |x, y| {
            let p = img.get_pixel(x % 48, y).0;
            if x < 48 { image::Rgb(p) } else { image::Rgb(p.map(|v| 255 - v)) }
        });
        pair.save(ab.join(format!("{k}.png"))).unwrap();
        img.save(a.join(format!("{k}.png"))).unwrap();
        image::RgbImage::from_fn(40, 48, |x, y| image::Rgb([200, (x * 4) as u8, (y * 3 + k * 20) as u8])).save(b.join(format!("{k}.jpg"))).unwrap();
    }
    std::fs::write(ab.join("broken.png"), b"not a png").unwrap();

    let run = |model: &str, data: &[&str], netg: &str, out: &std::path::Path| {
        let out_arg = out.to_str().unwrap().to_string();
        let mut args = vec!["train", model, "--backend", "cpu", "--size", "32", "--netg", netg, "--ngf", "4", "--ndf", "4"];
        args.extend_from_slice(&["--max-iterations", "4", "--batch-size", "2", "--epochs", "2", "--epochs-decay", "1", "--out", &out_arg]);
        args.extend_from_slice(data);
        let out = cli().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{model}: {err}");
        err
    };
    let p2p = dir.join("p2p");
    let err = run("pix2pix", &["--data", ab.to_str().unwrap()], "unet_32", &p2p);
    assert!(err.contains("3 image(s) loaded, 1 skipped") && err.contains("broken.png"), "{err}");
    let csv = std::fs::read_to_string(p2p.join("losses.csv")).unwrap();
    assert!(csv.starts_with("epoch,iteration,lr,D_fake,D_real,D,G_GAN,G_L1,G"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 4);
    let cg = dir.join("cg");
    let sets = ["--data-a", a.to_str().unwrap(), "--data-b", b.to_str().unwrap()];
    run("cyclegan", &sets, "resnet_6blocks", &cg);
    assert_eq!(std::fs::read_to_string(cg.join("losses.csv")).unwrap().lines().count(), 1 + 4);
    // The saved run continues where it stopped (to 6 iterations), appending to the log.
    let state = cg.join("state.safetensors");
    let mut args = vec!["train", "cyclegan", "--backend", "cpu", "--max-iterations", "6", "--out", cg.to_str().unwrap()];
    args.extend_from_slice(&sets);
    let out = cli().args(&args).arg("--resume").arg(&state).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("resuming at iteration 4 of"), "{err}");
    let csv = std::fs::read_to_string(cg.join("losses.csv")).unwrap();
    let iterations: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap_or("")).collect();
    assert_eq!(iterations, ["1", "2", "3", "4", "5", "6"], "{csv}");
    // Resuming with other images is refused by name.
    let few = dir.join("few");
    std::fs::create_dir_all(&few).unwrap();
    std::fs::copy(a.join("0.png"), few.join("0.png")).unwrap();
    let out = cli().args(&args[..args.len() - 4]).args(["--data-a", few.to_str().unwrap(), "--data-b", b.to_str().unwrap()]).arg("--resume").arg(&state).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("resume it with the same images"));

    // Handed over to junyanz's trainer: its checkpoints folder, with the command in its README;
    // the unet_32 run is refused (junyanz builds no unet_32), with the reason.
    let horses = dir.join("horses");
    let out = cli().args(["export", "--format", "junyanz", "--state"]).arg(&state).arg("--out").arg(&horses).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["latest_net_G_A.pth", "latest_net_G_B.pth", "latest_net_D_A.pth", "latest_net_D_B.pth", "train_opt.txt", "README.md"] {
        assert!(horses.join(f).is_file(), "{f}");
    }
    let readme = std::fs::read_to_string(horses.join("README.md")).unwrap();
    assert!(readme.contains("--name horses") && readme.contains("--netG resnet_6blocks") && readme.contains("--continue_train"), "{readme}");
    let out = cli().args(["export", "--state"]).arg(p2p.join("state.safetensors")).arg("--out").arg(dir.join("no")).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unet_32"));
    // ... and back: the folder continues here, every network from its file.
    // (--ndf 8 would build new discriminators of width 8: the folder's have 4.)
    let mut args = vec!["train", "cyclegan", "--backend", "cpu", "--size", "32", "--ndf", "8", "--max-iterations", "1", "--out", cg.to_str().unwrap()];
    args.extend_from_slice(&sets);
    let out = cli().args(&args).arg("--from-junyanz").arg(&horses).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("Adam's moments are not in junyanz's checkpoints"), "{err}");
    assert!(err.contains("D_A: PatchGAN discriminator") && err.contains("ndf 4") && !err.contains("ndf 8"), "the discriminators come from the folder: {err}");

    // The exported generators load back by their official names and translate, junyanz's
    // `latest_net_*.pth` too.
    for (ckpt, what) in [
        (p2p.join("G.safetensors"), "U-Net generator unet_32"),
        (cg.join("G_B.safetensors"), "resnet_6blocks"),
        (horses.join("latest_net_G_A.pth"), "resnet_6blocks"),
    ] {
        let out = cli()
            .args(["translate", "--backend", "cpu", "--checkpoint"])
            .arg(&ckpt)
            .arg("--input")
            .arg(a.join("0.png"))
            .arg("--output")
            .arg(dir.join("t.png"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(what), "{text}{}", String::from_utf8_lossy(&out.stderr));
    }
    // Bad input: a readable error.
    let out = cli().args(["train", "cyclegan", "--backend", "cpu", "--out"]).arg(dir.join("x")).arg("--data").arg(&ab).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cyclegan needs --data-a and --data-b"));
    std::fs::remove_dir_all(&dir).ok();
}

/// The sample gallery ships what `static/samples/samples.json` lists, nothing else; each sample
/// has a source and an allowed licence and appears in CREDITS.md; all of it stays small.
#[test]
fn samples_are_listed_with_their_licences_and_stay_small() {
    let dir = root().join("static/samples");
    let listed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("samples.json")).expect("samples.json")).expect("parses");
    let credits = std::fs::read_to_string(root().join("CREDITS.md")).expect("CREDITS.md");
    let samples = listed["samples"].as_array().expect("a list");
    let mut names: Vec<String> = Vec::new();
    let mut total = 0;
    for s in samples {
        let file = s["file"].as_str().expect("file");
        assert!(matches!(s["kind"].as_str(), Some("content" | "style")), "{file}: kind");
        assert!(matches!(s["licence"].as_str(), Some("CC0 1.0" | "Public domain")), "{file}: licence {}", s["licence"]);
        assert!(s["source"].as_str().is_some_and(|src| src.len() > 10), "{file}: source");
        assert!(credits.contains(&format!("`static/samples/{file}`")), "CREDITS.md does not list {file}");
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let img = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(img.width().max(img.height()) <= 512, "{file}: {}x{}", img.width(), img.height());
        total += bytes.len();
        names.push(file.to_string());
    }
    assert!(samples.iter().any(|s| s["kind"] == "content") && samples.iter().any(|s| s["kind"] == "style"));
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("static/samples")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8 name"))
        .filter(|n| n != "samples.json")
        .collect();
    on_disk.sort();
    names.sort();
    assert_eq!(names, on_disk, "samples.json and static/samples/ disagree");
    assert!(total <= 3 << 20, "the samples weigh {total} bytes, more than 3 MiB");
}
