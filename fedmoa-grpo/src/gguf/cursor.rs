//! A bounds-checked little-endian reader over the file bytes.

use super::GgufError;

/// Reads primitive values from a byte slice, failing (never panicking) at its end.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Current byte offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left after the current offset.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], GgufError> {
        let truncated = || GgufError::Truncated {
            what,
            offset: self.pos,
            needed: n,
            available: self.remaining(),
        };
        let n = usize::try_from(n).map_err(|_| truncated())?;
        if n > self.remaining() {
            return Err(truncated());
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, GgufError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian `u16`.
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, GgufError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u32`.
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u64`.
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A GGUF string: `u64` byte length, then UTF-8 bytes.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        let offset = self.pos;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| GgufError::Malformed {
            offset,
            reason: format!("{what} is not UTF-8: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_stops_at_the_end() {
        let bytes = [0x01, 0x02, 0x03, 0x04, 0x05];
        let mut c = Cursor::new(&bytes);
        // 0x04030201 = 67305985
        assert_eq!(c.u32("x").unwrap(), 0x0403_0201);
        assert_eq!(c.remaining(), 1);
        let err = c.u16("y").unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Truncated {
                    needed: 2,
                    available: 1,
                    ..
                }
            ),
            "{err}"
        );
        // a failed read consumes nothing
        assert_eq!(c.u8("z").unwrap(), 5);
    }

    #[test]
    fn huge_string_length_is_an_error_not_an_allocation() {
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let err = Cursor::new(&bytes).string("key").unwrap_err();
        assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
    }
}
