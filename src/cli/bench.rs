//! `ai-art bench kernels`: our WGSL kernels against the same operation composed
//! of Burn ops, on the same device, in the same run, at the shapes the
//! techniques use. Prints medians and the ratio (composition / ours: above 1
//! means our kernel is faster), so a noisy shared machine still gives a fair
//! comparison.

use crate::kernels::{
    ConvGeometry, ConvKind, conv_reference, conv_transpose2d, conv2d, gram, gram_reference, instance_norm,
    instance_norm_reference,
};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

/// VGG19 style layers (relu1_1 .. relu5_1): channels and the downsampling
/// factor of their feature maps.
const VGG_STYLE_LAYERS: [(&str, usize, usize); 5] =
    [("relu1_1", 64, 1), ("relu2_1", 128, 2), ("relu3_1", 256, 4), ("relu4_1", 512, 8), ("relu5_1", 512, 16)];

/// Instance-norm sites of the ResNet generator (ngf = 64): channels and
/// downsampling (the 9 residual blocks run at 256 channels, 1/4 size).
const RESNET_NORM_SITES: [(&str, usize, usize); 3] = [("c7s1-64", 64, 1), ("d128", 128, 2), ("d256/R256", 256, 4)];

/// Convolution sites of the studio's networks: name, in and out channels, kernel, stride,
/// padding, `Some(output_padding)` for a transposed one, and the input's downsampling
/// factor and extra pixels per side (reflection padding applied before the convolution).
type ConvSite = (&'static str, usize, usize, usize, usize, usize, Option<usize>, usize, usize);
const CONV_SITES: [ConvSite; 8] = [
    ("vgg conv1_2", 64, 64, 3, 1, 1, None, 1, 0),
    ("vgg conv3_2", 256, 256, 3, 1, 1, None, 4, 0),
    ("vgg conv5_1", 512, 512, 3, 1, 1, None, 16, 0),
    ("resnet c7s1-64", 3, 64, 7, 1, 0, None, 1, 3),
    ("resnet R256", 256, 256, 3, 1, 0, None, 4, 1),
    ("resnet u128", 256, 128, 3, 2, 1, Some(1), 4, 0),
    ("unet/patchgan d128", 64, 128, 4, 2, 1, None, 2, 0),
    ("unet u64", 256, 64, 4, 2, 1, Some(0), 4, 0),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn sync(device: &Device) {
    if let Err(e) = device.sync() {
        eprintln!("warning: device sync failed: {e:?}");
    }
}

/// Median seconds of `f` over `runs` runs after one warm-up, synchronising the
/// device around each run.
fn time(device: &Device, runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    sync(device);
    let samples = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            sync(device);
            t.elapsed().as_secs_f64()
        })
        .collect();
    median(samples)
}

struct Row {
    op: &'static str,
    shape: String,
    pass: &'static str,
    ours: f64,
    reference: f64,
}

/// A fresh graph leaf: tracked when the run measures the backward pass, detached otherwise.
fn leaf<const D: usize>(t: &Tensor<D>, backward: bool) -> Tensor<D> {
    if backward { t.clone().require_grad() } else { t.clone().detach() }
}

fn bench_pair(
    device: &Device,
    runs: usize,
    rows: &mut Vec<Row>,
    op: &'static str,
    shape: String,
    ours: impl Fn(bool),
    reference: impl Fn(bool),
) {
    for (pass, backward) in [("forward", false), ("fwd+bwd", true)] {
        let a = time(device, runs, || ours(backward));
        let b = time(device, runs, || reference(backward));
        eprintln!("  {op:<13} {shape:<22} {pass:<8} ours {:>9.3} ms   burn ops {:>9.3} ms", a * 1e3, b * 1e3);
        rows.push(Row { op, shape: shape.clone(), pass, ours: a, reference: b });
    }
}

/// Runs the kernel benchmark on `device` at the given image sizes.
pub fn kernels(device: &Device, sizes: &[usize], runs: usize, ops: &[String]) -> String {
    let ad = device.clone().autodiff();
    let mut rows = Vec::new();
    let wants = |op: &str| ops.is_empty() || ops.iter().any(|o| o == op);
    for &size in sizes {
        for (layer, c, down) in VGG_STYLE_LAYERS.into_iter().filter(|_| wants("gram")) {
            let n = (size / down) * (size / down);
            let f = Tensor::<3>::random([1, c, n], Distribution::Normal(0.0, 1.0), &ad);
            let scale = 1.0 / (c * n) as f32;
            let run = |wgsl: bool| {
                let f = f.clone();
                move |backward: bool| {
                    let x = leaf(&f, backward);
                    let g = if wgsl { gram(x, scale) } else { gram_reference(x, scale) };
                    if backward {
                        let _ = g.sum().backward();
                    } else {
                        let _ = g;
                    }
                }
            };
            bench_pair(device, runs, &mut rows, "gram", format!("{layer} @{size}px [1,{c},{n}]"), run(true), run(false));
        }
        for (site, c, down) in RESNET_NORM_SITES.into_iter().filter(|_| wants("instance_norm")) {
            let s = size / down;
            let x = Tensor::<4>::random([1, c, s, s], Distribution::Normal(0.0, 1.0), &ad);
            let gamma = Tensor::<1>::random([c], Distribution::Uniform(0.5, 1.5), &ad);
            let beta = Tensor::<1>::random([c], Distribution::Default, &ad);
            let run = |wgsl: bool| {
                let (x, gamma, beta) = (x.clone(), gamma.clone(), beta.clone());
                move |backward: bool| {
                    let (x, g, b) = (leaf(&x, backward), leaf(&gamma, backward), leaf(&beta, backward));
                    let y = if wgsl {
                        instance_norm(x, Some(g), Some(b), 1e-5)
                    } else {
                        instance_norm_reference(x, Some(g), Some(b), 1e-5)
                    };
                    if backward {
                        let _ = y.sum().backward();
                    }
                }
            };
            bench_pair(device, runs, &mut rows, "instance_norm", format!("{site} @{size}px [1,{c},{s},{s}]"), run(true), run(false));
        }
    }
    for &size in sizes {
        for (site, cin, cout, k, stride, padding, transposed, down, extra) in CONV_SITES.into_iter().filter(|_| wants("conv")) {
            // Style-transfer images are 4:3; the generators' crops square.
            let (h, w) = if site.starts_with("vgg") { (size * 3 / 4 / down, size / down) } else { (size / down, size / down) };
            if h == 0 || w == 0 {
                eprintln!("  skipping {site} at {size} px: its input would be empty");
                continue;
            }
            let (h, w) = (h + 2 * extra, w + 2 * extra);
            let x = Tensor::<4>::random([1, cin, h, w], Distribution::Normal(0.0, 1.0), &ad);
            let wdims = if transposed.is_some() { [cin, cout, k, k] } else { [cout, cin, k, k] };
            let weight = Tensor::<4>::random(wdims, Distribution::Normal(0.0, 0.05), &ad);
            let bias = Tensor::<1>::random([cout], Distribution::Default, &ad);
            let g = ConvGeometry::new(stride, padding);
            let run = |wgsl: bool| {
                let (x, weight, bias) = (x.clone(), weight.clone(), bias.clone());
                move |backward: bool| {
                    // Backward: input and weight gradients, as in training.
                    let (x, w, b) = (leaf(&x, backward), leaf(&weight, backward), leaf(&bias, backward));
                    let y = match (transposed, wgsl) {
                        (None, true) => conv2d(x, w, Some(b), g),
                        (None, false) => conv_reference(x, w, Some(b), g, ConvKind::Conv),
                        (Some(op), true) => conv_transpose2d(x, w, Some(b), g, [op, op]),
                        (Some(op), false) => conv_reference(x, w, Some(b), g, ConvKind::Transposed { output_padding: [op, op] }),
                    };
                    if backward {
                        let _ = y.sum().backward();
                    }
                }
            };
            let name = if transposed.is_some() { "conv_transpose" } else { "conv" };
            let shape = format!("{site} {k}x{k}/{stride} @{size}px [1,{cin},{h},{w}]->{cout}");
            bench_pair(device, runs, &mut rows, name, shape, run(true), run(false));
        }
    }
    let mut table = String::from("| op | shape | pass | ours (ms) | Burn ops (ms) | speed-up |\n|---|---|---|---:|---:|---:|\n");
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.2}x |\n",
            r.op,
            r.shape,
            r.pass,
            r.ours * 1e3,
            r.reference * 1e3,
            r.reference / r.ours
        ));
    }
    table
}

/// `ai-art bench nst`: milliseconds per style-transfer step (Adam, the default loss: content
/// conv4_2, style conv1_1..conv5_1, TV; losses read back every step, as the app does) with
/// a full-width VGG19 of random weights (the time does not depend on the values), on
/// `size x size*3/4` images. One warm-up step, then the median of `steps`. Prints one JSON
/// line per size, the format of `scripts/reference/bench_nst.py`, which
/// `scripts/bench-nst.sh` puts side by side.
pub fn nst(device: &Device, sizes: &[usize], steps: usize) -> Result<String, String> {
    use crate::models::Builder;
    use crate::models::vgg::{Pooling, Vgg19, WIDTHS};
    use crate::techniques::style_transfer::{NstConfig, NstRun};
    let device = device.clone().autodiff();
    let config = NstConfig::default();
    let mut out = String::new();
    for &size in sizes {
        let h = size * 3 / 4;
        let mut b = Builder::init(&device, 0.02);
        let vgg = Vgg19::build(WIDTHS, config.deepest(), Pooling::Max, &mut b).map_err(|e| e.to_string())?;
        let content = Tensor::<4>::random([1, 3, h, size], Distribution::Uniform(0.0, 1.0), &device);
        let style = Tensor::<4>::random([1, 3, h, size], Distribution::Uniform(0.0, 1.0), &device);
        let mut run = NstRun::new(vgg, content.clone(), &[(style, 1.0)], content, config.clone()).map_err(|e| e.to_string())?;
        pollster::block_on(run.step()).map_err(|e| e.to_string())?;
        let mut samples = Vec::with_capacity(steps);
        for _ in 0..steps {
            let t = Instant::now();
            pollster::block_on(run.step()).map_err(|e| e.to_string())?;
            samples.push(t.elapsed().as_secs_f64());
        }
        let ms = median(samples) * 1e3;
        eprintln!("  nst {size}x{h}: {ms:.1} ms per step");
        out.push_str(&format!("{{\"size\": {size}, \"height\": {h}, \"ms_per_step\": {ms:.3}}}\n"));
    }
    Ok(out)
}

/// `ai-art bench fast-style`: the fast style network (pytorch/examples' `TransformerNet` at
/// its published width, random weights) stylising one `size x size` image, its result read
/// back as a frame of a live video would be (frames per second), and training steps on
/// batches of `batch` images at `train_size` with full-width VGG19 (iterations per second).
/// One JSON line per case, printed as soon as it is measured.
pub fn fast_style(device: &Device, sizes: &[usize], train_sizes: &[usize], batches: &[usize], steps: usize) -> Result<(), String> {
    use crate::models::Builder;
    use crate::models::fast_style::{FastStyleConfig, TransformerNet};
    use crate::models::vgg::{Pooling, Vgg19, WIDTHS};
    use crate::techniques::fast_style::{FastStyleSettings, FastStyleTrainer};
    let timed = |mut f: Box<dyn FnMut() -> Result<(), String> + '_>| -> Result<f64, String> {
        f()?;
        let mut samples = Vec::with_capacity(steps);
        for _ in 0..steps.max(1) {
            let t = Instant::now();
            f()?;
            samples.push(t.elapsed().as_secs_f64());
        }
        Ok(median(samples) * 1e3)
    };
    let net = TransformerNet::build(&FastStyleConfig::official(), &mut Builder::init(device, 0.02)).map_err(|e| e.to_string())?;
    for &size in sizes {
        let image = Tensor::<4>::random([1, 3, size, size], Distribution::Uniform(0.0, 255.0), device);
        let ms = timed(Box::new(|| {
            let frame = net.forward(image.clone()).clamp(0.0, 255.0);
            pollster::block_on(frame.into_data_async()).map(drop).map_err(|e| e.to_string())
        }))?;
        eprintln!("  fast style inference {size}x{size}: {ms:.1} ms ({:.2} frames/s)", 1e3 / ms);
        println!("{{\"what\": \"inference\", \"size\": {size}, \"ms_per_image\": {ms:.3}, \"fps\": {:.3}}}", 1e3 / ms);
    }
    let ad = device.clone().autodiff();
    let settings = FastStyleSettings::default();
    for &size in train_sizes {
        for &batch in batches {
            let net = TransformerNet::build(&FastStyleConfig::official(), &mut Builder::init(&ad, 0.02)).map_err(|e| e.to_string())?;
            let vgg = Vgg19::build(WIDTHS, settings.deepest(), Pooling::Max, &mut Builder::init(&ad, 0.02)).map_err(|e| e.to_string())?;
            let style = Tensor::<4>::random([1, 3, size, size], Distribution::Uniform(0.0, 1.0), &ad);
            let mut trainer = FastStyleTrainer::new(crate::models::Generator::FastStyle(net), vgg, style, settings.clone()).map_err(|e| e.to_string())?;
            let photos = Tensor::<4>::random([batch, 3, size, size], Distribution::Uniform(0.0, 1.0), &ad);
            let ms = timed(Box::new(|| pollster::block_on(trainer.step(photos.clone())).map(drop).map_err(|e| e.to_string())))?;
            eprintln!("  fast style training {size} px batch {batch}: {ms:.1} ms per iteration ({:.3} it/s)", 1e3 / ms);
            println!("{{\"what\": \"training\", \"size\": {size}, \"batch\": {batch}, \"ms_per_iter\": {ms:.3}, \"it_per_s\": {:.3}}}", 1e3 / ms);
        }
    }
    Ok(())
}

/// `ai-art bench train`: prints a [`BenchRecord`](crate::techniques::training::session::BenchRecord)
/// JSON line per model, size and batch as soon as each is measured (the slow cases on a
/// software GPU take minutes).
pub fn train(device: &Device, models: &[String], sizes: &[u32], batches: &[usize], iters: usize) -> Result<(), String> {
    use crate::techniques::training::session::{Model, benchmark};
    use std::io::Write;
    let models = models.iter().map(|m| m.parse::<Model>()).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let device = device.clone().autodiff();
    let start = Instant::now();
    let now_ms = move || start.elapsed().as_secs_f64() * 1e3;
    for &model in &models {
        for &size in sizes {
            for &batch in batches {
                let r = pollster::block_on(benchmark(model, size, batch, iters, &device, &now_ms))
                    .map_err(|e| format!("{} at {size} px, batch {batch}: {e}", model.id()))?;
                eprintln!("  {} {size} px batch {batch}: {:.1} ms per iteration ({:.3} it/s)", model.id(), r.ms_per_iter, r.it_per_s);
                let line = serde_json::to_string(&r).map_err(|e| e.to_string())?;
                println!("{line}");
                let _ = std::io::stdout().flush();
            }
        }
    }
    Ok(())
}
