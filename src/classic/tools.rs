//! AVIF and JPEG XL through Debian's reference tools: `avifenc` / `avifdec` (libavif 0.11.1
//! with libaom 3.6.0, package `libavif-bin`) and `cjxl` / `djxl` (libjxl 0.7.0, package
//! `libjxl-tools`). No crate links these libraries at a version a reference tool here also
//! has (libavif-sys vendors 1.0.4, jpegxl-sys needs libjxl 0.12), so the tools are the
//! baseline itself: the bytes are theirs by construction, at their default settings, and
//! only the quality knob moves.
//!
//! Each image goes through a PNG file in a private temporary folder (one per worker
//! thread), which is what a user running the tool by hand would feed it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use image::RgbImage;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

/// A command-line tool and the Debian package that has it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// The program, found on `PATH`.
    pub program: &'static str,
    /// Debian's package for it.
    pub package: &'static str,
}

/// libavif's encoder.
pub const AVIFENC: Tool = Tool {
    program: "avifenc",
    package: "libavif-bin",
};
/// libavif's decoder.
pub const AVIFDEC: Tool = Tool {
    program: "avifdec",
    package: "libavif-bin",
};
/// libjxl's encoder.
pub const CJXL: Tool = Tool {
    program: "cjxl",
    package: "libjxl-tools",
};
/// libjxl's decoder.
pub const DJXL: Tool = Tool {
    program: "djxl",
    package: "libjxl-tools",
};

impl Tool {
    /// Runs the tool with `args`; a missing tool or a failure is an error saying what to do.
    pub fn run(&self, args: &[&std::ffi::OsStr]) -> Result<()> {
        let out = match Command::new(self.program).args(args).output() {
            Ok(out) => out,
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(
                "`{}` not found on PATH: install Debian's {} (`sudo apt-get install {}`, or \
                 `make codec-tools` as root), or leave this codec out with --codecs",
                self.program,
                self.package,
                self.package
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot start `{}`", self.program)),
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "`{}` failed ({}): {}",
                self.program,
                out.status,
                tail.join(" / ")
            );
        }
        Ok(())
    }

    /// The first line the tool prints for `--version` (e.g. `cjxl v0.7.0 [AVX2,SSE4]`).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(self.program)
            .arg("--version")
            .output()
            .with_context(|| format!("cannot run `{} --version`", self.program))?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        Ok(text.lines().next().unwrap_or("").trim().to_string())
    }
}

/// A private folder for one worker's files, removed when dropped.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A fresh folder under the system's temporary folder.
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("niclab-codec-")
            .tempdir()
            .context("cannot create a temporary folder for the codec tools")?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `tool` with `args`, then the input and output file names (as both tools take
    /// them).
    fn run(tool: Tool, args: &[&str], input: &Path, output: &Path) -> Result<()> {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.push(input.as_os_str());
        all.push(output.as_os_str());
        tool.run(&all)
    }

    /// Encodes `img` with `tool` and `args` and returns the file.
    fn encode(&self, img: &RgbImage, tool: Tool, args: &[&str], ext: &str) -> Result<Vec<u8>> {
        let input = self.path("in.png");
        write_png(img, &input)?;
        let output = self.path(&format!("out.{ext}"));
        Self::run(tool, args, &input, &output)?;
        std::fs::read(&output).with_context(|| format!("`{}` wrote no file", tool.program))
    }

    /// Decodes `file` with `tool` to a PNG and reads it back as RGB.
    fn decode(&self, file: &[u8], tool: Tool, args: &[&str], ext: &str) -> Result<RgbImage> {
        let input = self.path(&format!("in.{ext}"));
        std::fs::write(&input, file)
            .with_context(|| format!("cannot write {}", input.display()))?;
        let output = self.path("out.png");
        Self::run(tool, args, &input, &output)?;
        let img = image::open(&output)
            .with_context(|| format!("cannot read what `{}` decoded", tool.program))?;
        Ok(img.to_rgb8())
    }

    /// The AVIF file of `img` at colour quantizer `qp` (0-63, 0 lossless): avifenc's
    /// defaults otherwise (libaom, speed 6, 8 bits, 4:4:4, full range, BT.601 matrix, one
    /// worker thread).
    pub fn avif_encode(&self, img: &RgbImage, qp: u8) -> Result<Vec<u8>> {
        let q = qp.to_string();
        self.encode(img, AVIFENC, &["--min", &q, "--max", &q], "avif")
    }

    /// Decodes an AVIF file (avifdec's defaults: 8 bits out, automatic chroma upsampling).
    pub fn avif_decode(&self, file: &[u8]) -> Result<RgbImage> {
        self.decode(file, AVIFDEC, &["--png-compress", "0"], "avif")
    }

    /// The JPEG XL file of `img` at cjxl quality `q` (mapped by cjxl to a Butteraugli
    /// distance; 100 is lossless): cjxl's defaults otherwise (VarDCT, effort 7). One thread,
    /// since niclab runs one image per core; libjxl's output does not depend on threads.
    pub fn jxl_encode(&self, img: &RgbImage, q: u8) -> Result<Vec<u8>> {
        let q = q.to_string();
        self.encode(img, CJXL, &["--quiet", "-q", &q, "--num_threads=1"], "jxl")
    }

    /// Decodes a JPEG XL file to 8-bit RGB (djxl, original bit depth).
    pub fn jxl_decode(&self, file: &[u8]) -> Result<RgbImage> {
        self.decode(file, DJXL, &["--quiet", "--num_threads=1"], "jxl")
    }
}

/// Writes a PNG quickly (no filter, fast deflate): the tools read pixels, not PNG bytes.
pub fn write_png(img: &RgbImage, path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let enc = PngEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        CompressionType::Fast,
        FilterType::NoFilter,
    );
    img.write_with_encoder(enc)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Bytes of the AV1 bitstream of an AVIF file: the contents of its `mdat` box, without the
/// `ftyp` and `meta` boxes (item properties, colour information: about 240-300 bytes).
/// `None` if the top-level boxes cannot be walked.
pub fn avif_payload_len(file: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    while pos + 8 <= file.len() {
        let size32 = u32::from_be_bytes(file[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &file[pos + 4..pos + 8];
        let (header, size) = match size32 {
            0 => (8, file.len() - pos),
            1 => {
                let large = file.get(pos + 8..pos + 16)?;
                (16, u64::from_be_bytes(large.try_into().ok()?) as usize)
            }
            s => (8, s),
        };
        if size < header || pos + size > file.len() {
            return None;
        }
        if kind == b"mdat" {
            return Some(size - header);
        }
        pos += size;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mdat_box_is_the_payload() {
        let mut f = Vec::new();
        f.extend_from_slice(&16u32.to_be_bytes());
        f.extend_from_slice(b"ftypavif\0\0\0\0");
        f.extend_from_slice(&13u32.to_be_bytes());
        f.extend_from_slice(b"mdat12345");
        assert_eq!(avif_payload_len(&f), Some(5));
        assert_eq!(avif_payload_len(&f[..20]), None);
        assert_eq!(avif_payload_len(b"junk"), None);
    }

    #[test]
    fn a_missing_tool_names_its_package() {
        let t = Tool {
            program: "niclab-no-such-tool",
            package: "some-package",
        };
        let e = t.run(&[]).unwrap_err().to_string();
        assert!(e.contains("niclab-no-such-tool") && e.contains("apt-get install some-package"));
    }
}
