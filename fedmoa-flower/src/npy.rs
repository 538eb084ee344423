//! NPY v1.0 files of little-endian `float32`: the byte format of Flower's
//! `numpy.ndarray` arrays (what `np.save(buf, a, allow_pickle=False)` writes).

use crate::error::FlowerError;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Encodes `data` with `shape` as an NPY v1.0 file of `<f4`, C order.
pub fn encode_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_txt = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // magic(6) + version(2) + header length(2) + header + '\n' is a multiple of 64.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // Header length fits in u16: it is at most a few hundred bytes.
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A decoded NPY array, converted to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Decodes an NPY v1/v2/v3 file of `<f4` or `<f8` (converted to `f32`), C order.
///
/// # Errors
/// [`FlowerError::Decode`] naming what is wrong: bad magic, unsupported dtype,
/// Fortran order, or a data length that does not match the shape.
pub fn decode(bytes: &[u8]) -> Result<NpyArray, FlowerError> {
    let bad = |why: String| FlowerError::Decode(format!("NPY: {why}"));
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing \\x93NUMPY magic".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("unsupported version {v}"))),
    };
    let header_end = start + header_len;
    let header = bytes
        .get(start..header_end)
        .ok_or_else(|| bad("truncated header".into()))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text".into()))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad("no 'descr'".into()))?;
    let fortran =
        dict_value(header, "fortran_order").ok_or_else(|| bad("no 'fortran_order'".into()))?;
    if fortran.trim() != "False" {
        return Err(bad("Fortran-order arrays are not supported".into()));
    }
    let shape_txt = dict_value(header, "shape").ok_or_else(|| bad("no 'shape'".into()))?;
    let shape = parse_shape(shape_txt).ok_or_else(|| bad(format!("bad shape {shape_txt}")))?;
    let n: usize = shape.iter().product();
    let body = &bytes[header_end..];
    let data = match descr.trim().trim_matches('\'') {
        "<f4" => {
            if body.len() != 4 * n {
                return Err(bad(format!(
                    "shape {shape:?} needs {} bytes, got {}",
                    4 * n,
                    body.len()
                )));
            }
            body.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        "<f8" => {
            if body.len() != 8 * n {
                return Err(bad(format!(
                    "shape {shape:?} needs {} bytes, got {}",
                    8 * n,
                    body.len()
                )));
            }
            body.chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    f64::from_le_bytes(b) as f32
                })
                .collect()
        }
        other => return Err(bad(format!("dtype {other} is not supported (use float32)"))),
    };
    Ok(NpyArray { shape, data })
}

/// The text after `'key':` up to the next top-level comma (parentheses nest).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("'{key}':");
    let rest = &header[header.find(&pat)? + pat.len()..];
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

fn parse_shape(txt: &str) -> Option<Vec<usize>> {
    let inner = txt.trim().strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_bytes_numpy_writes() {
        // np.save(buf, np.array([1.0, -2.0], np.float32)) writes this 128-byte file:
        // header "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" (58 bytes)
        // padded with 59 spaces and '\n' to 118 = 128 - 10 bytes, then 8 data bytes.
        let bytes = encode_f32(&[2], &[1.0, -2.0]);
        assert_eq!(bytes.len(), 128 + 8);
        assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
        let header = std::str::from_utf8(&bytes[10..128]).unwrap();
        assert!(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"));
        assert!(header.ends_with(" \n"));
        assert_eq!(&bytes[128..], &[0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    }

    #[test]
    fn round_trips_shapes_including_scalars_and_matrices() {
        for (shape, n) in [(vec![], 1), (vec![3], 3), (vec![2, 3], 6), (vec![0, 4], 0)] {
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 1.0).collect();
            let back = decode(&encode_f32(&shape, &data)).unwrap();
            assert_eq!(
                back,
                NpyArray {
                    shape: shape.clone(),
                    data
                }
            );
        }
    }

    fn npy_with(descr: &str, body: &[u8]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        let h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}");
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn decodes_float64_and_rejects_other_dtypes() {
        assert_eq!(
            decode(&npy_with("<f8", &0.25f64.to_le_bytes()))
                .unwrap()
                .data,
            vec![0.25]
        );
        let err = decode(&npy_with("<i4", &[0; 4])).unwrap_err().to_string();
        assert!(err.contains("dtype <i4"), "{err}");
        let mut short = encode_f32(&[2], &[1.0, 2.0]);
        short.pop();
        assert!(
            decode(&short)
                .unwrap_err()
                .to_string()
                .contains("needs 8 bytes")
        );
        assert!(decode(b"NUMPY").is_err());
    }
}
