//! `ai-art train pix2pix|cyclegan|fast-style`: small-batch training from image folders (the
//! fast style network's run is in `fast_style.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::device::{self, Preference};
use crate::models::ArchChoice;
use crate::techniques::data::{DatasetFiles, NamedFile};
use crate::techniques::training::session::{self, Model, Session, StepRecord, TrainSpec};
use crate::weights::Checkpoint;

/// The whole run (networks, optimisers, progress) in the output folder; `--resume` it.
pub const STATE_FILE: &str = "state.safetensors";

/// Options shared by the models.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// pix2pix: a folder of side-by-side AB images (A left), or use --data-a/--data-b with
    /// files matched by name. cyclegan: --data-a and --data-b, unpaired. fast-style: a folder
    /// of photos.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long)]
    pub data_a: Option<PathBuf>,
    #[arg(long)]
    pub data_b: Option<PathBuf>,
    /// Output folder: generator(s) as .safetensors (official key names), the whole run as
    /// state.safetensors (for --resume), and losses.csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Crop size (pix2pix, cyclegan: images are resized to about 286/256 of it, then randomly
    /// cropped and flipped; fast-style: the shorter side is resized to it, then the centre
    /// square is taken).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Default: 1 (pix2pix, cyclegan), 4 (fast-style).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs at the base learning rate. Default: 100 (pix2pix, cyclegan), 2 (fast-style,
    /// which has no decay).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Epochs of linear decay to zero after them.
    #[arg(long, default_value_t = 100)]
    pub epochs_decay: usize,
    /// Stop after this many iterations in all (for short runs).
    #[arg(long)]
    pub max_iterations: Option<usize>,
    /// Default: 2e-4 (pix2pix, cyclegan), 1e-3 (fast-style).
    #[arg(long)]
    pub lr: Option<f64>,
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
    /// Continue a run from junyanz's trainer: its checkpoints folder (`latest_net_G.pth`,
    /// `latest_net_D.pth`, or CycleGAN's four), every network from its file. Its optimisers'
    /// moments are not in those files and start at zero; the learning-rate schedule is this
    /// run's own (--epochs, --epochs-decay).
    #[arg(long, conflicts_with_all = ["init_from", "init_from_b", "resume"])]
    pub from_junyanz: Option<PathBuf>,
    /// Continue the run saved in this `state.safetensors` (same data folders).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write the generators and the run's state every this many iterations (and at the end).
    #[arg(long, default_value_t = 500)]
    pub save_every: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// fast-style: the style image.
    #[arg(long)]
    pub style: Option<PathBuf>,
    /// fast-style: VGG19's weights (torchvision's vgg19-dcbb9e9d.pth, or its `features.*` as
    /// .safetensors).
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// fast-style: weight of the content term (default 1e5, as pytorch/examples).
    #[arg(long, default_value_t = 1e5)]
    pub content_weight: f64,
    /// fast-style: weight of the style term (default 1e10, as pytorch/examples).
    #[arg(long, default_value_t = 1e10)]
    pub style_weight: f64,
    /// fast-style: weight of the total-variation term (off in pytorch/examples).
    #[arg(long, default_value_t = 0.0)]
    pub tv_weight: f64,
    /// auto, wgpu or cpu.
    #[arg(long, default_value = "auto")]
    pub backend: Preference,
}

pub(super) fn read_folder(dir: &Path) -> Result<Vec<NamedFile>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            std::fs::read(&p).map(|bytes| NamedFile { name, bytes }).map_err(|e| format!("cannot read {}: {e}", p.display()))
        })
        .collect()
}

fn spec_of(model: Model, args: &TrainArgs) -> TrainSpec {
    let defaults = TrainSpec::new(model);
    TrainSpec {
        size: args.size,
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        epochs: args.epochs.unwrap_or(defaults.epochs),
        epochs_decay: args.epochs_decay,
        max_iterations: args.max_iterations,
        lr: args.lr.unwrap_or(defaults.lr),
        netg: args.netg.unwrap_or_default(),
        ngf: args.ngf,
        ndf: args.ndf,
        n_layers_d: args.n_layers_d,
        dropout: model == Model::Pix2Pix && !args.no_dropout,
        lambda_l1: args.lambda_l1,
        lambda_cycle: args.lambda_cycle,
        lambda_identity: args.lambda_identity,
        pool_size: args.pool_size,
        seed: args.seed,
        ..defaults
    }
}

fn checkpoint(path: Option<&Path>) -> Result<Option<Checkpoint>, String> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::weights::load_state_dict(&bytes).map(Some).map_err(|e| format!("{}: {e}", path.display()))
}

pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the generators as official `.safetensors` files and the whole run as `state.safetensors`.
fn save(out: &Path, session: &Session) -> Result<(), String> {
    for name in session.spec().model.generator_names() {
        write(&out.join(format!("{name}.safetensors")), &pollster::block_on(session.export_generator(name)).map_err(|e| e.to_string())?)?;
    }
    write(&out.join(STATE_FILE), &pollster::block_on(session.save_state()).map_err(|e| e.to_string())?)
}

pub fn run(model: &str, args: &TrainArgs) -> Result<(), String> {
    let model = model.parse::<Model>().map_err(|e| e.to_string())?;
    let files = match (model, &args.data, &args.data_a, &args.data_b) {
        (Model::Pix2Pix, Some(dir), None, None) => DatasetFiles::AlignedAb(read_folder(dir)?),
        (Model::Pix2Pix, None, Some(a), Some(b)) => DatasetFiles::PairedByName { a: read_folder(a)?, b: read_folder(b)? },
        (Model::Pix2Pix, ..) => return Err("pix2pix needs --data (AB images) or --data-a and --data-b (matched by name)".into()),
        (Model::CycleGan, None, Some(a), Some(b)) => DatasetFiles::Unpaired { a: read_folder(a)?, b: read_folder(b)? },
        (Model::CycleGan, ..) => return Err("cyclegan needs --data-a and --data-b (two unpaired folders)".into()),
        // Its own loop, with the photos and the style image (src/cli/fast_style.rs).
        (Model::FastStyle, ..) => return super::fast_style::train(args),
    };
    let spec = spec_of(model, args);
    spec.check().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let (data, report) = files.decode(spec.load_size()).map_err(|e| e.to_string())?;
    eprintln!("{}", report.summary());
    let compute = pollster::block_on(device::start(args.backend)).map_err(|e| e.to_string())?;
    eprintln!("device: {}", compute.info.summary());
    let device = compute.device.autodiff();
    let mut session = match &args.resume {
        Some(path) => {
            let state = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mut s = Session::resume(&state, data, &device).map_err(|e| format!("{}: {e}", path.display()))?;
            if args.max_iterations.is_some() {
                s.set_max_iterations(args.max_iterations);
            }
            if s.spec().model != model {
                return Err(format!("{} is a {} run", path.display(), s.spec().model.label()));
            }
            eprintln!("resuming at iteration {} of {}", s.iteration(), s.total_iterations());
            s
        }
        None => {
            let init = match &args.from_junyanz {
                Some(dir) => {
                    let files: Vec<PathBuf> = model.network_names().iter().map(|n| dir.join(format!("latest_net_{n}.pth"))).collect();
                    eprintln!("continuing from {}: Adam's moments are not in junyanz's checkpoints and start at zero", dir.display());
                    files.iter().map(|f| checkpoint(Some(f))).collect::<Result<Vec<_>, _>>()?
                }
                None => {
                    let given = [checkpoint(args.init_from.as_deref())?, checkpoint(args.init_from_b.as_deref())?];
                    given.into_iter().take(model.generator_names().len()).collect()
                }
            };
            Session::new(spec, data, init, &device, "cli").map_err(|e| e.to_string())?
        }
    };
    eprintln!("{}: {}", model.label(), session.describe());
    let log_path = args.out.join("losses.csv");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
    if args.resume.is_none() || log.metadata().map(|m| m.len() == 0).unwrap_or(true) {
        writeln!(log, "epoch,iteration,lr,{}", model.loss_names().join(",")).map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let first = session.iteration();
    while !session.is_finished() {
        let rec = pollster::block_on(session.step()).map_err(|e| e.to_string())?;
        record(&mut log, &rec, model.loss_names(), (rec.iteration - first) as f64 / started.elapsed().as_secs_f64())?;
        if rec.iteration % args.save_every.max(1) == 0 {
            save(&args.out, &session)?;
        }
    }
    save(&args.out, &session)?;
    println!(
        "trained {} iterations in {:.1} s; wrote {}",
        session.iteration() - first,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

fn record(log: &mut std::fs::File, rec: &StepRecord, names: &[&str], rate: f64) -> Result<(), String> {
    let values: Vec<String> = rec.losses.iter().map(|v| v.to_string()).collect();
    writeln!(log, "{},{},{},{}", rec.epoch, rec.iteration, rec.lr, values.join(",")).map_err(|e| e.to_string())?;
    if rec.iteration % 10 == 1 {
        let text: Vec<String> = names.iter().zip(&rec.losses).map(|(n, v)| format!("{n} {v:.3}")).collect();
        eprintln!("epoch {} iteration {} ({rate:.2} it/s): {}", rec.epoch, rec.iteration, text.join("  "));
    }
    Ok(())
}

/// Options of `ai-art export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A run's state (`state.safetensors`, written by `ai-art train` or exported by the app).
    #[arg(long)]
    pub state: PathBuf,
    /// Whose layout: `junyanz` (pytorch-CycleGAN-and-pix2pix's checkpoints folder).
    #[arg(long, default_value = "junyanz")]
    pub format: String,
    /// The folder to write; its name is the experiment's `--name` unless --name says otherwise.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub name: Option<String>,
}

/// `ai-art export`: the run's checkpoint folder for junyanz's trainer.
pub fn export(args: &ExportArgs) -> Result<(), String> {
    if args.format != "junyanz" {
        return Err(format!("unknown format `{}`: the one format is junyanz", args.format));
    }
    let state = std::fs::read(&args.state).map_err(|e| format!("cannot read {}: {e}", args.state.display()))?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args.out.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or("--out needs a folder name (or give --name)")?,
    };
    let files = session::junyanz_folder(&state, &name).map_err(|e| format!("{}: {e}", args.state.display()))?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    for (file, bytes) in &files {
        let path = args.out.join(file);
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let readme = args.out.join(session::JUNYANZ_README);
    println!("wrote {} files to {}; the command that continues the run is in {}", files.len(), args.out.display(), readme.display());
    Ok(())
}
