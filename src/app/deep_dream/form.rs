//! The Deep Dream settings as the user types them (the options of `ai-art dream`) and their
//! parsing into the technique's [`DreamSettings`], the size and the preview interval.

use super::DeepDreamMsg;
use crate::app::widgets::{event_value, num, parse, parse_f64};
use crate::models::VggLayer;
use crate::techniques::deep_dream::DreamSettings;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The settings as typed (validated on Start, and again by the worker).
#[derive(Clone)]
pub struct Form {
    size: String,
    layer: String,
    channels: String,
    octaves: String,
    octave_scale: String,
    steps: String,
    /// On the 0-255 scale of pixel values, as the original notebook's.
    step_size: String,
    jitter: String,
    seed: String,
    preview_every: String,
}

/// The longer side of a dream by default: a few seconds on a laptop's GPU.
const DEFAULT_SIZE: u32 = 384;

impl Default for Form {
    fn default() -> Self {
        let s = DreamSettings::default();
        Form {
            size: DEFAULT_SIZE.to_string(),
            layer: s.layer.to_string(),
            channels: String::new(),
            octaves: s.octaves.to_string(),
            octave_scale: num(s.octave_scale),
            steps: s.steps.to_string(),
            step_size: num((s.lr * 255.0 * 1e6).round() / 1e6),
            jitter: s.jitter.to_string(),
            seed: s.seed.to_string(),
            preview_every: "5".into(),
        }
    }
}

text_fields!(Form {
    Size => size,
    Layer => layer,
    Channels => channels,
    Octaves => octaves,
    OctaveScale => octave_scale,
    Steps => steps,
    StepSize => step_size,
    Jitter => jitter,
    Seed => seed,
    PreviewEvery => preview_every,
});

impl Form {
    /// The settings, the size and the preview interval, checked as far as the form can.
    pub fn settings(&self) -> Result<(DreamSettings, u32, u32), String> {
        let f = self;
        let channels = f
            .channels
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|c| parse::<usize>("channels", c))
            .collect::<Result<Vec<_>, _>>()?;
        let settings = DreamSettings {
            layer: f.layer.parse()?,
            channels,
            octaves: parse("octaves", &f.octaves)?,
            octave_scale: parse("octave scale", &f.octave_scale)?,
            steps: parse("steps per octave", &f.steps)?,
            lr: parse_f64("step size", &f.step_size, Some(0.0))? / 255.0,
            jitter: parse("jitter", &f.jitter)?,
            seed: parse("seed", &f.seed)?,
        };
        settings.check()?;
        let size: u32 = parse("size", &f.size)?;
        if size == 0 {
            return Err("size must be at least 1 pixel".into());
        }
        Ok((settings, size, parse("preview interval", &f.preview_every)?))
    }

    /// The user typed `v` into `field`.
    pub fn set(&mut self, field: Field, v: String) {
        *self.slot(field) = v;
    }

    /// The settings' inputs.
    pub fn view(&self, busy: bool, cb: &Callback<DeepDreamMsg>) -> Html {
        let f = self;
        let text = |field: Field, testid: &'static str, value: &str, kind: &'static str| {
            let oninput = cb.reform(move |e: InputEvent| DeepDreamMsg::Set(field, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! { <input type={kind} class="small" data-testid={testid} value={value.to_string()} disabled={busy} {oninput} /> }
        };
        let layers = VggLayer::all().into_iter().map(|l| {
            let name = l.to_string();
            html! { <option value={name.clone()} selected={name == f.layer}>{ name }</option> }
        });
        let on_layer = cb.reform(|e: web_sys::Event| DeepDreamMsg::Set(Field::Layer, event_value(&e)));
        html! {
            <fieldset class="settings">
                <legend>{ "Settings" }</legend>
                <div class="row">
                    <label>{ "Size (longer side, px) " }{ text(Field::Size, "dream-size", &f.size, "number") }</label>
                    <label>{ "Layer " }<select data-testid="dream-layer" disabled={busy} onchange={on_layer}>{ for layers }</select></label>
                    <label>{ "Octaves " }{ text(Field::Octaves, "dream-octaves", &f.octaves, "number") }</label>
                    <label>{ "Steps per octave " }{ text(Field::Steps, "dream-steps", &f.steps, "number") }</label>
                </div>
                <details data-testid="dream-advanced">
                    <summary>{ "Advanced" }</summary>
                    <div class="grid">
                        <label>{ "Channels (empty: all) " }{ text(Field::Channels, "dream-channels", &f.channels, "text") }</label>
                        <label>{ "Octave scale " }{ text(Field::OctaveScale, "dream-octave-scale", &f.octave_scale, "text") }</label>
                        <label>{ "Step size (0-255 levels) " }{ text(Field::StepSize, "dream-step-size", &f.step_size, "text") }</label>
                        <label>{ "Jitter (px) " }{ text(Field::Jitter, "dream-jitter", &f.jitter, "number") }</label>
                        <label>{ "Seed " }{ text(Field::Seed, "dream-seed", &f.seed, "number") }</label>
                        <label>{ "Preview every (steps) " }{ text(Field::PreviewEvery, "dream-preview-every", &f.preview_every, "number") }</label>
                    </div>
                    <p class="hint">{ "Shallow layers (conv2_x, conv3_x) bring out strokes and textures; deeper ones \
                        (conv4_x, conv5_x) eyes, scales and shapes. Channels are comma-separated numbers: only those \
                        features are amplified. Each octave works on an image octave-scale times smaller than the \
                        next, so the patterns grow at several sizes; the jitter shifts the image randomly at each \
                        step, which keeps the patterns from locking to the pixel grid." }</p>
                </details>
            </fieldset>
        }
    }
}
