//! Just enough of the ONNX protobuf format to read a model's initializers (named float32
//! tensors), for importing pretrained weights without Python.
//!
//! Wire format: each field is a varint key `(number << 3) | wire type`, then a varint (type 0),
//! 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5). `ModelProto.graph` is
//! field 7, `GraphProto.initializer` field 5; in `TensorProto`, `dims` is 1, `data_type` 2
//! (1 = float32), `float_data` 4, `name` 8, `raw_data` 9 (little-endian), `data_location` 14
//! (1 = external file, not supported).

use std::collections::BTreeMap;

use anyhow::{Result, bail, ensure};

/// A float32 tensor read from an ONNX file.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxTensor {
    /// Shape.
    pub dims: Vec<usize>,
    /// Values in row-major order.
    pub values: Vec<f32>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                bail!("truncated varint at byte {}", self.pos);
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        bail!("varint longer than 10 bytes at byte {}", self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            bail!("field of {n} bytes at byte {} runs past the end", self.pos);
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next `(field number, value)`, or `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?)?;
                Field::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed
            }
            t => bail!("unsupported protobuf wire type {t} at byte {}", self.pos),
        };
        Ok(Some((key >> 3, field)))
    }
}

/// All float32 initializers of an ONNX model, by name.
pub fn initializers(model: &[u8]) -> Result<BTreeMap<String, OnnxTensor>> {
    let mut out = BTreeMap::new();
    let mut graphs = 0;
    let mut top = Reader::new(model);
    while let Some((num, field)) = top.next()? {
        let (7, Field::Bytes(graph)) = (num, field) else {
            continue;
        };
        graphs += 1;
        let mut g = Reader::new(graph);
        while let Some((num, field)) = g.next()? {
            if let (5, Field::Bytes(t)) = (num, field)
                && let Some((name, tensor)) = tensor(t)?
            {
                out.insert(name, tensor);
            }
        }
    }
    ensure!(graphs == 1, "not an ONNX model: found {graphs} graphs");
    Ok(out)
}

/// One `TensorProto`; `None` for tensors that are not float32.
fn tensor(buf: &[u8]) -> Result<Option<(String, OnnxTensor)>> {
    let mut r = Reader::new(buf);
    let (mut dims, mut name, mut dtype) = (Vec::new(), String::new(), 0);
    let (mut raw, mut floats): (Option<&[u8]>, Vec<f32>) = (None, Vec::new());
    while let Some((num, field)) = r.next()? {
        match (num, field) {
            (1, Field::Varint(d)) => dims.push(usize::try_from(d)?),
            (1, Field::Bytes(packed)) => {
                let mut p = Reader::new(packed);
                while p.pos < packed.len() {
                    dims.push(usize::try_from(p.varint()?)?);
                }
            }
            (2, Field::Varint(t)) => dtype = t,
            (4, Field::Bytes(packed)) => floats.extend(le_floats(packed)?),
            (8, Field::Bytes(n)) => name = String::from_utf8_lossy(n).into_owned(),
            (9, Field::Bytes(b)) => raw = Some(b),
            (14, Field::Varint(1)) => bail!("tensor `{name}` keeps its data in an external file"),
            _ => {}
        }
    }
    if dtype != 1 {
        return Ok(None);
    }
    let values = match raw {
        Some(b) => le_floats(b)?,
        None => floats,
    };
    let count = dims.iter().try_fold(1usize, |a, d| a.checked_mul(*d));
    ensure!(
        count == Some(values.len()),
        "tensor `{name}`: shape {dims:?} does not match its {} values",
        values.len()
    );
    Ok(Some((name, OnnxTensor { dims, values })))
}

fn le_floats(b: &[u8]) -> Result<Vec<f32>> {
    ensure!(
        b.len().is_multiple_of(4),
        "float data of {} bytes is not a multiple of 4",
        b.len()
    );
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(num: u64, data: &[u8], out: &mut Vec<u8>) {
        varint(num << 3 | 2, out);
        varint(data.len() as u64, out);
        out.extend_from_slice(data);
    }

    fn tensor_proto(name: &str, dims: &[u64], values: &[f32], raw: bool) -> Vec<u8> {
        let mut t = Vec::new();
        for d in dims {
            varint(1 << 3, &mut t);
            varint(*d, &mut t);
        }
        varint(2 << 3, &mut t);
        varint(1, &mut t);
        bytes_field(8, name.as_bytes(), &mut t);
        let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes_field(if raw { 9 } else { 4 }, &le, &mut t);
        t
    }

    fn model(tensors: &[Vec<u8>]) -> Vec<u8> {
        let mut g = Vec::new();
        bytes_field(1, b"node-ignored", &mut g);
        for t in tensors {
            bytes_field(5, t, &mut g);
        }
        let mut m = Vec::new();
        varint(1 << 3, &mut m); // ir_version
        varint(8, &mut m);
        bytes_field(7, &g, &mut m);
        m
    }

    #[test]
    fn reads_raw_and_packed_floats() {
        let m = model(&[
            tensor_proto("w", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5], true),
            tensor_proto("b", &[2], &[0.25, 0.5], false),
        ]);
        let t = initializers(&m).unwrap();
        assert_eq!(t["w"].dims, [2, 3]);
        assert_eq!(t["w"].values, [1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        assert_eq!(t["b"].values, [0.25, 0.5]);
    }

    #[test]
    fn damaged_models_are_errors() {
        let m = model(&[tensor_proto("w", &[2, 2], &[1.0, 2.0, 3.0, 4.0], true)]);
        for n in 1..m.len() {
            assert!(initializers(&m[..n]).is_err(), "truncated to {n}");
        }
        let wrong = model(&[tensor_proto("w", &[3, 2], &[1.0, 2.0, 3.0, 4.0], true)]);
        assert!(
            initializers(&wrong)
                .unwrap_err()
                .to_string()
                .contains("does not match")
        );
        assert!(initializers(b"").is_err());
    }
}
