//! The pretrained generators the Pix2Pix and CycleGAN sections offer: a built-in demo
//! model served with the app, and the official models of junyanz/pytorch-CycleGAN-and-pix2pix
//! at the URLs of its `scripts/download_cyclegan_model.sh` and
//! `scripts/download_pix2pix_model.sh`.
//!
//! The official server may not allow downloads from other web sites (CORS); the worker
//! then says so and the user downloads the file and drops it.

use crate::protocol::Slot;

/// Where `download_cyclegan_model.sh` fetches `{name}.pth` from.
pub const CYCLEGAN_BASE: &str = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/";
/// Where `download_pix2pix_model.sh` fetches `{name}.pth` from.
pub const PIX2PIX_BASE: &str = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/";

/// A model served with the app (from `dist/models/`, put there by trunk from `.tools/models`,
/// which `scripts/fetch-models.sh` fills).
pub struct BuiltIn {
    pub label: &'static str,
    pub url: &'static str,
    pub description: &'static str,
}

/// The CycleGAN section's built-in model.
pub const VINTAGE: BuiltIn = BuiltIn {
    label: "Built-in: vintage photo (vintagify, CycleGAN ResNet-9)",
    url: "models/vintagify-photo2vintage.pth",
    description: "Turns a photo into an old, faded print. From the vintagify package (MIT), \
                  45 MB, served with this page.",
};

/// An official pretrained generator.
pub struct CatalogModel {
    /// The name in the download scripts; the file is `{name}.pth`.
    pub name: &'static str,
    pub description: &'static str,
}

/// The official CycleGAN generators (ResNet-9, instance norm, 45 MB each).
pub const CYCLEGAN: &[CatalogModel] = &[
    CatalogModel { name: "horse2zebra", description: "Horses become zebras (ImageNet photos)." },
    CatalogModel { name: "zebra2horse", description: "Zebras become horses." },
    CatalogModel { name: "apple2orange", description: "Apples become oranges (ImageNet photos)." },
    CatalogModel { name: "orange2apple", description: "Oranges become apples." },
    CatalogModel { name: "summer2winter_yosemite", description: "Yosemite in summer becomes winter (Flickr photos)." },
    CatalogModel { name: "winter2summer_yosemite", description: "Yosemite in winter becomes summer." },
    CatalogModel { name: "monet2photo", description: "A Monet painting becomes a photograph." },
    CatalogModel { name: "style_monet", description: "A photo painted in the style of Monet." },
    CatalogModel { name: "style_cezanne", description: "A photo painted in the style of Cezanne." },
    CatalogModel { name: "style_ukiyoe", description: "A photo as a Japanese Ukiyo-e woodblock print." },
    CatalogModel { name: "style_vangogh", description: "A photo painted in the style of Van Gogh." },
    CatalogModel { name: "iphone2dslr_flower", description: "A phone photo of a flower with a DSLR's shallow depth of field." },
    CatalogModel { name: "sat2map", description: "An aerial photo becomes a map (trained without pairs)." },
    CatalogModel { name: "map2sat", description: "A map becomes an aerial photo." },
    CatalogModel { name: "cityscapes_photo2label", description: "A street photo becomes Cityscapes label colours." },
    CatalogModel { name: "cityscapes_label2photo", description: "Cityscapes label colours become a street photo." },
    CatalogModel { name: "facades_photo2label", description: "A building facade photo becomes a label map." },
    CatalogModel { name: "facades_label2photo", description: "A facade label map becomes a building photo." },
];

/// The official Pix2Pix generators (U-Net 256, batch norm). Trained on 256x256 images:
/// they work best on images of about that size.
pub const PIX2PIX: &[CatalogModel] = &[
    CatalogModel { name: "facades_label2photo", description: "A facade label map (CMP Facades colours) becomes a building photo." },
    CatalogModel { name: "edges2shoes", description: "A black-on-white edge drawing of a shoe becomes a photo (UT Zappos50K)." },
    CatalogModel { name: "sat2map", description: "An aerial photo becomes a Google map." },
    CatalogModel { name: "map2sat", description: "A Google map becomes an aerial photo." },
    CatalogModel { name: "day2night", description: "An outdoor scene by day becomes the same scene at night." },
];

/// The catalog of a section.
pub fn models(slot: Slot) -> &'static [CatalogModel] {
    match slot {
        Slot::Pix2Pix => PIX2PIX,
        Slot::CycleGan => CYCLEGAN,
    }
}

/// The built-in model of a section, if it has one.
pub fn built_in(slot: Slot) -> Option<&'static BuiltIn> {
    match slot {
        Slot::Pix2Pix => None,
        Slot::CycleGan => Some(&VINTAGE),
    }
}

/// The official download URL of a catalog model.
pub fn url(slot: Slot, name: &str) -> String {
    let base = match slot {
        Slot::Pix2Pix => PIX2PIX_BASE,
        Slot::CycleGan => CYCLEGAN_BASE,
    };
    format!("{base}{name}.pth")
}

/// Finds a catalog model by name.
pub fn find(slot: Slot, name: &str) -> Option<&'static CatalogModel> {
    models(slot).iter().find(|m| m.name == name)
}
