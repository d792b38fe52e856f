//! The WebP baseline: libwebp 1.6.0 (the copy `libwebp-sys` builds from its vendored source),
//! lossy, with cwebp's defaults (`WebPConfigPreset` default, method 4, 4:2:0, no sharp YUV);
//! only the quality changes. Pillow 13 bundles the same libwebp, and its files are the same
//! bytes (tests/classic.rs).

use anyhow::{Result, bail, ensure};
use image::RgbImage;

/// The WebP file of `img` at quality `q` (0-100, as `cwebp -q`).
pub fn encode(img: &RgbImage, q: u8) -> Result<Vec<u8>> {
    ensure!(q <= 100, "WebP quality {q} is not in 0..100");
    let (w, h) = (img.width(), img.height());
    // libwebp's own limit; larger sizes fail inside the encoder with a vaguer error.
    ensure!(
        w <= 16383 && h <= 16383,
        "WebP cannot hold a {w}x{h} image (16383 pixels per side at most)"
    );
    let mut out: *mut u8 = std::ptr::null_mut();
    // SAFETY: the pixel buffer is w * h * 3 bytes with stride 3 * w (an `RgbImage` is packed);
    // libwebp writes the address of a buffer it allocated into `out`, freed below.
    let len = unsafe {
        libwebp_sys::WebPEncodeRGB(
            img.as_raw().as_ptr(),
            w as i32,
            h as i32,
            3 * w as i32,
            f32::from(q),
            &mut out,
        )
    };
    if out.is_null() || len == 0 {
        bail!("libwebp cannot encode the {w}x{h} image");
    }
    // SAFETY: libwebp returned `len` initialised bytes at `out`; they are copied before the
    // buffer goes back to libwebp's allocator.
    let file = unsafe { std::slice::from_raw_parts(out, len).to_vec() };
    unsafe { libwebp_sys::WebPFree(out.cast()) };
    Ok(file)
}

/// Decodes a WebP file to RGB (libwebp's default fancy upsampling, as `dwebp` and Pillow).
pub fn decode(file: &[u8]) -> Result<RgbImage> {
    let (mut w, mut h) = (0i32, 0i32);
    // SAFETY: libwebp reads `file.len()` bytes and allocates the output, freed below.
    let pixels = unsafe { libwebp_sys::WebPDecodeRGB(file.as_ptr(), file.len(), &mut w, &mut h) };
    if pixels.is_null() {
        bail!("not a readable WebP file");
    }
    let n = 3 * w as usize * h as usize;
    // SAFETY: a successful decode returns w * h * 3 bytes.
    let raw = unsafe { std::slice::from_raw_parts(pixels, n).to_vec() };
    unsafe { libwebp_sys::WebPFree(pixels.cast()) };
    match RgbImage::from_raw(w as u32, h as u32, raw) {
        Some(img) => Ok(img),
        None => bail!("WebP of {w}x{h} decoded to the wrong number of bytes"),
    }
}

/// Bytes of the VP8 bitstream: the file without its RIFF header and chunk header (20 bytes
/// for the simple lossy format libwebp writes). `None` for other layouts (VP8X, lossless).
pub fn payload_len(file: &[u8]) -> Option<usize> {
    if file.len() < 20 || &file[..4] != b"RIFF" || &file[8..16] != b"WEBPVP8 " {
        return None;
    }
    let size = u32::from_le_bytes(file[16..20].try_into().ok()?) as usize;
    (20 + size <= file.len()).then_some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_payload_and_damage() {
        let img = RgbImage::from_fn(40, 24, |x, y| image::Rgb([x as u8 * 6, y as u8 * 10, 128]));
        let hi = encode(&img, 95).unwrap();
        let lo = encode(&img, 10).unwrap();
        assert!(lo.len() < hi.len());
        let back = decode(&hi).unwrap();
        assert_eq!(back.dimensions(), (40, 24));
        assert!(crate::metrics::psnr(&img, &back).unwrap() > 30.0);
        assert_eq!(payload_len(&hi), Some(hi.len() - 20));
        assert_eq!(payload_len(b"RIFF\0\0\0\0WEBPVP8L"), None);
        assert!(decode(&hi[..hi.len() / 2]).is_err());
        assert!(decode(b"not a webp").is_err());
        assert!(encode(&img, 101).is_err());
    }
}
