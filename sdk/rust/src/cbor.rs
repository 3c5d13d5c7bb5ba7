//! The SDK's CBOR (RFC 8949) codec: only what the Moss ABI uses
//! (abi/ABI.md, "Overview"): definite lengths, text-keyed maps, no tags in
//! what it writes.
//!
//! [`Encoder`] writes preferred (shortest) heads into a `Vec<u8>`.
//! [`Decoder`] reads from a byte slice without copying: every length is
//! checked against the bytes left before it is used, so no input can make
//! it read outside the slice, allocate, or loop for long, and a failure is
//! an [`InvalidCbor`], never a panic.
//!
//! [`Encoder`] is also how a component builds a value for
//! [`config_update`](crate::config_update) with [`Raw`](crate::Raw).

use core::fmt;

/// The most bytes one request may take (ABI.md, "Overview"): the SDK
/// refuses a larger one with `E_TOO_LARGE` without calling the host.
pub const MAX_SIZE: usize = 1 << 20;

/// Major types (RFC 8949, section 3.1).
const UINT: u8 = 0;
const NEGINT: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;
const SIMPLE: u8 = 7;

/// Writes CBOR data items. Each call appends one item, or for [`array`] and
/// [`map`] a header that the caller follows with that many items (pairs).
///
/// [`array`]: Encoder::array
/// [`map`]: Encoder::map
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty encoder.
    pub fn new() -> Encoder {
        Encoder { buf: Vec::new() }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written, taking them.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Empties the encoder, keeping its buffer unless it grew over `keep`
    /// bytes.
    pub(crate) fn reset(&mut self, keep: usize) {
        if self.buf.capacity() > keep {
            self.buf = Vec::new();
        }
        self.buf.clear();
    }

    fn head(&mut self, major: u8, v: u64) -> &mut Self {
        let m = major << 5;
        if v < 24 {
            self.buf.push(m | v as u8);
        } else if v <= u8::MAX as u64 {
            self.buf.extend_from_slice(&[m | 24, v as u8]);
        } else if v <= u16::MAX as u64 {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= u32::MAX as u64 {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        self
    }

    /// An unsigned integer.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(UINT, v)
    }

    /// An integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(UINT, v as u64)
        } else {
            self.head(NEGINT, !(v as u64)) // -1 - v
        }
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(BYTES, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    /// A text string.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(TEXT, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// An array header: `n` items follow.
    pub fn array(&mut self, n: usize) -> &mut Self {
        self.head(ARRAY, n as u64)
    }

    /// A map header: `n` key-value pairs follow.
    pub fn map(&mut self, n: usize) -> &mut Self {
        self.head(MAP, n as u64)
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(if v { 0xf5 } else { 0xf4 });
        self
    }

    /// Null.
    pub fn null(&mut self) -> &mut Self {
        self.buf.push(0xf6);
        self
    }

    /// A 64-bit float (9 bytes).
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.buf.push(0xfb);
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
        self
    }

    /// Bytes that are already one CBOR item (or several, in a container).
    pub fn raw(&mut self, cbor: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(cbor);
        self
    }
}

/// The error of every [`Decoder`] method: the input is not CBOR of the
/// shape asked for (malformed, truncated, or another type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidCbor;

impl fmt::Display for InvalidCbor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed CBOR")
    }
}

impl std::error::Error for InvalidCbor {}

/// What the next item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// An unsigned integer (major type 0).
    Uint,
    /// A negative integer (major type 1).
    NegInt,
    /// A byte string.
    Bytes,
    /// A text string.
    Text,
    /// An array.
    Array,
    /// A map.
    Map,
    /// A tag (the ABI allows none).
    Tag,
    /// `false` or `true`.
    Bool,
    /// `null`.
    Null,
    /// `undefined`.
    Undefined,
    /// A float: half, single or double precision.
    Float,
    /// Another simple value.
    Simple,
}

impl Type {
    /// The type with an article, for messages: "an integer", "text".
    pub fn describe(self) -> &'static str {
        match self {
            Type::Uint | Type::NegInt => "an integer",
            Type::Bytes => "bytes",
            Type::Text => "text",
            Type::Array => "an array",
            Type::Map => "a map",
            Type::Tag => "a tag",
            Type::Bool => "a boolean",
            Type::Null => "null",
            Type::Undefined => "undefined",
            Type::Float => "a float",
            Type::Simple => "a simple value",
        }
    }
}

type Res<T> = Result<T, InvalidCbor>;

/// Reads CBOR items from a byte slice. Strings it returns borrow from the
/// slice. A method that fails leaves the position where it was.
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the start of `data`.
    pub fn new(data: &'a [u8]) -> Decoder<'a> {
        Decoder { data, pos: 0 }
    }

    /// Whether every byte has been read.
    pub fn done(&self) -> bool {
        self.pos == self.data.len()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    /// Reads an item's head: its major type, additional information and
    /// argument (for a float or simple value, its bits), and the position
    /// after it. Indefinite lengths and reserved values fail.
    fn head_at(&self, pos: usize) -> Res<(u8, u8, u64, usize)> {
        let b = *self.data.get(pos).ok_or(InvalidCbor)?;
        let (major, ai) = (b >> 5, b & 0x1f);
        let n = match ai {
            0..=23 => return Ok((major, ai, ai as u64, pos + 1)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(InvalidCbor), // reserved, or indefinite (31)
        };
        let arg = self.data.get(pos + 1..pos + 1 + n).ok_or(InvalidCbor)?;
        let v = arg.iter().fold(0u64, |v, &b| v << 8 | b as u64);
        // A simple value in two bytes must be 32 or more (RFC 8949, 3.3).
        if major == SIMPLE && ai == 24 && v < 32 {
            return Err(InvalidCbor);
        }
        Ok((major, ai, v, pos + 1 + n))
    }

    /// What the next item is; `None` at the end or before a malformed head.
    pub fn peek(&self) -> Option<Type> {
        let (major, ai, v, _) = self.head_at(self.pos).ok()?;
        Some(match major {
            UINT => Type::Uint,
            NEGINT => Type::NegInt,
            BYTES => Type::Bytes,
            TEXT => Type::Text,
            ARRAY => Type::Array,
            MAP => Type::Map,
            TAG => Type::Tag,
            _ => match (ai, v) {
                (20, _) | (21, _) => Type::Bool,
                (22, _) => Type::Null,
                (23, _) => Type::Undefined,
                (25..=27, _) => Type::Float,
                _ => Type::Simple,
            },
        })
    }

    /// Reads a head of major type `want`, returning its argument.
    fn expect(&mut self, want: u8) -> Res<u64> {
        let (major, _, v, next) = self.head_at(self.pos)?;
        if major != want {
            return Err(InvalidCbor);
        }
        self.pos = next;
        Ok(v)
    }

    /// Reads a string's bytes: a head of type `major` and its content.
    fn string(&mut self, major: u8) -> Res<&'a [u8]> {
        let (m, _, n, next) = self.head_at(self.pos)?;
        if m != major || n > (self.data.len() - next) as u64 {
            return Err(InvalidCbor);
        }
        let end = next + n as usize;
        self.pos = end;
        Ok(&self.data[next..end])
    }

    /// An unsigned integer.
    pub fn uint(&mut self) -> Res<u64> {
        self.expect(UINT)
    }

    /// An integer (unsigned or negative) that fits in an `i64`.
    pub fn int(&mut self) -> Res<i64> {
        let (major, _, v, next) = self.head_at(self.pos)?;
        let i = match major {
            UINT if v <= i64::MAX as u64 => v as i64,
            NEGINT if v <= i64::MAX as u64 => -1 - v as i64,
            _ => return Err(InvalidCbor),
        };
        self.pos = next;
        Ok(i)
    }

    /// A byte string.
    pub fn bytes(&mut self) -> Res<&'a [u8]> {
        self.string(BYTES)
    }

    /// A text string, which must be UTF-8.
    pub fn text(&mut self) -> Res<&'a str> {
        let at = self.pos;
        let b = self.string(TEXT)?;
        core::str::from_utf8(b).map_err(|_| {
            self.pos = at;
            InvalidCbor
        })
    }

    /// An array header: the number of items that follow. A count larger than
    /// the bytes left (each item takes one at least) fails.
    pub fn array(&mut self) -> Res<usize> {
        self.container(ARRAY, 1)
    }

    /// A map header: the number of pairs that follow.
    pub fn map(&mut self) -> Res<usize> {
        self.container(MAP, 2)
    }

    /// A map header, as `map`, for a map whose pairs must all be there,
    /// keyed by text, no key given twice: the ABI refuses a map with a key
    /// twice (ABI.md, "Overview") rather than pick one of its values. The
    /// pairs are read ahead and left to the caller.
    pub fn map_unique(&mut self) -> Res<usize> {
        let n = self.map()?;
        let mut ahead = Decoder { data: self.data, pos: self.pos };
        let mut keys: Vec<&[u8]> = Vec::with_capacity(n.min(16));
        for _ in 0..n {
            let k = ahead.string(TEXT)?;
            if keys.contains(&k) {
                return Err(InvalidCbor);
            }
            keys.push(k);
            ahead.skip()?;
        }
        Ok(n)
    }

    fn container(&mut self, major: u8, per: u64) -> Res<usize> {
        let (m, _, n, next) = self.head_at(self.pos)?;
        if m != major || n > (self.data.len() - next) as u64 / per {
            return Err(InvalidCbor);
        }
        self.pos = next;
        Ok(n as usize)
    }

    /// A boolean.
    pub fn bool(&mut self) -> Res<bool> {
        match self.data.get(self.pos) {
            Some(0xf4) => {
                self.pos += 1;
                Ok(false)
            }
            Some(0xf5) => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(InvalidCbor),
        }
    }

    /// Null.
    pub fn null(&mut self) -> Res<()> {
        if self.data.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            Ok(())
        } else {
            Err(InvalidCbor)
        }
    }

    /// A float of any width, or an integer (converted, rounding to the
    /// nearest float).
    pub fn f64(&mut self) -> Res<f64> {
        let (major, ai, v, next) = self.head_at(self.pos)?;
        let f = match (major, ai) {
            (UINT, _) => v as f64,
            (NEGINT, _) => -1.0 - v as f64,
            (SIMPLE, 25) => f16_to_f64(v as u16),
            (SIMPLE, 26) => f32::from_bits(v as u32) as f64,
            (SIMPLE, 27) => f64::from_bits(v),
            _ => return Err(InvalidCbor),
        };
        self.pos = next;
        Ok(f)
    }

    /// Skips one whole item, whatever it is (tags and nested containers
    /// included), without recursion. Returns the bytes it spanned.
    pub fn skip(&mut self) -> Res<&'a [u8]> {
        let start = self.pos;
        let mut pos = self.pos;
        let mut pending: u64 = 1; // items still to skip
        while pending > 0 {
            pending -= 1;
            let (major, _, v, next) = self.head_at(pos)?;
            pos = next;
            let left = (self.data.len() - pos) as u64;
            match major {
                BYTES | TEXT => {
                    if v > left {
                        return Err(InvalidCbor);
                    }
                    pos += v as usize;
                }
                ARRAY | MAP | TAG => {
                    let items = match major {
                        ARRAY => v,
                        MAP if v <= u64::MAX / 2 => 2 * v,
                        MAP => return Err(InvalidCbor),
                        _ => 1,
                    };
                    // Every pending item takes a byte at least.
                    pending = pending.checked_add(items).ok_or(InvalidCbor)?;
                    if pending > left {
                        return Err(InvalidCbor);
                    }
                }
                _ => {}
            }
        }
        self.pos = pos;
        Ok(&self.data[start..pos])
    }
}

/// Converts an IEEE 754 half-precision float.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = (h >> 10 & 0x1f) as i32;
    let mant = (h & 0x3ff) as f64;
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut e = Encoder::new();
        e.map(3).text("a").int(-500).text("b").bytes(b"xy").text("c").f64(1.5);
        let b = e.into_bytes();
        let mut d = Decoder::new(&b);
        assert_eq!(d.map(), Ok(3));
        assert_eq!(d.text(), Ok("a"));
        assert_eq!(d.int(), Ok(-500));
        assert_eq!(d.text(), Ok("b"));
        assert_eq!(d.bytes(), Ok(&b"xy"[..]));
        assert_eq!(d.text(), Ok("c"));
        assert_eq!(d.f64(), Ok(1.5));
        assert!(d.done());
    }

    #[test]
    fn map_unique_refuses_a_key_twice() {
        // {"a": 1, "b": 2}, then {"a": 1, "a": 1}, then 40 keys with the 36th again last.
        let mut d = Decoder::new(&[0xa2, 0x61, b'a', 0x01, 0x61, b'b', 0x02]);
        assert_eq!(d.map_unique(), Ok(2));
        assert_eq!(d.text(), Ok("a"));
        assert!(Decoder::new(&[0xa2, 0x61, b'a', 0x01, 0x61, b'a', 0x01]).map_unique().is_err());
        let mut e = Encoder::new();
        e.map(41);
        for i in 0..40 {
            e.text(&format!("k{}", i)).uint(0);
        }
        e.text("k35").uint(0);
        let b = e.into_bytes();
        assert!(Decoder::new(&b).map_unique().is_err());
        // A map declaring more pairs than it holds.
        assert!(Decoder::new(&[0xa2, 0x61, b'a', 0x01]).map_unique().is_err());
    }

    #[test]
    fn refuses_lies() {
        // An array declaring 2^32 items, a text longer than the input.
        assert!(Decoder::new(&[0x9a, 0xff, 0xff, 0xff, 0xff]).array().is_err());
        assert!(Decoder::new(&[0x65, 0x61]).text().is_err());
        assert!(Decoder::new(&[0x9f, 0x00, 0xff]).skip().is_err());
        assert!(Decoder::new(&[0x62, 0xff, 0xfe]).text().is_err());
    }

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 5.960464477539063e-8);
        assert!(f16_to_f64(0x7c00).is_infinite());
    }
}
