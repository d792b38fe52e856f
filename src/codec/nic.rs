//! The `.nic` file: a small fixed header, the range-coded latent, a checksum.
//!
//! ```text
//! offset size  field
//!  0      4    magic "NIC\x1a"
//!  4      1    format version: 1 one payload (factorized prior, plain autoencoder),
//!              2 two payloads (mean-scale hyperprior)
//!  5      1    quantiser: 0 integer rounding, 1 uniform per-channel step
//!  6      8    model fingerprint (weights, architecture and tables; see `Codec`)
//! 14      4    width  (u32, little-endian)
//! 18      4    height (u32)
//! 22      1    padding right  (columns added to reach a multiple of 2^downsample)
//! 23      1    padding bottom (rows)
//! 24      2    latent channels (u16)
//! 26      4    latent height (u32)
//! 30      4    latent width  (u32)
//! 34      4    payload length in bytes (u32), both payloads of version 2
//!              version 1                            version 2
//! 38      n    payload                          38  4  side payload length s (u32, s <= n)
//!                                               42  s  side payload: the hyper-latent z
//!                                             42+s n-s the latent y given z
//!  ...    4    checksum: first 4 bytes of SHA-256 of everything before it
//! ```
//! Payloads are constriction range coder streams (32-bit words, little-endian). Version 2's
//! `z` is `channels x ⌈lh/4⌉ x ⌈lw/4⌉` (the hyper-latent has as many channels as the latent).
//! niclab writes version 1 for every model without a hyperprior, so older niclab still reads
//! those, and reads both. Every field is checked before anything is allocated from it.

use sha2::{Digest, Sha256};

use super::tables::QuantizerKind;

/// The first four bytes of every `.nic` file.
pub const MAGIC: [u8; 4] = *b"NIC\x1a";
/// The newest format version; this build reads and writes 1 and 2.
pub const VERSION: u8 = 2;
/// Header bytes before the payload of a version 1 file.
pub const HEADER_LEN: usize = 38;
/// Header bytes before the payloads of a version 2 file (the side payload's length added).
pub const HEADER_LEN_V2: usize = HEADER_LEN + 4;
/// How much smaller the hyper-latent `z` of a version 2 file is than the latent, each way.
pub const HYPER_SCALE: usize = 4;
/// Checksum bytes after the payload.
pub const CHECKSUM_LEN: usize = 4;
/// Largest image side accepted.
pub const MAX_SIDE: u32 = 1 << 15;
/// Largest image accepted, in pixels (8192 x 8192, a 192 MiB RGB buffer; large images are
/// coded in tiles, [`super::tiles`]). Up to 2^24 before tiling: older niclab refuses a
/// larger file with this limit's message.
pub const MAX_PIXELS: u64 = 1 << 26;

/// How a file's latent is coded: its format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Version 1: one payload, every latent channel under its own fixed table.
    Single = 1,
    /// Version 2: the hyper-latent `z` under fixed tables, then the latent `y` under the
    /// Gaussian tables `z` selects.
    Hyperprior = 2,
}

impl Layout {
    /// Header bytes before the payload.
    pub fn header_len(self) -> usize {
        match self {
            Self::Single => HEADER_LEN,
            Self::Hyperprior => HEADER_LEN_V2,
        }
    }

    /// Bytes of framing around the payloads: header and checksum.
    pub fn framing(self) -> usize {
        self.header_len() + CHECKSUM_LEN
    }

    fn from_version(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Single),
            2 => Some(Self::Hyperprior),
            _ => None,
        }
    }
}

/// A file's payloads: `side` is empty in version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payloads<'a> {
    /// The hyper-latent's (version 2).
    pub side: &'a [u8],
    /// The latent's.
    pub main: &'a [u8],
}

/// What a `.nic` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The format version.
    pub layout: Layout,
    /// How the latent was quantised.
    pub quantizer: QuantizerKind,
    /// Fingerprint of the model that wrote it.
    pub fingerprint: [u8; 8],
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Columns of padding on the right.
    pub pad_right: u8,
    /// Rows of padding at the bottom.
    pub pad_bottom: u8,
    /// Latent channels.
    pub channels: u16,
    /// Latent height.
    pub latent_height: u32,
    /// Latent width.
    pub latent_width: u32,
}

impl Header {
    /// Symbols in the latent.
    pub fn symbols(&self) -> usize {
        self.channels as usize * self.plane()
    }

    /// Positions per latent channel.
    pub fn plane(&self) -> usize {
        self.latent_height as usize * self.latent_width as usize
    }

    /// The hyper-latent's height and width (version 2): a quarter of the latent's, rounded
    /// up, as two stride-2 convolutions with padding 2 make it.
    pub fn hyper_size(&self) -> (usize, usize) {
        (
            (self.latent_height as usize).div_ceil(HYPER_SCALE),
            (self.latent_width as usize).div_ceil(HYPER_SCALE),
        )
    }
}

/// Why a `.nic` file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NicError {
    /// Shorter than a header and a checksum.
    #[error("truncated: {0} bytes, a .nic file has at least {min}", min = HEADER_LEN + CHECKSUM_LEN)]
    TooShort(usize),
    /// Does not start with the magic bytes.
    #[error("not a .nic file (it does not start with \"NIC\\x1a\")")]
    BadMagic,
    /// Written by another format version.
    #[error("format version {0}; this niclab reads versions 1 and {VERSION}")]
    Version(u8),
    /// Unknown quantiser byte.
    #[error("unknown quantiser {0}")]
    Quantizer(u8),
    /// The payload length does not match the file's size.
    #[error(
        "truncated or padded: the header announces {announced} payload bytes, the file holds {present}"
    )]
    Length {
        /// From the header.
        announced: usize,
        /// Actually there.
        present: usize,
    },
    /// The checksum does not match: damaged in storage or transfer.
    #[error("corrupted: checksum mismatch")]
    Checksum,
    /// The side payload is announced longer than both payloads together.
    #[error("invalid header: a side payload of {side} bytes in {total} bytes of payload")]
    Side {
        /// From the header.
        side: usize,
        /// Both payloads.
        total: usize,
    },
    /// A dimension out of range or inconsistent.
    #[error("invalid header: {0}")]
    Header(String),
}

/// The bytes of a `.nic` file; `payloads.side` must be empty for version 1.
pub fn write(h: &Header, payloads: Payloads) -> Vec<u8> {
    let (side, main) = (payloads.side, payloads.main);
    debug_assert!(h.layout == Layout::Hyperprior || side.is_empty());
    let mut out = Vec::with_capacity(h.layout.framing() + side.len() + main.len());
    out.extend_from_slice(&MAGIC);
    out.push(h.layout as u8);
    out.push(h.quantizer as u8);
    out.extend_from_slice(&h.fingerprint);
    out.extend_from_slice(&h.width.to_le_bytes());
    out.extend_from_slice(&h.height.to_le_bytes());
    out.push(h.pad_right);
    out.push(h.pad_bottom);
    out.extend_from_slice(&h.channels.to_le_bytes());
    out.extend_from_slice(&h.latent_height.to_le_bytes());
    out.extend_from_slice(&h.latent_width.to_le_bytes());
    out.extend_from_slice(&((side.len() + main.len()) as u32).to_le_bytes());
    if h.layout == Layout::Hyperprior {
        out.extend_from_slice(&(side.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(side);
    out.extend_from_slice(main);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum[..CHECKSUM_LEN]);
    out
}

/// Frames `header_and_payload` (a header, possibly invalid, then payloads) as a file with
/// the right payload length and checksum: for fuzzing and mutation tests, which must reach
/// the decoder behind the checksum. The header is as long as its version byte says (version
/// 1's when it names none); a version 2 side length stays as given.
pub fn seal(header_and_payload: &[u8]) -> Vec<u8> {
    let mut out = header_and_payload.to_vec();
    let header_len = out
        .get(4)
        .and_then(|&v| Layout::from_version(v))
        .map_or(HEADER_LEN, Layout::header_len);
    if out.len() < header_len {
        out.resize(header_len, 0);
    }
    let len = (out.len() - header_len) as u32;
    out[34..38].copy_from_slice(&len.to_le_bytes());
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum[..CHECKSUM_LEN]);
    out
}

/// Parses and checks a file's framing: magic, version, lengths, checksum, and that the
/// dimensions are sane and consistent (padding below the latent's scale, at most
/// [`MAX_PIXELS`]). Model-specific checks (fingerprint, channels, scale) are the caller's.
pub fn parse(bytes: &[u8]) -> Result<(Header, Payloads<'_>), NicError> {
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        return Err(if bytes.len() >= 4 && bytes[..4] != MAGIC {
            NicError::BadMagic
        } else {
            NicError::TooShort(bytes.len())
        });
    }
    if bytes[..4] != MAGIC {
        return Err(NicError::BadMagic);
    }
    let layout = Layout::from_version(bytes[4]).ok_or(NicError::Version(bytes[4]))?;
    let header_len = layout.header_len();
    if bytes.len() < header_len + CHECKSUM_LEN {
        return Err(NicError::TooShort(bytes.len()));
    }
    let u32_at =
        |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let announced = u32_at(34) as usize;
    let present = bytes.len() - header_len - CHECKSUM_LEN;
    if announced != present {
        return Err(NicError::Length { announced, present });
    }
    let body = bytes.len() - CHECKSUM_LEN;
    if Sha256::digest(&bytes[..body])[..CHECKSUM_LEN] != bytes[body..] {
        return Err(NicError::Checksum);
    }
    let side = match layout {
        Layout::Single => 0,
        Layout::Hyperprior => u32_at(HEADER_LEN) as usize,
    };
    if side > present {
        return Err(NicError::Side {
            side,
            total: present,
        });
    }
    let quantizer = QuantizerKind::from_byte(bytes[5]).ok_or(NicError::Quantizer(bytes[5]))?;
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&bytes[6..14]);
    let h = Header {
        layout,
        quantizer,
        fingerprint,
        width: u32_at(14),
        height: u32_at(18),
        pad_right: bytes[22],
        pad_bottom: bytes[23],
        channels: u16::from_le_bytes([bytes[24], bytes[25]]),
        latent_height: u32_at(26),
        latent_width: u32_at(30),
    };
    check_dimensions(&h)?;
    let payload = &bytes[header_len..body];
    Ok((
        h,
        Payloads {
            side: &payload[..side],
            main: &payload[side..],
        },
    ))
}

/// Checks that a `w x h` image fits the format (before compressing it).
pub fn check_size(w: u32, h: u32) -> Result<(), NicError> {
    if !(1..=MAX_SIDE).contains(&w) || !(1..=MAX_SIDE).contains(&h) {
        return Err(NicError::Header(format!(
            "{w}x{h} image, sides must be 1..={MAX_SIDE}"
        )));
    }
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(NicError::Header(format!(
            "{w}x{h} image is over the {MAX_PIXELS}-pixel limit"
        )));
    }
    Ok(())
}

fn check_dimensions(h: &Header) -> Result<(), NicError> {
    let bad = |m: String| Err(NicError::Header(m));
    check_size(h.width, h.height)?;
    if h.channels == 0 || h.latent_height == 0 || h.latent_width == 0 {
        return bad("empty latent".into());
    }
    let (pw, ph) = (h.width + h.pad_right as u32, h.height + h.pad_bottom as u32);
    for (side, latent, pad, what) in [
        (pw, h.latent_width, h.pad_right, "width"),
        (ph, h.latent_height, h.pad_bottom, "height"),
    ] {
        let scale = side / latent;
        if !side.is_multiple_of(latent) || !scale.is_power_of_two() || pad as u32 >= scale {
            return bad(format!(
                "padded {what} {side} does not fit latent {what} {latent} with padding {pad}"
            ));
        }
    }
    if pw / h.latent_width != ph / h.latent_height {
        return bad("latent scales differ between width and height".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            layout: Layout::Single,
            quantizer: QuantizerKind::Integer,
            fingerprint: *b"abcdefgh",
            width: 30,
            height: 17,
            pad_right: 2,
            pad_bottom: 7,
            channels: 4,
            latent_height: 3,
            latent_width: 4,
        }
    }

    #[test]
    fn round_trip_and_every_field_checked() {
        let one = |main| Payloads { side: b"", main };
        let bytes = write(&header(), one(b"payload!"));
        assert_eq!(bytes.len(), HEADER_LEN + 8 + CHECKSUM_LEN);
        // Version 1 as older niclab wrote it: the version byte and the payload at 38.
        assert_eq!(bytes[4], 1);
        assert_eq!(&bytes[38..46], b"payload!");
        let (h, p) = parse(&bytes).unwrap();
        assert_eq!(h, header());
        assert_eq!(p, one(b"payload!"));
        assert_eq!(h.symbols(), 48);

        assert_eq!(parse(&bytes[..20]), Err(NicError::TooShort(20)));
        assert!(matches!(
            parse(&bytes[..bytes.len() - 1]),
            Err(NicError::Length {
                announced: 8,
                present: 7
            })
        ));
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert_eq!(parse(&flipped), Err(NicError::Checksum));
        let mut magic = bytes.clone();
        magic[0] = b'P';
        assert_eq!(parse(&magic), Err(NicError::BadMagic));
        let mut version = bytes.clone();
        version[4] = 9;
        assert_eq!(parse(&version), Err(NicError::Version(9)));
        // Sealing fixes length and checksum, not the fields.
        assert_eq!(
            parse(&seal(&bytes[..bytes.len() - CHECKSUM_LEN])),
            Ok((header(), one(b"payload!")))
        );
        assert_eq!(
            parse(&seal(&version[..HEADER_LEN])),
            Err(NicError::Version(9))
        );
        // Absurd or inconsistent dimensions (with a valid checksum) are refused.
        for change in [
            |h: &mut Header| h.width = 0,
            |h: &mut Header| (h.width, h.height) = (MAX_SIDE, MAX_SIDE),
            |h: &mut Header| h.pad_right = 9,
            |h: &mut Header| h.latent_width = 5,
            |h: &mut Header| h.latent_height = 6,
            |h: &mut Header| h.channels = 0,
        ] {
            let mut h = header();
            change(&mut h);
            assert!(
                matches!(parse(&write(&h, one(b""))), Err(NicError::Header(_))),
                "{h:?}"
            );
        }
    }

    #[test]
    fn version_2_carries_two_payloads() {
        let h = Header {
            layout: Layout::Hyperprior,
            latent_height: 5,
            ..header()
        };
        let h = Header {
            height: 37,
            pad_bottom: 3,
            ..h
        };
        let two = Payloads {
            side: b"zz",
            main: b"yyyy",
        };
        let bytes = write(&h, two);
        assert_eq!(bytes.len(), HEADER_LEN_V2 + 6 + CHECKSUM_LEN);
        assert_eq!((bytes[4], &bytes[38..42]), (2, &2u32.to_le_bytes()[..]));
        assert_eq!(parse(&bytes), Ok((h.clone(), two)));
        // z is a quarter of the latent each way, rounded up: 5 x 4 -> 2 x 1.
        assert_eq!(h.hyper_size(), (2, 1));
        // An empty side payload is valid framing (the decoder then fails on it).
        let empty = Payloads {
            side: b"",
            main: b"yyyy",
        };
        assert_eq!(parse(&write(&h, empty)), Ok((h.clone(), empty)));
        // A side length past the payload, behind a valid checksum, is refused.
        let mut m = bytes[..bytes.len() - CHECKSUM_LEN].to_vec();
        m[38..42].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(parse(&seal(&m)), Err(NicError::Side { side: 7, total: 6 }));
        // Too short for version 2's header, and a header cut in the side length.
        assert_eq!(
            parse(&bytes[..HEADER_LEN_V2 + 1]),
            Err(NicError::TooShort(HEADER_LEN_V2 + 1))
        );
        assert_eq!(
            parse(&seal(&bytes[..40])),
            Err(NicError::Side { side: 2, total: 0 })
        );
        // Versions 0 and 3 are refused by name.
        for v in [0u8, 3] {
            let mut m = bytes.clone();
            m[4] = v;
            assert_eq!(parse(&m), Err(NicError::Version(v)));
        }
    }
}
