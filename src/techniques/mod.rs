//! The studio's techniques: neural style transfer, Pix2Pix and CycleGAN.
//!
//! * [`translate`]: inference with a trained Pix2Pix or CycleGAN generator (any image
//!   size, junyanz's pre- and post-processing);
//! * style transfer and training come with their issues.

pub mod translate;
