//! The start view, where the page opens: the techniques first, each with what it does and a
//! one-click demo on the samples; then, in folds, the models stored in this browser (with
//! delete), the credits of everything the studio ships, and the diagnostics (the image
//! round-trip check).

use super::samples::{self, Sample};
use super::storage::{self, StoredModel, Usage};
use super::{catalog, Tab};
use crate::protocol::Slot;
use yew::prelude::*;

/// The one-click demos of the start view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demo {
    /// The cat painted in the swirls (downloads VGG19's convolutions once if none are loaded).
    StyleTransfer,
    /// The built-in CycleGAN generator on the coffee photo.
    CycleGan,
}

impl Demo {
    /// Its content photo and, for style transfer, its style image.
    pub fn samples(self) -> (Option<&'static Sample>, Option<&'static Sample>) {
        match self {
            Demo::StyleTransfer => (samples::find("cat.jpg"), samples::find("swirls.jpg")),
            Demo::CycleGan => (samples::find("coffee.jpg"), None),
        }
    }

    pub fn tab(self) -> Tab {
        match self {
            Demo::StyleTransfer => Tab::StyleTransfer,
            Demo::CycleGan => Tab::CycleGan,
        }
    }
}

/// What the start view sends: open a section, or run a demo.
pub struct StartCallbacks {
    pub show: Callback<Tab>,
    pub demo: Callback<Demo>,
}

/// One technique's card.
fn card(tab: Tab, title: &str, text: &str, demo: Option<(Demo, &str)>, cb: &StartCallbacks, ready: bool) -> Html {
    let open = cb.show.reform(move |_| tab);
    let demo = demo.map(|(demo, label)| {
        html! {
            <button class="button" data-testid={format!("demo-{}", tab.id())} disabled={!ready}
                onclick={cb.demo.reform(move |_| demo)}>{ label }</button>
        }
    });
    html! {
        <article class="card" data-testid={format!("card-{}", tab.id())}>
            <h2>{ title }</h2>
            <p>{ text }</p>
            <div class="row">
                { for demo }
                <button class="button secondary" data-testid={format!("open-{}", tab.id())} onclick={open}>{ "Open" }</button>
            </div>
        </article>
    }
}

/// The start view; `diagnostics` is the image check section, shown in its fold.
pub fn view(ready: bool, cb: &StartCallbacks, diagnostics: Html) -> Html {
    html! {
        <section class="panel start" data-testid="start-panel">
            <div class="cards">
                { card(Tab::StyleTransfer, "Style transfer",
                    "Repaint a photo in the style of a painting (Gatys et al.): the picture is optimised step by step \
                     while you watch the losses fall.",
                    Some((Demo::StyleTransfer, "Try it: the cat in swirls (downloads VGG19's 80 MB once)")), cb, ready) }
                { card(Tab::DeepDream, "Deep Dream",
                    "Let a layer of VGG19 dream on your picture: the textures and shapes it looks for grow out of \
                     the image, octave by octave (uses the same VGG19 weights as style transfer).", None, cb, ready) }
                { card(Tab::CycleGan, "CycleGAN",
                    "Turn one kind of picture into another with a pretrained generator: horses into zebras, photos \
                     into Monet paintings, or the built-in model's old faded prints.",
                    Some((Demo::CycleGan, "Try it: an old print of a coffee cup (built in)")), cb, ready) }
                { card(Tab::Pix2Pix, "Pix2Pix",
                    "Translate label maps, edges or maps into photos with the authors' pretrained U-Nets \
                     (download one, or drop a checkpoint).", None, cb, ready) }
                { card(Tab::Training, "Training",
                    "Train your own Pix2Pix, CycleGAN or fast style network (your photos and one painting) on this \
                     device; the run is saved in the browser and resumes after a reload.", None, cb, ready) }
            </div>
            <p class="hint">{ "Everything runs on your own GPU (or CPU) in this page; no picture leaves your device." }</p>
            <StoredModels />
            { credits() }
            <details class="diagnostics" data-testid="diagnostics">
                <summary>{ "Diagnostics: check that images survive the trip to the device and back" }</summary>
                { diagnostics }
            </details>
        </section>
    }
}

/// What the studio ships or fetches, with sources and licences (also in `CREDITS.md`).
fn credits() -> Html {
    let rows = samples::all().iter().map(|s| {
        html! {
            <li data-testid="credit" data-file={s.file.clone()}>
                <strong>{ &s.title }</strong>{ format!(" ({}): {}. ", s.file, s.source) }<em>{ &s.licence }</em>
            </li>
        }
    });
    let builtin = catalog::built_in(Slot::CycleGan).map(|b| html! { <li data-testid="credit-model">{ b.description }</li> });
    html! {
        <details class="credits" data-testid="credits">
            <summary>{ "Credits: samples and models" }</summary>
            <ul>
                { for rows }
                { for builtin }
                <li>{ "VGG19 (style transfer): torchvision's ImageNet weights (BSD-3-Clause), as timm's vgg19.tv_in1k on Hugging Face." }</li>
            </ul>
        </details>
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The models this browser keeps for the studio, listed each time the fold opens.
#[function_component]
fn StoredModels() -> Html {
    let listed = use_state(|| None::<Result<(Vec<StoredModel>, Option<Usage>), String>>);
    let refresh = {
        let listed = listed.clone();
        Callback::from(move |()| {
            let listed = listed.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let result = match storage::list().await {
                    Ok(models) => Ok((models, storage::usage().await)),
                    Err(e) => Err(format!("this browser's storage could not be read: {e}")),
                };
                listed.set(Some(result));
            });
        })
    };
    let ontoggle = {
        let (listed, refresh) = (listed.clone(), refresh.clone());
        Callback::from(move |e: Event| {
            if e.target_unchecked_into::<web_sys::HtmlDetailsElement>().open() {
                listed.set(None);
                refresh.emit(());
            }
        })
    };
    let body = match &*listed {
        None => html! { <p class="hint">{ "Reading..." }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e }</p> },
        Some(Ok((models, usage))) => {
            let rows = models.iter().map(|m| {
                let (model, refresh) = (m.clone(), refresh.clone());
                let ondelete = Callback::from(move |_: MouseEvent| {
                    let (model, refresh) = (model.clone(), refresh.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(e) = storage::delete(&model).await {
                            log::warn!("could not delete {}: {e}", model.url);
                        }
                        refresh.emit(());
                    });
                });
                html! {
                    <li data-testid="stored-model" data-url={m.url.clone()} data-bytes={m.bytes.to_string()}>
                        <strong>{ m.name() }</strong>{ format!(" ({}), {}", m.source(), megabytes(m.bytes)) }
                        <button class="link" data-testid="stored-model-delete" aria-label={format!("Delete {}", m.name())} onclick={ondelete}>{ "Delete" }</button>
                    </li>
                }
            });
            let usage = usage.map(|u| {
                let kept = if u.persisted { "kept even when space runs low" } else { "may be evicted when space runs low" };
                html! { <p class="hint" data-testid="storage-usage">{ format!("The studio uses {} of the {} this browser allows it; {kept}.", megabytes(u.used), megabytes(u.quota)) }</p> }
            });
            html! {
                <>
                    if models.is_empty() { <p class="hint" data-testid="stored-none">{ "No model is stored yet." }</p> }
                    <ul>{ for rows }</ul>
                    { for usage }
                </>
            }
        }
    };
    html! {
        <details class="stored" data-testid="stored-models" {ontoggle}>
            <summary>{ "Stored in this browser: downloaded models" }</summary>
            { body }
        </details>
    }
}
