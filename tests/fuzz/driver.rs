//! The driver every target shares: it runs the seeds, then mutated inputs until the time
//! budget is spent, each under `catch_unwind` and a clock, and records every input that
//! panics, runs too long or breaks an invariant.

use super::mutate::{Rng, mutate};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt::{Debug, Display};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

/// Largest input the mutator makes.
const MAX_INPUT: usize = 1 << 20;
/// Most corpus entries kept besides the seeds.
const MAX_CORPUS: usize = 512;

/// What the code under test did with one input: the outcomes of the calls it made (which
/// steer the corpus) and the first invariant it broke.
#[derive(Default)]
pub struct Trace {
    outcome: String,
    violation: Option<String>,
}

impl Trace {
    /// The value of `result`. An error is an outcome, as long as it says what is wrong: an
    /// empty message is a violation.
    pub fn ok<T, E: Display + Debug>(&mut self, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => {
                self.outcome.push_str("ok;");
                Some(v)
            }
            Err(e) => {
                let message = e.to_string();
                self.check(!message.trim().is_empty(), || {
                    format!("an error without a message: {e:?}")
                });
                self.outcome.push_str(&shape_of(&message));
                self.outcome.push(';');
                None
            }
        }
    }

    /// Records a violation unless `holds`.
    pub fn check(&mut self, holds: bool, what: impl FnOnce() -> String) {
        if !holds && self.violation.is_none() {
            self.violation = Some(what());
        }
    }
}

/// The words of an error message, without numbers, hex bytes and quoted names: what tells
/// one way of failing from another.
fn shape_of(message: &str) -> String {
    let mut quoted = false;
    let unquoted: String = message
        .chars()
        .filter(|&c| {
            quoted ^= c == '`' || c == '"';
            !quoted && c != '`' && c != '"'
        })
        .collect();
    let words: Vec<&str> = unquoted
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() > 2)
        .take(16)
        .collect();
    words.join(" ")
}

/// What a target does with an input, recording outcomes and violations in the trace.
pub type Run = Box<dyn Fn(&mut Trace, &[u8])>;

/// A fuzz target: its seeds and what it does with an input.
pub struct Target {
    pub name: &'static str,
    pub seeds: Vec<Vec<u8>>,
    pub run: Run,
}

impl Target {
    pub fn new(
        name: &'static str,
        seeds: Vec<Vec<u8>>,
        run: impl Fn(&mut Trace, &[u8]) + 'static,
    ) -> Self {
        assert!(!seeds.is_empty(), "target {name} has no seeds");
        Target {
            name,
            seeds,
            run: Box::new(run),
        }
    }
}

/// How long and from which seed to fuzz, and where findings go.
pub struct Config {
    pub seed: u64,
    /// Mutated inputs are made for this long, after the seeds.
    pub budget: Duration,
    /// An input that takes longer is a finding: 2 s (10 s in the unoptimised test profile).
    pub slow: Duration,
    /// An input still running after this long is a hang: it is recorded and the process
    /// aborted (a thread cannot be stopped).
    pub hang: Duration,
    pub findings_dir: PathBuf,
}

impl Config {
    /// `AI_ART_FUZZ_SECONDS` (all targets together; default 48, split evenly among the
    /// `targets`) and `AI_ART_FUZZ_SEED` (default 1).
    pub fn from_env(targets: u32) -> Config {
        let var = |name: &str, default: u64| match std::env::var(name) {
            Ok(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
            Err(_) => default,
        };
        Config {
            seed: var("AI_ART_FUZZ_SEED", 1),
            budget: Duration::from_secs(var("AI_ART_FUZZ_SECONDS", 48)) / targets,
            // Our code is not optimised in the test profile: about 5x slower.
            slow: Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 }),
            hang: Duration::from_secs(60),
            findings_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings"),
        }
    }
}

#[derive(Debug)]
pub struct Finding {
    pub message: String,
    pub path: PathBuf,
}

pub struct Report {
    pub execs: u64,
    pub took: Duration,
    pub outcomes: usize,
    pub findings: Vec<Finding>,
}

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics inside [`run_one`] are kept (message and place) instead of printed; any other
/// panic, such as a failing test's, goes to the default hook as usual.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.get() {
                PANIC.set(Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `input` through the target: its outcomes, the problem if there is one, and the time.
fn run_one(target: &Target, input: &[u8], cfg: &Config) -> (String, Option<String>, Duration) {
    let mut trace = Trace::default();
    let start = Instant::now();
    CATCHING.set(true);
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&mut trace, input)));
    CATCHING.set(false);
    let took = start.elapsed();
    let problem = match result {
        Err(_) => Some(format!("panic: {}", PANIC.take().unwrap_or_default())),
        Ok(()) if took > cfg.slow => {
            Some(format!("slow: {took:.2?} (the bound is {:?})", cfg.slow))
        }
        Ok(()) => trace.violation.map(|v| format!("invariant: {v}")),
    };
    (trace.outcome, problem, took)
}

/// FNV-1a: names a finding by its input, and seeds each target's generator by its name.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Writes `input` (`<target>-<hash>.bin`) and what went wrong (`.txt`) to the findings folder.
fn record(cfg: &Config, target: &str, input: &[u8], message: String) -> Finding {
    let path = cfg
        .findings_dir
        .join(format!("{target}-{:016x}.bin", fnv1a(input)));
    let saved = std::fs::create_dir_all(&cfg.findings_dir)
        .and_then(|()| std::fs::write(&path, input))
        .and_then(|()| std::fs::write(path.with_extension("txt"), &message));
    if let Err(e) = saved {
        eprintln!("could not save the finding to {}: {e}", path.display());
    }
    Finding { message, path }
}

/// The input being run and since when, for the watchdog.
type Running = Mutex<Option<(Instant, Vec<u8>)>>;

fn set(running: &Running, now: Option<(Instant, Vec<u8>)>) {
    *running.lock().unwrap_or_else(PoisonError::into_inner) = now;
}

/// Until `stop` closes: an input running longer than `cfg.hang` is saved and the process
/// aborted, since a thread cannot be stopped.
fn watch(cfg: &Config, target: &str, running: &Running, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(Duration::from_millis(200)) {
        let guard = running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((since, input)) = guard
            .as_ref()
            .filter(|(since, _)| since.elapsed() > cfg.hang)
        {
            let message = format!("hang: still running after {:.0?}", since.elapsed());
            let finding = record(cfg, target, input, message);
            eprintln!(
                "fuzz {target}: an input hangs, saved to {}; aborting",
                finding.path.display()
            );
            std::process::abort();
        }
    }
}

/// Fuzzes `target`: every seed as it is, then mutated corpus entries for `cfg.budget`. The
/// seeds and every input with an outcome not seen before join the corpus, unless they are
/// slow (a twentieth of the bound): mutating those would spend the budget on few inputs.
pub fn fuzz(target: &Target, cfg: &Config) -> Report {
    install_panic_hook();
    let mut rng = Rng::new(cfg.seed ^ fnv1a(target.name.as_bytes()));
    let (mut corpus, mut outcomes, mut findings, mut execs) =
        (Vec::new(), HashSet::new(), Vec::new(), 0u64);
    let (name, running, (done, stop)) = (target.name, &Mutex::new(None), mpsc::channel());
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || watch(cfg, name, running, stop));
        let mut seeds = target.seeds.iter();
        let mut mutating_since = None;
        loop {
            let (input, seed) = match seeds.next() {
                Some(seed) => (seed.clone(), true),
                None if corpus.is_empty() => break,
                None if mutating_since.get_or_insert_with(Instant::now).elapsed() >= cfg.budget => {
                    break;
                }
                None => (mutate(&corpus, &mut rng, MAX_INPUT), false),
            };
            set(running, Some((Instant::now(), input.clone())));
            let (outcome, problem, took) = run_one(target, &input, cfg);
            execs += 1;
            let new = outcomes.insert(outcome);
            if let Some(message) = problem {
                findings.push(record(cfg, name, &input, message));
            } else if (seed || new)
                && took <= cfg.slow / 20
                && corpus.len() < target.seeds.len() + MAX_CORPUS
            {
                corpus.push(input);
            }
        }
        set(running, None);
        drop(done);
    });
    Report {
        execs,
        took: start.elapsed(),
        outcomes: outcomes.len(),
        findings,
    }
}

/// Runs one saved finding through its target with panics left alone (a backtrace with
/// `RUST_BACKTRACE=1`). `None` when the file belongs to another target.
pub fn replay(target: &Target, path: &Path) -> Option<Option<String>> {
    let file = path.file_name()?.to_str()?;
    file.strip_prefix(target.name)?.strip_prefix('-')?;
    let input = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut trace = Trace::default();
    (target.run)(&mut trace, &input);
    println!("replayed {file}: outcomes {}", trace.outcome);
    Some(trace.violation)
}
