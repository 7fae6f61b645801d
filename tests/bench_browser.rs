//! The in-browser half of `scripts/bench-nst.sh`: milliseconds per style-transfer step on
//! WebGPU in headless Chromium, with the same model, loss and sizes as `ai-art bench nst`
//! (full-width VGG19, random weights). Built only with `--features browser-bench`, so the
//! test command does not run it. Sizes come from `AI_ART_BENCH_SIZES` at build time
//! (default "256"); results are printed as the same JSON lines.
#![cfg(all(target_arch = "wasm32", feature = "browser-bench"))]

use ai_art::device::{self, Preference};
use ai_art::models::Builder;
use ai_art::models::vgg::{Pooling, Vgg19, WIDTHS};
use ai_art::techniques::style_transfer::{NstConfig, NstRun};
use burn::tensor::{Distribution, Tensor};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or_else(js_sys::Date::now)
}

#[wasm_bindgen_test]
async fn bench_style_transfer_steps_on_webgpu() {
    // As the app's entry points do (src/worker/ctors.rs): otherwise every call into the
    // module re-runs cubecl's static constructors and the timing measures those.
    ai_art::worker::ctors::run_static_constructors();
    let sizes = option_env!("AI_ART_BENCH_SIZES").unwrap_or("256");
    let steps: usize = option_env!("AI_ART_BENCH_STEPS").and_then(|s| s.parse().ok()).unwrap_or(3);
    let compute = device::start(Preference::Gpu).await.expect("WebGPU");
    let device = compute.device.autodiff();
    let config = NstConfig::default();
    for size in sizes.split(',').filter_map(|s| s.trim().parse::<usize>().ok()) {
        let h = size * 3 / 4;
        let mut b = Builder::init(&device, 0.02);
        let vgg = Vgg19::build(WIDTHS, config.deepest(), Pooling::Max, &mut b).expect("vgg");
        let content = Tensor::<4>::random([1, 3, h, size], Distribution::Uniform(0.0, 1.0), &device);
        let style = Tensor::<4>::random([1, 3, h, size], Distribution::Uniform(0.0, 1.0), &device);
        let mut run = NstRun::new(vgg, content.clone(), &[(style, 1.0)], content, config.clone()).expect("run");
        run.step().await.expect("warm-up step");
        let mut samples = Vec::new();
        for _ in 0..steps {
            let t = now_ms();
            run.step().await.expect("step");
            samples.push(now_ms() - t);
        }
        samples.sort_by(|a, b| a.total_cmp(b));
        let ms = samples[samples.len() / 2];
        console_log!("{{\"size\": {size}, \"height\": {h}, \"ms_per_step\": {ms:.3}}}");
    }
}
