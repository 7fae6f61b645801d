//! `ai-art train fast-style`: a fast style network (Johnson et al.) trained from a folder of
//! photos towards one style image, as pytorch/examples' `neural_style.py train` does (with
//! VGG19). Writes the network as `fast_style.safetensors` under pytorch/examples' key names
//! (`ai-art translate` and its `TransformerNet` load it) and the losses as `losses.csv`.

use std::io::Write;
use std::time::Instant;

use super::train::{TrainArgs, read_folder, write};
use super::{read, read_image};
use crate::device;
use crate::imaging;
use crate::models::Generator;
use crate::models::detect::Architecture;
use crate::models::fast_style::{FastStyleConfig, TransformerNet};
use crate::models::{Builder, Pooling, export_safetensors, layout_of, load_vgg19};
use crate::techniques::data::Rng;
use crate::techniques::fast_style::{FastStyleSettings, FastStyleTrainer, photo};
use crate::weights::load_state_dict;
use burn::tensor::Tensor;

/// The trained network's file in the output folder.
pub const NETWORK_FILE: &str = "fast_style.safetensors";

pub fn train(args: &TrainArgs) -> Result<(), String> {
    let (Some(data), Some(style), Some(vgg)) = (&args.data, &args.style, &args.vgg) else {
        return Err("fast-style needs --data (a folder of photos), --style (the style image) and --vgg (VGG19's weights)".into());
    };
    let (batch_size, epochs, lr) = (args.batch_size.unwrap_or(4), args.epochs.unwrap_or(2), args.lr.unwrap_or(1e-3));
    if batch_size == 0 || args.size < 16 {
        return Err("--batch-size must be at least 1 and --size at least 16".into());
    }
    let settings = FastStyleSettings {
        content_weight: args.content_weight,
        style_weight: args.style_weight,
        tv_weight: args.tv_weight,
        lr,
        ..FastStyleSettings::default()
    };
    let style_image = read_image(style)?;
    let mut photos = Vec::new();
    let mut skipped = Vec::new();
    for file in read_folder(data)? {
        match imaging::decode(&file.bytes) {
            Ok(img) => photos.push(photo(&img, args.size)),
            Err(e) => skipped.push(format!("{} ({e})", file.name)),
        }
    }
    eprintln!("{} photo(s) loaded, {} skipped{}", photos.len(), skipped.len(), if skipped.is_empty() { String::new() } else { format!(": {}", skipped.join(", ")) });
    if photos.is_empty() {
        return Err(format!("no usable photo in {}", data.display()));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;

    let compute = pollster::block_on(device::start(args.backend)).map_err(|e| e.to_string())?;
    eprintln!("device: {}", compute.info.summary());
    let device = compute.device.autodiff();
    let vgg = load_vgg19(load_state_dict(&read(vgg)?).map_err(|e| format!("{}: {e}", vgg.display()))?, settings.deepest(), Pooling::Max, &device)
        .map_err(|e| format!("{}: {e}", vgg.display()))?;
    let config = FastStyleConfig::official();
    let net = TransformerNet::build(&config, &mut Builder::init(&device, 0.02)).map_err(|e| e.to_string())?;
    let mut trainer = FastStyleTrainer::new(Generator::FastStyle(net), vgg, imaging::to_tensor(&style_image, &device), settings).map_err(|e| e.to_string())?;
    let layout = layout_of(&Architecture::FastStyle(config)).map_err(|e| e.to_string())?;
    let save = |trainer: &FastStyleTrainer| -> Result<(), String> {
        let bytes = pollster::block_on(export_safetensors(trainer.net(), &layout, ""))?;
        write(&args.out.join(NETWORK_FILE), &bytes)
    };

    let log_path = args.out.join("losses.csv");
    let mut log = std::fs::File::create(&log_path).map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
    writeln!(log, "epoch,iteration,content,style,tv,total").map_err(|e| e.to_string())?;
    let per_epoch = photos.len().div_ceil(batch_size);
    let total = args.max_iterations.unwrap_or(epochs * per_epoch).min(epochs * per_epoch);
    eprintln!("fast style network (TransformerNet 32/64/128, 5 residual blocks): {total} iterations of {batch_size} photo(s) at {0}x{0}", args.size);
    let mut rng = Rng::new(args.seed);
    let started = Instant::now();
    let mut iteration = 0;
    'epochs: for epoch in 1..=epochs {
        // A new order every epoch (Fisher-Yates), the last batch smaller, as PyTorch's shuffling loader.
        let mut order: Vec<usize> = (0..photos.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for chunk in order.chunks(batch_size) {
            if iteration >= total {
                break 'epochs;
            }
            let images: Vec<Tensor<4>> = chunk.iter().map(|&i| imaging::to_tensor(&photos[i], &device)).collect();
            let losses = pollster::block_on(trainer.step(Tensor::cat(images, 0))).map_err(|e| e.to_string())?;
            iteration += 1;
            if !losses.total.is_finite() {
                return Err(format!("the loss became {} at iteration {iteration}: lower the learning rate or the weights", losses.total));
            }
            writeln!(log, "{epoch},{iteration},{},{},{},{}", losses.content, losses.style, losses.tv, losses.total).map_err(|e| e.to_string())?;
            if iteration % 10 == 1 {
                let rate = iteration as f64 / started.elapsed().as_secs_f64();
                eprintln!("epoch {epoch} iteration {iteration} ({rate:.2} it/s): content {:.4e}  style {:.4e}  tv {:.4e}", losses.content, losses.style, losses.tv);
            }
            if iteration % args.save_every.max(1) == 0 {
                save(&trainer)?;
            }
        }
    }
    save(&trainer)?;
    println!("trained {iteration} iterations in {:.1} s; wrote {}", started.elapsed().as_secs_f64(), args.out.join(NETWORK_FILE).display());
    Ok(())
}
