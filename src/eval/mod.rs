//! The evaluator: the paper's comparison of the autoencoder with JPEG on a folder of images.

pub mod jpeg;
