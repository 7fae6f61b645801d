//! Checkpoint readers (PyTorch `.pth`, `.safetensors`) that never execute
//! pickled code.
//!
//! Planned (issue "Networks and real checkpoints"); nothing is implemented here yet.
