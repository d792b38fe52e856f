//! niclab's addition: burn's 2-D convolution gradients through ATen's `convolution_backward`
//! (`conv_backward.cpp`), the function PyTorch's autograd calls, instead of burn's generic
//! versions built from forward ops (a transposed convolution for the input gradient, a
//! convolution over the swapped batch for the weight gradient).

use std::ffi::{CStr, c_char, c_int};
use std::ptr::null_mut;

use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn burn_tch_convolution_backward(
        grad_output: *const C_tensor,
        input: *const C_tensor,
        weight: *const C_tensor,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        output_padding: *const i64,
        dims: c_int,
        transposed: c_int,
        groups: i64,
        want_input: c_int,
        want_weight: c_int,
        grad_input: *mut *mut C_tensor,
        grad_weight: *mut *mut C_tensor,
    ) -> *mut c_char;
}

/// Which gradient to compute: ATen computes only what is asked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    Input,
    Weight,
}

/// A convolution's geometry in ATen's terms (symmetric padding).
pub(crate) struct Geometry<const N: usize> {
    stride: [i64; N],
    padding: [i64; N],
    dilation: [i64; N],
    output_padding: [i64; N],
    transposed: bool,
    groups: i64,
}

impl<const N: usize> Geometry<N> {
    /// A forward convolution; the caller has padded asymmetric inputs already.
    pub(crate) fn conv(options: &ConvOptions<N>) -> Self {
        Self {
            stride: options.stride.map(|v| v as i64),
            padding: options.padding.map(|(begin, _)| begin as i64),
            dilation: options.dilation.map(|v| v as i64),
            output_padding: [0; N],
            transposed: false,
            groups: options.groups as i64,
        }
    }

    pub(crate) fn transposed(options: &ConvTransposeOptions<N>) -> Self {
        Self {
            stride: options.stride.map(|v| v as i64),
            padding: options.padding.map(|v| v as i64),
            dilation: options.dilation.map(|v| v as i64),
            output_padding: options.padding_out.map(|v| v as i64),
            transposed: true,
            groups: options.groups as i64,
        }
    }
}

/// The gradient of a convolution's `input` or `weight` given its output's gradient.
pub(crate) fn convolution_backward<const N: usize>(
    grad_output: &tch::Tensor,
    input: &tch::Tensor,
    weight: &tch::Tensor,
    geometry: &Geometry<N>,
    wanted: Wanted,
) -> tch::Tensor {
    let (mut grad_input, mut grad_weight) = (null_mut(), null_mut());
    // SAFETY: the tensor pointers are live tch tensors (`torch::Tensor*`), the four arrays hold
    // N values each, and the out pointers receive new `torch::Tensor*` (or null) that
    // `Tensor::from_ptr` takes ownership of.
    let error = unsafe {
        burn_tch_convolution_backward(
            grad_output.as_ptr(),
            input.as_ptr(),
            weight.as_ptr(),
            geometry.stride.as_ptr(),
            geometry.padding.as_ptr(),
            geometry.dilation.as_ptr(),
            geometry.output_padding.as_ptr(),
            N as c_int,
            geometry.transposed as c_int,
            geometry.groups,
            (wanted == Wanted::Input) as c_int,
            (wanted == Wanted::Weight) as c_int,
            &mut grad_input,
            &mut grad_weight,
        )
    };
    if !error.is_null() {
        // SAFETY: a NUL-terminated string from strdup, freed once here.
        let message = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
        unsafe { libc::free(error.cast()) };
        // As every other burn-tch op does with a libtorch error.
        panic!("libtorch convolution_backward: {message}");
    }
    let out = match wanted {
        Wanted::Input => grad_input,
        Wanted::Weight => grad_weight,
    };
    // SAFETY: non-null on success for the wanted gradient (see conv_backward.cpp).
    unsafe { tch::Tensor::from_ptr(out) }
}

/// The bias gradient: the output gradient summed over batch and space.
pub(crate) fn bias_backward(grad_output: &tch::Tensor) -> tch::Tensor {
    let dims: Vec<i64> = (0..grad_output.dim() as i64).filter(|&d| d != 1).collect();
    grad_output.sum_dim_intlist(dims.as_slice(), false, grad_output.kind())
}
