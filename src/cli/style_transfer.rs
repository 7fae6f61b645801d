//! `ai-art stylize`: neural style transfer from the command line.

use super::{read, read_image};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use crate::device::{self, Preference};
use crate::imaging;
use crate::models::vgg::{Pooling, VggLayer};
use crate::techniques::style_transfer::{InitKind, NstConfig, NstRun, Optimizer, Settings, StyleWeights, initial_image};

/// Options of `ai-art stylize`.
#[derive(clap::Args, Debug)]
pub struct StylizeArgs {
    /// The content image (PNG, JPEG or WebP).
    #[arg(long)]
    pub content: PathBuf,
    /// A style image; repeat to blend several, optionally weighted as PATH:WEIGHT.
    #[arg(long, required = true)]
    pub style: Vec<String>,
    /// VGG19 weights in torchvision's layout (`features.N.weight`): .pth or .safetensors.
    #[arg(long)]
    pub vgg: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub output: PathBuf,
    /// Longer side of the result in pixels (the content's aspect ratio is kept).
    #[arg(long, default_value_t = 512)]
    pub size: u32,
    /// Style images are resized to this fraction of --size (larger: bigger brush strokes).
    #[arg(long, default_value_t = 1.0)]
    pub style_scale: f64,
    /// Optimisation steps.
    #[arg(long, default_value_t = 300)]
    pub steps: u32,
    /// adam or lbfgs.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate (default: 0.02 for Adam on [0, 1] pixels, 1 for L-BFGS).
    #[arg(long)]
    pub lr: Option<f64>,
    /// alpha, the content weight.
    #[arg(long, default_value_t = NstConfig::default().content_weight)]
    pub content_weight: f64,
    /// beta, the style weight.
    #[arg(long, default_value_t = NstConfig::default().style_weight)]
    pub style_weight: f64,
    /// gamma, the total-variation weight.
    #[arg(long, default_value_t = NstConfig::default().tv_weight)]
    pub tv_weight: f64,
    /// The content layer.
    #[arg(long, default_value = "conv4_2")]
    pub content_layer: VggLayer,
    /// The style layers, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1")]
    pub style_layers: Vec<VggLayer>,
    /// Per-layer style weights: equal, or decay:F (F^k for the k-th layer, normalised).
    #[arg(long, default_value = "equal")]
    pub layer_weights: String,
    /// VGG pooling: avg (Gatys et al.'s choice, smoother) or max (torchvision's).
    #[arg(long, default_value = "avg")]
    pub pool: String,
    /// Start from the content, the style, or noise.
    #[arg(long, default_value = "content")]
    pub init: String,
    /// Seed for --init noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep the content's colours (luminance-only transfer).
    #[arg(long)]
    pub preserve_colors: bool,
    /// Write one CSV row per step: step,content,style,tv,total.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// auto, wgpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: Preference,
}


fn parse_style(spec: &str) -> Result<(PathBuf, f64), String> {
    match spec.rsplit_once(':') {
        Some((path, w)) if !path.is_empty() && w.parse::<f64>().is_ok() => {
            let w: f64 = w.parse().map_err(|_| format!("bad style weight in `{spec}`"))?;
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("style weight must be >= 0 in `{spec}`"));
            }
            Ok((PathBuf::from(path), w))
        }
        _ => Ok((PathBuf::from(spec), 1.0)),
    }
}

/// Parses `equal` or `decay:F`.
pub fn parse_layer_weights(s: &str) -> Result<StyleWeights, String> {
    match s.split_once(':') {
        None if s == "equal" => Ok(StyleWeights::Equal),
        None if s == "decay" => Ok(StyleWeights::Decay(0.5)),
        Some(("decay", f)) => match f.parse::<f64>() {
            Ok(f) if f > 0.0 && f.is_finite() => Ok(StyleWeights::Decay(f)),
            _ => Err(format!("bad decay factor `{f}`: use e.g. decay:0.5")),
        },
        _ => Err(format!("unknown layer weights `{s}`: use equal or decay:F")),
    }
}

pub fn run(args: &StylizeArgs) -> Result<(), String> {
    let config = NstConfig {
        content_layer: args.content_layer,
        style_layers: args.style_layers.clone(),
        style_weights: parse_layer_weights(&args.layer_weights)?,
        content_weight: args.content_weight,
        style_weight: args.style_weight,
        tv_weight: args.tv_weight,
        optimizer: match args.optimizer.as_str() {
            "adam" => Optimizer::Adam { lr: args.lr.unwrap_or(0.02) },
            "lbfgs" => Optimizer::Lbfgs { lr: args.lr.unwrap_or(1.0), history: 10 },
            other => return Err(format!("unknown optimizer `{other}`: use adam or lbfgs")),
        },
    };
    let pooling = match args.pool.as_str() {
        "avg" | "average" => Pooling::Average,
        "max" => Pooling::Max,
        other => return Err(format!("unknown pooling `{other}`: use avg or max")),
    };
    let init_kind = match args.init.as_str() {
        "content" => InitKind::Content,
        "style" => InitKind::Style,
        "noise" => InitKind::Noise { seed: args.seed },
        other => return Err(format!("unknown init `{other}`: use content, style or noise")),
    };
    let settings = Settings {
        size: args.size,
        style_scale: args.style_scale,
        steps: args.steps,
        config,
        pooling,
        init: init_kind,
        preserve_colors: args.preserve_colors,
        preview_every: 0,
    };
    let content_img = read_image(&args.content)?;
    let mut styles_img = Vec::new();
    for spec in &args.style {
        let (path, weight) = parse_style(spec)?;
        let img = read_image(&path)?;
        styles_img.push((img, weight));
    }
    settings.validate(&styles_img.iter().map(|(_, w)| *w).collect::<Vec<_>>()).map_err(|e| e.to_string())?;

    let compute = pollster::block_on(device::start(args.backend)).map_err(|e| e.to_string())?;
    eprintln!("device: {}", compute.info.summary());
    let device = compute.device.autodiff();
    let ckpt = crate::weights::load_state_dict(&read(&args.vgg)?).map_err(|e| format!("{}: {e}", args.vgg.display()))?;
    let vgg = crate::models::load_vgg19(ckpt, settings.config.deepest(), settings.pooling, &device)
        .map_err(|e| format!("{}: {e}", args.vgg.display()))?;
    // The same sizes and bound as the app's worker.
    let prepared = settings.prepare(&content_img, &styles_img, vgg.first_width(), compute.info.limits.as_ref()).map_err(|e| e.to_string())?;
    let (content_img, styles_img) = (prepared.content, prepared.styles);
    let content = imaging::to_tensor(&content_img, &device);
    let styles: Vec<_> = styles_img.iter().map(|(img, w)| (imaging::to_tensor(img, &device), *w)).collect();
    let init = initial_image(settings.init, &content, &styles[0].0);
    let mut nst = NstRun::new(vgg, content, &styles, init, settings.config.clone()).map_err(|e| e.to_string())?;
    let (w, h) = content_img.dimensions();
    eprintln!("stylizing {w}x{h}, {} steps, {}", settings.steps, args.optimizer);

    let mut log = match &args.log {
        Some(p) => {
            let mut f = std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            writeln!(f, "step,content,style,tv,total").map_err(|e| e.to_string())?;
            Some(f)
        }
        None => None,
    };
    let started = Instant::now();
    for step in 0..settings.steps {
        let losses = pollster::block_on(nst.step()).map_err(|e| format!("step {step}: {e}"))?;
        if let Some(f) = log.as_mut() {
            writeln!(f, "{step},{},{},{},{}", losses.content, losses.style, losses.tv, losses.total).map_err(|e| e.to_string())?;
        }
        if step % 10 == 0 || step + 1 == settings.steps {
            let rate = (step + 1) as f64 / started.elapsed().as_secs_f64();
            eprintln!(
                "step {step:>5}  content {:.4e}  style {:.4e}  tv {:.4e}  total {:.4e}  ({rate:.2} it/s)",
                losses.content, losses.style, losses.tv, losses.total
            );
        }
        if !losses.total.is_finite() {
            return Err(format!("the loss became {} at step {step}; lower --lr or the weights", losses.total));
        }
    }
    let mut out = pollster::block_on(imaging::from_tensor(nst.image())).map_err(|e| e.to_string())?;
    if settings.preserve_colors {
        out = imaging::preserve_colors(&out, &content_img);
    }
    let png = imaging::encode_png(&out).map_err(|e| e.to_string())?;
    std::fs::write(&args.output, png).map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    println!("wrote {} ({w}x{h}) in {:.1} s", args.output.display(), started.elapsed().as_secs_f64());
    Ok(())
}
