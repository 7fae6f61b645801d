//! The studio's techniques: neural style transfer, Pix2Pix and CycleGAN.
//!
//! * [`translate`]: inference with a trained Pix2Pix or CycleGAN generator (any image
//!   size, junyanz's pre- and post-processing);
//! * [`nst`]: neural style transfer (Gatys et al.), Adam on the pixels;
//! * [`training`]: Pix2Pix and CycleGAN training steps (the official update order);
//! * [`data`]: training images from the user's files, prepared as the official loaders do.

pub mod data;
pub mod nst;
pub mod training;
pub mod translate;
