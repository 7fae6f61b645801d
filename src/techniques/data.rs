//! Training data from the user's own images, prepared as the official data loaders do.
//!
//! * Pix2Pix: aligned pairs, either the official side-by-side `AB` images (A on the left
//!   half) or two sets matched by file name;
//! * CycleGAN: two unpaired sets.
//!
//! Preprocessing is junyanz's `resize_and_crop` with flips: resize to `load_size` square
//! (the aspect ratio is not kept, as the official loader does), a random `crop_size` crop,
//! a random horizontal flip (the same crop and flip for both images of a pair), scaled to
//! `[-1, 1]`. Files that cannot be decoded are skipped and named, never fatal.

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

use crate::imaging;
use crate::techniques::fast_style::photo;
use crate::techniques::training::{Model, TrainSpec};
pub use crate::techniques::training::{DatasetFiles, NamedFile};

/// What makes the user's training images unusable, in words for the user (its `Display`).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// No pair is left once unreadable and unmatched files are skipped (`report`: the
    /// [`LoadReport::summary`]).
    #[error("no usable training pairs. {report}")]
    NoPairs { report: String },
    /// One of the two unpaired sets has no readable image.
    #[error("both sets need at least one readable image. {report}")]
    EmptySet { report: String },
    /// Pairs given to CycleGAN.
    #[error("CycleGAN trains on two unpaired sets")]
    NeedsUnpaired,
    /// Two unpaired sets given to Pix2Pix.
    #[error("Pix2Pix trains on aligned pairs")]
    NeedsPairs,
    /// Not photos and one style image given to a fast style network.
    #[error("a fast style network trains on photos and one style image")]
    NeedsPhotosAndStyle,
    /// No readable photo for a fast style network.
    #[error("none of the photos could be read. {report}")]
    NoPhotos { report: String },
    /// The style image could not be read.
    #[error("the style image {name}: {reason}")]
    Style { name: String, reason: String },
    /// A saved run resumed with other images (`(pairs, 0)` or `(|A|, |B|)`, see [`TrainData::counts`]).
    #[error("the saved run trained on {saved:?} images, these are {given:?}: resume it with the same images")]
    NotTheSavedImages { saved: (usize, usize), given: (usize, usize) },
    /// An image could not be laid out as a tensor to keep (a bug, not the user's input).
    #[error(transparent)]
    Pack(safetensors::SafeTensorError),
    /// Keeping the images as bytes failed.
    #[error("saving the training images failed: {0}")]
    Save(#[source] safetensors::SafeTensorError),
    /// Kept images ([`TrainData::to_bytes`]) that cannot be read back: damaged, or not ours.
    #[error("the saved training images are unreadable: {0}")]
    Unreadable(String),
}

/// Where a dataset's images came from, and which were skipped and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    pub loaded: usize,
    /// `(file name, reason)`.
    pub skipped: Vec<(String, String)>,
}

impl LoadReport {
    /// A one-paragraph summary for the user.
    pub fn summary(&self) -> String {
        let mut s = format!("{} image(s) loaded", self.loaded);
        if !self.skipped.is_empty() {
            s.push_str(&format!(", {} skipped:", self.skipped.len()));
            for (name, why) in self.skipped.iter().take(10) {
                s.push_str(&format!("\n  {name}: {why}"));
            }
            if self.skipped.len() > 10 {
                s.push_str(&format!("\n  ... and {} more", self.skipped.len() - 10));
            }
        }
        s
    }
}

/// Decodes `(name, bytes)` files, skipping (and reporting) the ones that fail.
pub fn decode_all(files: Vec<(String, Vec<u8>)>, report: &mut LoadReport) -> Vec<(String, RgbImage)> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        match imaging::decode(&bytes) {
            Ok(img) => {
                report.loaded += 1;
                out.push((name, img));
            }
            Err(e) => report.skipped.push((name, e.to_string())),
        }
    }
    out
}

/// Aligned `AB` images: A is the left half, B the right half (the official format).
pub fn split_ab(images: Vec<(String, RgbImage)>, report: &mut LoadReport) -> Vec<(RgbImage, RgbImage)> {
    let mut pairs = Vec::new();
    for (name, img) in images {
        let (w, h) = img.dimensions();
        if w < 2 || w % 2 != 0 {
            report.loaded = report.loaded.saturating_sub(1);
            report.skipped.push((name, format!("{w}x{h} cannot be split into two halves side by side (A|B)")));
            continue;
        }
        let a = image::imageops::crop_imm(&img, 0, 0, w / 2, h).to_image();
        let b = image::imageops::crop_imm(&img, w / 2, 0, w / 2, h).to_image();
        pairs.push((a, b));
    }
    pairs
}

/// Two sets matched by file stem (`cat.png` in A with `cat.jpg` in B); unmatched files are
/// reported.
pub fn match_by_name(a: Vec<(String, RgbImage)>, b: Vec<(String, RgbImage)>, report: &mut LoadReport) -> Vec<(RgbImage, RgbImage)> {
    fn stem(name: &str) -> &str {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        base.rsplit_once('.').map_or(base, |(s, _)| s)
    }
    let mut b: std::collections::BTreeMap<String, RgbImage> = b.into_iter().map(|(n, i)| (stem(&n).to_string(), i)).collect();
    let mut pairs = Vec::new();
    for (name, img) in a {
        match b.remove(stem(&name)) {
            Some(other) => pairs.push((img, other)),
            None => report.skipped.push((name, "no image with the same name in the B set".into())),
        }
    }
    for name in b.keys() {
        report.skipped.push((name.clone(), "no image with the same name in the A set".into()));
    }
    pairs
}

/// Decoded training images, each already resized to the square `load_size` the
/// preprocessing crops from (so a set of large photos stays small in memory).
#[derive(Clone, Debug, PartialEq)]
pub enum TrainData {
    Paired(Vec<(RgbImage, RgbImage)>),
    Unpaired(Vec<RgbImage>, Vec<RgbImage>),
}

/// The longest side a fast style network's style image is kept at: its Gram matrices are taken
/// once, on VGG19, at that size.
pub const MAX_STYLE_SIDE: u32 = 512;

impl DatasetFiles {
    /// Decodes, pairs and resizes the files; unreadable or unmatched ones are skipped and
    /// named in the report. An error only when nothing usable is left.
    pub fn decode(self, load_size: u32) -> Result<(TrainData, LoadReport), DataError> {
        let mut report = LoadReport::default();
        let files = |v: Vec<NamedFile>| v.into_iter().map(|f| (f.name, f.bytes)).collect::<Vec<_>>();
        let square = |img: &RgbImage| imaging::resize(img, load_size, load_size);
        let data = match self {
            DatasetFiles::AlignedAb(ab) => {
                let pairs = split_ab(decode_all(files(ab), &mut report), &mut report);
                TrainData::Paired(pairs.iter().map(|(a, b)| (square(a), square(b))).collect())
            }
            DatasetFiles::PairedByName { a, b } => {
                let (a, b) = (decode_all(files(a), &mut report), decode_all(files(b), &mut report));
                let pairs = match_by_name(a, b, &mut report);
                TrainData::Paired(pairs.iter().map(|(a, b)| (square(a), square(b))).collect())
            }
            DatasetFiles::Unpaired { a, b } => {
                let a: Vec<RgbImage> = decode_all(files(a), &mut report).iter().map(|(_, i)| square(i)).collect();
                let b: Vec<RgbImage> = decode_all(files(b), &mut report).iter().map(|(_, i)| square(i)).collect();
                TrainData::Unpaired(a, b)
            }
            DatasetFiles::PhotosAndStyle { photos, style } => {
                let style_img = imaging::decode(&style.bytes).map_err(|e| DataError::Style { name: style.name.clone(), reason: e.to_string() })?;
                let style_img = if style_img.width().max(style_img.height()) > MAX_STYLE_SIDE {
                    imaging::resize_longest(&style_img, MAX_STYLE_SIDE)
                } else {
                    style_img
                };
                let photos: Vec<RgbImage> = decode_all(files(photos), &mut report).iter().map(|(_, i)| photo(i, load_size)).collect();
                if photos.is_empty() {
                    return Err(DataError::NoPhotos { report: report.summary() });
                }
                TrainData::Unpaired(photos, vec![style_img])
            }
        };
        match &data {
            TrainData::Paired(p) if p.is_empty() => Err(DataError::NoPairs { report: report.summary() }),
            TrainData::Unpaired(a, b) if a.is_empty() || b.is_empty() => Err(DataError::EmptySet { report: report.summary() }),
            _ => Ok((data, report)),
        }
    }
}

impl TrainData {
    /// Iterations in one epoch (the official loaders' length: pairs, or the larger set).
    pub fn epoch_len(&self) -> usize {
        match self {
            TrainData::Paired(p) => p.len(),
            TrainData::Unpaired(a, b) => a.len().max(b.len()),
        }
    }

    /// `(pairs, 0)` or `(|A|, |B|)`: what a saved run checks its data against.
    pub fn counts(&self) -> (usize, usize) {
        match self {
            TrainData::Paired(p) => (p.len(), 0),
            TrainData::Unpaired(a, b) => (a.len(), b.len()),
        }
    }

    /// The images as `.safetensors` bytes (u8 tensors `a.N` / `b.N`, `[H, W, 3]`), to keep
    /// a browser run's data next to its saved state.
    pub fn to_bytes(&self, run_id: &str) -> Result<Vec<u8>, DataError> {
        let (a, b): (Vec<&RgbImage>, Vec<&RgbImage>) = match self {
            TrainData::Paired(p) => p.iter().map(|(a, b)| (a, b)).unzip(),
            TrainData::Unpaired(a, b) => (a.iter().collect(), b.iter().collect()),
        };
        let mut views = Vec::new();
        for (set, images) in [("a", &a), ("b", &b)] {
            for (i, img) in images.iter().enumerate() {
                let shape = vec![img.height() as usize, img.width() as usize, 3];
                let view = safetensors::tensor::TensorView::new(safetensors::Dtype::U8, shape, img.as_raw()).map_err(DataError::Pack)?;
                views.push((format!("{set}.{i}"), view));
            }
        }
        let kind = if matches!(self, TrainData::Paired(_)) { "paired" } else { "unpaired" };
        let meta = [("kind".to_string(), kind.to_string()), ("run".to_string(), run_id.to_string())].into_iter().collect();
        safetensors::tensor::serialize(views, Some(meta)).map_err(DataError::Save)
    }

    /// Reads [`TrainData::to_bytes`]; returns the data and its run id.
    pub fn from_bytes(bytes: &[u8]) -> Result<(TrainData, String), DataError> {
        let bad = DataError::Unreadable;
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let get = |set: &str| -> Result<Vec<RgbImage>, DataError> {
            let mut out = Vec::new();
            while let Ok(view) = st.tensor(&format!("{set}.{}", out.len())) {
                let shape = view.shape();
                if view.dtype() != safetensors::Dtype::U8 || shape.len() != 3 || shape[2] != 3 {
                    return Err(bad(format!("{set}.{} is not an RGB image", out.len())));
                }
                let img = RgbImage::from_raw(shape[1] as u32, shape[0] as u32, view.data().to_vec())
                    .ok_or_else(|| bad(format!("{set}.{} has the wrong size", out.len())))?;
                out.push(img);
            }
            Ok(out)
        };
        let (a, b) = (get("a")?, get("b")?);
        let data = match meta.get("kind").map(String::as_str) {
            Some("paired") if a.len() == b.len() => TrainData::Paired(a.into_iter().zip(b).collect()),
            Some("unpaired") => TrainData::Unpaired(a, b),
            _ => return Err(bad("unknown layout".into())),
        };
        Ok((data, meta.get("run").cloned().unwrap_or_default()))
    }
}

/// A small seeded generator (xorshift64*), so runs are reproducible on every backend.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The generator's state, to save a run ([`Rng::from_state`] continues it).
    pub fn state(&self) -> u64 {
        self.0
    }

    pub fn from_state(state: u64) -> Self {
        // Zero is xorshift's one fixed point; no saved state is zero.
        Rng(state.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// junyanz's preprocessing sizes: resize to `load_size` square, random crop of `crop_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preprocess {
    pub load_size: u32,
    pub crop_size: u32,
    pub flip: bool,
}

impl Preprocess {
    /// The official ratio: load 286 for a 256 crop.
    pub fn for_crop(crop_size: u32) -> Self {
        Preprocess { load_size: (crop_size * 286).div_ceil(256).max(crop_size), crop_size, flip: true }
    }

    /// A run's: the GANs' random crop and flip ([`Preprocess::for_crop`]); a fast style
    /// network's photos as decoded (their centre square, [`TrainSpec::load_size`]), not flipped.
    pub fn for_spec(spec: &TrainSpec) -> Self {
        match spec.model {
            Model::FastStyle => Preprocess { load_size: spec.load_size(), crop_size: spec.size, flip: false },
            Model::Pix2Pix | Model::CycleGan => Preprocess::for_crop(spec.size),
        }
    }

    /// The resized image, cropped at `(x, y)`, flipped or not.
    fn apply(&self, img: &RgbImage, x: u32, y: u32, flip: bool) -> RgbImage {
        let resized = imaging::resize(img, self.load_size, self.load_size);
        let mut out = image::imageops::crop_imm(&resized, x, y, self.crop_size, self.crop_size).to_image();
        if flip {
            image::imageops::flip_horizontal_in_place(&mut out);
        }
        out
    }

    fn draw(&self, rng: &mut Rng) -> (u32, u32, bool) {
        let room = (self.load_size - self.crop_size.min(self.load_size)) as usize + 1;
        (rng.below(room) as u32, rng.below(room) as u32, self.flip && rng.below(2) == 1)
    }

    /// One image, randomly cropped and flipped.
    pub fn one(&self, img: &RgbImage, rng: &mut Rng) -> RgbImage {
        let (x, y, f) = self.draw(rng);
        self.apply(img, x, y, f)
    }

    /// The centre crop, not flipped (for samples).
    pub fn center(&self, img: &RgbImage) -> RgbImage {
        let m = (self.load_size - self.crop_size.min(self.load_size)) / 2;
        self.apply(img, m, m, false)
    }

    /// A pair with the same crop and flip.
    pub fn pair(&self, a: &RgbImage, b: &RgbImage, rng: &mut Rng) -> (RgbImage, RgbImage) {
        let (x, y, f) = self.draw(rng);
        (self.apply(a, x, y, f), self.apply(b, x, y, f))
    }
}

/// A batch `[N, 3, S, S]` in `[-1, 1]` from same-sized images.
pub fn batch(images: &[RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images.first().map_or((0, 0), |i| i.dimensions());
    let (w, h) = (w as usize, h as usize);
    let mut data = Vec::with_capacity(images.len() * 3 * w * h);
    for img in images {
        for c in 0..3 {
            data.extend(img.pixels().map(|p| p.0[c] as f32 / 127.5 - 1.0));
        }
    }
    Tensor::from_data(TensorData::new(data, [images.len(), 3, h, w]), device)
}

/// An epoch's order: every index once, shuffled.
pub fn shuffled(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
    }

    #[test]
    fn ab_images_split_into_left_and_right_halves() {
        let ab = img(8, 3, |x, _| if x < 4 { [10, 0, 0] } else { [200, 0, 0] });
        let mut report = LoadReport { loaded: 2, ..Default::default() };
        let pairs = split_ab(vec![("ab.png".into(), ab), ("odd.png".into(), img(5, 3, |_, _| [0; 3]))], &mut report);
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].0.dimensions(), (4, 3));
        assert!(pairs[0].0.pixels().all(|p| p.0[0] == 10) && pairs[0].1.pixels().all(|p| p.0[0] == 200));
        assert_eq!(report.loaded, 1);
        assert!(report.skipped[0].0 == "odd.png" && report.summary().contains("cannot be split"));
    }

    #[test]
    fn sets_are_matched_by_name_and_strays_reported() {
        let a = vec![("x/cat.png".to_string(), img(2, 2, |_, _| [1; 3])), ("dog.png".to_string(), img(2, 2, |_, _| [2; 3]))];
        let b = vec![("cat.jpg".to_string(), img(2, 2, |_, _| [9; 3])), ("owl.png".to_string(), img(2, 2, |_, _| [3; 3]))];
        let mut report = LoadReport::default();
        let pairs = match_by_name(a, b, &mut report);
        assert_eq!(pairs.len(), 1);
        assert_eq!((pairs[0].0.get_pixel(0, 0).0[0], pairs[0].1.get_pixel(0, 0).0[0]), (1, 9));
        let names: Vec<&str> = report.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["dog.png", "owl"]);
    }

    #[test]
    fn corrupt_files_are_skipped_with_a_reason() {
        let good = imaging::encode_png(&img(4, 4, |_, _| [5; 3])).expect("png");
        let mut report = LoadReport::default();
        let out = decode_all(vec![("a.png".into(), good), ("b.png".into(), b"not an image".to_vec())], &mut report);
        assert_eq!(out.len(), 1);
        assert_eq!(report.loaded, 1);
        assert_eq!(report.skipped.len(), 1);
        assert!(report.summary().contains("b.png"));
    }

    #[test]
    fn pairs_get_the_same_crop_and_flip() {
        let p = Preprocess::for_crop(16);
        assert_eq!(p.load_size, 18);
        let a = img(40, 30, |x, y| [(x * 6) as u8, (y * 8) as u8, 0]);
        let mut rng = Rng::new(3);
        for _ in 0..20 {
            let (ca, cb) = p.pair(&a, &a.clone(), &mut rng);
            assert_eq!(ca.dimensions(), (16, 16));
            assert_eq!(ca, cb, "the same crop and flip for both halves of a pair");
        }
        // Flips happen, and crops move.
        let mut rng = Rng::new(4);
        let outs: Vec<RgbImage> = (0..20).map(|_| p.one(&a, &mut rng)).collect();
        assert!(outs.iter().any(|o| o != &outs[0]));
    }

    #[test]
    fn batches_are_planar_in_minus_one_to_one() {
        let device = Device::flex();
        let t = batch(&[img(2, 1, |x, _| [if x == 0 { 0 } else { 255 }, 0, 255])], &device);
        assert_eq!(t.dims(), [1, 3, 1, 2]);
        let v = t.into_data().try_into_vec::<f32>().expect("f32");
        assert_eq!(v, vec![-1.0, 1.0, -1.0, -1.0, 1.0, 1.0]);
        let mut rng = Rng::new(1);
        let mut order = shuffled(10, &mut rng);
        order.sort_unstable();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }
}
