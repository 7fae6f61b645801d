//! Fuzzing on stable Rust: every reader of untrusted bytes (checkpoints, the pickle machine,
//! images, the worker protocol's messages, saved training runs) gets the test fixtures and
//! mutations of them, or inputs built from `arbitrary` data, for a bounded time. An input
//! that panics, runs longer than 2 s (10 s in the unoptimised test profile) or breaks an
//! invariant is saved to `target/fuzz-findings/<target>-<hash>.bin` and fails the target's
//! test.
//!
//! ```text
//! AI_ART_FUZZ_SECONDS=600 AI_ART_FUZZ_SEED=7 cargo test --release --test fuzz -- --nocapture
//! AI_ART_FUZZ_REPLAY=target/fuzz-findings/pickle-0123456789abcdef.bin cargo test --test fuzz pickle
//! ```
//!
//! `AI_ART_FUZZ_SECONDS` is the time of all targets together (default 48, split evenly; the
//! tests run side by side), `AI_ART_FUZZ_SEED` picks the inputs (default 1: the same inputs
//! on every run). `scripts/fuzz.sh` runs long campaigns; docs/testing.md lists the targets.
#![cfg(all(feature = "compute", not(target_arch = "wasm32")))]

mod driver;
mod images;
mod mutate;
mod opcodes;
mod protocol;
mod training;
mod weights;

use driver::{Config, Target, fuzz, replay};
use std::path::Path;
use std::time::Duration;

/// The files under `tests/fixtures/<dir>` with one of `extensions`, up to 64 KiB (larger
/// ones only slow the mutator down), in a fixed order.
fn fixtures(dirs: &[&str], extensions: &[&str]) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<_> = dirs
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root.join(d)).unwrap_or_else(|e| panic!("tests/fixtures/{d}: {e}"))
        })
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
        })
        .filter(|p| p.metadata().is_ok_and(|m| m.len() <= 64 << 10))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("a fixture"))
        .collect()
}

/// Seeds for the targets that build their input from `arbitrary` data: fixed random bytes.
fn random_seeds() -> Vec<Vec<u8>> {
    let mut rng = mutate::Rng::new(0x5eed);
    [16, 64, 256, 1024, 4096]
        .iter()
        .map(|&n| (0..n).map(|_| rng.next() as u8).collect())
        .collect()
}

macro_rules! targets {
    ($($module:ident::$name:ident),* $(,)?) => {
        const TARGETS: u32 = [$(stringify!($name)),*].len() as u32;
        $(
            #[test]
            fn $name() {
                run(&$module::$name());
            }
        )*
    };
}

targets!(
    weights::checkpoint,
    weights::pickle,
    weights::safetensors_partial,
    images::image,
    images::image_dims,
    protocol::protocol_json,
    protocol::protocol_values,
    training::training_state,
    training::training_meta,
    training::training_data,
);

/// Fuzzes `target` (or replays `AI_ART_FUZZ_REPLAY` if the file is one of its findings).
fn run(target: &Target) {
    if let Some(path) = std::env::var_os("AI_ART_FUZZ_REPLAY") {
        if let Some(violation) = replay(target, Path::new(&path)) {
            assert!(violation.is_none(), "{}", violation.unwrap_or_default());
        }
        return;
    }
    let cfg = Config::from_env(TARGETS);
    let report = fuzz(target, &cfg);
    let secs = report.took.as_secs_f64();
    println!(
        "fuzz {}: seed {}, {} execs in {secs:.1} s ({:.0}/s), {} seeds, {} outcomes, {} findings",
        target.name,
        cfg.seed,
        report.execs,
        report.execs as f64 / secs,
        target.seeds.len(),
        report.outcomes,
        report.findings.len()
    );
    let list: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}\n  {}", f.path.display(), f.message))
        .collect();
    assert!(
        list.is_empty(),
        "{} findings:\n{}",
        list.len(),
        list.join("\n")
    );
}

/// The harness can fail: a panic, a slow input and an empty error message are each found,
/// saved, and replayed from the saved file.
#[test]
fn the_harness_finds_panics_slow_inputs_and_broken_invariants() {
    let inputs: [&[u8]; 4] = [b"boom", b"nap", b"mute", b"fine"];
    let target = Target::new(
        "selftest",
        inputs.map(<[u8]>::to_vec).to_vec(),
        |t, input| match input {
            b"boom" => panic!("the magic input"),
            b"nap" => std::thread::sleep(Duration::from_millis(50)),
            b"mute" => drop(t.ok(Err::<(), _>(String::new()))),
            _ => drop(t.ok(Ok::<_, String>(()))),
        },
    );
    let dir = std::env::temp_dir().join(format!("ai-art-fuzz-selftest-{}", std::process::id()));
    let cfg = Config {
        budget: Duration::ZERO,
        slow: Duration::from_millis(20),
        findings_dir: dir.clone(),
        ..Config::from_env(1)
    };
    let report = fuzz(&target, &cfg);
    assert_eq!(report.execs, 4, "the seeds alone");
    let expected = [
        ("panic: ", inputs[0]),
        ("slow: ", inputs[1]),
        ("invariant: an error without a message", inputs[2]),
    ];
    assert_eq!(
        report.findings.len(),
        expected.len(),
        "{:?}",
        report.findings
    );
    for (f, (kind, input)) in report.findings.iter().zip(expected) {
        assert!(f.message.starts_with(kind), "{}", f.message);
        assert_eq!(std::fs::read(&f.path).expect("the input is saved"), input);
    }
    assert!(report.findings[0].message.contains("the magic input"));
    assert!(matches!(
        replay(&target, &report.findings[2].path),
        Some(Some(_))
    ));
    std::fs::remove_dir_all(dir).expect("removed");
}
