//! Image-to-image inference with a trained generator: what the Pix2Pix and CycleGAN
//! sections and `ai-art translate` run.
//!
//! junyanz's conventions: the network sees RGB (or grey, for 1-channel models) scaled to
//! `[-1, 1]` and returns `[-1, 1]`, shown as `(y + 1) / 2`. Any size and aspect ratio
//! works: the image is reflect-padded to what the network needs (a multiple of 4 for the
//! ResNet generator, of `2^depth` for the U-Net) and the result cropped back, so the output
//! has the input's size. Sizes are bounded by what the device can hold
//! ([`max_pixels`]); [`fit_within`] gives the largest size that fits with the aspect kept.

use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::device::GpuLimits;
use crate::imaging::{self, ImageError};
use crate::models::{Generator, crop, pad_to_multiple};

/// What can go wrong translating an image; the text is for the user.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(
        "the image is {width}x{height} ({mp:.1} megapixels); on this device the generator fits \
         at most {max_mp:.1} megapixels (for this aspect ratio, {fit_w}x{fit_h}). Scale it down \
         first, or let the studio do it"
    )]
    TooLarge { width: u32, height: u32, mp: f64, max_mp: f64, fit_w: u32, fit_h: u32 },
    #[error("this generator takes {0} input channels; only 1 (grey) and 3 (RGB) are supported")]
    Channels(usize),
}

/// Bytes per input pixel of the generator's largest activation: the tensor that must fit
/// in one storage binding. ResNet: `ngf` channels at full resolution; U-Net: the first
/// skip concatenation, `2 ngf` channels at half resolution; fast style: the first
/// convolution's output or the last upsampling's, `max(w1, w2)` channels at full resolution.
/// Padding is accounted for by the caller. Four bytes per value.
fn bytes_per_pixel(generator: &Generator) -> u64 {
    let widest = match generator {
        Generator::Resnet(g) => g.stem.weight.dims()[0] as u64,
        Generator::Unet(g) => g.levels.first().map_or(64, |l| l.down.weight.dims()[0] as u64).div_ceil(2),
        Generator::FastStyle(g) => {
            let first = g.down[0].0.conv.weight.dims()[0];
            let upsampled = g.up.last().map_or(first, |(c, _)| c.conv.weight.dims()[1]);
            first.max(upsampled) as u64
        }
    };
    4 * widest.max(3)
}

/// Most pixels (after padding) one inference may take on a device with `limits` (`None`:
/// the CPU backend, where 16 megapixels is the bound we keep to so as not to exhaust
/// memory in a browser tab). On a GPU, the largest activation must fit in one storage
/// binding, with a factor of 2 to spare for the convolution's own temporaries.
pub fn max_pixels(generator: &Generator, limits: Option<&GpuLimits>) -> u64 {
    const CPU_MAX_PIXELS: u64 = 16 << 20;
    match limits {
        None => CPU_MAX_PIXELS,
        Some(l) => {
            let binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
            (binding / 2 / bytes_per_pixel(generator)).min(CPU_MAX_PIXELS)
        }
    }
}

/// The padded size the generator will run at for a `width x height` image.
pub fn padded_size(generator: &Generator, width: u32, height: u32) -> (u32, u32) {
    let m = generator.required_multiple() as u32;
    (width.div_ceil(m) * m, height.div_ceil(m) * m)
}

/// The largest `(w, h)` with the aspect ratio of `width x height` whose padded size has at
/// most `max_pixels` pixels (the image itself if it fits).
pub fn fit_within(generator: &Generator, width: u32, height: u32, max_pixels: u64) -> (u32, u32) {
    let fits = |w: u32, h: u32| {
        let (pw, ph) = padded_size(generator, w, h);
        pw as u64 * ph as u64 <= max_pixels
    };
    if fits(width, height) {
        return (width, height);
    }
    let mut scale = ((max_pixels as f64) / (width as f64 * height as f64)).sqrt();
    loop {
        let w = ((width as f64 * scale).floor() as u32).max(1);
        let h = ((height as f64 * scale).floor() as u32).max(1);
        if fits(w, h) || (w == 1 && h == 1) {
            return (w, h);
        }
        scale *= 0.98;
    }
}

/// Checks that `img` fits; the error says the largest size that would.
pub fn check_size(generator: &Generator, img: &RgbImage, max_pixels: u64) -> Result<(), TranslateError> {
    let (w, h) = img.dimensions();
    let (pw, ph) = padded_size(generator, w, h);
    if pw as u64 * ph as u64 <= max_pixels {
        return Ok(());
    }
    let (fit_w, fit_h) = fit_within(generator, w, h, max_pixels);
    Err(TranslateError::TooLarge {
        width: w,
        height: h,
        mp: w as f64 * h as f64 / 1e6,
        max_mp: max_pixels as f64 / 1e6,
        fit_w,
        fit_h,
    })
}

/// Resizes `img` to `(w, h)` (Lanczos; a no-op when the size is already that).
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    imaging::resize(img, w, h)
}

/// The network input for `img`: `[1, C, H, W]` in `[-1, 1]`, C = 3, or 1 for grey models
/// (ITU-R 601 luma, as PIL's `convert('L')` that the official data loader uses).
pub fn to_network_input(img: &RgbImage, channels: usize, device: &Device) -> Result<Tensor<4>, TranslateError> {
    let x = imaging::to_tensor(img, device);
    let x = match channels {
        3 => x,
        1 => {
            let [_, _, h, w] = x.dims();
            let luma = Tensor::<1>::from_floats([0.299f32, 0.587, 0.114], device).reshape([1, 3, 1, 1]);
            (x * luma).sum_dim(1).reshape([1, 1, h, w])
        }
        n => return Err(TranslateError::Channels(n)),
    };
    Ok(x * 2.0 - 1.0)
}

/// Runs the generator on `x` (`[B, C, H, W]` in `[-1, 1]`, any size): pads to the required
/// multiple by reflection, runs, crops back.
pub fn forward_any_size(generator: &Generator, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let (padded, offset) = pad_to_multiple(x, generator.required_multiple());
    crop(generator.forward(padded), offset, h, w)
}

/// Translates one image: any size up to `max_pixels` (see [`max_pixels`]), output the
/// same size as the input.
pub async fn translate(
    generator: &Generator,
    img: &RgbImage,
    max_pixels: u64,
    device: &Device,
) -> Result<RgbImage, TranslateError> {
    check_size(generator, img, max_pixels)?;
    let x = to_network_input(img, generator.input_channels(), device)?;
    let y = forward_any_size(generator, x);
    let y = ((y + 1.0) / 2.0).clamp(0.0, 1.0);
    let y = match generator.output_channels() {
        1 => Tensor::cat(vec![y.clone(), y.clone(), y], 1),
        3 => y,
        n => return Err(TranslateError::Channels(n)),
    };
    Ok(imaging::from_tensor(y).await?)
}
