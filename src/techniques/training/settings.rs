//! A training run's settings and what it reports, shared by the CLI, the worker and the UI
//! (which links this without Burn): which [`Model`] is trained (Pix2Pix, CycleGAN, or a fast
//! style network on the perceptual loss), every option of [`TrainSpec`]
//! with the papers' defaults, each iteration's [`StepRecord`], what a saved run holds
//! ([`StateSummary`]) and the user's images as files ([`DatasetFiles`]). The checks and the
//! networks a spec calls for are in `session::spec`.

use serde::{Deserialize, Serialize};

use crate::models::ArchChoice;

/// The losses a Pix2Pix iteration reports, in order (junyanz's `loss_names`, then `G`).
pub(crate) const PIX2PIX_LOSSES: [&str; 6] = ["D_fake", "D_real", "D", "G_GAN", "G_L1", "G"];
/// The losses a CycleGAN iteration reports, in order.
pub(crate) const CYCLE_GAN_LOSSES: [&str; 9] = ["D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "G"];
/// The losses a fast style iteration reports, in order (weighted terms, then their sum).
pub(crate) const FAST_STYLE_LOSSES: [&str; 4] = ["content", "style", "tv", "total"];

/// Which model is trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Model {
    Pix2Pix,
    CycleGan,
    /// A fast style network (Johnson et al.): photos and one style image, VGG19's perceptual
    /// loss, no discriminator.
    FastStyle,
}

impl std::str::FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pix2pix" => Ok(Model::Pix2Pix),
            "cyclegan" => Ok(Model::CycleGan),
            "fast-style" => Ok(Model::FastStyle),
            other => Err(format!("unknown model `{other}`: use pix2pix, cyclegan or fast-style")),
        }
    }
}

impl Model {
    /// The name on the command line and in benchmark records: `pix2pix`, `cyclegan`,
    /// `fast-style`.
    pub fn id(self) -> &'static str {
        match self {
            Model::Pix2Pix => "pix2pix",
            Model::CycleGan => "cyclegan",
            Model::FastStyle => "fast-style",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Model::Pix2Pix => "Pix2Pix",
            Model::CycleGan => "CycleGAN",
            Model::FastStyle => "Fast style",
        }
    }

    /// The losses each iteration reports, in order.
    pub fn loss_names(self) -> &'static [&'static str] {
        match self {
            Model::Pix2Pix => &PIX2PIX_LOSSES,
            Model::CycleGan => &CYCLE_GAN_LOSSES,
            Model::FastStyle => &FAST_STYLE_LOSSES,
        }
    }

    /// The generators, by their official names (`latest_net_G.pth`, `latest_net_G_A.pth`, ...;
    /// a fast style network is `G`).
    pub fn generator_names(self) -> &'static [&'static str] {
        match self {
            Model::Pix2Pix | Model::FastStyle => &["G"],
            Model::CycleGan => &["G_A", "G_B"],
        }
    }

    /// Every network, generators first.
    pub fn network_names(self) -> &'static [&'static str] {
        match self {
            Model::Pix2Pix => &["G", "D"],
            Model::CycleGan => &["G_A", "G_B", "D_A", "D_B"],
            Model::FastStyle => &["G"],
        }
    }
}

/// Every setting of a run (the CLI's `ai-art train` options; the app's training form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub model: Model,
    /// Crop size: images are resized to about 286/256 of it, randomly cropped and flipped.
    pub size: u32,
    pub batch_size: usize,
    /// Epochs at the base learning rate, then epochs of linear decay to zero.
    pub epochs: usize,
    pub epochs_decay: usize,
    /// Stop after this many iterations in all (for short runs).
    pub max_iterations: Option<usize>,
    pub lr: f64,
    /// Generator architecture; `Auto`: a U-Net as deep as the size allows (at most
    /// `unet_256`) for Pix2Pix, `resnet_9blocks` for CycleGAN.
    pub netg: ArchChoice,
    pub ngf: usize,
    pub ndf: usize,
    /// PatchGAN layers (3: 70x70 patches).
    pub n_layers_d: usize,
    /// Dropout 0.5 in the generator (the official default for Pix2Pix, not CycleGAN).
    pub dropout: bool,
    pub lambda_l1: f64,
    pub lambda_cycle: f64,
    pub lambda_identity: f64,
    pub pool_size: usize,
    pub seed: u64,
    /// The fast style network's loss weights (unused by the GANs; absent from states saved
    /// before fast style training, which read as the defaults).
    #[serde(default)]
    pub perceptual: PerceptualWeights,
}

/// The weights of a fast style network's loss: content, style and total variation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PerceptualWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
}

impl Default for PerceptualWeights {
    /// pytorch/examples' `fast_neural_style`: content 1e5, style 1e10, no total variation.
    fn default() -> Self {
        PerceptualWeights { content: 1e5, style: 1e10, tv: 0.0 }
    }
}

impl TrainSpec {
    /// The papers' settings for `model` (a fast style network: pytorch/examples', batches of
    /// 4 for 2 epochs at a constant 1e-3, widths 32/64/128).
    pub fn new(model: Model) -> Self {
        let fast = model == Model::FastStyle;
        TrainSpec {
            model,
            size: 256,
            batch_size: if fast { 4 } else { 1 },
            epochs: if fast { 2 } else { 100 },
            epochs_decay: if fast { 0 } else { 100 },
            max_iterations: None,
            lr: if fast { 1e-3 } else { 2e-4 },
            netg: ArchChoice::Auto,
            ngf: if fast { 32 } else { 64 },
            ndf: 64,
            n_layers_d: 3,
            dropout: model == Model::Pix2Pix,
            lambda_l1: 100.0,
            lambda_cycle: 10.0,
            lambda_identity: 0.5,
            pool_size: 50,
            seed: 0,
            perceptual: PerceptualWeights::default(),
        }
    }

    /// The side the training images are decoded at: the GANs' official 286 for a 256 crop (a
    /// random crop of it each iteration), a fast style network's crop size itself (the centre
    /// square, as pytorch/examples).
    pub fn load_size(&self) -> u32 {
        match self.model {
            Model::FastStyle => self.size,
            Model::Pix2Pix | Model::CycleGan => (self.size * 286).div_ceil(256).max(self.size),
        }
    }

    /// Rejects settings that cannot train, with a message for the user (the UI checks its
    /// form with it; the worker and the CLI again, as `TrainingError::Setting`).
    pub fn check(&self) -> Result<(), String> {
        let setting = |message: &str| Err(message.to_string());
        if !(16..=1024).contains(&self.size) {
            return setting("the image size must be between 16 and 1024 pixels");
        }
        if !(1..=64).contains(&self.batch_size) {
            return setting("the batch size must be between 1 and 64");
        }
        if self.epochs == 0 && self.epochs_decay == 0 {
            return setting("train for at least one epoch");
        }
        if self.max_iterations == Some(0) {
            return setting("train for at least one iteration");
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr < 1.0) {
            return setting("the learning rate must be a number between 0 and 1");
        }
        if !(1..=512).contains(&self.ngf) || !(1..=512).contains(&self.ndf) {
            return setting("the network widths (ngf, ndf) must be between 1 and 512");
        }
        if !(1..=6).contains(&self.n_layers_d) {
            return setting("the PatchGAN needs between 1 and 6 layers");
        }
        for (name, v) in [("lambda L1", self.lambda_l1), ("lambda cycle", self.lambda_cycle), ("lambda identity", self.lambda_identity)] {
            if !(v.is_finite() && v >= 0.0) {
                return setting(&format!("{name} must be a number >= 0"));
            }
        }
        if self.pool_size > 1000 {
            return setting("the history pool holds at most 1000 images");
        }
        let p = &self.perceptual;
        for (name, v) in [("the content weight", p.content), ("the style weight", p.style), ("the TV weight", p.tv)] {
            if !(v.is_finite() && v >= 0.0) {
                return setting(&format!("{name} must be a number >= 0"));
            }
        }
        self.generator_choice().map(drop)
    }

    /// The generator architecture to build from scratch: `netg`, where `Auto` is a U-Net as
    /// deep as the size allows (at most `unet_256`) for Pix2Pix and `resnet_9blocks` for
    /// CycleGAN; refused when it cannot take the image size.
    pub fn generator_choice(&self) -> Result<ArchChoice, String> {
        let choice = match (self.netg, self.model) {
            // Johnson's network, which has no ArchChoice: it halves the image twice.
            (_, Model::FastStyle) if !self.size.is_multiple_of(4) => {
                return Err(format!("a fast style network needs a size that is a multiple of 4, not {}", self.size));
            }
            (_, Model::FastStyle) => return Ok(ArchChoice::Auto),
            (ArchChoice::Auto, Model::CycleGan) => ArchChoice::Resnet { n_blocks: 9 },
            (ArchChoice::Auto, Model::Pix2Pix) => ArchChoice::Unet { num_downs: (self.size.trailing_zeros() as usize).min(8) },
            (other, _) => other,
        };
        match choice {
            ArchChoice::Resnet { .. } if !self.size.is_multiple_of(4) => {
                Err(format!("a ResNet generator needs a size that is a multiple of 4, not {}", self.size))
            }
            ArchChoice::Unet { num_downs } if !(5..=12).contains(&num_downs) => Err(format!(
                "the U-Net needs a size that is a multiple of 32 (it halves the image at least 5 times), not {}",
                self.size
            )),
            ArchChoice::Unet { num_downs } if !self.size.is_multiple_of(1 << num_downs) => Err(format!(
                "a U-Net with {num_downs} downsamplings (unet_{}) needs a size that is a multiple of {}, not {}",
                1u64 << num_downs,
                1u64 << num_downs,
                self.size
            )),
            other => Ok(other),
        }
    }
}

/// One iteration's record: the losses in [`Model::loss_names`] order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub iteration: usize,
    pub epoch: usize,
    pub lr: f64,
    pub losses: Vec<f64>,
}

/// What a saved state holds, read from its header alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateSummary {
    pub run_id: String,
    pub spec: TrainSpec,
    pub iteration: usize,
    pub total_iterations: usize,
}

/// An image file as the user gave it (name and undecoded bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedFile {
    pub name: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// A training set as files, in one of the official arrangements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DatasetFiles {
    /// Pix2Pix: side-by-side `AB` images, A on the left.
    AlignedAb(Vec<NamedFile>),
    /// Pix2Pix: two sets whose files are matched by name.
    PairedByName { a: Vec<NamedFile>, b: Vec<NamedFile> },
    /// CycleGAN: two unpaired sets.
    Unpaired { a: Vec<NamedFile>, b: Vec<NamedFile> },
    /// A fast style network: photos, and the one style image.
    PhotosAndStyle { photos: Vec<NamedFile>, style: NamedFile },
}
