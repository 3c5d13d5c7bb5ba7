//! thermostat.rs - the thermostat component in Rust (a port of
//! examples/thermostat): it keeps a light color and a target temperature in
//! a named device shadow, applies what is desired there when valid, reports
//! what it applied, clears a desired value it refuses, and publishes the
//! settings it runs with on thermostat/<shadow>/applied. See README.md.
//!
//! Build: sdk/rust/build.sh examples/thermostat-rust/thermostat.rs -o examples/thermostat-rust/thermostat-rust.wasm

use std::cell::RefCell;
use std::rc::Rc;

use moss::json::{self, Value};
use moss::shadow;

moss::component!(start);

/// Valid settings.
const COLORS: [&str; 3] = ["RED", "GREEN", "BLUE"];
const MIN_TARGET: f64 = 5.0;
const MAX_TARGET: f64 = 35.0;

/// What the thermostat runs with, and what it reports and publishes.
#[derive(Clone, Debug, PartialEq)]
struct Settings {
    color: String,
    target: f64,
}

impl Settings {
    /// `{"color":C,"target_temperature":T}`
    fn to_json(&self) -> Value {
        Value::object(vec![("color", Value::from(self.color.as_str())), ("target_temperature", self.target.into())])
    }
}

/// The component's state, shared by its handlers (the host calls one at a
/// time). A fresh instance starts from a fresh one.
struct Thermostat {
    shadow: String, // the shadow's name
    current: Settings,
}

fn start() -> Result<(), String> {
    let mut shadow = "thermostat".to_string();
    let mut defaults = Settings { color: "GREEN".to_string(), target: 20.0 };
    let mut errs = Vec::new();
    get(&mut shadow, "shadow", &mut errs);
    get(&mut defaults.color, "color", &mut errs);
    get(&mut defaults.target, "target_temperature", &mut errs);
    if !errs.is_empty() {
        return Err(errs.join("\n"));
    }
    let t = Rc::new(RefCell::new(Thermostat { shadow: shadow.clone(), current: defaults }));
    // Watch first, then read: a change made in between arrives as a delta.
    let on_delta = Rc::clone(&t);
    shadow::on_delta("", &shadow, move |m| on_delta.borrow_mut().on_delta(m.topic(), m.payload()))
        .map_err(|e| format!("shadow {}: watch: {}", shadow, e))?;
    let mut t = t.borrow_mut();
    match shadow::get("", &shadow) {
        Err(e) if e.is_not_found() => {
            // A new shadow: start from the configuration and say so.
            moss::info!("thermostat: no shadow {} yet: starting from {} at {} C", shadow, t.current.color, t.current.target);
            t.report(&[]);
            Ok(())
        }
        Err(e) => Err(format!("shadow {}: {}", shadow, e)),
        Ok(doc) => t.resume(&doc),
    }
}

/// Reads one configuration key into dst; when the key is absent dst keeps
/// the default it holds.
fn get<T: moss::FromConfig>(dst: &mut T, key: &str, errs: &mut Vec<String>) {
    match moss::config_get::<T>(key) {
        Ok(v) => *dst = v,
        Err(e) if e.code() == moss::Code::NotFound => {}
        Err(e) => errs.push(format!("config {}: {}", key, e)),
    }
}

fn valid_color(v: &Value) -> Option<&'static str> {
    let s = v.as_str()?;
    COLORS.iter().find(|&&c| c == s).copied()
}

fn valid_target(v: &Value) -> Option<f64> {
    v.as_f64().filter(|t| (MIN_TARGET..=MAX_TARGET).contains(t))
}

/// The object member `name` of `v` (`None`: `v` is absent), as the Go
/// version's encoding/json reads one into a map: `Some` for an object,
/// `None` when absent or null, an error for any other value (encoding/json
/// fails the whole document).
fn object<'a>(v: Option<&'a Value>, name: &str) -> Result<Option<&'a Value>, ()> {
    match v.and_then(|v| v.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o)),
        Some(_) => Err(()),
    }
}

/// The document itself, read as encoding/json reads one into a struct: an
/// object, or null (nothing).
fn document(v: &Value) -> Result<Option<&Value>, ()> {
    match v {
        Value::Object(_) => Ok(Some(v)),
        Value::Null => Ok(None),
        _ => Err(()),
    }
}

impl Thermostat {
    /// Starts from what the shadow document reports, then applies its delta.
    fn resume(&mut self, doc: &[u8]) -> Result<(), String> {
        let bad = || format!("shadow {}: not a shadow document: {}", self.shadow, String::from_utf8_lossy(doc));
        let v = json::parse(doc).map_err(|e| format!("shadow {}: {}", self.shadow, e))?;
        let state = document(&v).and_then(|d| object(d, "state")).map_err(|_| bad())?;
        let reported = object(state, "reported").map_err(|_| bad())?;
        let delta = object(state, "delta").map_err(|_| bad())?;
        // Resume from what was reported; a setting missing or invalid there
        // keeps the configured default.
        if let Some(c) = reported.and_then(|r| r.get("color")).and_then(valid_color) {
            self.current.color = c.to_string();
        }
        if let Some(t) = reported.and_then(|r| r.get("target_temperature")).and_then(valid_target) {
            self.current.target = t;
        }
        moss::info!("thermostat: shadow {} reports {} at {} C", self.shadow, self.current.color, self.current.target);
        if let Some(d) = delta {
            self.apply(Some(d));
        }
        Ok(())
    }

    fn on_delta(&mut self, topic: &str, payload: &[u8]) {
        let state = match json::parse(payload) {
            Ok(v) => match document(&v).and_then(|d| object(d, "state")) {
                Ok(state) => state.cloned(),
                Err(()) => {
                    moss::warn!("{}: not a delta document", topic);
                    return;
                }
            },
            Err(e) => {
                moss::warn!("{}: not a delta document: {}", topic, e);
                return;
            }
        };
        self.apply(state.as_ref());
    }

    /// Takes the desired settings in state that are valid, then reports.
    /// Keys other than color and target_temperature are ignored.
    fn apply(&mut self, state: Option<&Value>) {
        // A state with neither setting is not reported, or the service
        // would answer the report with the same delta again.
        if state.map_or(true, |s| s.get("color").is_none() && s.get("target_temperature").is_none()) {
            return;
        }
        let mut rejected = Vec::new();
        if let Some(v) = state.and_then(|s| s.get("color")) {
            match valid_color(v) {
                Some(c) => self.current.color = c.to_string(),
                None => {
                    moss::warn!("thermostat: desired color {} refused: want RED, GREEN or BLUE", v);
                    rejected.push("color");
                }
            }
        }
        if let Some(v) = state.and_then(|s| s.get("target_temperature")) {
            match valid_target(v) {
                Some(t) => self.current.target = t,
                None => {
                    moss::warn!(
                        "thermostat: desired target_temperature {} refused: want a number from {} to {}",
                        v,
                        MIN_TARGET,
                        MAX_TARGET
                    );
                    rejected.push("target_temperature");
                }
            }
        }
        self.report(&rejected);
    }

    /// Writes the current settings to the shadow's reported state, and
    /// clears the desired keys it refused: the service publishes a delta
    /// after every update while desired and reported differ, so a refused
    /// value left in desired would come back after each report. Then it
    /// publishes the settings on thermostat/<shadow>/applied.
    fn report(&self, rejected: &[&str]) {
        let mut state = Value::object(vec![("reported", self.current.to_json())]);
        if !rejected.is_empty() {
            state.set("desired", Value::object(rejected.iter().map(|&k| (k, Value::Null)).collect()));
        }
        let doc = Value::object(vec![("state", state)]).to_string();
        if let Err(e) = shadow::update("", &self.shadow, doc.as_bytes()) {
            moss::warn!("thermostat: shadow {}: reporting {}: {}", self.shadow, doc, e);
        }
        let topic = format!("thermostat/{}/applied", self.shadow);
        if let Err(e) = moss::publish(&topic, self.current.to_json().to_string().as_bytes()) {
            moss::warn!("{}: {}", topic, e);
        }
    }
}
