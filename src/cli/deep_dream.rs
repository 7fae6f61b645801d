//! `ai-art dream`: Deep Dream from the command line.

use super::{read, read_image};
use std::path::PathBuf;
use std::time::Instant;

use crate::device::{self, Preference};
use crate::imaging;
use crate::models::vgg::{Pooling, VggLayer};
use crate::techniques::deep_dream::{Dream, DreamSettings};
use crate::techniques::style_transfer::check_size;

/// Options of `ai-art dream`.
#[derive(clap::Args, Debug)]
pub struct DreamArgs {
    /// The image to dream on (PNG, JPEG or WebP).
    #[arg(long)]
    pub input: PathBuf,
    /// VGG19 weights in torchvision's layout (`features.N.weight`): .pth or .safetensors.
    #[arg(long)]
    pub vgg: PathBuf,
    /// Output PNG.
    #[arg(long)]
    pub output: PathBuf,
    /// The VGG19 layer whose activations are amplified (convB_I or reluB_I).
    #[arg(long, default_value = "conv4_3")]
    pub layer: VggLayer,
    /// Only these channels of the layer, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub channels: Vec<usize>,
    /// Scales of the image pyramid.
    #[arg(long, default_value_t = DreamSettings::default().octaves)]
    pub octaves: usize,
    /// Size ratio between two octaves.
    #[arg(long, default_value_t = DreamSettings::default().octave_scale)]
    pub octave_scale: f64,
    /// Steps per octave.
    #[arg(long, default_value_t = DreamSettings::default().steps)]
    pub steps: usize,
    /// Step size on [0, 1] pixels, after the gradient's normalisation.
    #[arg(long, default_value_t = DreamSettings::default().lr)]
    pub lr: f64,
    /// Largest random shift of each step, in pixels.
    #[arg(long, default_value_t = DreamSettings::default().jitter)]
    pub jitter: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Longer side of the result in pixels (the aspect ratio is kept; a smaller image is not
    /// enlarged).
    #[arg(long, default_value_t = 512)]
    pub size: u32,
    /// auto, wgpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: Preference,
}

pub fn run(args: &DreamArgs) -> Result<(), String> {
    let settings = DreamSettings {
        layer: args.layer,
        channels: args.channels.clone(),
        octaves: args.octaves,
        octave_scale: args.octave_scale,
        steps: args.steps,
        lr: args.lr,
        jitter: args.jitter,
        seed: args.seed,
    };
    let img = read_image(&args.input)?;
    let img = if img.width().max(img.height()) > args.size { imaging::resize_longest(&img, args.size) } else { img };

    let compute = pollster::block_on(device::start(args.backend)).map_err(|e| e.to_string())?;
    eprintln!("device: {}", compute.info.summary());
    let ckpt = crate::weights::load_state_dict(&read(&args.vgg)?).map_err(|e| format!("{}: {e}", args.vgg.display()))?;
    let vgg = crate::models::load_vgg19(ckpt, settings.layer, Pooling::Max, &compute.device.clone().autodiff())
        .map_err(|e| format!("{}: {e}", args.vgg.display()))?;
    let (w, h) = img.dimensions();
    check_size(w, h, vgg.first_width(), compute.info.limits.as_ref()).map_err(|e| e.to_string())?;
    let dream = Dream::new(vgg, settings).map_err(|e| e.to_string())?;
    eprintln!("dreaming on {w}x{h}: {} octaves of {} steps on {}", args.octaves, args.steps, args.layer);
    let started = Instant::now();
    let out = dream
        .run(imaging::to_tensor(&img, &compute.device), |octave, step, _| {
            if step + 1 == args.steps {
                eprintln!("octave {} of {} done ({:.1} s)", octave + 1, args.octaves, started.elapsed().as_secs_f64());
            }
        })
        .map_err(|e| e.to_string())?;
    let out = pollster::block_on(imaging::from_tensor(out)).map_err(|e| e.to_string())?;
    let png = imaging::encode_png(&out).map_err(|e| e.to_string())?;
    std::fs::write(&args.output, png).map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    println!("wrote {} ({w}x{h}) in {:.1} s", args.output.display(), started.elapsed().as_secs_f64());
    Ok(())
}
