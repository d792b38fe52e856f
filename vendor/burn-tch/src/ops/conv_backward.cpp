// niclab's addition to burn-tch: ATen's own convolution backward (the kernels PyTorch's
// autograd runs: oneDNN on CPU, cuDNN on CUDA) for burn's conv gradient ops, which burn
// otherwise rebuilds from forward convolutions and dimension swaps.
#include <ATen/ops/convolution_backward.h>
#include <cstring>
#include <exception>

extern "C" {

// Gradients of one 1-, 2- or 3-D (transposed) convolution; `mask` picks which of input and
// weight are computed, the others stay null. Returns a malloc'ed message on error, else null.
char *burn_tch_convolution_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                    const at::Tensor *weight, const int64_t *stride,
                                    const int64_t *padding, const int64_t *dilation,
                                    const int64_t *output_padding, int dims, int transposed,
                                    int64_t groups, int want_input, int want_weight,
                                    at::Tensor **grad_input, at::Tensor **grad_weight) {
  try {
    auto grads = at::convolution_backward(
        *grad_output, *input, *weight, std::nullopt, at::IntArrayRef(stride, dims),
        at::IntArrayRef(padding, dims), at::IntArrayRef(dilation, dims), transposed != 0,
        at::IntArrayRef(output_padding, dims), groups,
        {want_input != 0, want_weight != 0, false});
    *grad_input = want_input ? new at::Tensor(std::get<0>(grads)) : nullptr;
    *grad_weight = want_weight ? new at::Tensor(std::get<1>(grads)) : nullptr;
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
}
