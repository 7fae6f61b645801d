//! The pretrained generators the Pix2Pix and CycleGAN sections offer: a built-in demo
//! model served with the app, and the official models of junyanz/pytorch-CycleGAN-and-pix2pix
//! listed in `catalog.json` (names, descriptions and where each is
//! fetched from, over HTTPS).
//!
//! The official server may not allow downloads from other web sites (CORS); the worker
//! then says so and the user downloads the file and drops it.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::protocol::Slot;

/// A model served with the app (from `dist/models/`, put there by trunk from `.tools/models`,
/// which `scripts/fetch-models.sh` fills).
pub struct BuiltIn {
    pub label: &'static str,
    pub url: &'static str,
    pub description: &'static str,
    /// The file's SHA-256, the one `scripts/fetch-models.sh` pins: the worker refuses any
    /// other file at that URL.
    pub sha256: &'static str,
}

/// The CycleGAN section's built-in model.
pub const VINTAGE: BuiltIn = BuiltIn {
    label: "Built-in: vintage photo (vintagify, CycleGAN ResNet-9)",
    url: "models/vintagify-photo2vintage.pth",
    description: "Turns a photo into an old, faded print. From the vintagify package (MIT), \
                  45 MB, served with this page.",
    sha256: "c502cd44ca720d004f89775f593fc403acc6b36d27d65390cbe2f476f771e560",
};

/// An official pretrained generator.
#[derive(Deserialize)]
pub struct CatalogModel {
    /// The name in the download scripts; the file is `{name}.pth`.
    pub name: String,
    pub description: String,
    /// The file's SHA-256 where a trustworthy one is published; the worker then refuses
    /// any other file.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// One section's models and where their files are.
#[derive(Deserialize)]
struct Section {
    /// The download URL with `{name}` for the model's name.
    url: String,
    models: Vec<CatalogModel>,
}

#[derive(Deserialize)]
struct Catalog {
    cyclegan: Section,
    pix2pix: Section,
}

fn section(slot: Slot) -> &'static Section {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    // Built into the app; tests/browser.rs checks that it parses and every URL is HTTPS.
    let catalog = CATALOG.get_or_init(|| serde_json::from_str(include_str!("catalog.json")).expect("src/app/catalog.json parses"));
    match slot {
        Slot::Pix2Pix => &catalog.pix2pix,
        Slot::CycleGan => &catalog.cyclegan,
    }
}

/// The catalog of a section.
pub fn models(slot: Slot) -> &'static [CatalogModel] {
    &section(slot).models
}

/// The built-in model of a section, if it has one.
pub fn built_in(slot: Slot) -> Option<&'static BuiltIn> {
    match slot {
        Slot::Pix2Pix => None,
        Slot::CycleGan => Some(&VINTAGE),
    }
}

/// The download URL of a catalog model.
pub fn url(slot: Slot, name: &str) -> String {
    section(slot).url.replace("{name}", name)
}

/// Finds a catalog model by name.
pub fn find(slot: Slot, name: &str) -> Option<&'static CatalogModel> {
    models(slot).iter().find(|m| m.name == name)
}
