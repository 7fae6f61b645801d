//! The training settings as the user types them (the options of `ai-art train`) and their
//! parsing into the technique's [`TrainSpec`].

use super::TrainingMsg;
use crate::app::widgets::{num, parse};
use crate::models::ArchChoice;
use crate::techniques::training::{Model, PerceptualWeights, TrainSpec};
use web_sys::HtmlInputElement;
use yew::prelude::*;

text_fields!(Form {
    Size => size,
    Batch => batch,
    Epochs => epochs,
    EpochsDecay => epochs_decay,
    MaxIterations => max_iterations,
    Lr => lr,
    Netg => netg,
    Ngf => ngf,
    Ndf => ndf,
    LayersD => layers_d,
    LambdaL1 => lambda_l1,
    LambdaCycle => lambda_cycle,
    LambdaIdentity => lambda_identity,
    Pool => pool,
    ContentWeight => content_weight,
    StyleWeight => style_weight,
    TvWeight => tv_weight,
    Seed => seed,
    SaveEvery => save_every,
    SampleEvery => sample_every,
});

/// The settings as typed (validated on Start).
pub struct Form {
    size: String,
    batch: String,
    epochs: String,
    epochs_decay: String,
    max_iterations: String,
    lr: String,
    netg: String,
    ngf: String,
    ndf: String,
    layers_d: String,
    lambda_l1: String,
    lambda_cycle: String,
    lambda_identity: String,
    pool: String,
    content_weight: String,
    style_weight: String,
    tv_weight: String,
    seed: String,
    save_every: String,
    sample_every: String,
    pub dropout: bool,
}

impl Form {
    /// Small enough to see the losses move within a minute on most GPUs (a fast style
    /// network: pytorch/examples' settings but the size and the batch, and 20 epochs, since a
    /// visitor brings tens of photos, not COCO's 83,000).
    pub fn for_model(model: Model) -> Self {
        let s = TrainSpec::new(model);
        let fast = model == Model::FastStyle;
        let p = s.perceptual;
        Form {
            size: "128".into(),
            batch: if fast { "2" } else { "1" }.into(),
            epochs: if fast { "20" } else { "100" }.into(),
            epochs_decay: s.epochs_decay.to_string(),
            max_iterations: String::new(),
            lr: s.lr.to_string(),
            netg: "auto".into(),
            ngf: "32".into(),
            ndf: "32".into(),
            layers_d: s.n_layers_d.to_string(),
            lambda_l1: s.lambda_l1.to_string(),
            lambda_cycle: s.lambda_cycle.to_string(),
            lambda_identity: s.lambda_identity.to_string(),
            pool: s.pool_size.to_string(),
            content_weight: num(p.content),
            style_weight: num(p.style),
            tv_weight: num(p.tv),
            seed: "0".into(),
            save_every: "30".into(),
            sample_every: "10".into(),
            dropout: s.dropout,
        }
    }

    /// The run's settings for `model`, checked.
    pub fn spec(&self, model: Model) -> Result<TrainSpec, String> {
        let f = self;
        let max: Option<usize> = if f.max_iterations.trim().is_empty() { None } else { Some(parse("iterations", &f.max_iterations)?) };
        let spec = TrainSpec {
            size: parse("size", &f.size)?,
            batch_size: parse("batch size", &f.batch)?,
            epochs: parse("epochs", &f.epochs)?,
            epochs_decay: parse("decay epochs", &f.epochs_decay)?,
            max_iterations: max,
            lr: parse("learning rate", &f.lr)?,
            netg: f.netg.parse::<ArchChoice>()?,
            ngf: parse("ngf", &f.ngf)?,
            ndf: parse("ndf", &f.ndf)?,
            n_layers_d: parse("PatchGAN layers", &f.layers_d)?,
            dropout: f.dropout,
            lambda_l1: parse("lambda L1", &f.lambda_l1)?,
            lambda_cycle: parse("lambda cycle", &f.lambda_cycle)?,
            lambda_identity: parse("lambda identity", &f.lambda_identity)?,
            pool_size: parse("pool size", &f.pool)?,
            perceptual: PerceptualWeights {
                content: parse("content weight", &f.content_weight)?,
                style: parse("style weight", &f.style_weight)?,
                tv: parse("TV weight", &f.tv_weight)?,
            },
            seed: parse("seed", &f.seed)?,
            ..TrainSpec::new(model)
        };
        spec.check().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// Save every (seconds), sample every (iterations).
    pub fn intervals(&self) -> Result<(u32, u32), String> {
        Ok((parse("save interval", &self.save_every)?, parse("sample interval", &self.sample_every)?))
    }

    /// The user typed `v` into `field`.
    pub fn set(&mut self, field: Field, v: String) {
        *self.slot(field) = v;
    }

    /// The settings' inputs for `model`.
    pub fn view(&self, model: Model, busy: bool, cb: &Callback<TrainingMsg>) -> Html {
        let f = self;
        let input = |field: Field, label: &'static str, value: &str, testid: &'static str| {
            let oninput = cb.reform(move |e: InputEvent| TrainingMsg::Set(field, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! {
                <label class="setting">{ label }
                    <input type="text" size="6" data-testid={testid} value={value.to_string()} disabled={busy} {oninput} />
                </label>
            }
        };
        let on_dropout = cb.reform(|e: web_sys::Event| TrainingMsg::Dropout(e.target_unchecked_into::<HtmlInputElement>().checked()));
        html! {
            <details class="group" open=true>
                <summary>{ "Settings" }</summary>
                <div class="settings">
                    { input(Field::Size, "Size (px) ", &f.size, "train-size") }
                    { input(Field::Batch, "Batch ", &f.batch, "train-batch") }
                    { input(Field::Epochs, "Epochs ", &f.epochs, "train-epochs") }
                    { input(Field::EpochsDecay, "Decay epochs ", &f.epochs_decay, "train-epochs-decay") }
                    { input(Field::MaxIterations, "Stop after (iterations, optional) ", &f.max_iterations, "train-max-iterations") }
                    { input(Field::Lr, "Learning rate ", &f.lr, "train-lr") }
                    if model == Model::FastStyle {
                        { input(Field::Ngf, "Width (32: Johnson's 32/64/128) ", &f.ngf, "train-ngf") }
                        { input(Field::ContentWeight, "Content weight ", &f.content_weight, "train-content-weight") }
                        { input(Field::StyleWeight, "Style weight ", &f.style_weight, "train-style-weight") }
                        { input(Field::TvWeight, "TV weight ", &f.tv_weight, "train-tv-weight") }
                    } else {
                        { input(Field::Netg, "Generator (auto, unet_128, resnet_9blocks...) ", &f.netg, "train-netg") }
                        { input(Field::Ngf, "ngf ", &f.ngf, "train-ngf") }
                        { input(Field::Ndf, "ndf ", &f.ndf, "train-ndf") }
                        { input(Field::LayersD, "PatchGAN layers ", &f.layers_d, "train-layers-d") }
                    }
                    if model == Model::Pix2Pix {
                        { input(Field::LambdaL1, "lambda L1 ", &f.lambda_l1, "train-lambda-l1") }
                    } else if model == Model::CycleGan {
                        { input(Field::LambdaCycle, "lambda cycle ", &f.lambda_cycle, "train-lambda-cycle") }
                        { input(Field::LambdaIdentity, "identity (x lambda, 0 = off) ", &f.lambda_identity, "train-lambda-identity") }
                        { input(Field::Pool, "History pool ", &f.pool, "train-pool") }
                    }
                    { input(Field::Seed, "Seed ", &f.seed, "train-seed") }
                    { input(Field::SaveEvery, "Save every (s) ", &f.save_every, "train-save-every") }
                    { input(Field::SampleEvery, "Sample every (iterations) ", &f.sample_every, "train-sample-every") }
                    if model != Model::FastStyle {
                        <label class="setting"><input type="checkbox" checked={f.dropout} disabled={busy} onchange={on_dropout} />{ " Dropout 0.5" }</label>
                    }
                </div>
            </details>
        }
    }
}
