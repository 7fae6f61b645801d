//! The studio's techniques: neural style transfer, Pix2Pix and CycleGAN.
//!
//! * [`image_to_image`]: Pix2Pix and CycleGAN inference, translating an image with a
//!   trained generator (any image size, junyanz's pre- and post-processing);
//! * [`style_transfer`]: neural style transfer (Gatys et al.), Adam or L-BFGS on the pixels;
//! * [`fast_style`]: training a fast style network (Johnson et al.) on the perceptual loss;
//! * [`deep_dream`]: Deep Dream, gradient ascent on a VGG19 layer over an image pyramid;
//! * [`training`]: Pix2Pix and CycleGAN training steps (the official update order);
//! * [`data`]: training images from the user's files, prepared as the official loaders do.

pub mod deep_dream;
pub mod style_transfer;
pub mod training;

compute! {
    pub mod data;
    pub mod fast_style;
    pub mod image_to_image;
}
