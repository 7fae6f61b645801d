//! `ai-art train pix2pix|cyclegan`: small-batch training from image folders.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::device::{self, Preference};
use crate::models::detect::Architecture;
use crate::models::patchgan::{PatchGan, PatchGanConfig};
use crate::models::resnet::{ResnetConfig, ResnetGenerator};
use crate::models::unet::{UnetConfig, UnetGenerator};
use crate::models::{ArchChoice, Builder, Generator, NormKind, export_safetensors, layout_of, load_generator};
use crate::techniques::data::{self, LoadReport, Preprocess, Rng};
use crate::techniques::training::{CycleGanTrainer, Pix2PixTrainer, Schedule};

/// Options shared by both models.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// pix2pix: a folder of side-by-side AB images (A left), or use --data-a/--data-b with
    /// files matched by name. cyclegan: --data-a and --data-b, unpaired.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub data_a: Option<PathBuf>,
    #[arg(long)]
    pub data_b: Option<PathBuf>,
    /// Output folder: generator(s) as .safetensors (official key names), the discriminators,
    /// and losses.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Crop size (images are resized to about 286/256 of it, then randomly cropped and flipped).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Epochs at the base learning rate.
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Epochs of linear decay to zero after them.
    #[arg(long, default_value_t = 100)]
    pub epochs_decay: usize,
    /// Stop after this many iterations in all (for short runs).
    #[arg(long)]
    pub max_iterations: Option<usize>,
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Generator: resnet_9blocks, resnet_6blocks, unet_256, unet_128 (default: unet_256 for
    /// pix2pix, resnet_9blocks for cyclegan).
    #[arg(long)]
    pub netg: Option<ArchChoice>,
    #[arg(long, default_value_t = 64)]
    pub ngf: usize,
    #[arg(long, default_value_t = 64)]
    pub ndf: usize,
    /// PatchGAN layers (3: 70x70 patches).
    #[arg(long, default_value_t = 3)]
    pub n_layers_d: usize,
    /// Dropout in the generator (pix2pix: on unless --no-dropout).
    #[arg(long)]
    pub no_dropout: bool,
    /// pix2pix: weight of the L1 term.
    #[arg(long, default_value_t = 100.0)]
    pub lambda_l1: f64,
    /// cyclegan: cycle-consistency weight, each way.
    #[arg(long, default_value_t = 10.0)]
    pub lambda_cycle: f64,
    /// cyclegan: identity loss weight relative to --lambda-cycle (0 turns it off).
    #[arg(long, default_value_t = 0.5)]
    pub lambda_identity: f64,
    /// cyclegan: history pool size per discriminator.
    #[arg(long, default_value_t = 50)]
    pub pool_size: usize,
    /// Fine-tune from a pretrained generator checkpoint (pix2pix: G; cyclegan: G_A, with
    /// --init-from-b for G_B) instead of random N(0, 0.02) weights.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    #[arg(long)]
    pub init_from_b: Option<PathBuf>,
    /// Write the networks every this many iterations (and at the end).
    #[arg(long, default_value_t = 500)]
    pub save_every: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto, wgpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: Preference,
}

fn read_folder(dir: &Path, report: &mut LoadReport) -> Result<Vec<(String, image::RgbImage)>, String> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match std::fs::read(&p) {
            Ok(bytes) => files.push((name, bytes)),
            Err(e) => report.skipped.push((name, e.to_string())),
        }
    }
    Ok(data::decode_all(files, report))
}

fn generator_config(arch: ArchChoice, args: &TrainArgs, default: ArchChoice, dropout: bool) -> Result<Architecture, String> {
    let norm = NormKind::Instance { affine: false };
    match if arch == ArchChoice::Auto { default } else { arch } {
        ArchChoice::Resnet { n_blocks } => Ok(Architecture::Resnet(ResnetConfig {
            input_nc: 3,
            output_nc: 3,
            ngf: args.ngf,
            n_blocks,
            norm,
            use_dropout: dropout,
            block_name: "conv_block".into(),
        })),
        ArchChoice::Unet { num_downs } => {
            Ok(Architecture::Unet(UnetConfig { input_nc: 3, output_nc: 3, num_downs, ngf: args.ngf, norm, use_dropout: dropout }))
        }
        ArchChoice::Auto => Err("no generator architecture".into()),
    }
}

/// A generator: fine-tuned from a checkpoint, or freshly initialised. Returns it with its
/// layout (for export).
fn make_generator(
    arch: &Architecture,
    init_from: Option<&Path>,
    device: &burn::tensor::Device,
) -> Result<(Generator, Architecture, Vec<(String, Vec<usize>)>), String> {
    if let Some(path) = init_from {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let ckpt = crate::weights::load_state_dict(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let (g, found) = load_generator(ckpt, ArchChoice::Auto, crate::models::NormChoice::Auto, device)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let layout = layout_of(&found).map_err(|e| e.to_string())?;
        return Ok((g, found, layout));
    }
    let mut b = Builder::init(device, 0.02);
    let g = match arch {
        Architecture::Resnet(c) => Generator::Resnet(ResnetGenerator::build(c, &mut b).map_err(|e| e.to_string())?),
        Architecture::Unet(c) => Generator::Unet(UnetGenerator::build(c, &mut b).map_err(|e| e.to_string())?),
        _ => return Err("not a generator".into()),
    };
    Ok((g, arch.clone(), b.layout().to_vec()))
}

fn make_discriminator(config: &PatchGanConfig, device: &burn::tensor::Device) -> Result<(PatchGan, Vec<(String, Vec<usize>)>), String> {
    let mut b = Builder::init(device, 0.02);
    let d = PatchGan::build(config, &mut b).map_err(|e| e.to_string())?;
    Ok((d, b.layout().to_vec()))
}

fn save<M: burn::module::Module>(out: &Path, name: &str, module: &M, layout: &[(String, Vec<usize>)]) -> Result<(), String> {
    let bytes = pollster::block_on(export_safetensors(module, layout, ""))?;
    let path = out.join(format!("{name}.safetensors"));
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn run(model: &str, args: &TrainArgs) -> Result<(), String> {
    if args.batch_size == 0 || args.size < 16 {
        return Err("--batch-size must be at least 1 and --size at least 16".into());
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut report = LoadReport::default();
    let compute = pollster::block_on(device::start(args.backend)).map_err(|e| e.to_string())?;
    eprintln!("device: {}", compute.info.summary());
    let device = compute.device.autodiff();
    let pre = Preprocess::for_crop(args.size);
    let mut rng = Rng::new(args.seed);
    device.seed(args.seed);
    let schedule = Schedule { lr: args.lr, n_epochs: args.epochs, n_epochs_decay: args.epochs_decay };
    let total_epochs = args.epochs + args.epochs_decay;
    let max_iterations = args.max_iterations.unwrap_or(usize::MAX);
    let mut log = std::fs::File::create(args.out.join("losses.csv")).map_err(|e| format!("cannot write losses.csv: {e}"))?;
    let norm = NormKind::Instance { affine: false };
    let started = Instant::now();
    let mut iteration = 0;

    match model {
        "pix2pix" => {
            let pairs = match (&args.data, &args.data_a, &args.data_b) {
                (Some(dir), None, None) => data::split_ab(read_folder(dir, &mut report)?, &mut report),
                (None, Some(a), Some(b)) => {
                    let (a, b) = (read_folder(a, &mut report)?, read_folder(b, &mut report)?);
                    data::match_by_name(a, b, &mut report)
                }
                _ => return Err("pix2pix needs --data (AB images) or --data-a and --data-b (matched by name)".into()),
            };
            eprintln!("{}", report.summary());
            if pairs.is_empty() {
                return Err("no training pairs".into());
            }
            let arch = generator_config(args.netg.unwrap_or_default(), args, ArchChoice::Unet { num_downs: 8 }, !args.no_dropout)?;
            let (g, arch, g_layout) = make_generator(&arch, args.init_from.as_deref(), &device)?;
            let dcfg = PatchGanConfig { input_nc: 6, ndf: args.ndf, n_layers: args.n_layers_d, norm };
            let (d, d_layout) = make_discriminator(&dcfg, &device)?;
            eprintln!("pix2pix: {}; {} pairs", arch.describe(), pairs.len());
            let mut trainer = Pix2PixTrainer::new(g, d, args.lambda_l1);
            writeln!(log, "epoch,iteration,lr,{}", Pix2PixTrainer::LOSS_NAMES.join(",")).map_err(|e| e.to_string())?;
            'epochs: for epoch in 1..=total_epochs {
                let lr = schedule.lr_at(epoch);
                for chunk in data::shuffled(pairs.len(), &mut rng).chunks(args.batch_size) {
                    let (a, b): (Vec<_>, Vec<_>) = chunk.iter().map(|&i| pre.pair(&pairs[i].0, &pairs[i].1, &mut rng)).unzip();
                    let losses = pollster::block_on(trainer.step(data::batch(&a, &device), data::batch(&b, &device), lr).read())?;
                    iteration += 1;
                    record(&mut log, epoch, iteration, lr, &losses, &Pix2PixTrainer::LOSS_NAMES, started)?;
                    if iteration % args.save_every == 0 {
                        save(&args.out, "G", &trainer.generator, &g_layout)?;
                    }
                    if iteration >= max_iterations {
                        break 'epochs;
                    }
                }
            }
            save(&args.out, "G", &trainer.generator, &g_layout)?;
            save(&args.out, "D", &trainer.discriminator, &d_layout)?;
        }
        "cyclegan" => {
            let (Some(a_dir), Some(b_dir)) = (&args.data_a, &args.data_b) else {
                return Err("cyclegan needs --data-a and --data-b (two unpaired folders)".into());
            };
            let set_a: Vec<_> = read_folder(a_dir, &mut report)?.into_iter().map(|(_, i)| i).collect();
            let set_b: Vec<_> = read_folder(b_dir, &mut report)?.into_iter().map(|(_, i)| i).collect();
            eprintln!("{}", report.summary());
            if set_a.is_empty() || set_b.is_empty() {
                return Err("both sets need at least one readable image".into());
            }
            let arch = generator_config(args.netg.unwrap_or_default(), args, ArchChoice::Resnet { n_blocks: 9 }, false)?;
            let (g_a, arch_a, gl_a) = make_generator(&arch, args.init_from.as_deref(), &device)?;
            let (g_b, _, gl_b) = make_generator(&arch, args.init_from_b.as_deref(), &device)?;
            let dcfg = PatchGanConfig { input_nc: 3, ndf: args.ndf, n_layers: args.n_layers_d, norm };
            let (d_a, dl) = make_discriminator(&dcfg, &device)?;
            let (d_b, _) = make_discriminator(&dcfg, &device)?;
            eprintln!("cyclegan: {}; {} + {} images", arch_a.describe(), set_a.len(), set_b.len());
            let mut trainer = CycleGanTrainer::new((g_a, g_b), (d_a, d_b), args.pool_size, args.seed);
            trainer.lambda_a = args.lambda_cycle;
            trainer.lambda_b = args.lambda_cycle;
            trainer.lambda_identity = args.lambda_identity;
            writeln!(log, "epoch,iteration,lr,{}", CycleGanTrainer::LOSS_NAMES.join(",")).map_err(|e| e.to_string())?;
            let per_epoch = set_a.len().max(set_b.len());
            'epochs: for epoch in 1..=total_epochs {
                let lr = schedule.lr_at(epoch);
                let order = data::shuffled(per_epoch, &mut rng);
                for chunk in order.chunks(args.batch_size) {
                    // As the official unaligned loader: A in order, B at random.
                    let a: Vec<_> = chunk.iter().map(|&i| pre.one(&set_a[i % set_a.len()], &mut rng)).collect();
                    let mut b = Vec::with_capacity(chunk.len());
                    for _ in chunk {
                        let j = rng.below(set_b.len());
                        b.push(pre.one(&set_b[j], &mut rng));
                    }
                    let losses = pollster::block_on(trainer.step(data::batch(&a, &device), data::batch(&b, &device), lr).read())?;
                    iteration += 1;
                    record(&mut log, epoch, iteration, lr, &losses, &CycleGanTrainer::LOSS_NAMES, started)?;
                    if iteration % args.save_every == 0 {
                        save(&args.out, "G_A", &trainer.generators.0, &gl_a)?;
                        save(&args.out, "G_B", &trainer.generators.1, &gl_b)?;
                    }
                    if iteration >= max_iterations {
                        break 'epochs;
                    }
                }
            }
            save(&args.out, "G_A", &trainer.generators.0, &gl_a)?;
            save(&args.out, "G_B", &trainer.generators.1, &gl_b)?;
            save(&args.out, "D_A", &trainer.discriminators.0, &dl)?;
            save(&args.out, "D_B", &trainer.discriminators.1, &dl)?;
        }
        other => return Err(format!("unknown model `{other}`: use pix2pix or cyclegan")),
    }
    println!("trained {iteration} iterations in {:.1} s; wrote {}", started.elapsed().as_secs_f64(), args.out.display());
    Ok(())
}

fn record(log: &mut std::fs::File, epoch: usize, iteration: usize, lr: f64, losses: &[f64], names: &[&str], started: Instant) -> Result<(), String> {
    let values: Vec<String> = losses.iter().map(|v| v.to_string()).collect();
    writeln!(log, "{epoch},{iteration},{lr},{}", values.join(",")).map_err(|e| e.to_string())?;
    if iteration % 10 == 1 {
        let rate = iteration as f64 / started.elapsed().as_secs_f64();
        let text: Vec<String> = names.iter().zip(losses).map(|(n, v)| format!("{n} {v:.3}")).collect();
        eprintln!("epoch {epoch} iteration {iteration} ({rate:.2} it/s): {}", text.join("  "));
    }
    if losses.iter().any(|v| !v.is_finite()) {
        return Err(format!("a loss became non-finite at iteration {iteration}; lower --lr"));
    }
    Ok(())
}
