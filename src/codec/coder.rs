//! A finalized model's entropy coder: latent to `.nic` bytes and back, with its integer
//! tables and, for a hyperprior model, its scalar hyper-synthesis. Uses nothing of burn or
//! of the rest of niclab (the fuzz target compiles this file, [`super::nic`],
//! [`super::tables`], [`super::gaussian`] and [`super::synthesis`] on their own).

use anyhow::{Result, bail};

use super::gaussian::ScaleTable;
use super::nic::{self, Header, Layout, Payloads};
use super::synthesis::{Map, Synthesis};
use super::tables::Tables;

/// A finalized model's entropy coder: its tables and the fingerprint its files carry.
#[derive(Debug, Clone)]
pub struct Coder {
    /// Quantiser and integer tables, one per latent channel (per hyper-latent channel with a
    /// hyperprior).
    pub tables: Tables,
    /// First 8 bytes of SHA-256 over architecture, weights and tables.
    pub fingerprint: [u8; 8],
    /// How much smaller the latent is than the image, per side.
    pub scale: usize,
    /// A hyperprior model's hyper-synthesis, which picks each latent value's Gaussian table
    /// from the decoded hyper-latent; `None` for the factorized and plain models.
    pub hyper: Option<Box<Synthesis>>,
}

/// A latent to code: `y` is `[C, lh, lw]` channel-major; a hyperprior model also needs the
/// hyper-latent `z = h_a(y)`, `[C, ⌈lh/4⌉, ⌈lw/4⌉]`, unrounded.
#[derive(Debug, Clone, Copy)]
pub struct Latent<'a> {
    /// The latent.
    pub y: &'a [f32],
    /// The hyper-latent, with a hyperprior.
    pub z: Option<&'a [f32]>,
    /// Latent height and width.
    pub size: (usize, usize),
}

impl Coder {
    /// The `.nic` file of one image of `w x h` pixels before padding. Also returns the
    /// dequantised latent, which is exactly what a decoder of the file gets.
    pub fn encode(&self, latent: Latent, (w, h): (u32, u32)) -> Result<(Vec<u8>, Vec<f32>)> {
        nic::check_size(w, h)?;
        let (lh, lw) = latent.size;
        let c = self.tables.channels.len();
        if latent.y.len() != c * lh * lw {
            bail!(
                "latent of {} values is not {c} x {lh} x {lw}",
                latent.y.len()
            );
        }
        let header = Header {
            layout: self.layout(),
            quantizer: self.tables.quantizer,
            fingerprint: self.fingerprint,
            width: w,
            height: h,
            pad_right: u8::try_from(lw * self.scale - w as usize)?,
            pad_bottom: u8::try_from(lh * self.scale - h as usize)?,
            channels: u16::try_from(c)?,
            latent_height: u32::try_from(lh)?,
            latent_width: u32::try_from(lw)?,
        };
        let Some(synthesis) = &self.hyper else {
            let symbols = self.tables.quantize(latent.y);
            let main = self.tables.encode(&symbols)?;
            let file = nic::write(
                &header,
                Payloads {
                    side: &[],
                    main: &main,
                },
            );
            return Ok((file, self.tables.dequantize(&symbols)));
        };
        let (zh, zw) = header.hyper_size();
        let Some(z) = latent.z.filter(|z| z.len() == c * zh * zw) else {
            bail!("a hyperprior model's file needs its {c} x {zh} x {zw} hyper-latent");
        };
        let z_symbols = self.tables.quantize(z);
        let side = self.tables.encode(&z_symbols)?;
        let z_hat = self.tables.dequantize(&z_symbols);
        let (indexes, means) = conditionals(synthesis, c, z_hat, (zh, zw), (lh, lw))?;
        let table = ScaleTable::get();
        let symbols: Vec<u32> = latent
            .y
            .iter()
            .zip(indexes.iter().zip(&means))
            .map(|(&v, (&k, &m))| table.symbol(k, v, m))
            .collect();
        let main = table.encode(&symbols, &indexes)?;
        let y_hat = table.values(&symbols, &indexes, &means);
        let file = nic::write(
            &header,
            Payloads {
                side: &side,
                main: &main,
            },
        );
        Ok((file, y_hat))
    }

    /// Reads a `.nic` file written by this model: its header and dequantised latent. A file
    /// that is damaged, truncated, from another model or absurd is an error saying which.
    pub fn decode(&self, bytes: &[u8]) -> Result<(Header, Vec<f32>)> {
        self.decode_indexed(bytes).map(|(h, y, _)| (h, y))
    }

    /// Which Gaussian table each latent value of a hyperprior model's file is coded with
    /// (empty for other models): for tests and reports. The file is decoded and checked as by
    /// [`Coder::decode`].
    pub fn scale_indexes(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        self.decode_indexed(bytes).map(|(_, _, indexes)| indexes)
    }

    /// [`Coder::decode`], and the scale index of every latent value (empty without a
    /// hyperprior).
    fn decode_indexed(&self, bytes: &[u8]) -> Result<(Header, Vec<f32>, Vec<u8>)> {
        let (h, payloads) = nic::parse(bytes)?;
        if h.fingerprint != self.fingerprint {
            bail!(
                "written by another model (fingerprint {}, this model is {}): decompress it \
                 with the model that compressed it",
                hex(&h.fingerprint),
                hex(&self.fingerprint)
            );
        }
        if h.quantizer != self.tables.quantizer {
            bail!("quantiser {:?} differs from the model's", h.quantizer);
        }
        if h.layout != self.layout() {
            bail!(
                "format version {} does not fit the model, whose files are version {}",
                h.layout as u8,
                self.layout() as u8
            );
        }
        let c = self.tables.channels.len();
        if h.channels as usize != c {
            bail!("{} latent channels, the model has {c}", h.channels);
        }
        let scale = (h.width + h.pad_right as u32) / h.latent_width;
        if scale as usize != self.scale {
            bail!(
                "latent scale {scale}, the model downsamples by {}",
                self.scale
            );
        }
        let Some(synthesis) = &self.hyper else {
            let symbols = self.tables.decode(payloads.main, h.plane())?;
            return Ok((h, self.tables.dequantize(&symbols), Vec::new()));
        };
        let (zh, zw) = h.hyper_size();
        let z_symbols = self
            .tables
            .decode(payloads.side, zh * zw)
            .map_err(|e| e.context("hyper-latent"))?;
        let z_hat = self.tables.dequantize(&z_symbols);
        let size = (h.latent_height as usize, h.latent_width as usize);
        let (indexes, means) = conditionals(synthesis, c, z_hat, (zh, zw), size)?;
        let table = ScaleTable::get();
        let symbols = table
            .decode(payloads.main, &indexes)
            .map_err(|e| e.context("latent"))?;
        let y_hat = table.values(&symbols, &indexes, &means);
        Ok((h, y_hat, indexes))
    }

    /// The format version of this model's files.
    fn layout(&self) -> Layout {
        match self.hyper {
            Some(_) => Layout::Hyperprior,
            None => Layout::Single,
        }
    }

    /// Bytes of framing around the payloads in this model's files.
    pub fn framing(&self) -> usize {
        self.layout().framing()
    }

    /// The fingerprint as 16 hex digits.
    pub fn fingerprint_hex(&self) -> String {
        hex(&self.fingerprint)
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every latent value's scale index and mean, `[C, lh, lw]` each: the hyper-synthesis of
/// `ẑ` (`[C, zh, zw]`), its `[2C, 4 zh, 4 zw]` output cropped to the latent's size (scales
/// first, then means). The same integer indexes wherever it runs ([`super::synthesis`]),
/// in a process that flushes subnormals too (their IEEE results are kept here).
fn conditionals(
    synthesis: &Synthesis,
    c: usize,
    z_hat: Vec<f32>,
    (zh, zw): (usize, usize),
    (lh, lw): (usize, usize),
) -> Result<(Vec<u8>, Vec<f32>)> {
    if !synthesis.fits(c) {
        bail!("the hyper-synthesis' layers do not fit a latent of {c} channels");
    }
    let out = crate::subnormals::ieee(|| {
        synthesis.run(&Map {
            c,
            h: zh,
            w: zw,
            data: z_hat,
        })
    });
    if out.h < lh || out.w < lw {
        bail!(
            "the hyper-synthesis gives {} x {}, the latent is {lh} x {lw}",
            out.h,
            out.w
        );
    }
    let table = ScaleTable::get();
    let plane = lh * lw;
    let mut indexes = Vec::with_capacity(c * plane);
    let mut means = Vec::with_capacity(c * plane);
    for ch in 0..c {
        for y in 0..lh {
            let row = |k: usize| &out.data[(k * out.h + y) * out.w..][..lw];
            indexes.extend(row(ch).iter().map(|&s| table.index(s)));
            means.extend_from_slice(row(c + ch));
        }
    }
    Ok((indexes, means))
}

#[cfg(test)]
mod tests {
    use super::super::synthesis::Layer;
    use super::super::tables::{ChannelTable, QuantizerKind, fixed_point};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A hyperprior coder of `c` channels with seeded random hyper-synthesis weights, and
    /// z tables over -6..=6.
    fn hyper_coder(c: usize, seed: u64) -> Coder {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layer = |c_in: usize, c_out: usize, k: usize, bias: f32| Layer {
            c_in,
            c_out,
            k,
            weight: (0..c_in * c_out * k * k)
                .map(|_| rng.random_range(-0.3f32..0.3))
                .collect(),
            bias: vec![bias; c_out],
        };
        let wide = c * 3 / 2;
        let mut out = layer(wide, 2 * c, 3, 0.5);
        // Scales around 30 for latent values within ±20 of their means (no clamping).
        out.bias[..c].fill(30.0);
        let synthesis = Synthesis {
            up: [layer(c, c, 5, 0.1), layer(c, wide, 5, 0.1)],
            out,
            slope: 0.01,
        };
        let weights: Vec<f64> = (-6..=6)
            .map(|k: i32| (-(k * k) as f64 / 8.0).exp())
            .collect();
        let channel = ChannelTable {
            offset: -6.0,
            step: 1.0,
            freqs: fixed_point(&weights),
        };
        Coder {
            tables: Tables {
                quantizer: QuantizerKind::Integer,
                channels: vec![channel; c],
            },
            fingerprint: *b"hyperfp!",
            scale: 16,
            hyper: Some(Box::new(synthesis)),
        }
    }

    #[test]
    fn the_conditionals_are_the_same_bits_in_a_thread_that_flushes_subnormals() {
        // Subnormal weights in the first layer, scaled back into the normal range by the
        // next two: flushed, the first layer's products are 0 and so are the means.
        let layer = |c_in: usize, c_out: usize, k: usize, w: f32, bias: f32| Layer {
            c_in,
            c_out,
            k,
            weight: vec![w; c_in * c_out * k * k],
            bias: vec![bias; c_out],
        };
        let mut out = layer(1, 2, 3, 1e19, 0.0);
        out.bias[0] = 1.0; // the scales'
        let synthesis = Synthesis {
            up: [layer(1, 1, 5, 1e-39, 0.0), layer(1, 1, 5, 1e19, 0.0)],
            out,
            slope: 0.01,
        };
        let z = vec![3.0f32];
        let run = || conditionals(&synthesis, 1, z.clone(), (1, 1), (4, 4)).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let (plain_indexes, plain_means) = run();
        assert!(plain_means.iter().any(|&m| m > 0.1), "{plain_means:?}");
        let (raw, (indexes, means)) = std::thread::scope(|s| {
            s.spawn(|| {
                crate::subnormals::flush_to_zero();
                let raw = synthesis.run(&Map {
                    c: 1,
                    h: 1,
                    w: 1,
                    data: z.clone(),
                });
                (raw, run())
            })
            .join()
            .unwrap()
        });
        if cfg!(target_arch = "x86_64") {
            // The case matters: the synthesis alone, flushed, loses the means.
            assert!(raw.data[16..].iter().all(|&m| m == 0.0), "{:?}", raw.data);
        }
        assert_eq!(indexes, plain_indexes);
        assert_eq!(bits(&means), bits(&plain_means));
    }

    #[test]
    fn a_hyperprior_file_round_trips_and_is_checked() {
        let coder = hyper_coder(4, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        // A latent of 5 x 7 (not a multiple of 4: z is 2 x 2, h_s's 8 x 8 cropped).
        let (c, lh, lw) = (4, 5, 7);
        let y: Vec<f32> = (0..c * lh * lw)
            .map(|_| rng.random_range(-20.0f32..20.0))
            .collect();
        let z: Vec<f32> = (0..c * 4).map(|_| rng.random_range(-9.0f32..9.0)).collect();
        let latent = Latent {
            y: &y,
            z: Some(&z),
            size: (lh, lw),
        };
        let (file, y_hat) = coder.encode(latent, (100, 70)).unwrap();
        assert_eq!(file[4], 2);
        let (h, decoded) = coder.decode(&file).unwrap();
        assert_eq!(
            (h.width, h.height, h.pad_right, h.pad_bottom),
            (100, 70, 12, 10)
        );
        // Bit for bit what the encoder says the decoder gets, and within ½ of y.
        assert_eq!(
            decoded.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y_hat.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let off = y
            .iter()
            .zip(&y_hat)
            .filter(|(a, b)| (*a - *b).abs() > 0.5 + 1e-4);
        assert_eq!(off.count(), 0, "values beyond ½ of the latent");
        // Both payloads are there: the side one is z's alone.
        let (_, p) = nic::parse(&file).unwrap();
        let z_symbols = coder.tables.quantize(&z);
        assert_eq!(p.side, coder.tables.encode(&z_symbols).unwrap());
        assert!(!p.main.is_empty());
        // Without z, or with a z of the wrong size, nothing is written.
        for z in [None, Some(&z[1..])] {
            let err = coder.encode(Latent { z, ..latent }, (100, 70)).unwrap_err();
            assert!(err.to_string().contains("hyper-latent"), "{err}");
        }
        // Another z decodes to another latent: the side payload steers the main one.
        let mut swapped = file[..file.len() - nic::CHECKSUM_LEN].to_vec();
        let other: Vec<f32> = z.iter().map(|v| -v).collect();
        let other_side = coder.tables.encode(&coder.tables.quantize(&other)).unwrap();
        assert_eq!(
            other_side.len(),
            p.side.len(),
            "same length, for the splice"
        );
        swapped[nic::HEADER_LEN_V2..][..p.side.len()].copy_from_slice(&other_side);
        let spliced = nic::seal(&swapped);
        if let Ok((_, v)) = coder.decode(&spliced) {
            assert_ne!(v, decoded);
        }
        // A version 1 file of the same fingerprint is refused by this model, and the
        // reverse.
        let factorized = Coder {
            hyper: None,
            ..coder.clone()
        };
        let v1 = factorized
            .encode(Latent { z: None, ..latent }, (100, 70))
            .unwrap()
            .0;
        for (c, f) in [(&coder, &v1), (&factorized, &file)] {
            let err = c.decode(f).unwrap_err().to_string();
            assert!(err.contains("format version"), "{err}");
        }
        // Layers that do not fit the latent are an error, not a panic.
        let mut bad = coder.clone();
        if let Some(s) = &mut bad.hyper {
            s.out.bias.pop();
        }
        assert!(bad.decode(&file).is_err());
        assert!(bad.encode(latent, (100, 70)).is_err());
    }
}
