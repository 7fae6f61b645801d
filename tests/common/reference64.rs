//! Independent f64 references for the kernels, written as plain loops over
//! slices (no Burn): the WGSL kernels and the Burn-op compositions are both
//! checked against these, and these are checked against finite differences.
//! Shared by the unit tests (src/kernels/tests) and the browser tests.
#![allow(dead_code)]

/// `G[b] = scale * F[b] F[b]^T`, with the per-element error scale
/// `scale * sum_k |F_ik F_jk|` (what f32 summation error is proportional to).
pub fn gram(f: &[f32], b: usize, c: usize, n: usize, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let mut g = vec![0.0; b * c * c];
    let mut mag = vec![0.0; b * c * c];
    for bb in 0..b {
        for i in 0..c {
            for j in 0..c {
                let (mut s, mut m) = (0.0f64, 0.0f64);
                for k in 0..n {
                    let p = f[(bb * c + i) * n + k] as f64 * f[(bb * c + j) * n + k] as f64;
                    s += p;
                    m += p.abs();
                }
                g[(bb * c + i) * c + j] = s * scale;
                mag[(bb * c + i) * c + j] = m * scale.abs();
            }
        }
    }
    (g, mag)
}

/// `dF = scale * (dG + dG^T) F`, with the error scale `scale * sum_j |dG_ij + dG_ji| |F_jk|`.
pub fn gram_backward(dg: &[f32], f: &[f32], b: usize, c: usize, n: usize, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let mut df = vec![0.0; b * c * n];
    let mut mag = vec![0.0; b * c * n];
    for bb in 0..b {
        for i in 0..c {
            for k in 0..n {
                let (mut s, mut m) = (0.0f64, 0.0f64);
                for j in 0..c {
                    let sym = dg[(bb * c + i) * c + j] as f64 + dg[(bb * c + j) * c + i] as f64;
                    let p = sym * f[(bb * c + j) * n + k] as f64;
                    s += p;
                    m += p.abs();
                }
                df[(bb * c + i) * n + k] = s * scale;
                mag[(bb * c + i) * n + k] = m * scale.abs();
            }
        }
    }
    (df, mag)
}

/// Instance norm forward over `[B, C, HW]` planes; returns `y`.
pub fn instance_norm(x: &[f32], b: usize, c: usize, hw: usize, gamma: &[f32], beta: &[f32], eps: f64) -> Vec<f64> {
    let mut y = vec![0.0; b * c * hw];
    for p in 0..b * c {
        let ch = p % c;
        let plane = &x[p * hw..(p + 1) * hw];
        let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / hw as f64;
        let var = plane.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / hw as f64;
        let inv = 1.0 / (var + eps).sqrt();
        for k in 0..hw {
            y[p * hw + k] = (plane[k] as f64 - mean) * inv * gamma[ch] as f64 + beta[ch] as f64;
        }
    }
    y
}

/// Instance norm backward: `(dx, dgamma, dbeta)` for upstream `dy`.
pub fn instance_norm_backward(
    x: &[f32],
    dy: &[f32],
    b: usize,
    c: usize,
    hw: usize,
    gamma: &[f32],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; b * c * hw];
    let mut dgamma = vec![0.0; c];
    let mut dbeta = vec![0.0; c];
    for p in 0..b * c {
        let ch = p % c;
        let plane = &x[p * hw..(p + 1) * hw];
        let g = &dy[p * hw..(p + 1) * hw];
        let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / hw as f64;
        let var = plane.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / hw as f64;
        let inv = 1.0 / (var + eps).sqrt();
        let xhat: Vec<f64> = plane.iter().map(|&v| (v as f64 - mean) * inv).collect();
        let mean_dy = g.iter().map(|&v| v as f64).sum::<f64>() / hw as f64;
        let mean_dy_xhat = g.iter().zip(&xhat).map(|(&d, &h)| d as f64 * h).sum::<f64>() / hw as f64;
        for k in 0..hw {
            dx[p * hw + k] = gamma[ch] as f64 * inv * (g[k] as f64 - mean_dy - xhat[k] * mean_dy_xhat);
        }
        dgamma[ch] += g.iter().zip(&xhat).map(|(&d, &h)| d as f64 * h).sum::<f64>();
        dbeta[ch] += g.iter().map(|&v| v as f64).sum::<f64>();
    }
    (dx, dgamma, dbeta)
}

/// Deterministic pseudo-random values in `[-1, 1)` (xorshift), so tests need no RNG crate.
pub fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// Asserts `|got - want| <= rel * (|want| + mag) + abs` elementwise, naming the first failure.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], mag: Option<&[f64]>, rel: f64, abs: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0.0f64, 0usize);
    for i in 0..got.len() {
        let m = mag.map_or(0.0, |m| m[i]);
        let err = (got[i] as f64 - want[i]).abs();
        let bound = rel * (want[i].abs() + m) + abs;
        let ratio = err / bound;
        if ratio > worst.0 {
            worst = (ratio, i);
        }
        assert!(
            err <= bound,
            "{what}: element {i}: got {} want {} (error {err:.3e} > bound {bound:.3e})",
            got[i],
            want[i]
        );
    }
    let _ = worst;
}

/// The shape of a convolution or transposed convolution: input `[b, cin, h, w]`, square
/// kernel `k`, `stride`, zero `padding`, and for a transposed one its `output_padding`.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    pub b: usize,
    pub cin: usize,
    pub cout: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub padding: usize,
    /// `Some(output_padding)` for a transposed convolution.
    pub transposed: Option<usize>,
}

impl ConvShape {
    /// Output `[h, w]`.
    pub fn out_hw(&self) -> (usize, usize) {
        let (k, s, p) = (self.k, self.stride, self.padding);
        match self.transposed {
            None => ((self.h + 2 * p - k) / s + 1, (self.w + 2 * p - k) / s + 1),
            Some(op) => ((self.h - 1) * s + k + op - 2 * p, (self.w - 1) * s + k + op - 2 * p),
        }
    }

    pub fn input_len(&self) -> usize {
        self.b * self.cin * self.h * self.w
    }

    pub fn output_len(&self) -> usize {
        let (oh, ow) = self.out_hw();
        self.b * self.cout * oh * ow
    }

    /// Weight shape: `[cout, cin, k, k]`, or `[cin, cout, k, k]` when transposed (PyTorch).
    pub fn weight_dims(&self) -> [usize; 4] {
        match self.transposed {
            None => [self.cout, self.cin, self.k, self.k],
            Some(_) => [self.cin, self.cout, self.k, self.k],
        }
    }

    /// Every (output, input, weight) index triple the operation multiplies and adds, straight
    /// from its definition: a convolution reads input `o*s - p + k` into output `o`; a
    /// transposed one writes input `i` into output `i*s - p + k`.
    pub fn connections(&self) -> Vec<(usize, usize, usize)> {
        let (oh, ow) = self.out_hw();
        let (k, s, p) = (self.k as isize, self.stride as isize, self.padding as isize);
        let mut out = Vec::new();
        for b in 0..self.b {
            for ci in 0..self.cin {
                for co in 0..self.cout {
                    for kh in 0..k {
                        for kw in 0..k {
                            let wi = match self.transposed {
                                None => ((co * self.cin + ci) * self.k + kh as usize) * self.k + kw as usize,
                                Some(_) => ((ci * self.cout + co) * self.k + kh as usize) * self.k + kw as usize,
                            };
                            // (small spatial index, large spatial index) pairs per axis.
                            let (small_h, small_w) = match self.transposed {
                                None => (oh, ow),
                                Some(_) => (self.h, self.w),
                            };
                            let (large_h, large_w) = match self.transposed {
                                None => (self.h, self.w),
                                Some(_) => (oh, ow),
                            };
                            for i in 0..small_h as isize {
                                let j = i * s - p + kh;
                                if j < 0 || j >= large_h as isize {
                                    continue;
                                }
                                for i2 in 0..small_w as isize {
                                    let j2 = i2 * s - p + kw;
                                    if j2 < 0 || j2 >= large_w as isize {
                                        continue;
                                    }
                                    let (in_hw, out_hw) = match self.transposed {
                                        None => ((j as usize, j2 as usize), (i as usize, i2 as usize)),
                                        Some(_) => ((i as usize, i2 as usize), (j as usize, j2 as usize)),
                                    };
                                    let xi = ((b * self.cin + ci) * self.h + in_hw.0) * self.w + in_hw.1;
                                    let yi = ((b * self.cout + co) * oh + out_hw.0) * ow + out_hw.1;
                                    out.push((yi, xi, wi));
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

/// Forward: `(y, magnitude)` with `y[o] = bias[c(o)] + sum w x` over the connections, and the
/// magnitude `|bias| + sum |w x|`.
pub fn conv(shape: &ConvShape, x: &[f32], w: &[f32], bias: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (oh, ow) = shape.out_hw();
    let channel = |o: usize| o / (oh * ow) % shape.cout;
    let mut y: Vec<f64> = (0..shape.output_len()).map(|o| bias[channel(o)] as f64).collect();
    let mut mag: Vec<f64> = y.iter().map(|v| v.abs()).collect();
    for (o, i, k) in shape.connections() {
        let p = w[k] as f64 * x[i] as f64;
        y[o] += p;
        mag[o] += p.abs();
    }
    (y, mag)
}

/// Gradients of `sum(dy .* y)`: `(dx, dx magnitude, dw, dw magnitude, dbias, dbias magnitude)`.
#[allow(clippy::type_complexity)]
pub fn conv_backward(
    shape: &ConvShape,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (oh, ow) = shape.out_hw();
    let mut dx = vec![0.0; x.len()];
    let mut dx_mag = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    let mut dw_mag = vec![0.0; w.len()];
    for (o, i, k) in shape.connections() {
        let a = w[k] as f64 * dy[o] as f64;
        dx[i] += a;
        dx_mag[i] += a.abs();
        let b = x[i] as f64 * dy[o] as f64;
        dw[k] += b;
        dw_mag[k] += b.abs();
    }
    let mut db = vec![0.0; shape.cout];
    let mut db_mag = vec![0.0; shape.cout];
    for (o, &g) in dy.iter().enumerate() {
        db[o / (oh * ow) % shape.cout] += g as f64;
        db_mag[o / (oh * ow) % shape.cout] += (g as f64).abs();
    }
    (dx, dx_mag, dw, dw_mag, db, db_mag)
}
