//! Neural style transfer (Gatys, Ecker and Bethge, 2016): optimise an image so that its VGG19
//! features match a content image and its Gram matrices match a style image.
//!
//! The method, exactly (`scripts/reference/make_nst_fixtures.py` implements the same in
//! PyTorch, and the tests compare the two step by step):
//!
//! * the optimised variable is the image `x` itself, `[1, 3, H, W]` in `[0, 1]`; VGG19 applies
//!   the ImageNet normalisation inside ([`crate::models::vgg`]);
//! * content: `L_c = mean((F_l(x) - F_l(c))^2)` on one layer (default `conv4_2`, the conv
//!   output before its ReLU);
//! * style: `L_s = sum_l w_l mean((G_l(x) - A_l)^2)` over several layers (default
//!   `conv1_1 .. conv5_1`), with `G = F F^T / (C H W)` computed by our WGSL Gram kernel on
//!   WebGPU, `A_l` the style image's Gram (a weighted blend of several style images'), and
//!   per-layer weights `w_l` equal (`1/L`) or decaying with depth (`d^k`, normalised to sum 1:
//!   shallow layers weigh more, which gives finer strokes);
//! * total variation: `L_tv = mean((x[.., 1:, :] - x[.., :-1, :])^2) + mean((x[.., :, 1:] - x[.., :, :-1])^2)`;
//! * `J = alpha L_c + beta L_s + gamma L_tv`, minimised by Adam on the pixels, clamped to
//!   `[0, 1]` after every step (pixels stay in range).
//!
//! Every step's losses come back as one small tensor read asynchronously
//! ([`LossTensors::read`]), so the loop runs in a browser on WebGPU, where synchronous reads
//! are impossible.
//!
//! The settings and what a run reports are in `settings` (the UI links them without Burn);
//! the run itself, [`NstRun`], is in `run`, with L-BFGS in `lbfgs`.

mod settings;
pub use settings::{
    InitKind, Losses, NstConfig, Optimizer, Settings, StyleTransferError, StyleWeights, check_size, max_pixels,
};

compute! {
    mod lbfgs;
    mod run;

    pub use run::{LossTensors, NstRun, initial_image, tv_loss};
    pub(crate) use run::{gram_of, mse};
    pub use settings::Prepared;

    #[cfg(test)]
    mod tests;
}
