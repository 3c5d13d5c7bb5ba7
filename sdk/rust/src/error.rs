//! Errors: the ABI's codes, and the SDK's own.

use std::borrow::Cow;
use std::fmt;

/// Why a call failed: one of the ABI's error codes (abi/ABI.md, "Error
/// codes"), as the host answered, or one of the SDK's own, for a failure
/// found in the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `E_MEMORY` (1): a pointer or length lies outside the guest's memory.
    Memory,
    /// `E_DECODE` (2): the request is not well-formed CBOR of the expected shape.
    Decode,
    /// `E_INVALID` (3): a field has an invalid value.
    Invalid,
    /// `E_DENIED` (4): the access policy does not grant the operation.
    Denied,
    /// `E_NOT_FOUND` (5): no such key, subscription or timer.
    NotFound,
    /// `E_TOO_LARGE` (6): the request or payload exceeds a size limit.
    TooLarge,
    /// `E_FULL` (7): a quota is used up.
    Full,
    /// `E_RATE` (8): a rate limit was hit; retry later.
    Rate,
    /// `E_UNAVAILABLE` (9): the service is not available now.
    Unavailable,
    /// `E_NO_RESPONSE` (10): `response` was called with nothing pending.
    NoResponse,
    /// `E_INTERNAL` (11): the host failed; the message says why.
    Internal,
    /// `E_UNSUPPORTED` (12): the host does not support this request.
    Unsupported,
    /// A code this SDK does not know (from a later host).
    Other(u32),
    /// The SDK's own: a configuration value is not of the type asked for.
    Type,
    /// The SDK's own: the host answered something ABI.md does not allow.
    Protocol,
}

/// The ABI's codes by number, 1 to 12, with their names: the table
/// `sdk/rust/rust_test.go` checks against the `abi` package.
const ABI_CODES: [(Code, &str); 12] = [
    (Code::Memory, "E_MEMORY"),
    (Code::Decode, "E_DECODE"),
    (Code::Invalid, "E_INVALID"),
    (Code::Denied, "E_DENIED"),
    (Code::NotFound, "E_NOT_FOUND"),
    (Code::TooLarge, "E_TOO_LARGE"),
    (Code::Full, "E_FULL"),
    (Code::Rate, "E_RATE"),
    (Code::Unavailable, "E_UNAVAILABLE"),
    (Code::NoResponse, "E_NO_RESPONSE"),
    (Code::Internal, "E_INTERNAL"),
    (Code::Unsupported, "E_UNSUPPORTED"),
];

impl Code {
    /// The code for the ABI's number `n` (a host function returns `-n`).
    pub fn from_abi(n: u32) -> Code {
        match n {
            1..=12 => ABI_CODES[n as usize - 1].0,
            _ => Code::Other(n),
        }
    }

    /// The ABI's number of the code; `None` for the SDK's own.
    pub fn abi(self) -> Option<u32> {
        match self {
            Code::Other(n) => Some(n),
            Code::Type | Code::Protocol => None,
            c => ABI_CODES.iter().position(|&(k, _)| k == c).map(|i| i as u32 + 1),
        }
    }

    /// The code's name as ABI.md writes it: "E_DENIED"; "E_TYPE" and
    /// "E_PROTOCOL" for the SDK's own, "E_UNKNOWN" for another number.
    pub fn name(self) -> &'static str {
        match self {
            Code::Other(_) => "E_UNKNOWN",
            Code::Type => "E_TYPE",
            Code::Protocol => "E_PROTOCOL",
            c => ABI_CODES.iter().find(|&&(k, _)| k == c).map_or("E_UNKNOWN", |&(_, n)| n),
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Other(n) => write!(f, "E_UNKNOWN ({})", n),
            c => f.write_str(c.name()),
        }
    }
}

/// A failed call: its [`Code`] and a message saying why — the host's own
/// message (fetched with the `response` host function as soon as the call
/// fails), or the SDK's. It displays as the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: Code,
    message: Cow<'static, str>,
}

impl Error {
    /// An error with a code and a message.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Error {
        Error { code, message: message.into() }
    }

    /// The code, to branch on: `err.code() == Code::NotFound`.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message: the host's, as it explained the failure, or the SDK's.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The result of the SDK's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
