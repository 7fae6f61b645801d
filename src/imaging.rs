//! Images in and out: decoding user files safely, moving pixels to and from
//! tensors, and the ImageNet normalisation the networks expect.
//!
//! Tensors are `[1, 3, H, W]`, `f32`, RGB in `[0, 1]` unless a function says
//! otherwise. Alpha is dropped on the way in (composited over nothing: the
//! networks are RGB) and set opaque on the way out.

use burn::tensor::{Device, Tensor, TensorData};
use image::{ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Largest side we accept, in pixels. Decoding is bounded by it so that a
/// hostile file cannot ask for gigabytes; the techniques apply their own,
/// smaller, limits that depend on the device.
pub const MAX_SIDE: u32 = 8192;
/// Largest decoded size in bytes (RGBA8 at 8192 x 8192).
const MAX_ALLOC: u64 = MAX_SIDE as u64 * MAX_SIDE as u64 * 4;

/// ImageNet statistics (torchvision), per RGB channel.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviations (torchvision), per RGB channel.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// What can go wrong with a user's image; the text is shown to the user as is.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImageError {
    #[error("the file is empty")]
    Empty,
    #[error("unsupported image format{0}: use PNG, JPEG or WebP")]
    Unsupported(String),
    #[error("the image could not be decoded ({0}); the file may be corrupt or truncated")]
    Corrupt(String),
    #[error("the image is {width}x{height}; the largest side accepted is {max} pixels")]
    TooLarge { width: u32, height: u32, max: u32 },
    #[error("the image has no pixels")]
    NoPixels,
    #[error("reading the result from the device failed: {0}")]
    Readback(String),
    #[error("encoding the PNG failed: {0}")]
    Encode(String),
}

/// Decodes PNG, JPEG or WebP bytes into 8-bit RGB, sniffing the format from the
/// content (never from the file name) and bounding the work by [`MAX_SIDE`].
pub fn decode(bytes: &[u8]) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::Unsupported(String::new()))?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) {
        return Err(ImageError::Unsupported(format!(" ({format:?})")));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    // Read the header first so that an oversized image gets its own message: with the side
    // limits on, the decoders would refuse its header as a generic limit error.
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.limits(limits.clone());
    let (width, height) = header.into_dimensions().map_err(|e| ImageError::Corrupt(e.to_string()))?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooLarge { width, height, max: MAX_SIDE });
    }
    if width == 0 || height == 0 {
        return Err(ImageError::NoPixels);
    }
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| ImageError::Corrupt(e.to_string()))?;
    Ok(img.into_rgb8())
}

/// `[1, 3, H, W]` tensor in `[0, 1]` from 8-bit RGB.
pub fn to_tensor(img: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut planar = vec![0f32; 3 * w * h];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            planar[c * w * h + i] = px.0[c] as f32 / 255.0;
        }
    }
    Tensor::from_data(TensorData::new(planar, [1, 3, h, w]), device)
}

/// 8-bit RGB from planar `[3, H, W]` floats in `[0, 1]` (clamped, rounded).
pub fn planar_to_rgb(planar: &[f32], width: u32, height: u32) -> Result<RgbImage, ImageError> {
    let n = width as usize * height as usize;
    if planar.len() != 3 * n {
        return Err(ImageError::Readback(format!(
            "expected {} values for a {width}x{height} RGB image, got {}",
            3 * n,
            planar.len()
        )));
    }
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut out = RgbImage::new(width, height);
    for (i, px) in out.pixels_mut().enumerate() {
        px.0 = [q(planar[i]), q(planar[n + i]), q(planar[2 * n + i])];
    }
    Ok(out)
}

/// Reads a `[1, 3, H, W]` tensor back into an image, asynchronously (the only
/// way that works on WebGPU).
pub async fn from_tensor(t: Tensor<4>) -> Result<RgbImage, ImageError> {
    let data = t.into_data_async().await.map_err(|e| ImageError::Readback(format!("{e:?}")))?;
    from_data(data)
}

/// A `[1, 3, H, W]` tensor's values, already read back, as an image.
pub fn from_data(data: TensorData) -> Result<RgbImage, ImageError> {
    let [n, c, h, w] = data.shape().as_slice().try_into().map_err(|_| ImageError::Readback(format!("expected [1, 3, H, W], got {:?}", data.shape())))?;
    if n != 1 || c != 3 {
        return Err(ImageError::Readback(format!("expected a [1, 3, H, W] tensor, got [{n}, {c}, {h}, {w}]")));
    }
    let values = data.try_into_vec::<f32>().map_err(|e| ImageError::Readback(format!("{e:?}")))?;
    planar_to_rgb(&values, w as u32, h as u32)
}

fn channel_tensor(values: [f32; 3], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values.to_vec(), [1, 3, 1, 1]), device)
}

/// `(x - mean) / std` with the ImageNet statistics, as torchvision's VGG expects.
pub fn imagenet_normalize(x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    (x - channel_tensor(IMAGENET_MEAN, &device)) / channel_tensor(IMAGENET_STD, &device)
}

/// Inverse of [`imagenet_normalize`].
pub fn imagenet_denormalize(x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    x * channel_tensor(IMAGENET_STD, &device) + channel_tensor(IMAGENET_MEAN, &device)
}

/// The foundation's end-to-end pipeline: upload, normalise, denormalise, clamp,
/// read back. It proves the device path works on this machine before any
/// network runs, and the result must equal the input up to rounding.
pub async fn roundtrip(img: &RgbImage, device: &Device) -> Result<RgbImage, ImageError> {
    let x = to_tensor(img, device);
    let y = imagenet_denormalize(imagenet_normalize(x)).clamp(0.0, 1.0);
    from_tensor(y).await
}

/// Resizes `img` so that its longer side is `longest` pixels, keeping the aspect ratio
/// (Lanczos; a no-op when it already is). The shorter side is at least one pixel.
pub fn resize_longest(img: &RgbImage, longest: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let longest = longest.max(1);
    let (nw, nh) = if w >= h {
        (longest, ((h as f64 * longest as f64 / w as f64).round() as u32).max(1))
    } else {
        (((w as f64 * longest as f64 / h as f64).round() as u32).max(1), longest)
    };
    resize(img, nw, nh)
}

/// Resizes `img` to exactly `w x h` (Lanczos; a no-op when it already is that size).
pub fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    image::imageops::resize(img, w.max(1), h.max(1), image::imageops::FilterType::Lanczos3)
}

/// ITU-R BT.601 full-range RGB -> YCbCr (JPEG's), on 0..=255 values.
fn ycbcr(p: [u8; 3]) -> [f32; 3] {
    let [r, g, b] = p.map(f32::from);
    [
        0.299 * r + 0.587 * g + 0.114 * b,
        128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b,
        128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b,
    ]
}

fn rgb_from_ycbcr([y, cb, cr]: [f32; 3]) -> [u8; 3] {
    let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [q(y + 1.402 * (cr - 128.0)), q(y - 0.344_136 * (cb - 128.0) - 0.714_136 * (cr - 128.0)), q(y + 1.772 * (cb - 128.0))]
}

/// "Keep the content's colours" (Gatys et al. 2016, luminance-only transfer, as the
/// original-colours option of popular implementations does it): the luminance of
/// `stylised` with the chrominance of `content` (resized to match), in YCbCr.
pub fn preserve_colors(stylised: &RgbImage, content: &RgbImage) -> RgbImage {
    let (w, h) = stylised.dimensions();
    let content = resize(content, w, h);
    RgbImage::from_fn(w, h, |x, y| {
        let [luma, _, _] = ycbcr(stylised.get_pixel(x, y).0);
        let [_, cb, cr] = ycbcr(content.get_pixel(x, y).0);
        image::Rgb(rgb_from_ycbcr([luma, cb, cr]))
    })
}

/// PNG bytes of an RGB image.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).map_err(|e| ImageError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

/// RGBA bytes (opaque) for a browser `ImageData`.
pub fn to_rgba(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::with_capacity(img.width() as usize * img.height() as usize * 4);
    for px in img.pixels() {
        out.extend_from_slice(&[px.0[0], px.0[1], px.0[2], 255]);
    }
    out
}

/// An RGB image from RGBA bytes (a browser's `ImageData`, a video frame): the alpha is
/// dropped. `None` when `rgba` does not hold `width x height` pixels.
pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Option<RgbImage> {
    if rgba.len() as u64 != width as u64 * height as u64 * 4 {
        return None;
    }
    let rgb = rgba.chunks_exact(4).flat_map(|px| [px[0], px[1], px[2]]).collect();
    RgbImage::from_raw(width, height, rgb)
}

/// Temporal smoothing of a video: `keep * previous + (1 - keep) * next`, per channel, rounded
/// (an exponential moving average over the frames when each result becomes the next
/// `previous`). `keep` is clamped to `[0, 1]`; the images must have the same size.
pub fn blend(previous: &RgbImage, next: &RgbImage, keep: f32) -> RgbImage {
    debug_assert_eq!(previous.dimensions(), next.dimensions());
    let keep = keep.clamp(0.0, 1.0);
    let mut out = next.clone();
    for (o, p) in out.iter_mut().zip(previous.iter()) {
        *o = (keep * *p as f32 + (1.0 - keep) * *o as f32).round() as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgba_frames_become_rgb_and_blend_as_a_moving_average() {
        let rgba = [10, 20, 30, 255, 40, 50, 60, 0];
        let img = from_rgba(2, 1, &rgba).expect("2x1");
        assert_eq!(img.as_raw(), &[10, 20, 30, 40, 50, 60]);
        assert!(from_rgba(2, 2, &rgba).is_none(), "too few bytes");
        assert!(from_rgba(1, 1, &rgba).is_none(), "too many bytes");
        let black = RgbImage::new(2, 1);
        let white = RgbImage::from_pixel(2, 1, image::Rgb([255, 255, 255]));
        assert_eq!(blend(&black, &white, 0.0), white, "keep nothing: the new frame");
        assert_eq!(blend(&black, &white, 1.0), black, "keep everything: the old frame");
        // 0.75 * 255 = 191.25, rounded; every channel, independently.
        assert_eq!(blend(&white, &black, 0.75).as_raw(), &[191; 6]);
        assert_eq!(blend(&img, &white, 0.5).as_raw(), &[133, 138, 143, 148, 153, 158]);
        // Repeated, it converges on a still input, from the first frame on.
        let mut shown = black.clone();
        for _ in 0..40 {
            shown = blend(&shown, &white, 0.8);
        }
        assert!(shown.iter().all(|&v| v >= 253), "{:?}", shown.as_raw());
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, ((x + y) % 256) as u8]))
    }

    #[test]
    fn png_jpeg_webp_decode_and_keep_size() {
        let img = gradient(37, 11);
        for fmt in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let mut buf = Cursor::new(Vec::new());
            image::DynamicImage::ImageRgb8(img.clone()).write_to(&mut buf, fmt).expect("encode fixture");
            let back = decode(buf.get_ref()).unwrap_or_else(|e| panic!("{fmt:?}: {e}"));
            assert_eq!(back.dimensions(), (37, 11), "{fmt:?}");
        }
        // PNG and lossless WebP are exact.
        assert_eq!(decode(&encode_png(&img).unwrap()).unwrap(), img);
    }

    #[test]
    fn bad_files_get_readable_errors() {
        assert_eq!(decode(&[]), Err(ImageError::Empty));
        assert!(matches!(decode(b"hello, not an image"), Err(ImageError::Unsupported(_))));
        // A GIF is a real image but not one we accept.
        assert!(matches!(decode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), Err(ImageError::Unsupported(s)) if s.contains("Gif")));
        // A PNG cut in half.
        let png = encode_png(&gradient(64, 64)).unwrap();
        let err = decode(&png[..png.len() / 2]).unwrap_err();
        assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
        assert!(err.to_string().contains("corrupt"));
    }

    #[test]
    fn oversized_header_is_refused_before_decoding() {
        // A valid PNG header claiming 100000 x 10 pixels, an empty data chunk and the end: the
        // decoder would have to inflate gigabytes' worth of rows that are not there.
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&10u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        for (name, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut chunk = name.to_vec();
            chunk.extend_from_slice(data);
            png.extend_from_slice(&chunk);
            png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        assert_eq!(decode(&png), Err(ImageError::TooLarge { width: 100_000, height: 10, max: MAX_SIDE }));
    }

    /// Real files one pixel past the side limit, in each format: refused with the size, not
    /// as corrupt (the decoders' own limit errors said nothing of it).
    #[test]
    fn an_image_past_the_side_limit_is_refused_with_its_size_in_every_format() {
        let img = gradient(MAX_SIDE + 1, 2);
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let mut bytes = Cursor::new(Vec::new());
            image::DynamicImage::ImageRgb8(img.clone()).write_to(&mut bytes, format).expect("encodes");
            assert_eq!(decode(bytes.get_ref()), Err(ImageError::TooLarge { width: MAX_SIDE + 1, height: 2, max: MAX_SIDE }), "{format:?}");
        }
        let mut at_limit = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(gradient(MAX_SIDE, 2)).write_to(&mut at_limit, ImageFormat::Png).expect("encodes");
        assert_eq!(decode(at_limit.get_ref()).map(|i| i.dimensions()), Ok((MAX_SIDE, 2)));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn tensor_layout_is_planar_rgb() {
        let img = gradient(5, 3);
        let t = to_tensor(&img, &Device::flex());
        assert_eq!(t.dims(), [1, 3, 3, 5]);
        let v = t.into_data().try_into_vec::<f32>().unwrap();
        // Pixel (x=4, y=2): R at plane 0, G at plane 1, B at plane 2.
        let i = 2 * 5 + 4;
        let px = img.get_pixel(4, 2).0;
        for c in 0..3 {
            assert_eq!(v[c * 15 + i], px[c] as f32 / 255.0);
        }
    }

    #[test]
    fn normalisation_matches_torchvision_formula() {
        let device = Device::flex();
        let img = gradient(4, 4);
        let x = to_tensor(&img, &device);
        let n = imagenet_normalize(x.clone()).into_data().try_into_vec::<f32>().unwrap();
        let raw = x.into_data().try_into_vec::<f32>().unwrap();
        for (i, (a, b)) in raw.iter().zip(&n).enumerate() {
            let c = i / 16;
            let want = (a - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            assert!((want - b).abs() <= 1e-6, "at {i}: {want} vs {b}");
        }
    }

    #[test]
    fn roundtrip_on_cpu_is_identity_up_to_rounding() {
        let img = gradient(33, 17);
        let out = pollster::block_on(roundtrip(&img, &Device::flex())).unwrap();
        assert_eq!(out, img);
    }

    #[test]
    fn rgba_is_opaque_and_ordered() {
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 10, 1, 2]));
        assert_eq!(to_rgba(&img), vec![0, 1, 2, 255, 10, 1, 2, 255]);
    }

    #[test]
    fn resizing_keeps_the_aspect_ratio() {
        let img = gradient(400, 300);
        assert_eq!(resize_longest(&img, 200).dimensions(), (200, 150));
        let tall = gradient(30, 90);
        assert_eq!(resize_longest(&tall, 45).dimensions(), (15, 45));
        assert_eq!(resize_longest(&gradient(1000, 1), 10).dimensions(), (10, 1));
        assert_eq!(resize_longest(&img, 400), img);
    }

    #[test]
    fn preserving_colours_takes_luma_from_the_result_and_chroma_from_the_content() {
        let stylised = RgbImage::from_fn(8, 6, |x, y| image::Rgb([(40 + x * 20) as u8, (40 + y * 25) as u8, 120]));
        let content = RgbImage::from_fn(8, 6, |x, _| image::Rgb([150, (60 + x * 10) as u8, 90]));
        let out = preserve_colors(&stylised, &content);
        let mut checked = 0;
        for (x, y, px) in out.enumerate_pixels() {
            // Rounding to 8 bits moves values a little; a clamped (out-of-gamut) colour more,
            // so only colours inside the gamut are compared.
            if !px.0.iter().all(|&c| c > 0 && c < 255) {
                continue;
            }
            checked += 1;
            let [yo, cbo, cro] = ycbcr(px.0);
            let [ys, _, _] = ycbcr(stylised.get_pixel(x, y).0);
            let [_, cbc, crc] = ycbcr(content.get_pixel(x, y).0);
            assert!((yo - ys).abs() <= 2.0, "luma at ({x}, {y}): {yo} vs {ys}");
            assert!((cbo - cbc).abs() <= 2.0 && (cro - crc).abs() <= 2.0, "chroma at ({x}, {y})");
        }
        assert!(checked >= 40, "only {checked} of 48 pixels in gamut");
        // A grey result keeps the content's hue.
        let grey = RgbImage::from_pixel(4, 4, image::Rgb([128, 128, 128]));
        let red = RgbImage::from_pixel(4, 4, image::Rgb([200, 40, 40]));
        let px = preserve_colors(&grey, &red).get_pixel(0, 0).0;
        assert!(px[0] > px[1] + 50 && px[0] > px[2] + 50, "{px:?}");
    }

    #[test]
    fn planar_size_mismatch_is_an_error_not_a_panic() {
        assert!(planar_to_rgb(&[0.0; 5], 2, 2).is_err());
    }
}
