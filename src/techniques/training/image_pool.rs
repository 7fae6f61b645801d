//! The history of generated images a CycleGAN discriminator is shown (Shrivastava et al.;
//! junyanz's `util/image_pool.py`).

use burn::tensor::Tensor;

/// The history of generated images a CycleGAN discriminator is shown (Shrivastava et al.):
/// up to `capacity` images; once full, each new image is, with probability 1/2, swapped
/// with a random stored one (the stored one is returned) or passed through.
pub struct ImagePool {
    capacity: usize,
    pub(crate) images: Vec<Tensor<4>>,
    pub(crate) rng: u64,
}

impl ImagePool {
    pub fn new(capacity: usize, seed: u64) -> Self {
        ImagePool { capacity, images: Vec::new(), rng: seed ^ 0x2545_F491_4F6C_DD1D }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// How many images it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Images stored.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The batch to show the discriminator for this (detached) batch of fakes.
    pub fn query(&mut self, fakes: Tensor<4>) -> Tensor<4> {
        if self.capacity == 0 {
            return fakes;
        }
        let [b, c, h, w] = fakes.dims();
        let mut out = Vec::with_capacity(b);
        for i in 0..b {
            let image = fakes.clone().slice([i..i + 1, 0..c, 0..h, 0..w]);
            if self.images.len() < self.capacity {
                self.images.push(image.clone());
                out.push(image);
            } else if self.next().is_multiple_of(2) {
                let k = (self.next() % self.capacity as u64) as usize;
                out.push(std::mem::replace(&mut self.images[k], image));
            } else {
                out.push(image);
            }
        }
        Tensor::cat(out, 0)
    }
}
