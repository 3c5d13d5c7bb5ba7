//! Device shadows: the host's shadow service, with the semantics of the AWS
//! IoT Device Shadow service (host functions `shadow_get`, `shadow_update`,
//! `shadow_delete`, `shadow_list`, `shadow_watch`; abi/ABI.md, "Device
//! shadows").
//!
//! In every call `thing` may be `""` for the device's own thing and `name`
//! `""` for the classic shadow. The documents are IoT Core's JSON, byte for
//! byte; read them with [`json`](crate::json):
//!
//! ```ignore
//! use moss::{json, shadow};
//!
//! match shadow::get("", "thermostat") {
//!     Ok(doc) => {
//!         let doc = json::parse(&doc)?;
//!         let color = doc.path(&["state", "reported", "color"]).and_then(json::Value::as_str);
//!     }
//!     Err(e) if e.is_not_found() => { /* no shadow yet */ }
//!     Err(e) => return Err(e.into()),
//! }
//! shadow::update("", "thermostat", br#"{"state":{"reported":{"color":"RED"}}}"#)?;
//! shadow::on_delta("", "thermostat", |m| moss::info!("delta: {}", String::from_utf8_lossy(m.payload())))?;
//! ```
//!
//! The access policy resource is `$aws/things/THING/shadow` for a classic
//! shadow and `$aws/things/THING/shadow/name/NAME` for a named one.

use std::fmt;

use crate::cbor::{Decoder, Type};
use crate::error::{Code, Error, Result};
use crate::host::{self, imports, HostFn};
use crate::json::{self, Value};
use crate::{runtime, Message, Subscription};

/// Why a shadow call failed: the shadow service rejected it, or the call
/// itself failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShadowError {
    /// The shadow service rejected the request: IoT Core's error code (400
    /// bad document, 404 no such shadow, 409 version conflict, 413 too
    /// large, 415, 429 rate limit, 500) and the message of its rejected
    /// document.
    Rejected {
        /// The error code: the status the service answered.
        code: u16,
        /// The rejected document's message.
        message: String,
    },
    /// The call failed before the service answered: [`Code::Denied`] (no
    /// grant), [`Code::Unavailable`] (no shadow service), [`Code::Invalid`]
    /// (a bad thing or shadow name), [`Code::TooLarge`] (a document over
    /// 128 KiB)...
    Call(Error),
}

impl ShadowError {
    /// The service's error code, for a rejected request.
    pub fn code(&self) -> Option<u16> {
        match self {
            ShadowError::Rejected { code, .. } => Some(*code),
            ShadowError::Call(_) => None,
        }
    }

    /// Whether the shadow does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// The service's message, or the failed call's.
    pub fn message(&self) -> &str {
        match self {
            ShadowError::Rejected { message, .. } => message,
            ShadowError::Call(e) => e.message(),
        }
    }
}

impl fmt::Display for ShadowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShadowError::Rejected { code, message } => write!(f, "shadow service: {} {}", code, message),
            ShadowError::Call(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ShadowError {}

impl From<Error> for ShadowError {
    fn from(e: Error) -> ShadowError {
        ShadowError::Call(e)
    }
}

/// Reads a `{status, payload}` response.
fn read_status(name: &str, resp: &[u8]) -> Result<(u16, Vec<u8>)> {
    let bad = || Error::new(Code::Protocol, format!("moss: {}: the response holds no status", name));
    let mut d = Decoder::new(resp);
    let (mut status, mut payload) = (None, Vec::new());
    for _ in 0..d.map_unique().map_err(|_| bad())? {
        match d.text().map_err(|_| bad())? {
            "status" => status = d.uint().ok().and_then(|s| u16::try_from(s).ok()),
            // Go's CBOR encoder writes an empty document as null.
            "payload" if d.peek() == Some(Type::Null) => d.null().map_err(|_| bad())?,
            "payload" => payload = d.bytes().map_err(|_| bad())?.to_vec(),
            _ => {
                d.skip().map_err(|_| bad())?; // a key from a later version
            }
        }
    }
    match status {
        Some(s) if (100..1000).contains(&s) && d.done() => Ok((s, payload)),
        _ => Err(bad()),
    }
}

/// The result of a status and document: the document when accepted (200),
/// the rejection otherwise.
fn accepted(status: u16, doc: Vec<u8>) -> Result<Vec<u8>, ShadowError> {
    if status == 200 {
        return Ok(doc);
    }
    let message = json::parse(&doc)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&doc).into_owned());
    Err(ShadowError::Rejected { code: status, message })
}

fn request(name: &'static str, f: HostFn, thing: &str, shadow: &str, doc: Option<&[u8]>) -> Result<Vec<u8>, ShadowError> {
    let (status, doc) = host::call(
        name,
        f,
        |e| {
            let n = !thing.is_empty() as usize + !shadow.is_empty() as usize + doc.is_some() as usize;
            e.map(n);
            if !thing.is_empty() {
                e.text("thing").text(thing);
            }
            if !shadow.is_empty() {
                e.text("name").text(shadow);
            }
            if let Some(d) = doc {
                e.text("payload").bytes(d);
            }
        },
        |resp| read_status(name, resp),
    )?;
    accepted(status, doc)
}

/// Reads a shadow: the get/accepted document (state with desired, reported
/// and delta, metadata, version, timestamp). Grant: `shadow.get`.
///
/// Errors: [`ShadowError::Rejected`] with code 404 when the shadow does
/// not exist ([`ShadowError::is_not_found`]).
pub fn get(thing: &str, name: &str) -> Result<Vec<u8>, ShadowError> {
    request("shadow_get", imports::shadow_get, thing, name, None)
}

/// Sends an update document, e.g.
/// `{"state":{"reported":{"color":"RED"}},"version":7}`, and returns the
/// update/accepted document. Grant: `shadow.update`.
///
/// Errors: [`ShadowError::Rejected`] with 400 (bad JSON or structure), 409
/// (version conflict), 413 (state too large) or 429 (rate).
pub fn update(thing: &str, name: &str, doc: &[u8]) -> Result<Vec<u8>, ShadowError> {
    request("shadow_update", imports::shadow_update, thing, name, Some(doc))
}

/// Deletes a shadow and returns the delete/accepted document. Grant:
/// `shadow.delete`. Errors: [`ShadowError::Rejected`] with 404.
pub fn delete(thing: &str, name: &str) -> Result<Vec<u8>, ShadowError> {
    request("shadow_delete", imports::shadow_delete, thing, name, None)
}

/// A page of a thing's named shadows, as [`list`] returns it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Page {
    /// The shadows' names.
    pub names: Vec<String>,
    /// Where the next page starts; `None` after the last.
    pub next_token: Option<String>,
}

/// Lists a thing's named shadows, `page_size` of them (1 to 100; 0 for the
/// service's default, 25) from `next_token` (`""` for the first page).
/// Grant: `shadow.list` on `$aws/things/THING`.
pub fn list(thing: &str, page_size: u32, next_token: &str) -> Result<Page, ShadowError> {
    let (status, doc) = host::call(
        "shadow_list",
        imports::shadow_list,
        |e| {
            e.map(!thing.is_empty() as usize + (page_size > 0) as usize + !next_token.is_empty() as usize);
            if !thing.is_empty() {
                e.text("thing").text(thing);
            }
            if page_size > 0 {
                e.text("page_size").uint(page_size as u64);
            }
            if !next_token.is_empty() {
                e.text("next_token").text(next_token);
            }
        },
        |resp| read_status("shadow_list", resp),
    )?;
    let doc = accepted(status, doc)?;
    read_page(&doc).ok_or_else(|| {
        Error::new(Code::Protocol, format!("moss: shadow_list: not a page of names: {}", String::from_utf8_lossy(&doc))).into()
    })
}

/// Lists all of a thing's named shadows, following the service's pages (100
/// names a page) to the end. Grant: `shadow.list` on `$aws/things/THING`.
pub fn list_all(thing: &str) -> Result<Vec<String>, ShadowError> {
    let (mut names, mut token) = (Vec::new(), String::new());
    loop {
        let page = list(thing, 100, &token)?;
        names.extend(page.names);
        match page.next_token {
            None => return Ok(names),
            Some(t) if t == token => {
                let msg = format!("moss: shadow_list: the service returned next token {:?} again", t);
                return Err(Error::new(Code::Protocol, msg).into());
            }
            Some(t) => token = t,
        }
    }
}

/// Reads `{"results":["name",...],"nextToken":"..."}`.
fn read_page(doc: &[u8]) -> Option<Page> {
    let v = json::parse(doc).ok()?;
    let names = match v.get("results") {
        None | Some(Value::Null) => Vec::new(),
        Some(r) => r.as_array()?.iter().map(|n| n.as_str().map(str::to_string)).collect::<Option<_>>()?,
    };
    let next_token = v.get("nextToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
    Some(Page { names, next_token })
}

fn watch(thing: &str, name: &str, topic: &str, f: impl FnMut(&Message<'_>) + 'static) -> Result<Subscription> {
    let id = host::call(
        "shadow_watch",
        imports::shadow_watch,
        |e| {
            e.map(1 + !thing.is_empty() as usize + !name.is_empty() as usize);
            if !thing.is_empty() {
                e.text("thing").text(thing);
            }
            if !name.is_empty() {
                e.text("name").text(name);
            }
            e.text("topic").text(topic);
        },
        host::read_id("shadow_watch"),
    )?;
    runtime::put_sub(id, Box::new(f));
    Ok(Subscription { id })
}

/// Calls `f` with each of the shadow's update/delta messages: the
/// difference between desired and reported state, after each update that
/// leaves one (`{"state":{...},"metadata":{...},"version":N,...}`). Granted
/// by `shadow.get`; end it with [`Subscription::unsubscribe`].
///
/// Errors: [`Code::Invalid`] (a bad thing or shadow name),
/// [`Code::Denied`], [`Code::Full`].
pub fn on_delta(thing: &str, name: &str, f: impl FnMut(&Message<'_>) + 'static) -> Result<Subscription> {
    watch(thing, name, "delta", f)
}

/// Calls `f` with each of the shadow's update/documents messages (the
/// previous and current state after every accepted update), as
/// [`on_delta`] does.
pub fn on_documents(thing: &str, name: &str, f: impl FnMut(&Message<'_>) + 'static) -> Result<Subscription> {
    watch(thing, name, "documents", f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::Encoder;

    fn response(build: impl FnOnce(&mut Encoder)) -> Vec<u8> {
        let mut e = Encoder::new();
        build(&mut e);
        e.into_bytes()
    }

    #[test]
    fn status_responses() {
        let ok = response(|e| {
            e.map(2).text("status").uint(200).text("payload").bytes(b"{}");
        });
        assert_eq!(read_status("t", &ok), Ok((200, b"{}".to_vec())));
        let later = response(|e| {
            e.map(3).text("later").array(1).uint(1).text("payload").null().text("status").uint(404);
        });
        assert_eq!(read_status("t", &later), Ok((404, Vec::new())));
        for (what, b) in [
            ("no status", response(|e| {
                e.map(1).text("payload").bytes(b"");
            })),
            ("status 0", response(|e| {
                e.map(1).text("status").uint(0);
            })),
            ("status as text", response(|e| {
                e.map(1).text("status").text("200");
            })),
            ("status over 16 bits", response(|e| {
                e.map(1).text("status").uint(70000);
            })),
            ("trailing bytes", {
                let mut b = response(|e| {
                    e.map(1).text("status").uint(200);
                });
                b.push(0);
                b
            }),
            ("not a map", response(|e| {
                e.array(1).uint(200);
            })),
        ] {
            assert_eq!(read_status("t", &b).map_err(|e| e.code()), Err(Code::Protocol), "{}", what);
        }
    }

    #[test]
    fn rejections() {
        assert_eq!(accepted(200, b"{}".to_vec()), Ok(b"{}".to_vec()));
        let e = accepted(404, br#"{"code":404,"message":"No shadow exists with name: 'thermostat'","timestamp":1}"#.to_vec()).unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(e.message(), "No shadow exists with name: 'thermostat'");
        assert_eq!(e.to_string(), "shadow service: 404 No shadow exists with name: 'thermostat'");
        let e = accepted(409, b"not json".to_vec()).unwrap_err();
        assert_eq!((e.code(), e.message()), (Some(409), "not json"));
        let e = ShadowError::from(Error::new(Code::Denied, "no grant"));
        assert_eq!((e.code(), e.is_not_found(), e.to_string()), (None, false, "no grant".to_string()));
    }

    #[test]
    fn pages() {
        let p = read_page(br#"{"results":["a","b"],"nextToken":"t2","timestamp":1}"#).unwrap();
        assert_eq!(p, Page { names: vec!["a".into(), "b".into()], next_token: Some("t2".into()) });
        assert_eq!(read_page(br#"{"results":[],"timestamp":1}"#), Some(Page::default()));
        assert_eq!(read_page(br#"{"results":[1]}"#), None);
    }
}
