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
