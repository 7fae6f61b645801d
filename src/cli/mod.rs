//! The native command-line tool `ai-art`: the same library as the web app, for
//! batch jobs, benchmarks and parity runs.

mod bench;

use crate::device::{self, Preference};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "ai-art", version, about = "AI-art studio: neural style transfer, Pix2Pix and CycleGAN on your GPU (Burn + wgpu), from the command line")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the compute device the studio would use: the wgpu adapter, or the CPU fallback and why.
    Info {
        /// auto (GPU, else CPU), wgpu (GPU or fail) or cpu.
        #[arg(long, default_value = "auto")]
        backend: Preference,
    },
    /// Benchmarks, each against a reference in the same run (ratios, not absolute times).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Our WGSL Gram and instance-norm kernels against the same ops composed of Burn primitives,
    /// at VGG19 style-layer and ResNet-generator shapes; forward and forward+backward medians.
    Kernels {
        /// Image sizes in pixels (the shapes follow from them).
        #[arg(long, value_delimiter = ',', default_value = "256,512")]
        sizes: Vec<usize>,
        /// Timed runs per case (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// auto, wgpu or cpu (on the CPU both sides are Burn ops: a sanity baseline).
        #[arg(long, default_value = "wgpu")]
        backend: Preference,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,wgpu_hal=off")).init();
    let cli = Cli::parse();
    match cli.command {
        Command::Info { backend } => info(backend),
        Command::Bench(BenchCommand::Kernels { sizes, runs, backend }) => {
            let compute = match pollster::block_on(device::start(backend)) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            eprintln!("benchmarking on {} ({} runs per case, median)", compute.info.summary(), runs.max(1));
            print!("{}", bench::kernels(&compute.device, &sizes, runs.max(1)));
            ExitCode::SUCCESS
        }
    }
}

fn info(pref: Preference) -> ExitCode {
    let compute = match pollster::block_on(device::start(pref)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let info = &compute.info;
    if let Some(why) = &info.fallback_reason {
        println!("No usable GPU adapter ({why}); falling back to the CPU backend.");
    }
    println!("backend: {}", info.backend);
    println!("adapter: {}", info.adapter);
    if !info.details.is_empty() {
        println!("details: {}", info.details);
    }
    if let Some(l) = &info.limits {
        println!("maxBufferSize: {}", l.max_buffer_size);
        println!("maxStorageBufferBindingSize: {}", l.max_storage_buffer_binding_size);
        println!("maxComputeWorkgroupsPerDimension: {}", l.max_compute_workgroups_per_dimension);
        println!("maxComputeInvocationsPerWorkgroup: {}", l.max_compute_invocations_per_workgroup);
        println!("maxComputeWorkgroupStorageSize: {}", l.max_compute_workgroup_storage_size);
    }
    ExitCode::SUCCESS
}
