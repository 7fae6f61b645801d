//! L-BFGS on the image's pixels, as PyTorch's `torch.optim.LBFGS` takes its steps.

use super::StyleTransferError;
use burn::tensor::Tensor;

/// one iteration per call: the curvature pairs `(s, y)` are kept when `y.s > 1e-10` (at most
/// `history`), `H_diag = y.s / y.y`, the direction comes from the two-loop recursion, and the
/// step is `t d` with `t = min(1, 1 / |g|_1) lr` on the very first iteration and `lr` after.
/// Like PyTorch it takes no step when `max |g| <= 1e-7` (converged) or when the directional
/// derivative `g.d > -1e-9`. The pixel clamp happens outside, so `s` is the unclamped step
/// and the next `y` the gradient difference at the clamped point, as in a PyTorch loop that
/// clamps after `optimizer.step`.
pub(super) struct Lbfgs {
    lr: f64,
    history: usize,
    iterations: usize,
    /// `y` vectors (PyTorch's `old_dirs`), `s` vectors (`old_stps`), `1 / y.s`.
    ys: std::collections::VecDeque<(Tensor<1>, Tensor<1>, f64)>,
    h_diag: f64,
    prev_grad: Option<Tensor<1>>,
    /// The last step `t d` (PyTorch's `d` and `t`).
    prev_step: Option<Tensor<1>>,
}

const LBFGS_TOLERANCE_GRAD: f64 = 1e-7;
const LBFGS_TOLERANCE_CHANGE: f64 = 1e-9;

async fn scalar(t: Tensor<1>) -> Result<f64, StyleTransferError> {
    let v = super::run::read_back(t, "an L-BFGS scalar").await?;
    v.first().map(|x| *x as f64).ok_or(StyleTransferError::Readback { what: "an L-BFGS scalar", detail: "no value".into() })
}

async fn dot(a: &Tensor<1>, b: &Tensor<1>) -> Result<f64, StyleTransferError> {
    scalar((a.clone() * b.clone()).sum()).await
}

impl Lbfgs {
    pub(super) fn new(lr: f64, history: usize) -> Self {
        Lbfgs { lr, history, iterations: 0, ys: Default::default(), h_diag: 1.0, prev_grad: None, prev_step: None }
    }

    /// The update `t d` for gradient `g`, or `None` when PyTorch would not move.
    pub(super) async fn direction(&mut self, g: Tensor<1>) -> Result<Option<Tensor<1>>, StyleTransferError> {
        if scalar(g.clone().abs().max()).await? <= LBFGS_TOLERANCE_GRAD {
            return Ok(None);
        }
        self.iterations += 1;
        let d = if self.iterations == 1 {
            self.ys.clear();
            self.h_diag = 1.0;
            -g.clone()
        } else {
            if let (Some(prev_g), Some(s)) = (&self.prev_grad, &self.prev_step) {
                let y = g.clone() - prev_g.clone();
                let ys = dot(&y, s).await?;
                if ys > 1e-10 {
                    if self.ys.len() == self.history {
                        self.ys.pop_front();
                    }
                    self.h_diag = ys / dot(&y, &y).await?;
                    self.ys.push_back((y, s.clone(), 1.0 / ys));
                }
            }
            // Two-loop recursion.
            let mut q = -g.clone();
            let mut alphas = vec![0.0; self.ys.len()];
            for (i, (y, s, rho)) in self.ys.iter().enumerate().rev() {
                alphas[i] = dot(s, &q).await? * rho;
                q = q - y.clone() * alphas[i];
            }
            let mut r = q * self.h_diag;
            for (i, (y, s, rho)) in self.ys.iter().enumerate() {
                let beta = dot(y, &r).await? * rho;
                r = r + s.clone() * (alphas[i] - beta);
            }
            r
        };
        let t = if self.iterations == 1 {
            (1.0 / scalar(g.clone().abs().sum()).await?).min(1.0) * self.lr
        } else {
            self.lr
        };
        let gtd = dot(&g, &d).await?;
        self.prev_grad = Some(g);
        if gtd > -LBFGS_TOLERANCE_CHANGE {
            // PyTorch breaks before moving, keeping d and t for the next pair.
            self.prev_step = Some(d * t);
            return Ok(None);
        }
        let step = d * t;
        self.prev_step = Some(step.clone());
        Ok(Some(step))
    }
}
