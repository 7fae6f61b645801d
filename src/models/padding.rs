//! Padding and cropping images around the networks: reflection padding inside them
//! (`ReflectionPad2d`), and padding to a size they accept, then cropping back.

use burn::tensor::Tensor;

/// `ReflectionPad2d(p)`.
pub fn reflect_pad(x: Tensor<4>, p: usize) -> Tensor<4> {
    x.pad([(p, p), (p, p)], burn::tensor::ops::PadMode::Reflect)
}

/// Pads `x` on the spatial sides so that height and width become multiples of `multiple`,
/// by reflection (repeated, so any amount works even for tiny images), the padding split
/// evenly with the extra pixel at the bottom / right. Returns the padded tensor and the
/// `(top, left)` offset of the original, for [`crop`].
pub fn pad_to_multiple(x: Tensor<4>, multiple: usize) -> (Tensor<4>, [usize; 2]) {
    let [_, _, h, w] = x.dims();
    let target = |n: usize| n.div_ceil(multiple.max(1)) * multiple.max(1);
    let (ph, pw) = (target(h) - h, target(w) - w);
    let (top, left) = (ph / 2, pw / 2);
    let x = reflect_pad_sides(x, [top, ph - top, left, pw - left]);
    (x, [top, left])
}

/// Reflection padding of `[top, bottom, left, right]` pixels; amounts beyond what one
/// reflection gives (`size - 1`) are reached by reflecting again. A dimension of size 1
/// is repeated.
pub fn reflect_pad_sides(mut x: Tensor<4>, mut pad: [usize; 4]) -> Tensor<4> {
    use burn::tensor::ops::PadMode;
    while pad.iter().any(|&p| p > 0) {
        let [_, _, h, w] = x.dims();
        let step = |p: &mut usize, size: usize| {
            let s = (*p).min(size.saturating_sub(1));
            *p -= s;
            s
        };
        let (t, b) = (step(&mut pad[0], h), step(&mut pad[1], h));
        let (l, r) = (step(&mut pad[2], w), step(&mut pad[3], w));
        if t + b + l + r == 0 {
            // A side of one pixel cannot reflect: repeat it instead.
            let grow = |p: usize, size: usize| if size == 1 { p.min(1) } else { 0 };
            let edge = [grow(pad[0], h), grow(pad[1], h), grow(pad[2], w), grow(pad[3], w)];
            for (p, e) in pad.iter_mut().zip(edge) {
                *p -= e;
            }
            x = x.pad([(edge[0], edge[1]), (edge[2], edge[3])], PadMode::Edge);
            continue;
        }
        x = x.pad([(t, b), (l, r)], PadMode::Reflect);
    }
    x
}

/// Crops `[top.., left..]` of size `h x w` out of `x`.
pub fn crop(x: Tensor<4>, [top, left]: [usize; 2], h: usize, w: usize) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    x.slice([0..b, 0..c, top..top + h, left..left + w])
}
