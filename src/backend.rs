//! Picking the compute device at run time from `[train] backend` and `device`.
//!
//! flex (burn's pure-Rust CPU backend) is always built in. libtorch (burn-tch, PyTorch's
//! C++ library, CPU or CUDA) comes with the `tch` cargo feature, which `make libtorch` sets
//! up; a binary without it says so instead of failing later.

use anyhow::{Result, bail};
use burn::tensor::Device;

use crate::config::{Backend, DeviceSpec};

/// Whether this binary was built with the libtorch backend.
pub const HAS_LIBTORCH: bool = cfg!(feature = "tch");

/// The (non-autodiff) device for a backend and device choice, or an error saying what to do.
pub fn device(backend: Backend, spec: DeviceSpec) -> Result<Device> {
    match (backend, spec) {
        (Backend::Flex, DeviceSpec::Cpu) => Ok(Device::flex()),
        (Backend::Flex, DeviceSpec::Cuda(_)) => bail!(
            "train.device = \"{spec}\": the flex backend runs on the CPU only; use \
             train.backend = \"libtorch\" for a GPU"
        ),
        (Backend::Libtorch, spec) => libtorch(spec),
    }
}

#[cfg(not(feature = "tch"))]
fn libtorch(_: DeviceSpec) -> Result<Device> {
    bail!(
        "train.backend = \"libtorch\": this niclab binary was built without the libtorch \
         backend (cargo feature `tch`); run `make libtorch` (or `make build` with the default \
         BACKEND=libtorch), or use train.backend = \"flex\" (built in)"
    )
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // burn marks burn-tch deprecated in favour of CubeCL backends, which cannot be built offline
fn libtorch(spec: DeviceSpec) -> Result<Device> {
    keep_freed_memory();
    match spec {
        DeviceSpec::Cpu => Ok(Device::libtorch()),
        DeviceSpec::Cuda(i) => {
            // SAFETY: plain queries of libtorch's CUDA runtime, no arguments, no state.
            let count = unsafe { torch_sys::cuda::atc_cuda_device_count() };
            if count <= 0 {
                bail!(
                    "train.device = \"{spec}\": libtorch sees no CUDA GPU on this machine; use \
                     device = \"cpu\""
                );
            }
            if i >= count as usize {
                bail!(
                    "train.device = \"{spec}\": libtorch sees {count} CUDA GPU(s), numbered \
                     from 0"
                );
            }
            Ok(Device::libtorch_cuda(i))
        }
    }
}

/// cuDNN's benchmark mode (time the convolution algorithms for each new shape, keep the
/// fastest) for libtorch on CUDA; off, cuDNN's default choice, which repeats. No effect on
/// flex or on the CPU.
pub fn set_cudnn_benchmark(backend: Backend, on: bool) {
    #[cfg(feature = "tch")]
    if backend == Backend::Libtorch {
        // SAFETY: sets one global flag of libtorch's; valid with or without a GPU.
        unsafe { torch_sys::cuda::atc_set_benchmark_cudnn(i32::from(on)) };
    }
    #[cfg(not(feature = "tch"))]
    let _ = (backend, on);
}

/// libtorch's CPU tensors come from glibc's malloc, which by default hands freed blocks back
/// to the kernel (heap trimmed above 128 KiB free, blocks above the mmap threshold unmapped),
/// so each training step faults the pages of its activations in again: perf put a quarter of
/// a libtorch training step in the kernel's page-fault path. Keeping freed memory for reuse
/// (as PyTorch's own caching allocators do on GPUs) took the 3-pair model from about 75 to
/// about 125 img/s on 2 cores; peak memory is unchanged, since what is kept is what the step
/// had in use anyway. Once per process, before the first libtorch tensor.
#[cfg(feature = "tch")]
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes glibc malloc's tuning parameters. 32 MiB is the
            // largest mmap threshold glibc accepts on 64-bit; larger blocks are still mapped.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_is_cpu_only_and_libtorch_needs_its_feature() {
        let e = device(Backend::Flex, DeviceSpec::Cuda(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("CPU only"), "{e}");
        let libtorch = device(Backend::Libtorch, DeviceSpec::Cpu);
        if HAS_LIBTORCH {
            assert!(libtorch.is_ok());
        } else {
            let e = libtorch.unwrap_err().to_string();
            assert!(e.contains("`tch`") && e.contains("make libtorch"), "{e}");
        }
    }
}
