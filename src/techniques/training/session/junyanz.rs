//! Handing a run over to junyanz/pytorch-CycleGAN-and-pix2pix, whose `train.py` continues it
//! on GPUs (several with `--gpu_ids`): its checkpoint folder, as its `save_networks` and
//! `print_options` write it.
//!
//! * `latest_net_G.pth` and `latest_net_D.pth` (Pix2Pix), or `latest_net_G_A.pth`,
//!   `latest_net_G_B.pth`, `latest_net_D_A.pth`, `latest_net_D_B.pth` (CycleGAN): each
//!   network's state dict under the official names, in `torch.save`'s zip format
//!   ([`crate::weights::torch_save`]);
//! * `train_opt.txt`: the options the run used, in `print_options`' layout (every option
//!   the run sets, sorted, with `[default: ...]` where it differs from `train.py`'s default
//!   for the model);
//! * `README.md` ([`JUNYANZ_README`]): the exact `python train.py --continue_train
//!   --epoch_count N ...` command that continues it.
//!
//! junyanz's checkpoints hold no optimiser state: the continued run's Adam starts with its
//! moments at zero, which the README says. junyanz's `train.py` builds `unet_128`, `unet_256`,
//! `resnet_6blocks` and `resnet_9blocks` generators only; a run with another one is refused
//! with the reason.

use super::{SavedRun, saved_run};
use crate::models::NormKind;
use crate::models::detect::Architecture;
use crate::techniques::training::{Model, TrainingError};
use crate::weights::torch_save;

/// The name of the README in the folder.
pub const JUNYANZ_README: &str = "README.md";

/// One option of `train.py`: its name, the run's value and `train.py`'s default for the model.
struct Opt {
    key: &'static str,
    value: String,
    default: String,
}

fn opt(key: &'static str, value: impl ToString, default: impl ToString) -> Opt {
    Opt { key, value: value.to_string(), default: default.to_string() }
}

/// Python's `str()` of a bool.
fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A float as Python prints it (`0.0002`, `100.0`).
fn py_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 { format!("{v:.1}") } else { format!("{v}") }
}

fn refused(why: String) -> TrainingError {
    TrainingError::Setting(format!("junyanz's train.py cannot continue this run: {why}"))
}

/// `train.py`'s name for a generator, if it builds it.
fn net_g(arch: &Architecture) -> Result<&'static str, TrainingError> {
    match arch {
        Architecture::Unet(c) if c.num_downs == 7 => Ok("unet_128"),
        Architecture::Unet(c) if c.num_downs == 8 => Ok("unet_256"),
        Architecture::Resnet(c) if c.n_blocks == 6 => Ok("resnet_6blocks"),
        Architecture::Resnet(c) if c.n_blocks == 9 => Ok("resnet_9blocks"),
        other => Err(refused(format!(
            "it builds unet_128, unet_256, resnet_6blocks and resnet_9blocks generators, and this run's is {}",
            other.describe()
        ))),
    }
}

fn norm_of(arch: &Architecture) -> Result<&'static str, TrainingError> {
    let norm = match arch {
        Architecture::Unet(c) => c.norm,
        Architecture::Resnet(c) => c.norm,
        Architecture::PatchGan(c) => c.norm,
        other => return Err(refused(format!("{} is not one of its networks", other.describe()))),
    };
    match norm {
        NormKind::Instance { affine: false } => Ok("instance"),
        NormKind::Batch => Ok("batch"),
        other => Err(refused(format!("it has no {other:?} norm"))),
    }
}

/// The options of `run` (its settings and networks), with `train.py`'s defaults for its model.
fn options(run: &SavedRun, name: &str) -> Result<Vec<Opt>, TrainingError> {
    let s = &run.summary.spec;
    let pix2pix = match s.model {
        Model::Pix2Pix => true,
        Model::CycleGan => false,
        Model::FastStyle => {
            return Err(refused("it trains GANs; export G as .safetensors instead (pytorch/examples' fast_neural_style layout)".into()));
        }
    };
    let [g, .., d] = run.networks.as_slice() else { return Err(TrainingError::Internal("no networks".into())) };
    let Architecture::PatchGan(dc) = &d.arch else { return Err(TrainingError::Internal("no discriminator".into())) };
    let norm = norm_of(&g.arch)?;
    if norm_of(&d.arch)? != norm {
        return Err(refused("its generators and discriminators share one --norm, and this run's differ".into()));
    }
    if !pix2pix && s.dropout {
        return Err(refused("its CycleGAN always trains without dropout (--no_dropout is on for cycle_gan)".into()));
    }
    let mut opts = vec![
        opt("batch_size", s.batch_size, 1),
        opt("beta1", 0.5, 0.5),
        opt("checkpoints_dir", "./checkpoints", "./checkpoints"),
        opt("continue_train", py(true), py(false)),
        opt("crop_size", s.size, 256),
        opt("dataroot", "./datasets/YOUR_DATA", "None"),
        opt("dataset_mode", if pix2pix { "aligned" } else { "unaligned" }, if pix2pix { "aligned" } else { "unaligned" }),
        opt("direction", "AtoB", "AtoB"),
        opt("epoch", "latest", "latest"),
        opt("epoch_count", run.epochs_done + 1, 1),
        opt("gan_mode", "lsgan", if pix2pix { "vanilla" } else { "lsgan" }),
        opt("gpu_ids", "0", "0"),
        opt("init_gain", 0.02, 0.02),
        opt("init_type", "normal", "normal"),
        opt("input_nc", 3, 3),
        opt("isTrain", py(true), "None"),
        opt("load_size", s.load_size(), 286),
        opt("lr", s.lr, 0.0002),
        opt("lr_policy", "linear", "linear"),
        opt("model", if pix2pix { "pix2pix" } else { "cycle_gan" }, "cycle_gan"),
        opt("n_epochs", s.epochs, 100),
        opt("n_epochs_decay", s.epochs_decay, 100),
        opt("n_layers_D", dc.n_layers, 3),
        opt("name", name, "experiment_name"),
        opt("ndf", dc.ndf, 64),
        opt("netD", if dc.n_layers == 3 { "basic" } else { "n_layers" }, "basic"),
        opt("netG", net_g(&g.arch)?, if pix2pix { "unet_256" } else { "resnet_9blocks" }),
        opt("ngf", match &g.arch { Architecture::Unet(c) => c.ngf, Architecture::Resnet(c) => c.ngf, _ => 64 }, 64),
        opt("no_dropout", py(!s.dropout), py(!pix2pix)),
        opt("no_flip", py(false), py(false)),
        opt("norm", norm, if pix2pix { "batch" } else { "instance" }),
        opt("output_nc", 3, 3),
        opt("phase", "train", "train"),
        opt("pool_size", if pix2pix { 0 } else { s.pool_size }, if pix2pix { 0 } else { 50 }),
        opt("preprocess", "resize_and_crop", "resize_and_crop"),
    ];
    if pix2pix {
        opts.push(opt("lambda_L1", py_float(s.lambda_l1), "100.0"));
    } else {
        opts.push(opt("lambda_A", py_float(s.lambda_cycle), "10.0"));
        opts.push(opt("lambda_B", py_float(s.lambda_cycle), "10.0"));
        opts.push(opt("lambda_identity", py_float(s.lambda_identity), "0.5"));
    }
    opts.sort_by_key(|o| o.key);
    Ok(opts)
}

/// `print_options`' text of `opts`.
fn train_opt_txt(opts: &[Opt]) -> String {
    let mut out = String::from("----------------- Options ---------------\n");
    for o in opts {
        let comment = if o.value != o.default { format!("\t[default: {}]", o.default) } else { String::new() };
        out.push_str(&format!("{:>25}: {:<30}{}\n", o.key, o.value, comment));
    }
    out.push_str("----------------- End -------------------\n");
    out
}

/// The `train.py` command that continues the run: every option that differs from its default
/// for the model, and `--continue_train`.
fn command(opts: &[Opt]) -> String {
    let mut cmd = String::from("python train.py");
    for o in opts.iter().filter(|o| o.value != o.default && !matches!(o.key, "isTrain" | "continue_train" | "phase")) {
        match (o.value.as_str(), o.default.as_str()) {
            ("True", "False") => cmd.push_str(&format!(" --{}", o.key)),
            // A flag that is on by default (cycle_gan's --no_dropout) cannot be turned off.
            ("False", "True") => {}
            _ => cmd.push_str(&format!(" --{} {}", o.key, o.value)),
        }
    }
    cmd.push_str(" --continue_train");
    cmd
}

/// The README of the folder: what it is, where it goes, the command.
fn readme(run: &SavedRun, name: &str, opts: &[Opt]) -> String {
    let s = &run.summary;
    let files: Vec<String> = run.networks.iter().map(|n| format!("`latest_net_{}.pth`", n.name)).collect();
    let data = if s.spec.model == Model::Pix2Pix {
        "side-by-side AB images in `./datasets/YOUR_DATA/train/` (junyanz's aligned layout, A on the left)"
    } else {
        "the two sets in `./datasets/YOUR_DATA/trainA/` and `./datasets/YOUR_DATA/trainB/`"
    };
    format!(
        "# {name}: a {model} run from the AI-Art Studio, for junyanz's trainer\n\n\
         Saved at iteration {it} of {total}, after {epochs} whole epoch(s) ({files}, and the options in `train_opt.txt`).\n\n\
         To continue it with [junyanz/pytorch-CycleGAN-and-pix2pix](https://github.com/junyanz/pytorch-CycleGAN-and-pix2pix):\n\n\
         1. copy this folder to `./checkpoints/{name}/` in a clone of that repository;\n\
         2. put the training images there as {data};\n\
         3. run, from the repository's root:\n\n\
         ```\n{cmd}\n```\n\n\
         `--epoch_count {next}` starts the learning-rate schedule where the run was: epoch {next} of {all}. \
         Add `--gpu_ids 0,1,2,3` (and a `--batch_size` that is a multiple of the GPU count) to train on several GPUs.\n\n\
         junyanz's checkpoints hold no optimiser state: Adam continues with its moments at zero, so the \
         first iterations move a little differently from an uninterrupted run.\n\n\
         Back in the studio, `latest_net_*.pth` load as they are: in the Pix2Pix and CycleGAN tabs, or with \
         `ai-art translate --checkpoint latest_net_{g}.pth`.\n",
        model = s.spec.model.label(),
        it = s.iteration,
        total = s.total_iterations,
        epochs = run.epochs_done,
        files = files.join(", "),
        cmd = command(opts),
        next = run.epochs_done + 1,
        all = s.spec.epochs + s.spec.epochs_decay,
        g = run.networks.first().map_or("G", |n| n.name.as_str()),
    )
}

/// The checkpoint folder of the saved run `state` for junyanz's `train.py`, as `(file name,
/// bytes)`; `name` is the experiment's (`--name`).
pub fn junyanz_folder(state: &[u8], name: &str) -> Result<Vec<(String, Vec<u8>)>, TrainingError> {
    let run = saved_run(state)?;
    let opts = options(&run, name)?;
    let mut files = Vec::new();
    for net in &run.networks {
        let bytes = torch_save::save_state_dict(&net.tensors).map_err(|e| TrainingError::Export(e.to_string()))?;
        files.push((format!("latest_net_{}.pth", net.name), bytes));
    }
    files.push(("train_opt.txt".into(), train_opt_txt(&opts).into_bytes()));
    files.push((JUNYANZ_README.into(), readme(&run, name, &opts).into_bytes()));
    Ok(files)
}
