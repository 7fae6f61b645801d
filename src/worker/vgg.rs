//! The VGG19 weights style transfer reads its features from, in the worker.
//!
//! * A dropped file (`.pth` or `.safetensors`) is read once; only `features.*` is kept
//!   (for safetensors only those tensors are even converted).
//! * A URL of a `.safetensors` file is read with HTTP range requests: the 8-byte header
//!   length, the JSON header, then, when a run starts, only the byte ranges of the
//!   convolutions its deepest layer needs (`features.N.weight/bias`), with a progress bar
//!   over exactly those bytes. Each piece is kept in the Cache API under a key of its own
//!   (`<url>?ai-art-part=<name>`), so a second visit needs no network. A server that
//!   ignores `Range` (HTTP 200) sends the whole file: it is used whole (and cached whole),
//!   with a note.
//! * Any other URL (a `.pth`) is downloaded whole and cached.
//!
//! The network is built on the autodiff device up to the deepest layer asked for and kept,
//! so the next run with the same or shallower layers starts at once.

use super::{fetch, fetching, progress};
use crate::device::Compute;
use crate::models::detect::{self, Architecture};
use crate::models::vgg::{Pooling, Vgg19, VggLayer};
use crate::models;
use crate::protocol::{JobEvent, JobId, ModelSource};
use crate::weights::{self, Checkpoint, CheckpointFormat, TensorEntry, TensorValues, partial};
use std::collections::{BTreeMap, BTreeSet};

/// Every convolution of VGG19.
const ALL_CONVS: usize = 16;

/// The VGG19 weights the worker holds.
pub struct VggWeights {
    /// What the user calls them (file name or URL).
    pub label: String,
    store: Store,
    /// What the weights hold.
    arch: (usize, [usize; 5]),
    /// The network, built up to the deepest layer asked for so far, and the device it is
    /// on ([`Compute::generation`]).
    built: Option<(u32, Vgg19)>,
}

enum Store {
    /// `features.*` of a whole file in memory.
    Local(Checkpoint),
    /// A safetensors file on a server that honours range requests.
    Remote {
        url: String,
        header: partial::Header,
        file_len: Option<u64>,
        /// Pieces fetched but not (or not yet) in the cache.
        fetched: BTreeMap<String, Vec<u8>>,
    },
}

fn human_mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// The Cache API key of one part of `url` (the fragment would be ignored by the cache).
fn part_key(url: &str, part: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}ai-art-part={part}")
}

/// Whether `url`'s path names a safetensors file.
fn is_safetensors_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.to_ascii_lowercase().ends_with(".safetensors")
}

/// Reads what a checkpoint holds; VGG19 features or a clear error.
fn vgg_arch(label: &str, ckpt: &Checkpoint) -> Result<(usize, [usize; 5]), String> {
    match detect::detect(ckpt) {
        Ok(Architecture::Vgg19 { widths, convs }) if convs > 0 => Ok((convs, widths)),
        Ok(Architecture::Vgg19 { .. }) => Err(format!("{label}: this file holds no VGG19 convolution")),
        Ok(other) => Err(format!(
            "{label}: this checkpoint holds a {}, not VGG19's features (torchvision's vgg19, with \
             keys features.0.weight, features.2.weight, ...)",
            other.describe()
        )),
        Err(e) => Err(format!("{label}: {e}")),
    }
}

fn describe((convs, widths): (usize, [usize; 5])) -> String {
    Architecture::Vgg19 { widths, convs }.describe()
}

/// The `features.*` tensors of a whole checkpoint file.
fn local_from_bytes(label: &str, bytes: &[u8]) -> Result<Checkpoint, String> {
    let looks_safetensors = bytes.get(8) == Some(&b'{') && partial::header_length(bytes).is_ok();
    if looks_safetensors {
        // Convert only the convolutions (torchvision's classifier is 85% of the file).
        let cut = partial::extract(bytes, &Vgg19::checkpoint_keys(ALL_CONVS)).map_err(|e| format!("{label}: {e}"))?;
        let ckpt = weights::load_checkpoint(&cut).map_err(|e| format!("{label}: {e}"))?;
        if !ckpt.is_empty() {
            return Ok(ckpt);
        }
        // Other names (a `module.` prefix, a wrapper...): read it all below.
    }
    let mut ckpt = weights::load_state_dict(bytes).map_err(|e| format!("{label}: {e}"))?;
    vgg_arch(label, &ckpt)?;
    let keep: BTreeSet<String> = Vgg19::checkpoint_keys(ALL_CONVS).into_iter().collect();
    ckpt.tensors.retain(|k, _| keep.contains(k));
    Ok(ckpt)
}

/// A checkpoint with the header's names and shapes and no values: enough for
/// [`detect::detect`].
fn shapes_of(header: &partial::Header) -> Checkpoint {
    let tensors = header
        .tensors
        .iter()
        .map(|(k, t)| (k.clone(), TensorEntry { shape: t.shape.clone(), data: TensorValues::F32(Vec::new()) }))
        .collect();
    Checkpoint { format: CheckpointFormat::Safetensors, tensors, nested_dicts: BTreeSet::new() }
}

impl VggWeights {
    fn local(label: String, ckpt: Checkpoint) -> Result<Self, String> {
        let arch = vgg_arch(&label, &ckpt)?;
        Ok(VggWeights { label, store: Store::Local(ckpt), arch, built: None })
    }

    /// Width of the first convolution (what bounds the image size on a device).
    pub fn first_width(&self) -> usize {
        self.arch.1[0]
    }

    /// Loads weights from a dropped file or a URL; returns them and the event to post.
    pub async fn load(id: JobId, source: ModelSource) -> Result<(VggWeights, JobEvent), String> {
        match source {
            ModelSource::File { name, bytes } => {
                progress(id, 1, 2, "reading the VGG19 weights");
                let v = Self::local(name.clone(), local_from_bytes(&name, &bytes)?)?;
                let ev = JobEvent::VggLoaded {
                    name,
                    description: describe(v.arch),
                    from_cache: false,
                    note: Some(format!(
                        "Only the convolutions a run needs are moved to the device ({} of the file's {}).",
                        human_mb(features_bytes(v.arch)),
                        human_mb(bytes.len() as u64)
                    )),
                };
                Ok((v, ev))
            }
            ModelSource::Url { label, url, .. } => Self::load_url(id, label, fetch::absolute(&url)).await,
        }
    }

    async fn load_url(id: JobId, label: String, url: String) -> Result<(VggWeights, JobEvent), String> {
        let cache = fetch::open_cache().await;
        let loaded = |v: VggWeights, from_cache: bool, note: Option<String>| {
            let description = describe(v.arch);
            (v, JobEvent::VggLoaded { name: label.clone(), description, from_cache, note })
        };
        // 1. The whole file, cached by an earlier visit.
        if let Some(c) = &cache
            && let Some(bytes) = c.get(&url).await
        {
            progress(id, 1, 2, "reading the VGG19 weights (from the cache)");
            match local_from_bytes(&label, &bytes).and_then(|ck| Self::local(label.clone(), ck)) {
                Ok(v) => return Ok(loaded(v, true, None)),
                Err(e) => {
                    log::warn!("the cached copy of {url} did not load ({e}); downloading it again");
                    c.delete(&url).await;
                }
            }
        }
        if !is_safetensors_url(&url) {
            progress(id, 0, 2, "downloading");
            let bytes = fetch::download(&url, &label, |done, total| fetching(id, done, total)).await?;
            progress(id, 1, 2, "reading the VGG19 weights");
            let v = Self::local(label.clone(), local_from_bytes(&label, &bytes)?)?;
            let mut not_kept = None;
            if let Some(c) = &cache {
                not_kept = c.keep(&url, &bytes, &label).await;
            }
            return Ok(loaded(v, false, not_kept));
        }
        // 2. The header, cached by an earlier visit.
        let header_key = part_key(&url, "header");
        if let Some(c) = &cache
            && let Some(bytes) = c.get(&header_key).await
        {
            match Self::remote(&label, &url, &bytes, None) {
                Ok(v) => {
                    let note = v.remote_note();
                    return Ok(loaded(v, true, note));
                }
                Err(e) => {
                    log::warn!("the cached header of {url} did not parse ({e}); reading it again");
                    c.delete(&header_key).await;
                }
            }
        }
        // 3. The header with two range requests: its length, then the JSON.
        progress(id, 0, 2, "reading the file's header (HTTP range request)");
        let first = fetch::request(&url, &label, Some(0..partial::PREFIX_BYTES)).await?;
        if first.status() != 206 {
            // The server ignores Range and is sending the whole file.
            let bytes = first.bytes(fetch::MAX_BYTES, |done, total| fetching(id, done, total)).await?;
            progress(id, 1, 2, "reading the VGG19 weights");
            let v = Self::local(label.clone(), local_from_bytes(&label, &bytes)?)?;
            let mut not_kept = None;
            if let Some(c) = &cache {
                not_kept = c.keep(&url, &bytes, &label).await;
            }
            let whole = format!(
                "This server does not support range requests, so the whole file ({}) was downloaded \
                 instead of only the layers needed.{}",
                human_mb(bytes.len() as u64),
                if not_kept.is_none() { " It is cached for the next visit." } else { "" }
            );
            return Ok(loaded(v, false, fetch::notes([Some(whole), not_kept])));
        }
        let file_len = first.range_total();
        let prefix = first.bytes(partial::PREFIX_BYTES, |_, _| {}).await?;
        let n = partial::header_length(&prefix).map_err(|e| format!("{label}: {e}"))?;
        let rest = fetch::request(&url, &label, Some(partial::PREFIX_BYTES..partial::PREFIX_BYTES + n)).await?;
        if rest.status() != 206 {
            return Err(format!("{label}: the server stopped honouring range requests; try again, or download the file and drop it"));
        }
        let json = rest.bytes(n, |_, _| {}).await?;
        if json.len() as u64 != n {
            return Err(format!("{label}: the server sent {} bytes of the {n}-byte header", json.len()));
        }
        let mut whole = prefix[..partial::PREFIX_BYTES as usize].to_vec();
        whole.extend_from_slice(&json);
        let v = Self::remote(&label, &url, &whole, file_len)?;
        let mut not_kept = None;
        if let Some(c) = &cache {
            not_kept = c.keep(&header_key, &whole, &label).await;
        }
        let note = v.remote_note();
        Ok(loaded(v, false, fetch::notes([note, not_kept])))
    }

    /// Remote weights from the length prefix and JSON header in `bytes`.
    fn remote(label: &str, url: &str, bytes: &[u8], file_len: Option<u64>) -> Result<VggWeights, String> {
        let n = partial::header_length(bytes).map_err(|e| format!("{label}: {e}"))?;
        let json = bytes
            .get(partial::PREFIX_BYTES as usize..(partial::PREFIX_BYTES + n) as usize)
            .ok_or_else(|| format!("{label}: the header is truncated"))?;
        let header = partial::Header::parse(json).map_err(|e| format!("{label}: {e}"))?;
        let arch = vgg_arch(label, &shapes_of(&header))?;
        // Every convolution the file has must be readable (dtype, shape, offsets).
        header.pieces(&Vgg19::checkpoint_keys(arch.0), file_len).map_err(|e| format!("{label}: {e}"))?;
        Ok(VggWeights {
            label: label.to_string(),
            store: Store::Remote { url: url.to_string(), header, file_len, fetched: BTreeMap::new() },
            arch,
            built: None,
        })
    }

    fn remote_note(&self) -> Option<String> {
        let Store::Remote { header, .. } = &self.store else { return None };
        let all: u64 = header.tensors.values().map(|t| t.end.saturating_sub(t.begin)).sum();
        Some(format!(
            "Only the convolutions a run needs are downloaded, with HTTP range requests, and cached \
             in this browser: at most {} of this {} file.",
            human_mb(features_bytes(self.arch)),
            human_mb(all)
        ))
    }

    /// VGG19 up to `up_to` with `pooling`, on the autodiff device, fetching or building what
    /// is missing. `cancelled` is asked between downloads.
    pub async fn network(
        &mut self,
        id: JobId,
        up_to: VggLayer,
        pooling: Pooling,
        compute: &Compute,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vgg19, String> {
        let needed = up_to.convs_needed();
        if let Some((generation, v)) = &self.built
            && *generation == compute.generation
            && v.convs.len() >= needed
        {
            let mut v = v.clone();
            v.pooling = pooling;
            return Ok(v);
        }
        let (available, _) = self.arch;
        if available < needed {
            return Err(format!(
                "{}: these weights hold {available} of VGG19's 16 convolutions; {up_to} needs the first \
                 {needed}. Choose shallower layers, or other weights",
                self.label
            ));
        }
        let device = compute.device.clone().autodiff();
        let label = self.label.clone();
        let ckpt = match &mut self.store {
            Store::Local(ckpt) => ckpt.clone(),
            Store::Remote { url, header, file_len, fetched } => {
                let keys = Vgg19::checkpoint_keys(needed);
                fetch_pieces(id, &label, url, header, *file_len, fetched, &keys, cancelled).await?;
                let pieces = header.pieces(&keys, *file_len).map_err(|e| format!("{label}: {e}"))?;
                let parts = pieces
                    .iter()
                    .map(|p| fetched.get(&p.name).map(|b| (p, b.as_slice())).ok_or_else(|| format!("{label}: {} was not fetched", p.name)))
                    .collect::<Result<Vec<_>, _>>()?;
                let file = partial::assemble(&parts).map_err(|e| format!("{label}: {e}"))?;
                let ckpt = weights::load_checkpoint(&file).map_err(|e| format!("{label}: {e}"))?;
                // Once cached, the raw pieces need not stay in memory.
                if fetch::open_cache().await.is_some() {
                    fetched.clear();
                }
                ckpt
            }
        };
        progress(id, 2, 3, &format!("building VGG19 up to {up_to}"));
        let net = models::load_vgg19(ckpt, up_to, pooling, &device).map_err(|e| format!("{label}: {e}"))?;
        self.built = Some((compute.generation, net.clone()));
        Ok(net)
    }
}

/// Bytes of the float32 convolutions `arch` describes (what a full-depth run needs).
fn features_bytes((convs, widths): (usize, [usize; 5])) -> u64 {
    let mut total = 0u64;
    let mut in_ch = 3u64;
    let mut k = 0;
    for (b, &n) in crate::models::vgg::BLOCKS.iter().enumerate() {
        for _ in 0..n {
            if k == convs {
                return total;
            }
            let out = widths[b] as u64;
            total += 4 * (out * in_ch * 9 + out);
            in_ch = out;
            k += 1;
        }
    }
    total
}

/// Puts every piece named in `keys` into `fetched`: from the cache when it is there, else
/// with range requests (adjacent pieces in one request), with progress over the bytes
/// actually needed.
#[allow(clippy::too_many_arguments)]
async fn fetch_pieces(
    id: JobId,
    label: &str,
    url: &str,
    header: &partial::Header,
    file_len: Option<u64>,
    fetched: &mut BTreeMap<String, Vec<u8>>,
    keys: &[String],
    cancelled: &dyn Fn() -> bool,
) -> Result<(), String> {
    let cache = fetch::open_cache().await;
    let pieces = header.pieces(keys, file_len).map_err(|e| format!("{label}: {e}"))?;
    let mut missing = Vec::new();
    let mut from_cache = 0;
    for p in pieces {
        if fetched.contains_key(&p.name) {
            continue;
        }
        if let Some(c) = &cache
            && let Some(bytes) = c.get(&part_key(url, &p.name)).await
        {
            if bytes.len() as u64 == p.len() {
                fetched.insert(p.name.clone(), bytes);
                from_cache += 1;
                continue;
            }
            c.delete(&part_key(url, &p.name)).await;
        }
        missing.push(p);
    }
    if from_cache > 0 {
        progress(id, 1, 3, "reading VGG19 layers from the cache");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let ranges = partial::coalesce(&missing);
    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    progress(id, 1, 3, &format!("downloading the {} VGG19 tensors needed ({})", missing.len(), human_mb(total)));
    let mut done = 0u64;
    fetching(id, done, Some(total));
    for range in ranges {
        if cancelled() {
            return Err("cancelled while downloading the VGG19 weights".into());
        }
        let len = range.end - range.start;
        let resp = fetch::request(url, label, Some(range.clone())).await?;
        let (block_start, block) = if resp.status() == 206 {
            let block = resp.bytes(len, |d, _| fetching(id, done + d, Some(total))).await?;
            if block.len() as u64 != len {
                return Err(format!("{label}: the server sent {} bytes for a {len}-byte range", block.len()));
            }
            (range.start, block)
        } else {
            // The server now ignores Range: the whole file it is, once, for every piece.
            progress(id, 1, 3, "the server ignored the range request: downloading the whole file");
            let whole = resp.bytes(fetch::MAX_BYTES, |d, t| fetching(id, d, t)).await?;
            for p in &missing {
                let b = partial::slice_piece(p, 0, &whole).map_err(|e| format!("{label}: {e}"))?;
                fetched.insert(p.name.clone(), b.to_vec());
            }
            break;
        };
        done += len;
        for p in missing.iter().filter(|p| p.range.start >= range.start && p.range.end <= range.end) {
            let b = partial::slice_piece(p, block_start, &block).map_err(|e| format!("{label}: {e}"))?;
            fetched.insert(p.name.clone(), b.to_vec());
        }
    }
    fetching(id, total, Some(total));
    if let Some(c) = &cache {
        for p in &missing {
            if let Some(b) = fetched.get(&p.name) {
                c.put(&part_key(url, &p.name), b).await;
            }
        }
    }
    Ok(())
}
