//! The style transfer settings as the user types them: the inputs (every option of
//! `ai-art stylize`), and their parsing into the technique's
//! [`Settings`](crate::techniques::style_transfer::Settings).

use super::StyleTransferMsg;
use crate::app::widgets::{event_value, num, parse, parse_f64};
use crate::models::{Pooling, VggLayer};
use crate::techniques::style_transfer::{InitKind, NstConfig, Optimizer, Settings, StyleWeights};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The settings as typed (validated on Start).
#[derive(Clone)]
pub struct Form {
    size: String,
    steps: String,
    optimizer: String,
    lr: String,
    alpha: String,
    beta: String,
    gamma: String,
    content_layer: String,
    style_layers: String,
    layer_weights: String,
    decay: String,
    pooling: String,
    init: String,
    seed: String,
    style_scale: String,
    preview_every: String,
    pub preserve: bool,
}

impl Default for Form {
    fn default() -> Self {
        let s = Settings::default();
        let c = NstConfig::default();
        let lr = match c.optimizer {
            Optimizer::Adam { lr } | Optimizer::Lbfgs { lr, .. } => lr,
        };
        Form {
            size: s.size.to_string(),
            steps: s.steps.to_string(),
            optimizer: "adam".into(),
            lr: num(lr),
            alpha: num(c.content_weight),
            beta: num(c.style_weight),
            gamma: num(c.tv_weight),
            content_layer: c.content_layer.to_string(),
            style_layers: c.style_layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(","),
            layer_weights: "equal".into(),
            decay: "0.5".into(),
            pooling: "avg".into(),
            init: "content".into(),
            seed: "0".into(),
            style_scale: num(s.style_scale),
            preview_every: s.preview_every.to_string(),
            preserve: s.preserve_colors,
        }
    }
}

text_fields!(Form {
    Size => size,
    Steps => steps,
    Optimizer => optimizer,
    Lr => lr,
    Alpha => alpha,
    Beta => beta,
    Gamma => gamma,
    ContentLayer => content_layer,
    StyleLayers => style_layers,
    LayerWeights => layer_weights,
    Decay => decay,
    Pooling => pooling,
    Init => init,
    Seed => seed,
    StyleScale => style_scale,
    PreviewEvery => preview_every,
});

impl Form {
    /// The settings, checked as far as the form can (the worker validates them again).
    pub fn settings(&self) -> Result<Settings, String> {
        let f = self;
        let size: u32 = parse("size", &f.size)?;
        let steps: u32 = parse("steps", &f.steps)?;
        let lr = parse_f64("learning rate", &f.lr, Some(0.0))?;
        let optimizer = match f.optimizer.as_str() {
            "lbfgs" => Optimizer::Lbfgs { lr, history: 10 },
            _ => Optimizer::Adam { lr },
        };
        let content_layer: VggLayer = f.content_layer.parse()?;
        let style_layers = f
            .style_layers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse::<VggLayer>)
            .collect::<Result<Vec<_>, _>>()?;
        let style_weights = match f.layer_weights.as_str() {
            "decay" => StyleWeights::Decay(parse_f64("decay factor", &f.decay, Some(0.0))?),
            _ => StyleWeights::Equal,
        };
        let config = NstConfig {
            content_layer,
            style_layers,
            style_weights,
            content_weight: parse_f64("alpha (content weight)", &f.alpha, None)?,
            style_weight: parse_f64("beta (style weight)", &f.beta, None)?,
            tv_weight: parse_f64("gamma (TV weight)", &f.gamma, None)?,
            optimizer,
        };
        let init = match f.init.as_str() {
            "style" => InitKind::Style,
            "noise" => InitKind::Noise { seed: parse::<u32>("seed", &f.seed)? as u64 },
            _ => InitKind::Content,
        };
        Ok(Settings {
            size,
            style_scale: parse_f64("style scale", &f.style_scale, Some(0.0))?,
            steps,
            config,
            pooling: if f.pooling == "max" { Pooling::Max } else { Pooling::Average },
            init,
            preserve_colors: f.preserve,
            preview_every: parse("preview interval", &f.preview_every)?,
        })
    }

    /// The user typed `v` into `field`.
    pub fn set(&mut self, field: Field, v: String) {
        let f = self;
        if field == Field::Optimizer {
            // The usual step sizes: 0.02 for Adam on [0, 1] pixels, 1 for L-BFGS.
            if v == "lbfgs" && f.lr == "0.02" {
                f.lr = "1".into();
            } else if v == "adam" && f.lr == "1" {
                f.lr = "0.02".into();
            }
        }
        *f.slot(field) = v;
    }

    /// The settings' inputs.
    pub fn view(&self, busy: bool, cb: &Callback<StyleTransferMsg>) -> Html {
        let f = self;
        let text = |field: Field, testid: &'static str, value: &str, kind: &'static str| {
            let oninput = cb.reform(move |e: InputEvent| StyleTransferMsg::Set(field, e.target_unchecked_into::<HtmlInputElement>().value()));
            html! { <input type={kind} class="small" data-testid={testid} value={value.to_string()} disabled={busy} {oninput} /> }
        };
        let select = |field: Field, testid: &'static str, current: &str, options: &[(&str, &str)]| {
            let onchange = cb.reform(move |e: web_sys::Event| StyleTransferMsg::Set(field, event_value(&e)));
            let opts = options.iter().map(|(v, label)| {
                html! { <option value={v.to_string()} selected={*v == current}>{ label.to_string() }</option> }
            });
            html! { <select data-testid={testid} disabled={busy} {onchange}>{ for opts }</select> }
        };
        let layers: Vec<(String, String)> = VggLayer::all().iter().map(|l| (l.to_string(), l.to_string())).collect();
        let layer_opts: Vec<(&str, &str)> = layers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let on_preserve = cb.reform(|e: web_sys::Event| StyleTransferMsg::Preserve(e.target_unchecked_into::<HtmlInputElement>().checked()));
        html! {
            <fieldset class="settings">
                <legend>{ "Settings" }</legend>
                <div class="row">
                    <label>{ "Size (longer side, px) " }{ text(Field::Size, "size", &f.size, "number") }</label>
                    <label>{ "Steps " }{ text(Field::Steps, "steps", &f.steps, "number") }</label>
                    <label><input type="checkbox" data-testid="preserve-colors" checked={f.preserve} disabled={busy}
                        onchange={on_preserve} />{ " Keep the content's colours" }</label>
                </div>
                <details data-testid="stylize-advanced">
                    <summary>{ "Advanced" }</summary>
                    <div class="grid">
                        <label>{ "Optimizer " }{ select(Field::Optimizer, "optimizer", &f.optimizer, &[("adam", "Adam"), ("lbfgs", "L-BFGS")]) }</label>
                        <label>{ "Learning rate " }{ text(Field::Lr, "lr", &f.lr, "text") }</label>
                        <label>{ "alpha (content) " }{ text(Field::Alpha, "alpha", &f.alpha, "text") }</label>
                        <label>{ "beta (style) " }{ text(Field::Beta, "beta", &f.beta, "text") }</label>
                        <label>{ "gamma (total variation) " }{ text(Field::Gamma, "gamma", &f.gamma, "text") }</label>
                        <label>{ "Content layer " }{ select(Field::ContentLayer, "content-layer", &f.content_layer, &layer_opts) }</label>
                        <label>{ "Style layers " }{ text(Field::StyleLayers, "style-layers", &f.style_layers, "text") }</label>
                        <label>{ "Style layer weights " }{ select(Field::LayerWeights, "layer-weights", &f.layer_weights, &[("equal", "equal"), ("decay", "decaying with depth")]) }</label>
                        if f.layer_weights == "decay" {
                            <label>{ "Decay factor " }{ text(Field::Decay, "decay", &f.decay, "text") }</label>
                        }
                        <label>{ "Pooling " }{ select(Field::Pooling, "pooling", &f.pooling, &[("avg", "average (smoother)"), ("max", "max (torchvision)")]) }</label>
                        <label>{ "Start from " }{ select(Field::Init, "init", &f.init, &[("content", "the content"), ("style", "the (first) style"), ("noise", "noise")]) }</label>
                        <label>{ "Seed " }{ text(Field::Seed, "seed", &f.seed, "number") }</label>
                        <label>{ "Style scale " }{ text(Field::StyleScale, "style-scale", &f.style_scale, "text") }</label>
                        <label>{ "Preview every (steps) " }{ text(Field::PreviewEvery, "preview-every", &f.preview_every, "number") }</label>
                    </div>
                    <p class="hint">{ "Layers are named conv4_2, relu1_1, pool3...; style layers are comma-separated. \
                        Larger beta: more style; larger gamma: smoother. The style scale resizes the style images \
                        relative to the size (larger: bigger brush strokes)." }</p>
                </details>
            </fieldset>
        }
    }
}
