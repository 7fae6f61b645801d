//! Native integration tests: the GPU path through wgpu (lavapipe on machines
//! without a GPU) and the CLI.
#![cfg(not(target_arch = "wasm32"))]

use ai_art::device::{self, Preference};
use ai_art::imaging;
use burn::tensor::Device;
use std::process::Command;

fn test_image(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 5 % 256) as u8, (y * 11 % 256) as u8, ((x + 3 * y) % 256) as u8]))
}

/// The GPU path must work on every machine that runs the tests: lavapipe
/// (installed by scripts/setup-tools.sh) provides Vulkan on the CPU.
#[test]
fn wgpu_device_starts_and_round_trips_an_image() {
    let c = pollster::block_on(device::start(Preference::Gpu)).expect("a wgpu adapter (lavapipe is installed by scripts/setup-tools.sh)");
    assert!(c.info.is_gpu);
    assert!(!c.info.adapter.is_empty());
    assert!(c.info.limits.is_some());
    let img = test_image(31, 20);
    let out = pollster::block_on(imaging::roundtrip(&img, &c.device)).unwrap();
    assert_eq!(out, img);
    // Same numbers as the CPU backend.
    let cpu = pollster::block_on(imaging::roundtrip(&img, &Device::flex())).unwrap();
    assert_eq!(out, cpu);
}

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ai-art"))
}

#[test]
fn cli_help_lists_the_commands() {
    let out = cli().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("info"), "{text}");
}

#[test]
fn cli_info_reports_the_wgpu_adapter() {
    let out = cli().args(["info", "--backend", "wgpu"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("adapter: "), "{text}");
    assert!(text.contains("maxStorageBufferBindingSize: "), "{text}");
    assert!(!text.contains("falling back"), "{text}");
}

#[test]
fn cli_info_on_the_cpu_says_so() {
    let out = cli().args(["info", "--backend", "cpu"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("backend: CPU"), "{text}");
}

#[test]
fn cli_falls_back_to_the_cpu_when_no_adapter_exists() {
    // Point the Vulkan loader and EGL (wgpu's GL fallback) at no driver at all:
    // wgpu finds no adapter, so
    // `auto` must fall back (and say why) while `wgpu` must fail clearly.
    let no_gpu = |args: &[&str]| {
        cli()
            .args(args)
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .env("VK_DRIVER_FILES", "/nonexistent.json")
            .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json")
            .output()
            .unwrap()
    };
    let out = no_gpu(&["info"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("falling back to the CPU backend"), "{text}");
    assert!(text.contains("backend: CPU"), "{text}");
    let out = no_gpu(&["info", "--backend", "wgpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no GPU available"));
}

#[test]
fn cli_rejects_an_unknown_backend() {
    let out = cli().args(["info", "--backend", "cuda"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown backend"));
}
