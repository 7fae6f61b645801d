//! The studio's techniques: neural style transfer, Pix2Pix and CycleGAN.
//!
//! Planned in the issues that follow the foundation; nothing is implemented here
//! yet. The [`crate::imaging::roundtrip`] pipeline is what the app runs today.
