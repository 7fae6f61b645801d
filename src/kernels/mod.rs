//! Hand-written WGSL kernels (`shaders/`) and their Burn wiring.
//!
//! Planned (issue "Hand-written WGSL kernels"): the Gram matrix and instance
//! normalisation, forward and backward, each with a reference implementation made
//! of Burn ops that the CPU fallback runs. Nothing is implemented here yet.
