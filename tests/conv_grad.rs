//! libtorch's convolution gradients (ATen's `convolution_backward`, vendor/burn-tch) against
//! burn's generic ones (flex runs them), for the convolutions niclab trains: the model's
//! strided convolutions and transposed convolutions, the SSIM's grouped 1x11 / 11x1 blurs,
//! and the shapes around them (odd sizes, groups, dilation, asymmetric padding).
#![cfg(feature = "tch")]

use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor, TensorData};

/// Deterministic values in [-1, 1) (a fixed LCG: the same numbers on both backends).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed), shape), device).require_grad()
}

enum Op {
    Conv(ConvOptions<2>),
    Transposed(ConvTransposeOptions<2>),
}

/// Gradients of x, weight and bias (if any) of `sum(op(x) * r)` for a fixed random `r`.
fn grads(
    device: &Device,
    x: [usize; 4],
    w: [usize; 4],
    bias: Option<usize>,
    op: &Op,
) -> Vec<Vec<f32>> {
    let ad = device.clone().autodiff();
    let x = tensor(x, 1, &ad);
    let w = tensor(w, 2, &ad);
    let b = bias.map(|n| tensor([n], 3, &ad));
    let y = match op {
        Op::Conv(o) => conv2d(x.clone(), w.clone(), b.clone(), o.clone()),
        Op::Transposed(o) => conv_transpose2d(x.clone(), w.clone(), b.clone(), o.clone()),
    };
    let r = Tensor::from_data(
        TensorData::new(values(y.shape().num_elements(), 4), y.dims()),
        &ad,
    );
    let g = (y * r).sum().backward();
    let flat = |t: Option<Tensor<4>>| {
        t.expect("gradient")
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let mut out = vec![flat(x.grad(&g)), flat(w.grad(&g))];
    if let Some(b) = b {
        out.push(
            b.grad(&g)
                .expect("bias gradient")
                .into_data()
                .try_to_vec()
                .unwrap(),
        );
    }
    out
}

#[allow(deprecated)] // burn marks burn-tch deprecated in favour of CubeCL backends
fn check(name: &str, x: [usize; 4], w: [usize; 4], bias: Option<usize>, op: Op) {
    let generic = grads(&Device::flex(), x, w, bias, &op);
    let aten = grads(&Device::libtorch(), x, w, bias, &op);
    for (which, (a, b)) in ["x", "weight", "bias"]
        .iter()
        .zip(generic.iter().zip(&aten))
    {
        assert_eq!(a.len(), b.len(), "{name}: {which} gradient sizes");
        let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        // f32 sums of up to a few thousand products, in another order: rounding only.
        assert!(
            worst <= 2e-5 * scale,
            "{name}: {which} gradients differ by {worst} (largest {scale})"
        );
        assert!(
            a.iter().any(|v| *v != 0.0),
            "{name}: {which} gradient is all zero"
        );
    }
}

#[test]
fn conv2d_gradients_match_the_generic_ones() {
    // The model's encoder: 3x3, stride 2, padding 1, on an odd-sized input.
    let stride2 = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
    check(
        "encoder stride 2",
        [3, 3, 17, 16],
        [8, 3, 3, 3],
        Some(8),
        Op::Conv(stride2),
    );
    let stride1 = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    check(
        "encoder stride 1",
        [2, 8, 9, 9],
        [6, 8, 3, 3],
        Some(6),
        Op::Conv(stride1),
    );
    // The SSIM: five moments of three channels blurred in 15 groups, 1x11 then 11x1.
    let ssim = ConvOptions::new([1, 1], [0, 0], [1, 1], 15);
    check(
        "ssim 1x11",
        [2, 15, 20, 21],
        [15, 1, 1, 11],
        None,
        Op::Conv(ssim.clone()),
    );
    check(
        "ssim 11x1",
        [2, 15, 21, 20],
        [15, 1, 11, 1],
        None,
        Op::Conv(ssim),
    );
    let grouped = ConvOptions::new([2, 1], [1, 2], [2, 1], 2);
    check(
        "groups, dilation",
        [2, 4, 11, 10],
        [6, 2, 3, 3],
        Some(6),
        Op::Conv(grouped),
    );
    let asym = ConvOptions::new_with_padding([1, 2], [(0, 2), (1, 0)], [1, 1], 1);
    check(
        "asymmetric padding",
        [2, 3, 9, 10],
        [4, 3, 3, 2],
        Some(4),
        Op::Conv(asym),
    );
}

#[test]
fn conv_transpose2d_gradients_match_the_generic_ones() {
    // The model's decoder: 3x3, stride 2, padding 1, output padding 1 (doubles the size).
    let up = ConvTransposeOptions::new([2, 2], [1, 1], [1, 1], [1, 1], 1);
    check(
        "decoder stride 2",
        [3, 8, 8, 7],
        [8, 3, 3, 3],
        Some(3),
        Op::Transposed(up),
    );
    let same = ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1);
    check(
        "decoder stride 1",
        [2, 6, 9, 9],
        [6, 4, 3, 3],
        Some(4),
        Op::Transposed(same),
    );
    let grouped = ConvTransposeOptions::new([2, 2], [0, 1], [1, 0], [1, 1], 2);
    check(
        "groups",
        [2, 4, 6, 5],
        [4, 3, 3, 3],
        Some(6),
        Op::Transposed(grouped),
    );
}
