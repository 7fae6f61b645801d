//! The native command-line tool `ai-art`: the same library as the web app, for
//! batch jobs, benchmarks and parity runs.

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
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match cli.command {
        Command::Info { backend } => info(backend),
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
