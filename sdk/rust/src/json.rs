//! A small JSON (RFC 8259) value type, parser and writer, for shadow
//! documents and JSON payloads, without dependencies.
//!
//! ```ignore
//! use moss::json::{self, Value};
//!
//! let doc = json::parse(br#"{"state":{"delta":{"color":"RED"}}}"#)?;
//! if let Some(color) = doc.path(&["state", "delta", "color"]).and_then(Value::as_str) {
//!     moss::info!("color {}", color);
//! }
//! let report = Value::object(vec![("state", Value::object(vec![("reported", Value::object(vec![("color", "RED".into())]))]))]);
//! moss::publish("out", report.to_string().as_bytes())?;
//! ```
//!
//! Objects keep their members in order, repeated names included; lookups
//! ([`Value::get`]) find the last of repeated names, as Go's encoding/json
//! and JavaScript do. Numbers are `f64`. Strings are Rust strings: bytes that
//! are not UTF-8 and unpaired surrogate escapes become U+FFFD, as in Go.
//! Nesting is limited to [`MAX_DEPTH`], so that parsing, printing and
//! dropping a value stay well inside a component's 64 KiB stack.

use std::fmt::{self, Write};

/// The deepest nesting of arrays and objects [`parse`] takes.
pub const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number (JSON has one kind).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: its members in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object from (name, value) pairs: `Value::object(vec![("a", 1.0.into())])`.
    pub fn object<K: Into<String>>(members: Vec<(K, Value)>) -> Value {
        Value::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The member `name` of an object (the last one, if the name repeats);
    /// `None` for another value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a path of member names, each looked up with
    /// [`get`](Value::get) in the object the previous one found; `&[]` is
    /// the value itself.
    pub fn path(&self, names: &[&str]) -> Option<&Value> {
        names.iter().try_fold(self, |v, name| v.get(name))
    }

    /// Sets member `name` of an object: replaces the last member of that
    /// name, or appends one. Does nothing to a value that is not an object.
    pub fn set(&mut self, name: &str, value: Value) {
        if let Value::Object(m) = self {
            match m.iter_mut().rev().find(|(k, _)| k == name) {
                Some((_, v)) => *v = value,
                None => m.push((name.to_string(), value)),
            }
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is `null`.
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

// ---- Writing ------------------------------------------------------------------

/// Writes the value as compact JSON. A number that is not finite (JSON has
/// none) is written as `null`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{}", b),
            Value::Number(n) => write_number(f, *n),
            Value::String(s) => write_string(f, s),
            Value::Array(a) => {
                f.write_char('[')?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{}", v)?;
                }
                f.write_char(']')
            }
            Value::Object(m) => {
                f.write_char('{')?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_string(f, k)?;
                    write!(f, ":{}", v)?;
                }
                f.write_char('}')
            }
        }
    }
}

fn write_number(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
    if !n.is_finite() {
        return f.write_str("null");
    }
    // Rust's shortest round-trip forms: plain in the usual range, with an
    // exponent for the very large and very small (1e21, 1.5e-7), both JSON.
    let a = n.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        write!(f, "{:e}", n)
    } else {
        write!(f, "{}", n)
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        f.write_str(&s[start..i])?;
        if esc.is_empty() {
            write!(f, "\\u{:04x}", c as u32)?;
        } else {
            f.write_str(esc)?;
        }
        start = i + c.len_utf8();
    }
    f.write_str(&s[start..])?;
    f.write_char('"')
}

// ---- Parsing ------------------------------------------------------------------

/// Why [`parse`] refused a document, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    offset: usize,
    what: &'static str,
}

impl ParseError {
    /// The byte offset where the document goes wrong.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "json: {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON document: exactly one value, whitespace around it
/// allowed, nested at most [`MAX_DEPTH`] deep. A number too large for an
/// `f64` (`1e400`) is refused, as Go refuses it.
pub fn parse(text: &[u8]) -> Result<Value, ParseError> {
    let mut p = Parser { b: text, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("data after the value"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError { offset: self.i, what }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Consumes c, after whitespace, if it is next.
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn literal(&mut self, lit: &'static str, v: Value) -> Result<Value, ParseError> {
        if self.b[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            Ok(v)
        } else {
            Err(self.err("an unknown literal"))
        }
    }

    /// A value; whitespace before it has been skipped.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.err("the end of the document instead of a value")),
            Some(b'{') | Some(b'[') if depth == MAX_DEPTH => Err(self.err("nesting over the limit")),
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                if self.eat(b'}') {
                    return Ok(Value::Object(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.expect(b':', "a missing ':' after a member's name")?;
                    self.ws();
                    m.push((k, self.value(depth + 1)?));
                    if !self.eat(b',') {
                        self.expect(b'}', "a missing ',' or '}' in an object")?;
                        return Ok(Value::Object(m));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                if self.eat(b']') {
                    return Ok(Value::Array(a));
                }
                loop {
                    self.ws();
                    a.push(self.value(depth + 1)?);
                    if !self.eat(b',') {
                        self.expect(b']', "a missing ',' or ']' in an array")?;
                        return Ok(Value::Array(a));
                    }
                }
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => self.number(),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("an invalid character instead of a value")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("a number without digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("a number without digits in its exponent"));
            }
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&self.b[start..self.i]).expect("digits");
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => Err(ParseError { offset: start, what: "a number out of range" }),
        }
    }

    /// Four hex digits of a \u escape.
    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = v << 4 | (c as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    /// A string, opening quote included.
    fn string(&mut self) -> Result<String, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.err("a missing string"));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = match self.peek() {
                None => return Err(self.err("an unterminated string")),
                Some(c) => c,
            };
            self.i += 1;
            match c {
                b'"' => break,
                0..=0x1f => {
                    self.i -= 1;
                    return Err(self.err("a control character in a string"));
                }
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.err("an unterminated string"))?;
                    self.i += 1;
                    let simple = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => 0,
                        _ => return Err(self.err("an invalid escape")),
                    };
                    if e != b'u' {
                        out.push(simple);
                        continue;
                    }
                    let mut r = self.hex4().ok_or_else(|| self.err("an invalid \\u escape"))?;
                    if (0xd800..0xdc00).contains(&r) {
                        // A high surrogate: with a low one after it, one
                        // character.
                        let at = self.i;
                        let lo = if self.b[self.i..].starts_with(b"\\u") {
                            self.i += 2;
                            self.hex4()
                        } else {
                            None
                        };
                        match lo {
                            Some(lo) if (0xdc00..0xe000).contains(&lo) => r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00),
                            _ => {
                                self.i = at;
                                r = 0xfffd;
                            }
                        }
                    }
                    let ch = char::from_u32(r).unwrap_or('\u{fffd}');
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(c),
            }
        }
        Ok(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{:?}: {}", s, e))
    }

    #[test]
    fn shadow_documents() {
        let doc = p(r#"{"state":{"reported":{"color":"GREEN","target_temperature":20},"delta":{"color":"RED","target_temperature":22.5}},"version":7}"#);
        assert_eq!(doc.path(&["state", "delta", "color"]).and_then(Value::as_str), Some("RED"));
        assert_eq!(doc.path(&["state", "delta", "target_temperature"]).and_then(Value::as_f64), Some(22.5));
        assert_eq!(doc.path(&["state", "reported", "target_temperature"]).and_then(Value::as_f64), Some(20.0));
        assert_eq!(doc.path(&["version"]).and_then(Value::as_f64), Some(7.0));
        assert_eq!(doc.path(&["state", "desired"]), None);
        assert_eq!(doc.path(&["version", "x"]), None);
        assert_eq!(doc.path(&[]), Some(&doc));
        assert_eq!(doc.get("state").and_then(Value::as_object).map(<[_]>::len), Some(2));
    }

    #[test]
    fn repeated_names() {
        let v = p(r#"{"a":1,"b":2,"a":3}"#);
        assert_eq!(v.get("a"), Some(&Value::Number(3.0)));
        assert_eq!(v.as_object().unwrap().len(), 3, "members are kept in order");
        assert_eq!(v.to_string(), r#"{"a":1,"b":2,"a":3}"#);
        let mut v = v;
        v.set("a", "x".into());
        v.set("c", Value::Null);
        assert_eq!(v.to_string(), r#"{"a":1,"b":2,"a":"x","c":null}"#);
    }

    #[test]
    fn strings() {
        let v = p(r#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00 é""#);
        assert_eq!(v.as_str(), Some("\"\\/\u{8}\u{c}\n\r\tAé€😀 é"));
        // Unpaired surrogates and bytes that are not UTF-8 become U+FFFD, as
        // in Go.
        assert_eq!(p(r#""\ud800 \udc00 \ud800\u0041 \ud800\ud83d\ude00""#).as_str(), Some("\u{fffd} \u{fffd} \u{fffd}A \u{fffd}😀"));
        assert_eq!(parse(b"\"a\xffb\"").unwrap().as_str(), Some("a\u{fffd}b"));
        // Written back: escapes where JSON needs them, UTF-8 as it is.
        let s = Value::from("q\"b\\n\nt\tc\u{1}é😀\u{7f}");
        assert_eq!(s.to_string(), r#""q\"b\\n\nt\tc\u0001é😀""#.replace("😀", "😀\u{7f}"));
        assert_eq!(parse(s.to_string().as_bytes()).unwrap(), s);
    }

    #[test]
    fn numbers() {
        for (text, want) in [
            ("0", 0.0),
            ("-0", -0.0),
            ("1", 1.0),
            ("-1.5e-7", -1.5e-7),
            ("1E+2", 100.0),
            ("0.1", 0.1),
            ("123456789012345678901234567890", 1.2345678901234568e29),
            ("1e-400", 0.0),
            ("1.7976931348623157e308", f64::MAX),
            ("4.9406564584124654e-324", 5e-324),
        ] {
            let n = p(text).as_f64().unwrap();
            assert_eq!(n.to_bits(), want.to_bits(), "{}", text);
        }
        for text in ["1e400", "-1e400", "1.7976931348623159e308"] {
            assert_eq!(parse(text.as_bytes()).unwrap_err().what, "a number out of range", "{}", text);
        }
        // Written the shortest way that reads back, always as JSON.
        for (n, want) in [
            (20.0, "20"),
            (22.5, "22.5"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (1e21, "1e21"),
            (1.5e-7, "1.5e-7"),
            (1e20, "100000000000000000000"),
            (f64::MAX, "1.7976931348623157e308"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(Value::from(n).to_string(), want);
            if n.is_finite() {
                assert_eq!(p(want).as_f64().unwrap().to_bits(), n.to_bits(), "{}", want);
            }
        }
    }

    #[test]
    fn malformed() {
        for doc in [
            "", " ", "{", "}", r#"{"a":1,}"#, "[1,]", "[,1]", r#"{"a" 1}"#, r#"{"a":1 "b":2}"#, "{a:1}", "{'a':1}", "01", "-", "1.",
            ".5", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "tru", "nul", "falsey", r#""abc"#, r#""a\""#, "\"a\tb\"",
            "\"a\u{0}b\"", r#""\x""#, r#""\u12""#, r#""\u12g4""#, "{} {}", "[1] 2", "[1]]", r#"{"a":1}}"#, "[{]}", r#"{"a":[}"#,
            "[1 2]", r#"{"a"}"#, r#"{"a":}"#, "{,}", "{:1}", "{1:1}", "\"\\", "[", "[\"",
        ] {
            assert!(parse(doc.as_bytes()).is_err(), "{:?} parsed", doc);
        }
        let e = parse(br#"{"a": [1, 2,]}"#).unwrap_err();
        assert_eq!((e.offset(), e.to_string().as_str()), (12, "json: an invalid character instead of a value at byte 12"));
    }

    #[test]
    fn depth() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let v = p(&nested(MAX_DEPTH));
        assert_eq!(v.to_string(), nested(MAX_DEPTH));
        assert_eq!(parse(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err().what, "nesting over the limit");
        let objects = format!("{}1{}", r#"{"a":"#.repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(parse(objects.as_bytes()).is_err());
    }

    #[test]
    fn round_trip() {
        for doc in [
            r#"{"state":{"reported":{"color":"RED","target_temperature":21.5},"desired":{"color":null}}}"#,
            r#"[true,false,null,"s",1,{},[],-2.5,"\u0001"]"#,
            r#"{"":{"":""}}"#,
        ] {
            assert_eq!(p(doc).to_string(), doc);
        }
        let built = Value::object(vec![
            ("color", Value::from("BLUE")),
            ("target_temperature", 20.0.into()),
            ("none", Value::from(None::<f64>)),
            ("list", vec![Value::from(1i64), true.into()].into()),
        ]);
        assert_eq!(built.to_string(), r#"{"color":"BLUE","target_temperature":20,"none":null,"list":[1,true]}"#);
    }
}
