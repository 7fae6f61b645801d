//! What a run's settings ([`TrainSpec`], in `training::settings`) mean on the device: the
//! checks that refuse settings that cannot train, and the networks they call for.

use crate::models::detect::Architecture;
use crate::models::fast_style::FastStyleConfig;
use crate::models::patchgan::PatchGanConfig;
use crate::models::resnet::ResnetConfig;
use crate::models::unet::UnetConfig;
use crate::models::{ArchChoice, NormKind};
use crate::techniques::training::{Model, Schedule, TrainSpec, TrainingError};

impl TrainSpec {
    /// The generator to build from scratch ([`TrainSpec::generator_choice`], with the
    /// papers' widths and norm).
    pub fn generator_architecture(&self) -> Result<Architecture, TrainingError> {
        let norm = NormKind::Instance { affine: false };
        if self.model == Model::FastStyle {
            self.generator_choice().map_err(TrainingError::Setting)?;
            // Johnson's widths (32, 64, 128 by default) follow ngf.
            let w = self.ngf;
            return Ok(Architecture::FastStyle(FastStyleConfig { widths: [w, 2 * w, 4 * w], ..FastStyleConfig::official() }));
        }
        match self.generator_choice().map_err(TrainingError::Setting)? {
            ArchChoice::Resnet { n_blocks } => Ok(Architecture::Resnet(ResnetConfig {
                ngf: self.ngf,
                n_blocks,
                norm,
                use_dropout: self.dropout,
                ..ResnetConfig::official(n_blocks)
            })),
            ArchChoice::Unet { num_downs } => {
                Ok(Architecture::Unet(UnetConfig { ngf: self.ngf, use_dropout: self.dropout, ..UnetConfig::official(num_downs, norm) }))
            }
            ArchChoice::Auto => Err(TrainingError::Internal("no generator architecture".into())),
        }
    }

    pub(super) fn discriminator_config(&self) -> PatchGanConfig {
        let input_nc = if self.model == Model::Pix2Pix { 6 } else { 3 };
        PatchGanConfig { input_nc, ndf: self.ndf, n_layers: self.n_layers_d, norm: NormKind::Instance { affine: false } }
    }

    pub(super) fn schedule(&self) -> Schedule {
        Schedule { lr: self.lr, n_epochs: self.epochs, n_epochs_decay: self.epochs_decay }
    }
}
