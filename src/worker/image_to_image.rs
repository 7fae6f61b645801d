//! The Pix2Pix and CycleGAN jobs: loading a generator (from dropped bytes or a URL, with
//! the Cache API) and translating images with it, one at a time or a live video's frames.

use super::{fetch, fetching, now_ms, payload, preview, progress};
use crate::device::Compute;
use crate::imaging;
use crate::models::{self, ArchChoice, Generator, NormChoice};
use crate::protocol::{Frame, JobEvent, JobId, ModelSource, Slot, Smoothing, TranslateOptions};
use crate::techniques::image_to_image;
use crate::weights;

/// A section's generator.
pub struct Loaded {
    pub generator: Generator,
    /// What the user calls it.
    pub label: String,
    /// The device it was built on ([`Compute::generation`]).
    pub generation: u32,
    /// The last live frame shown, which the next one is blended with (temporal smoothing).
    pub last_frame: Option<image::RgbImage>,
}


/// Reads and builds the generator in `bytes`; errors name the model.
fn build(label: &str, bytes: &[u8], arch: ArchChoice, norm: NormChoice, compute: &Compute) -> Result<(Generator, String), String> {
    let checkpoint = weights::load_state_dict(bytes).map_err(|e| format!("{label}: {e}"))?;
    let (generator, architecture) =
        models::load_generator(checkpoint, arch, norm, &compute.device).map_err(|e| format!("{label}: {e}"))?;
    Ok((generator, architecture.describe()))
}

/// Loads a generator; the event to post once it is in place.
pub async fn load(
    id: JobId,
    slot: Slot,
    source: ModelSource,
    arch: ArchChoice,
    norm: NormChoice,
    compute: &Compute,
) -> Result<(Loaded, JobEvent), String> {
    const STAGES: u32 = 3;
    let label = source.label().to_string();
    let mut note = None;
    let (generator, description, from_cache) = match source {
        ModelSource::File { bytes, .. } => {
            progress(id, 1, STAGES, "reading the checkpoint");
            let (g, d) = build(&label, &bytes, arch, norm, compute)?;
            (g, d, false)
        }
        ModelSource::Url { url, sha256, .. } => {
            let url = fetch::absolute(&url);
            let cache = fetch::open_cache().await;
            let mut cached = None;
            if let Some(c) = &cache {
                cached = c.get(&url).await;
            }
            let from_cache = match cached {
                Some(bytes) => {
                    progress(id, 1, STAGES, "reading the checkpoint (from the cache)");
                    let published = sha256.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(&weights::digest::sha256_hex(&bytes)));
                    let built = if published { build(&label, &bytes, arch, norm, compute) } else { Err("not the published file".into()) };
                    match built {
                        Ok(built) => Some(built),
                        Err(e) => {
                            // A damaged cache entry: forget it and download again.
                            log::warn!("the cached copy of {url} did not load ({e}); downloading it again");
                            if let Some(c) = &cache {
                                c.delete(&url).await;
                            }
                            None
                        }
                    }
                }
                None => None,
            };
            match from_cache {
                Some((g, d)) => (g, d, true),
                None => {
                    progress(id, 0, STAGES, "downloading");
                    let bytes = fetch::download(&url, &label, |done, total| fetching(id, done, total)).await?;
                    progress(id, 1, STAGES, "checking and reading the checkpoint");
                    let (digest, changed) = fetch::verify_download(&url, &label, &bytes, sha256.as_deref()).await?;
                    let (g, d) = build(&label, &bytes, arch, norm, compute)?;
                    // Cached only once it is known to load, so a bad file is never kept.
                    fetch::record_digest(&url, &digest).await;
                    let mut not_kept = None;
                    if let Some(c) = &cache {
                        progress(id, 2, STAGES, "saving to the cache");
                        not_kept = c.keep(&url, &bytes, &label).await;
                    }
                    note = fetch::notes([changed, not_kept]);
                    (g, d, false)
                }
            }
        }
    };
    progress(id, STAGES, STAGES, "loaded");
    let loaded = Loaded { generator, label: label.clone(), generation: compute.generation, last_frame: None };
    Ok((loaded, JobEvent::ModelLoaded { slot, name: label, description, from_cache, note }))
}

/// Translates the image in `bytes` with `loaded`'s generator.
pub async fn translate(
    id: JobId,
    slot: Slot,
    loaded: &mut Loaded,
    bytes: &[u8],
    options: TranslateOptions,
    compute: &Compute,
) -> Result<JobEvent, String> {
    const STAGES: u32 = 3;
    let t0 = now_ms();
    progress(id, 0, STAGES, "decoding");
    let img = imaging::decode(bytes).map_err(|e| e.to_string())?;
    let generator = &mut loaded.generator;
    let max = image_to_image::max_pixels(generator, compute.info.limits.as_ref());
    let (w, h) = img.dimensions();
    let mut note = None;
    let img = if options.fit_to_device {
        let (fw, fh) = image_to_image::fit_within(generator, w, h, max);
        if (fw, fh) != (w, h) {
            note = Some(format!(
                "Scaled down from {w}x{h} to {fw}x{fh} (aspect ratio kept) to fit this device's limits."
            ));
            progress(id, 0, STAGES, "scaling down to fit the device");
            image_to_image::resize(&img, fw, fh)
        } else {
            img
        }
    } else {
        img
    };
    generator.set_dropout_at_inference(options.dropout);
    progress(id, 1, STAGES, "running the generator");
    let out = image_to_image::translate(generator, &img, max, &compute.device).await.map_err(|e| e.to_string())?;
    progress(id, 2, STAGES, "encoding");
    let ev = JobEvent::Translated { slot, input: payload(&img)?, output: payload(&out)?, millis: now_ms() - t0, note };
    progress(id, STAGES, STAGES, "done");
    Ok(ev)
}

/// Translates a live frame with `loaded`'s generator: scaled down to fit the device if it
/// must, no dropout, blended with the frame before as `smoothing` says.
pub async fn translate_frame(slot: Slot, loaded: &mut Loaded, frame: Frame, smoothing: Smoothing, compute: &Compute) -> Result<JobEvent, String> {
    let t0 = now_ms();
    let img = imaging::from_rgba(frame.width, frame.height, &frame.rgba)
        .ok_or_else(|| format!("a {}x{} frame needs {} bytes of RGBA, not {}", frame.width, frame.height, frame.width as u64 * frame.height as u64 * 4, frame.rgba.len()))?;
    let generator = &mut loaded.generator;
    let max = image_to_image::max_pixels(generator, compute.info.limits.as_ref());
    let (fw, fh) = image_to_image::fit_within(generator, img.width(), img.height(), max);
    let img = if (fw, fh) != img.dimensions() { image_to_image::resize(&img, fw, fh) } else { img };
    generator.set_dropout_at_inference(false);
    let out = image_to_image::translate(generator, &img, max, &compute.device).await.map_err(|e| e.to_string())?;
    let out = match loaded.last_frame.take() {
        Some(previous) if !smoothing.first && smoothing.keep > 0.0 && previous.dimensions() == out.dimensions() => {
            imaging::blend(&previous, &out, smoothing.keep)
        }
        _ => out,
    };
    let frame = preview(&out);
    loaded.last_frame = Some(out);
    Ok(JobEvent::FrameTranslated { slot, frame, millis: now_ms() - t0 })
}
