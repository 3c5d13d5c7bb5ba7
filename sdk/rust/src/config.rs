//! Configuration: typed reads, updates and watches (host functions
//! `config_get`, `config_update`, `config_watch`).

use crate::cbor::{Decoder, Encoder, Type};
use crate::error::{Code, Error, Result};
use crate::host::{self, imports};
use crate::runtime;

/// A type [`config_get`] can read a value as. Implemented for `String`,
/// `f64` (a float, or an integer converted), `i64` (an integer only: a float
/// is a [`Code::Type`] error, even `5.0`, as the Go SDK decodes), `bool`,
/// and [`Raw`] (any value, as CBOR).
pub trait FromConfig: Sized {
    /// Reads the value d is at; when it is of another type, says why not
    /// ([`mismatch`] writes the usual message).
    fn read(d: &mut Decoder<'_>) -> std::result::Result<Self, String>;
}

/// The explanation of a value that is not `what`: "a float, not an
/// integer".
pub fn mismatch(d: &Decoder<'_>, what: &str) -> String {
    format!("{}, not {}", d.peek().map_or("not well-formed", Type::describe), what)
}

impl FromConfig for String {
    fn read(d: &mut Decoder<'_>) -> std::result::Result<String, String> {
        d.text().map(str::to_string).map_err(|_| mismatch(d, "text"))
    }
}

impl FromConfig for f64 {
    fn read(d: &mut Decoder<'_>) -> std::result::Result<f64, String> {
        d.f64().map_err(|_| mismatch(d, "a number"))
    }
}

impl FromConfig for i64 {
    fn read(d: &mut Decoder<'_>) -> std::result::Result<i64, String> {
        match d.peek() {
            Some(Type::Uint | Type::NegInt) => d.int().map_err(|_| "the integer does not fit in 64 bits".to_string()),
            _ => Err(mismatch(d, "an integer")),
        }
    }
}

impl FromConfig for bool {
    fn read(d: &mut Decoder<'_>) -> std::result::Result<bool, String> {
        d.bool().map_err(|_| mismatch(d, "a boolean"))
    }
}

/// A configuration value as CBOR bytes: what [`config_get`] returns for any
/// value (maps, arrays...), and what [`config_update`] sends as it is (build
/// one with [`Encoder`](crate::cbor::Encoder)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raw(pub Vec<u8>);

impl FromConfig for Raw {
    fn read(d: &mut Decoder<'_>) -> std::result::Result<Raw, String> {
        d.skip().map(|b| Raw(b.to_vec())).map_err(|_| mismatch(d, "CBOR"))
    }
}

/// A value [`config_update`] can write.
pub trait IntoConfig {
    /// Writes the value as one CBOR item.
    fn write(&self, e: &mut Encoder);
}

impl IntoConfig for str {
    fn write(&self, e: &mut Encoder) {
        e.text(self);
    }
}
impl IntoConfig for String {
    fn write(&self, e: &mut Encoder) {
        e.text(self);
    }
}
impl IntoConfig for f64 {
    fn write(&self, e: &mut Encoder) {
        e.f64(*self);
    }
}
impl IntoConfig for i64 {
    fn write(&self, e: &mut Encoder) {
        e.int(*self);
    }
}
impl IntoConfig for bool {
    fn write(&self, e: &mut Encoder) {
        e.bool(*self);
    }
}
impl IntoConfig for Raw {
    fn write(&self, e: &mut Encoder) {
        e.raw(&self.0);
    }
}
impl<T: IntoConfig + ?Sized> IntoConfig for &T {
    fn write(&self, e: &mut Encoder) {
        (**self).write(e)
    }
}

/// Reads the value at `path`: keys separated by '.', as "mqtt.broker"; ""
/// is the whole tree (use [`config_get_path`] for keys holding a '.').
///
/// Errors: [`Code::NotFound`] when there is no value at path (a default
/// stays), [`Code::Type`] when the value is of another type.
///
/// ```ignore
/// let threshold = match moss::config_get::<f64>("threshold") {
///     Err(e) if e.code() == moss::Code::NotFound => 28.0,
///     r => r?,
/// };
/// ```
pub fn config_get<T: FromConfig>(path: &str) -> Result<T> {
    get(path, |e| host::put_dotted(e, path))
}

/// Reads the value at the path given key by key (`&[]` is the whole tree).
pub fn config_get_path<T: FromConfig>(keys: &[&str]) -> Result<T> {
    get(&keys.join("."), |e| {
        e.array(keys.len());
        for k in keys {
            e.text(k);
        }
    })
}

fn get<T: FromConfig>(shown: &str, put_path: impl FnOnce(&mut Encoder)) -> Result<T> {
    host::call(
        "config_get",
        imports::config_get,
        |e| {
            e.map(1).text("path");
            put_path(e);
        },
        |resp| {
            let mut d = host::value_of("config_get", resp, "value")?;
            let mut item = d.clone();
            if d.skip().is_err() {
                return Err(Error::new(Code::Protocol, format!("moss: config {}: the value is not well-formed", shown)));
            }
            T::read(&mut item).map_err(|why| Error::new(Code::Type, format!("moss: config {}: {}", shown, why)))
        },
    )
}

/// Updates the configuration at `path` (dotted, as for [`config_get`]): if
/// the value there and the new one are both maps they merge key by key (a
/// null deletes a key); any other value replaces the one at path, creating
/// missing parent maps. Watchers are notified.
///
/// Errors: [`Code::Invalid`] (an empty path with a value that is not a map,
/// or a path through a value that is not a map).
pub fn config_update(path: &str, value: impl IntoConfig) -> Result<()> {
    host::call(
        "config_update",
        imports::config_update,
        |e| {
            e.map(2).text("path");
            host::put_dotted(e, path);
            e.text("value");
            value.write(e);
        },
        host::no_response,
    )
}

/// A configuration watch, as [`config_watch`] made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Watch {
    id: u32,
}

impl Watch {
    /// The id the host gave the watch.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Calls `f` with the path that changed whenever the configuration at or
/// under `path` (dotted; "" for the whole tree) changes, by this component
/// or by a deployment. Read the new values with [`config_get`]. Watches last
/// as long as the instance: make them in the start function.
///
/// Errors: [`Code::Full`] (64 watches).
pub fn config_watch(path: &str, f: impl FnMut(&[&str]) + 'static) -> Result<Watch> {
    let id = host::call(
        "config_watch",
        imports::config_watch,
        |e| {
            e.map(1).text("path");
            host::put_dotted(e, path);
        },
        host::read_id("config_watch"),
    )?;
    runtime::put_watch(id, Box::new(f));
    Ok(Watch { id })
}
