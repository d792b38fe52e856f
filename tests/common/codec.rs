//! The codec's cross-backend check, shared by the tiny models' tests and the shipped
//! models' tests.

use std::collections::BTreeMap;
use std::path::Path;

use image::RgbImage;
use niclab::codec::files::{Session, batches, compress_batch};
use niclab::config::Backend;
use niclab::cpu_encoder::ImageEncoder;

/// Every image compressed with `model` on one backend decodes on the other to exactly the
/// latent its encoder meant, bit for bit, both ways (libtorch and flex with the `tch`
/// feature; flex against itself without). Returns how many latent values each Gaussian
/// table (scale index) coded, over the files compressed on the first backend.
pub fn same_latents_on_both_backends(
    model: &Path,
    checkpoints: &Path,
    images: &[RgbImage],
) -> BTreeMap<u8, usize> {
    let open = |b| Session::open(model, checkpoints, Some(b), None).unwrap();
    #[cfg(feature = "tch")]
    let backends = [Backend::Flex, Backend::Libtorch];
    #[cfg(not(feature = "tch"))]
    let backends = [Backend::Flex, Backend::Flex];
    let sessions = backends.map(|b| (b, open(b)));
    let mut indexes = BTreeMap::new();
    for (i, j) in [(0, 1), (1, 0)] {
        let ((from_name, from), (to_name, to)) = (&sessions[i], &sessions[j]);
        let encoder = ImageEncoder::new(&from.model, &from.device).unwrap();
        // In the batches `niclab compress` forms (same size, at most 32 crops or 2^19 pixels).
        for chunk in batches(images, 32, |img| img.dimensions()) {
            let refs: Vec<&RgbImage> = chunk.iter().collect();
            let (files, latent) =
                compress_batch(&encoder, &from.coder, &refs, &from.device).unwrap();
            let meant = super::tensor_bits(latent);
            let per = meant.len() / files.len();
            for (k, file) in files.iter().enumerate() {
                let (_, got) = to.coder.decode(file).unwrap();
                let got: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
                let img = &chunk[k];
                assert!(
                    got == meant[k * per..(k + 1) * per],
                    "{}x{} image compressed on {} decodes to another latent on {}",
                    img.width(),
                    img.height(),
                    from_name,
                    to_name
                );
                if i == 0 {
                    for k in to.coder.scale_indexes(file).unwrap() {
                        *indexes.entry(k).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    indexes
}
