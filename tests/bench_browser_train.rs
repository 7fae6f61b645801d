//! The in-browser half of `scripts/bench-train.sh`: milliseconds per training iteration in
//! headless Chromium, on WebGPU and on the CPU fallback (Burn's flex backend compiled to
//! WebAssembly), with the same runs as `ai-art bench train` (`session::benchmark`: the
//! papers' full-width networks on noise images). Built only with `--features browser-bench`,
//! so the test command does not run it. The cases come from build-time variables, each a
//! comma-separated list of `model:size:batch` (e.g. `pix2pix:128:1,cyclegan:128:4`):
//! `AI_ART_BENCH_TRAIN_GPU` and `AI_ART_BENCH_TRAIN_CPU` (either may be empty), with
//! `AI_ART_BENCH_ITERS` timed iterations each (default 2). Each result is printed as the
//! JSON line of `BenchRecord` with a `"backend"` field added.
#![cfg(all(target_arch = "wasm32", feature = "browser-bench"))]

use ai_art::device::{self, Preference};
use ai_art::techniques::training::session::{Model, benchmark};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

// In a dedicated worker, as the app trains: on the CPU backend a case never yields, and a
// page whose main thread stays busy that long is given up by ChromeDriver ("timed out
// receiving message from renderer").
wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// `performance.now()` of the worker.
fn now_ms() -> f64 {
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &JsValue::from_str(k)).ok();
    let perf = get(&js_sys::global(), "performance");
    let now = perf.as_ref().and_then(|p| get(p, "now")).and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    match (perf, now) {
        (Some(p), Some(now)) => now.call0(&p).ok().and_then(|v| v.as_f64()).unwrap_or_else(js_sys::Date::now),
        _ => js_sys::Date::now(),
    }
}

fn cases(list: &str) -> Vec<(Model, u32, usize)> {
    list.split(',')
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            let parts: Vec<&str> = c.trim().split(':').collect();
            match parts.as_slice() {
                [m, s, b] => (m.parse().expect("model"), s.parse().expect("size"), b.parse().expect("batch")),
                _ => panic!("a case is model:size:batch, not `{c}`"),
            }
        })
        .collect()
}

#[wasm_bindgen_test]
async fn bench_training_iterations_in_the_browser() {
    // As the app's entry points do (src/worker/ctors.rs).
    ai_art::worker::ctors::run_static_constructors();
    let iters: usize = option_env!("AI_ART_BENCH_ITERS").and_then(|s| s.parse().ok()).unwrap_or(2);
    for (backend, pref, list) in [
        ("webgpu", Preference::Gpu, option_env!("AI_ART_BENCH_TRAIN_GPU").unwrap_or("")),
        ("cpu", Preference::Cpu, option_env!("AI_ART_BENCH_TRAIN_CPU").unwrap_or("")),
    ] {
        let cases = cases(list);
        if cases.is_empty() {
            continue;
        }
        let compute = device::start(pref).await.expect("device");
        let device = compute.device.autodiff();
        for (model, size, batch) in cases {
            let r = benchmark(model, size, batch, iters, &device, &now_ms).await.expect("benchmark");
            let mut line = serde_json::to_value(&r).expect("json");
            line["backend"] = backend.into();
            console_log!("{line}");
        }
    }
}
