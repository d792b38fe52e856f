//! niclab: train convolutional autoencoders for image compression from TOML experiment files,
//! on real photographs, with checkpoints that resume bit for bit.
//!
//! The data path, top to bottom: [`config`] → [`data`] → [`model`] → [`loss`] (with [`vgg`])
//! → [`train`] → [`codec`] → [`eval`] → [`rd`] / [`study`]; [`metrics`] is the quality module.

pub mod backend;
pub mod board;
pub mod classic;
pub mod codec;
pub mod config;
pub mod cpu_encoder;
pub mod data;
pub mod digest;
pub mod eval;
pub mod gdn;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod onnx;
pub mod progress;
pub mod rd;
pub mod run_lock;
pub mod serve;
pub mod study;
pub mod subnormals;
pub mod train;
pub mod vgg;
pub mod zoo;
