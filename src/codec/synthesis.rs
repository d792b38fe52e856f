//! The hyper-synthesis `h_s` of [`super::hyperprior`] in plain scalar Rust, for the coder:
//! the scale it predicts for each latent value picks that value's probability table, so
//! encoder and decoder must compute it to the same bits, whatever backend, CPU or GPU
//! trained or runs the model. burn's convolutions do not promise that (their summation
//! order, blocking and fused multiply-adds differ between backends and machines); this code
//! does: every output value is one f32 sum in a fixed order (input channel, kernel row,
//! kernel column), the bias added last, LeakyReLU as a comparison and one product, no fused
//! multiply-add (Rust never contracts `a * b + c` on its own) and no library math, so IEEE
//! 754 gives the same bits on every machine. Values are computed independently of each
//! other, so splitting the work across threads changes nothing.
//!
//! No burn here: the fuzz target can compile it with the rest of the format.

/// One convolution's weights, in PyTorch's layouts: `[c_out, c_in, k, k]` for a convolution,
/// `[c_in, c_out, k, k]` for a transposed one.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Square kernel side (odd).
    pub k: usize,
    /// The weights.
    pub weight: Vec<f32>,
    /// `c_out` biases.
    pub bias: Vec<f32>,
}

/// `h_s`: two transposed convolutions (5x5, stride 2, padding 2, output padding 1: each
/// doubles the size) with LeakyReLU after each, then a 3x3 convolution (padding 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesis {
    /// The two transposed convolutions.
    pub up: [Layer; 2],
    /// The last convolution: `2M` channels, scales first, then means.
    pub out: Layer,
    /// LeakyReLU's slope below 0.
    pub slope: f32,
}

/// A `[c, h, w]` planar f32 map.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    /// Channels.
    pub c: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
    /// `c * h * w` values.
    pub data: Vec<f32>,
}

impl Map {
    #[cfg(test)]
    fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.data[(c * self.h + y) * self.w + x]
    }
}

impl Layer {
    fn consistent(&self) -> bool {
        self.k % 2 == 1
            && self.weight.len() == self.c_in * self.c_out * self.k * self.k
            && self.bias.len() == self.c_out
    }
}

impl Synthesis {
    /// Whether the layers fit together and their weights have their shapes' sizes, for an
    /// input of `channels` channels and an output of twice as many.
    pub fn fits(&self, channels: usize) -> bool {
        let [a, b] = &self.up;
        [a, b, &self.out].iter().all(|l| l.consistent())
            && a.c_in == channels
            && b.c_in == a.c_out
            && self.out.c_in == b.c_out
            && self.out.c_out == 2 * channels
    }

    /// `h_s(ẑ)`: the raw `[2M, 4h, 4w]` output (scales, then means; the scales not yet
    /// floored).
    pub fn run(&self, z: &Map) -> Map {
        let a = self.leaky(transposed(&self.up[0], z));
        let b = self.leaky(transposed(&self.up[1], &a));
        conv(&self.out, &b)
    }

    fn leaky(&self, mut m: Map) -> Map {
        for v in &mut m.data {
            if *v < 0.0 {
                *v *= self.slope;
            }
        }
        m
    }
}

/// Output channels computed on each thread: every value is independent, so the split does
/// not change a bit.
fn par_channels(c_out: usize, plane: usize, f: impl Fn(usize, &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0f32; c_out * plane];
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(c_out)
        .max(1);
    let per = c_out.div_ceil(threads);
    std::thread::scope(|s| {
        for (t, chunk) in out.chunks_mut(per * plane).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (j, channel) in chunk.chunks_mut(plane).enumerate() {
                    f(t * per + j, channel);
                }
            });
        }
    });
    out
}

/// Every output value of one layer as one f32 sum in a fixed order (input channel, kernel
/// row, kernel column), the bias added last. `tap(out, kernel, in_len)` is the input
/// row/column that kernel position `kernel` reads for output row/column `out` (`None`: none),
/// `weight(o, i, ky, kx)` the weight's index.
///
/// The loops run over (input channel, kernel row, kernel column) outside and output
/// positions inside, each output keeping its own running sum: every value still receives
/// its terms in exactly that order (the test module holds this to the one-value-at-a-time
/// definition, bit for bit), while the inner loop walks rows of the maps, which the compiler
/// can vectorise without reordering any sum.
fn gather(
    l: &Layer,
    x: &Map,
    (h, w): (usize, usize),
    tap: impl Fn(usize, usize, usize) -> Option<usize> + Sync,
    weight: impl Fn(usize, usize, usize, usize) -> usize + Sync,
) -> Map {
    // For each kernel row (column): the output rows (columns) it reaches and the input rows
    // (columns) they read.
    let rows: Vec<Vec<(usize, usize)>> = (0..l.k)
        .map(|t| (0..h).filter_map(|o| Some((o, tap(o, t, x.h)?))).collect())
        .collect();
    let cols: Vec<Run> = (0..l.k)
        .map(|t| Run::of((0..w).filter_map(|o| Some((o, tap(o, t, x.w)?))).collect()))
        .collect();
    let data = par_channels(l.c_out, h * w, |o, plane| {
        for i in 0..l.c_in {
            let input = &x.data[i * x.h * x.w..][..x.h * x.w];
            for (ky, rows) in rows.iter().enumerate() {
                for (kx, run) in cols.iter().enumerate() {
                    let wv = l.weight[weight(o, i, ky, kx)];
                    for &(oy, iy) in rows {
                        run.add(&mut plane[oy * w..][..w], &input[iy * x.w..][..x.w], wv);
                    }
                }
            }
        }
        for v in plane.iter_mut() {
            *v += l.bias[o];
        }
    });
    Map {
        c: l.c_out,
        h,
        w,
        data,
    }
}

/// The output columns one kernel column reaches along a row, and the input columns they
/// read: `n` of them, outputs from `out` every `step`, inputs from `input` one by one (a
/// stride-1 convolution steps 1, a stride-2 transposed one 2).
#[derive(Debug, Clone, Copy)]
struct Run {
    out: usize,
    input: usize,
    n: usize,
    step: usize,
}

impl Run {
    /// The run of `(output, input)` pairs, which the taps of both layers make arithmetic.
    fn of(pairs: Vec<(usize, usize)>) -> Self {
        let (out, input) = pairs.first().copied().unwrap_or((0, 0));
        let step = pairs.get(1).map_or(1, |p| p.0 - out);
        debug_assert!(
            pairs
                .iter()
                .enumerate()
                .all(|(j, p)| *p == (out + j * step, input + j))
        );
        Self {
            out,
            input,
            n: pairs.len(),
            step,
        }
    }

    /// `row[out + j step] += input[input + j] * wv` for every j: one term of each sum.
    fn add(&self, row: &mut [f32], input: &[f32], wv: f32) {
        let inputs = &input[self.input..][..self.n];
        if self.step == 1 {
            for (r, v) in row[self.out..][..self.n].iter_mut().zip(inputs) {
                *r += *v * wv;
            }
        } else {
            for (r, v) in row[self.out..].iter_mut().step_by(self.step).zip(inputs) {
                *r += *v * wv;
            }
        }
    }
}

/// A 5x5 (any odd `k`) transposed convolution, stride 2, padding `k / 2`, output padding 1:
/// `[c_in, h, w]` to `[c_out, 2h, 2w]`, as PyTorch's `ConvTranspose2d` and burn's.
fn transposed(l: &Layer, x: &Map) -> Map {
    let (k, pad) = (l.k, l.k / 2);
    // Output o gets input i through kernel position t when o = 2 i - pad + t.
    let tap = |o: usize, t: usize, len: usize| {
        let u = (o + pad).checked_sub(t)?;
        (u % 2 == 0 && u / 2 < len).then_some(u / 2)
    };
    let weight = |o: usize, i: usize, ky: usize, kx: usize| ((i * l.c_out + o) * k + ky) * k + kx;
    gather(l, x, (x.h * 2, x.w * 2), tap, weight)
}

/// A `k x k` convolution, stride 1, zero padding `k / 2`: `[c_in, h, w]` to `[c_out, h, w]`.
fn conv(l: &Layer, x: &Map) -> Map {
    let (k, pad) = (l.k, l.k / 2);
    let tap = |o: usize, t: usize, len: usize| (o + t).checked_sub(pad).filter(|v| *v < len);
    let weight = |o: usize, i: usize, ky: usize, kx: usize| ((o * l.c_in + i) * k + ky) * k + kx;
    gather(l, x, (x.h, x.w), tap, weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The definition, one output value at a time: its terms summed over input channel,
    /// kernel row and kernel column in that order, the bias last.
    fn one_at_a_time(
        l: &Layer,
        x: &Map,
        (h, w): (usize, usize),
        tap: impl Fn(usize, usize, usize) -> Option<usize>,
        weight: impl Fn(usize, usize, usize, usize) -> usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; l.c_out * h * w];
        for o in 0..l.c_out {
            for oy in 0..h {
                for ox in 0..w {
                    let mut acc = 0f32;
                    for i in 0..l.c_in {
                        for ky in 0..l.k {
                            let Some(iy) = tap(oy, ky, x.h) else { continue };
                            for kx in 0..l.k {
                                let Some(ix) = tap(ox, kx, x.w) else { continue };
                                acc += x.at(i, iy, ix) * l.weight[weight(o, i, ky, kx)];
                            }
                        }
                    }
                    out[(o * h + oy) * w + ox] = acc + l.bias[o];
                }
            }
        }
        out
    }

    /// The layers' loop order gives the definition's bits, on values spread over many
    /// magnitudes (where a reordered sum would round differently).
    #[test]
    fn both_layers_give_the_definitions_bits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut spread = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| rng.random_range(-1.0f32..1.0) * 10f32.powi(rng.random_range(-3..4)))
                .collect()
        };
        for (k, c_in, c_out, h, w) in [(5, 3, 4, 5, 7), (3, 4, 2, 6, 1), (5, 2, 3, 1, 1)] {
            let l = Layer {
                c_in,
                c_out,
                k,
                weight: spread(c_in * c_out * k * k),
                bias: spread(c_out),
            };
            let x = Map {
                c: c_in,
                h,
                w,
                data: spread(c_in * h * w),
            };
            let pad = k / 2;
            let up = transposed(&l, &x);
            let want = one_at_a_time(
                &l,
                &x,
                (2 * h, 2 * w),
                |o, t, len| {
                    let u = (o + pad).checked_sub(t)?;
                    (u % 2 == 0 && u / 2 < len).then_some(u / 2)
                },
                |o, i, ky, kx| ((i * c_out + o) * k + ky) * k + kx,
            );
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&up.data), bits(&want), "transposed {k} {c_in} {h}x{w}");
            let same = conv(&l, &x);
            let want = one_at_a_time(
                &l,
                &x,
                (h, w),
                |o, t, len| (o + t).checked_sub(pad).filter(|v| *v < len),
                |o, i, ky, kx| ((o * c_in + i) * k + ky) * k + kx,
            );
            assert_eq!(bits(&same.data), bits(&want), "conv {k} {c_in} {h}x{w}");
        }
    }

    /// One input value through a transposed convolution lands where PyTorch puts it: at
    /// output `2 iy - pad + ky`, so with a kernel of a single 1 at its centre the value at
    /// (iy, ix) goes to (2 iy, 2 ix), and the output is twice the size.
    #[test]
    fn transposed_places_values_as_pytorch() {
        let k = 5;
        let mut weight = vec![0f32; k * k];
        weight[2 * k + 2] = 1.0;
        let l = Layer {
            c_in: 1,
            c_out: 1,
            k,
            weight,
            bias: vec![0.5],
        };
        let x = Map {
            c: 1,
            h: 2,
            w: 3,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let y = transposed(&l, &x);
        assert_eq!((y.c, y.h, y.w), (1, 4, 6));
        for iy in 0..2 {
            for ix in 0..3 {
                assert_eq!(y.at(0, 2 * iy, 2 * ix), x.at(0, iy, ix) + 0.5);
                assert_eq!(y.at(0, 2 * iy + 1, 2 * ix), 0.5);
            }
        }
    }

    #[test]
    fn conv_sums_the_padded_neighbourhood() {
        let l = Layer {
            c_in: 1,
            c_out: 2,
            k: 3,
            weight: [
                vec![1.0; 9],
                vec![0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0],
            ]
            .concat(),
            bias: vec![0.0, -1.0],
        };
        let x = Map {
            c: 1,
            h: 2,
            w: 2,
            data: vec![1.0, 2.0, 3.0, 4.0],
        };
        let y = conv(&l, &x);
        // Every 3x3 window of a 2x2 map covers all four values.
        assert_eq!(&y.data[..4], &[10.0; 4]);
        assert_eq!(&y.data[4..], &[1.0, 3.0, 5.0, 7.0]);
    }
}
