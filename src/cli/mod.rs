//! The native command-line tool `ai-art`: the same library as the web app, for
//! batch jobs, benchmarks and parity runs.

mod bench;
mod deep_dream;
mod fast_style;
pub mod profile;
mod style_transfer;
mod train;

use crate::device::{self, Preference};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "ai-art", version, about = "AI-art studio: neural style transfer, Pix2Pix and CycleGAN on your GPU (Burn + wgpu), from the command line")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the compute device the studio would use: the wgpu adapter, or the CPU fallback and why.
    Info {
        /// auto (GPU, else CPU), wgpu (GPU or fail) or cpu.
        #[arg(long, default_value = "auto")]
        backend: Preference,
    },
    /// Benchmarks, each against a reference in the same run (ratios, not absolute times).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Translate an image with a pretrained Pix2Pix or CycleGAN generator (official PyTorch
    /// checkpoint: .pth in the zip or legacy format, or .safetensors). The architecture is read
    /// from the checkpoint's keys unless --arch / --norm say otherwise.
    Translate(TranslateArgs),
    /// Neural style transfer (Gatys et al.): optimise an image so that its VGG19 features match
    /// the content image and its Gram matrices the style image(s).
    Stylize(style_transfer::StylizeArgs),
    /// Deep Dream: change an image by gradient ascent so that a VGG19 layer (or some of its
    /// channels) responds more strongly, over an image pyramid.
    Dream(deep_dream::DreamArgs),
    /// Train Pix2Pix (aligned pairs) or CycleGAN (two unpaired sets) from image folders, or a
    /// fast style network (Johnson et al.) from a folder of photos and a style image; writes
    /// the networks as .safetensors with official key names, and losses.csv.
    Train {
        /// pix2pix, cyclegan or fast-style.
        model: String,
        #[command(flatten)]
        args: train::TrainArgs,
    },
    /// Hand a training run over to another trainer. `--format junyanz` writes the checkpoint
    /// folder that junyanz/pytorch-CycleGAN-and-pix2pix's `train.py --continue_train`
    /// continues: latest_net_*.pth, train_opt.txt, and a README.md with the command.
    Export(train::ExportArgs),
}

#[derive(clap::Args, Debug)]
pub struct TranslateArgs {
    /// The generator checkpoint (e.g. latest_net_G_A.pth, horse2zebra.pth).
    #[arg(long)]
    pub checkpoint: std::path::PathBuf,
    /// Input image (PNG, JPEG or WebP), any size.
    #[arg(long)]
    pub input: std::path::PathBuf,
    /// Output PNG, same size as the input (or as the scaled-down input with --fit).
    #[arg(long)]
    pub output: std::path::PathBuf,
    /// auto, resnet_9blocks, resnet_6blocks, unet_256, unet_128.
    #[arg(long, default_value = "auto")]
    pub arch: crate::models::ArchChoice,
    /// auto, instance, instance-affine or batch.
    #[arg(long, default_value = "auto")]
    pub norm: crate::models::NormChoice,
    /// auto, wgpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: Preference,
    /// Scale the image down (aspect kept) when it is too large for the device, instead of failing.
    #[arg(long)]
    pub fit: bool,
    /// Keep dropout active at test time (Pix2Pix's noise; the output varies run to run).
    #[arg(long)]
    pub dropout: bool,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Our WGSL kernels against Burn's own on the same device: Gram and instance norm against
    /// compositions of Burn ops (VGG19 style layers, ResNet norm sites), convolutions against
    /// Burn's convolution (the networks' convolution sites); forward and forward+backward medians.
    Kernels {
        /// Image sizes in pixels (the shapes follow from them).
        #[arg(long, value_delimiter = ',', default_value = "256,512")]
        sizes: Vec<usize>,
        /// Timed runs per case (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// auto, wgpu or cpu (on the CPU both sides are Burn ops: a sanity baseline).
        #[arg(long, default_value = "wgpu")]
        backend: Preference,
        /// Which kernels: gram, instance_norm, conv (default: all).
        #[arg(long, value_delimiter = ',')]
        ops: Vec<String>,
    },
    /// Milliseconds per style-transfer step (full-width VGG19, random weights), one JSON line
    /// per size; scripts/bench-nst.sh runs it beside PyTorch and in Chromium.
    Nst {
        /// Image widths in pixels (heights are 3/4 of them).
        #[arg(long, value_delimiter = ',', default_value = "256,512")]
        sizes: Vec<usize>,
        /// Timed steps per size (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// auto, wgpu or cpu.
        #[arg(long, default_value = "wgpu")]
        backend: Preference,
    },
    /// The fast style network: milliseconds per stylised image (frames per second, the result
    /// read back) and per training iteration with VGG19, one JSON line per case;
    /// scripts/bench-gpu.sh runs it beside PyTorch.
    FastStyle {
        /// Square image sizes for inference, in pixels.
        #[arg(long, value_delimiter = ',', default_value = "256,512,1024")]
        sizes: Vec<usize>,
        /// Square image sizes for training, in pixels.
        #[arg(long, value_delimiter = ',', default_value = "256")]
        train_sizes: Vec<usize>,
        /// Training batch sizes.
        #[arg(long, value_delimiter = ',', default_value = "4")]
        batches: Vec<usize>,
        /// Timed runs per case (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// auto, wgpu or cpu.
        #[arg(long, default_value = "wgpu")]
        backend: Preference,
    },
    /// Milliseconds per training iteration (the papers' full-width networks, noise images),
    /// one JSON line per model, size and batch; scripts/bench-train.sh runs it beside PyTorch
    /// and in Chromium.
    Train {
        /// pix2pix and/or cyclegan.
        #[arg(long, value_delimiter = ',', default_value = "pix2pix,cyclegan")]
        models: Vec<String>,
        /// Crop sizes in pixels.
        #[arg(long, value_delimiter = ',', default_value = "128,256")]
        sizes: Vec<u32>,
        /// Batch sizes.
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        batches: Vec<usize>,
        /// Timed iterations per case (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 3)]
        iters: usize,
        /// auto, wgpu or cpu.
        #[arg(long, default_value = "wgpu")]
        backend: Preference,
    },
    /// GPU time per kernel family for one step (after warm-up) of style transfer (nst), a
    /// Pix2Pix or a CycleGAN iteration, at the benchmarks' workloads: where the time goes.
    Profile {
        /// nst, pix2pix or cyclegan.
        workload: String,
        /// Image width in pixels (nst: height 3/4 of it; training: the crop size).
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// Batch size (training).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Unprofiled steps first (shader compilation, autotune).
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// auto, wgpu or cpu.
        #[arg(long, default_value = "wgpu")]
        backend: Preference,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,wgpu_hal=off")).init();
    let cli = Cli::parse();
    // For tuning on a GPU: every convolution of this run on one tile shape.
    if let Ok(name) = std::env::var("AI_ART_CONV_TILE") {
        match crate::kernels::conv::Tile::from_name(&name) {
            Some(tile) => {
                eprintln!("convolutions on the {name} tile (AI_ART_CONV_TILE)");
                crate::kernels::conv::set_tile_override(Some(tile));
            }
            None => {
                eprintln!("error: AI_ART_CONV_TILE={name} is not a tile: use 128x128, 64x256, 64x64 or 16x256");
                return ExitCode::FAILURE;
            }
        }
    }
    let result = match cli.command {
        Command::Info { backend } => return info(backend),
        Command::Bench(BenchCommand::Kernels { sizes, runs, backend, ops }) => start(backend).map(|compute| {
            eprintln!("benchmarking on {} ({} runs per case, median)", compute.info.summary(), runs.max(1));
            print!("{}", bench::kernels(&compute.device, &sizes, runs.max(1), &ops));
        }),
        Command::Bench(BenchCommand::Nst { sizes, steps, backend }) => start(backend).and_then(|compute| {
            eprintln!("style transfer on {} ({} steps per size, median)", compute.info.summary(), steps.max(1));
            bench::nst(&compute.device, &sizes, steps.max(1)).map(|text| print!("{text}"))
        }),
        Command::Bench(BenchCommand::FastStyle { sizes, train_sizes, batches, steps, backend }) => start(backend).and_then(|compute| {
            eprintln!("fast style network on {} ({} runs per case, median)", compute.info.summary(), steps.max(1));
            bench::fast_style(&compute.device, &sizes, &train_sizes, &batches, steps)
        }),
        Command::Bench(BenchCommand::Train { models, sizes, batches, iters, backend }) => start(backend).and_then(|compute| {
            eprintln!("training on {} ({} iterations per case, median)", compute.info.summary(), iters.max(1));
            bench::train(&compute.device, &models, &sizes, &batches, iters)
        }),
        Command::Bench(BenchCommand::Profile { workload, size, batch, warmup, backend }) => start(backend).and_then(|compute| {
            eprintln!("profiling on {} ({warmup} warm-up steps, then one profiled)", compute.info.summary());
            profile::run(&compute.device, &workload, size, batch, warmup).map(|p| print!("{}", p.table()))
        }),
        Command::Train { model, args } => train::run(&model, &args),
        Command::Export(args) => train::export(&args),
        Command::Stylize(args) => style_transfer::run(&args),
        Command::Dream(args) => deep_dream::run(&args),
        Command::Translate(args) => translate(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The compute device for `backend`, or the reason there is none.
fn start(backend: Preference) -> Result<device::Compute, String> {
    pollster::block_on(device::start(backend)).map_err(|e| e.to_string())
}

/// The bytes of the file at `path`, or why not, naming it.
fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The image at `path`, decoded, or why not, naming it.
fn read_image(path: &std::path::Path) -> Result<image::RgbImage, String> {
    crate::imaging::decode(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn translate(args: &TranslateArgs) -> Result<(), String> {
    use crate::techniques::image_to_image as tr;
    let ckpt_bytes = read(&args.checkpoint)?;
    let img_bytes = read(&args.input)?;
    let image = crate::imaging::decode(&img_bytes).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let compute = pollster::block_on(device::start(args.backend)).map_err(|e| e.to_string())?;
    eprintln!("device: {}", compute.info.summary());
    let checkpoint = crate::weights::load_state_dict(&ckpt_bytes).map_err(|e| format!("{}: {e}", args.checkpoint.display()))?;
    let (mut generator, arch) = crate::models::load_generator(checkpoint, args.arch, args.norm, &compute.device)
        .map_err(|e| format!("{}: {e}", args.checkpoint.display()))?;
    generator.set_dropout_at_inference(args.dropout);
    println!("detected: {}", arch.describe());
    let max = tr::max_pixels(&generator, compute.info.limits.as_ref());
    let (w, h) = image.dimensions();
    let image = if args.fit {
        let (fw, fh) = tr::fit_within(&generator, w, h, max);
        if (fw, fh) != (w, h) {
            eprintln!("scaling {w}x{h} down to {fw}x{fh} to fit the device");
        }
        tr::resize(&image, fw, fh)
    } else {
        image
    };
    let started = std::time::Instant::now();
    let out = pollster::block_on(tr::translate(&generator, &image, max, &compute.device)).map_err(|e| e.to_string())?;
    let png = crate::imaging::encode_png(&out).map_err(|e| e.to_string())?;
    std::fs::write(&args.output, png).map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    println!(
        "wrote {} ({}x{}) in {:.2} s",
        args.output.display(),
        out.width(),
        out.height(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn info(pref: Preference) -> ExitCode {
    let compute = match start(pref) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let info = &compute.info;
    if let Some(why) = &info.fallback_reason {
        println!("No usable GPU adapter ({why}); falling back to the CPU backend.");
    }
    println!("backend: {}", info.backend);
    println!("adapter: {}", info.adapter);
    if !info.details.is_empty() {
        println!("details: {}", info.details);
    }
    if let Some(l) = &info.limits {
        println!("maxBufferSize: {}", l.max_buffer_size);
        println!("maxStorageBufferBindingSize: {}", l.max_storage_buffer_binding_size);
        println!("maxComputeWorkgroupsPerDimension: {}", l.max_compute_workgroups_per_dimension);
        println!("maxComputeInvocationsPerWorkgroup: {}", l.max_compute_invocations_per_workgroup);
        println!("maxComputeWorkgroupStorageSize: {}", l.max_compute_workgroup_storage_size);
    }
    ExitCode::SUCCESS
}
