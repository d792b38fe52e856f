//! Images in: the real-photo datasets, folders of images, and training batches.

pub mod batches;
pub mod images;
pub mod prepare;
pub mod sources;
