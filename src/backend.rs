//! Picking the compute device at run time from `[train] backend` and `device`.

use anyhow::{Result, bail};
use burn::tensor::Device;

use crate::config::{Backend, DeviceSpec};

/// The (non-autodiff) device for a backend and device choice, or an error saying what to do.
pub fn device(backend: Backend, spec: DeviceSpec) -> Result<Device> {
    match (backend, spec) {
        (Backend::Flex, DeviceSpec::Cpu) => Ok(Device::flex()),
        (Backend::Flex, DeviceSpec::Cuda(_)) => bail!(
            "train.device = \"{spec}\": the flex backend runs on the CPU only; use \
             train.backend = \"libtorch\" for a GPU"
        ),
        (Backend::Libtorch, _) => bail!(
            "train.backend = \"libtorch\": this niclab binary was built without the `tch` \
             feature; use train.backend = \"flex\" (built in)"
        ),
    }
}
