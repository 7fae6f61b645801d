//! Image decoding: mutated PNG, JPEG and WebP files, and valid headers declaring any size,
//! which must be refused at the header when they exceed the bound.

use super::driver::{Target, Trace};
use super::{fixtures, random_seeds};
use ai_art::imaging::{self, ImageError, MAX_SIDE};
use arbitrary::Unstructured;
use image::{ImageFormat, RgbImage};
use std::time::{Duration, Instant};

/// The PNG fixtures, and each of them as JPEG and lossless WebP.
fn samples() -> Vec<(ImageFormat, Vec<u8>)> {
    let pngs = fixtures(&["images", "nst"], &["png"]);
    let mut out = Vec::new();
    for png in pngs {
        let img = image::load_from_memory(&png).expect("a fixture PNG");
        for format in [ImageFormat::Jpeg, ImageFormat::WebP] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.to_rgb8()
                .write_to(&mut bytes, format)
                .expect("encoded in memory");
            out.push((format, bytes.into_inner()));
        }
        out.push((ImageFormat::Png, png));
    }
    out
}

/// The decoded size, checked against the bound.
fn check_decoded(t: &mut Trace, decoded: Result<RgbImage, ImageError>) -> Option<(u32, u32)> {
    let img = t.ok(decoded)?;
    let (w, h) = img.dimensions();
    let fits = (1..=MAX_SIDE).contains(&w) && (1..=MAX_SIDE).contains(&h);
    t.check(fits && img.len() == w as usize * h as usize * 3, || {
        format!("decoded a {w}x{h} image of {} bytes", img.len())
    });
    Some((w, h))
}

pub fn image() -> Target {
    Target::new(
        "image",
        samples().into_iter().map(|(_, b)| b).collect(),
        |t, bytes| {
            check_decoded(t, imaging::decode(bytes));
        },
    )
}

/// A sample whose header declares `width` x `height` (what the format can hold).
fn with_size(format: ImageFormat, bytes: &mut [u8], width: u32, height: u32) -> Option<(u32, u32)> {
    match format {
        ImageFormat::Png => {
            // IHDR is the first chunk: its width and height, then its CRC (over type and data).
            let (width, height) = (width.min(i32::MAX as u32), height.min(i32::MAX as u32));
            bytes
                .get_mut(16..24)?
                .copy_from_slice(&[width.to_be_bytes(), height.to_be_bytes()].concat());
            let crc = crc32(bytes.get(12..29)?);
            bytes.get_mut(29..33)?.copy_from_slice(&crc.to_be_bytes());
            Some((width, height))
        }
        ImageFormat::Jpeg => {
            // SOF0..SOF2: length, precision, then height and width (big-endian).
            let sof = bytes
                .windows(2)
                .position(|m| m[0] == 0xff && (0xc0..=0xc2).contains(&m[1]))?;
            let (width, height) = (width.min(0xffff), height.min(0xffff));
            bytes.get_mut(sof + 5..sof + 9)?.copy_from_slice(
                &[(height as u16).to_be_bytes(), (width as u16).to_be_bytes()].concat(),
            );
            Some((width, height))
        }
        _ => {
            // VP8L (lossless): 0x2f after the RIFF header, then 14 bits each of width-1, height-1.
            let (width, height) = (width.clamp(1, 1 << 14), height.clamp(1, 1 << 14));
            let bits = bytes.get_mut(21..25)?;
            let old = u32::from_le_bytes(bits.try_into().ok()?);
            bits.copy_from_slice(
                &((old & !0x0fff_ffff) | (width - 1) | ((height - 1) << 14)).to_le_bytes(),
            );
            Some((width, height))
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        (0..8).fold(crc ^ u32::from(b), |c, _| {
            (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg())
        })
    })
}

/// Sides a header declares: the edges of the bound and of each format's fields.
const SIDES: [u32; 7] = [0, 1, MAX_SIDE, MAX_SIDE + 1, 1 << 14, 0xffff, u32::MAX];

fn side(u: &mut Unstructured) -> u32 {
    match u.choose(&SIDES) {
        Ok(&side) if u.ratio(3, 4).unwrap_or(true) => side,
        _ => u.arbitrary().unwrap_or(7),
    }
}

/// Any declared size: above [`MAX_SIDE`] the file is refused from its header, quickly (never
/// decoded); at or below it, decoding gives at most that size.
pub fn image_dims() -> Target {
    let samples = samples();
    Target::new("image_dims", random_seeds(), move |t, data| {
        let mut u = Unstructured::new(data);
        let Ok((format, sample)) = u.choose(&samples) else {
            return;
        };
        let (width, height) = (side(&mut u), side(&mut u));
        let mut bytes = sample.clone();
        let Some((width, height)) = with_size(*format, &mut bytes, width, height) else {
            return;
        };
        let start = Instant::now();
        let result = imaging::decode(&bytes);
        let took = start.elapsed();
        if width > MAX_SIDE || height > MAX_SIDE {
            // Refused with the header's size, or by the decoder's own checks (a zero side).
            // image-webp 0.2.4 reads a lossless side of 16384 (stored as 16383) as 0.
            let reads = |declared: u32, got: u32| got == declared || (*format == ImageFormat::WebP && declared == 1 << 14 && got == 0);
            let refused = match &result {
                Err(ImageError::TooLarge {
                    width: w,
                    height: h,
                    ..
                }) => reads(width, *w) && reads(height, *h),
                Err(_) => true,
                Ok(_) => false,
            };
            t.check(refused && took < Duration::from_millis(500), || {
                let got = result.as_ref().map(RgbImage::dimensions);
                format!("a {format:?} declaring {width}x{height} was not refused ({got:?} after {took:?})")
            });
        }
        let decoded = check_decoded(t, result);
        let within = decoded.is_none_or(|(w, h)| w <= width && h <= height);
        t.check(within, || {
            format!("{decoded:?} from a {width}x{height} header")
        });
    })
}
