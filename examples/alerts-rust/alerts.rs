//! alerts.rs - the alerts component in Rust (a port of examples/alerts): it
//! keeps a moving average of each sensor's temperature readings and
//! publishes on alerts/<id> when the average rises over a threshold, and
//! again when it falls back below threshold - hysteresis. See README.md.
//!
//! Build: sdk/rust/build.sh examples/alerts-rust/alerts.rs -o examples/alerts-rust/alerts-rust.wasm

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

moss::component!(start);

/// Bounds the per-sensor state, so that a publisher inventing ids cannot
/// grow this component's memory until it hits its limit.
const MAX_SENSORS: usize = 1024;

/// The configuration; see README.md.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Settings {
    window: i64, // 1 to 1000 once valid
    threshold: f64,
    hysteresis: f64,
}

/// As the Go version prints its settings (%+v).
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{Window:{} Threshold:{} Hysteresis:{}}}", self.window, self.threshold, self.hysteresis)
    }
}

/// What we know of one sensor: its last readings and whether it is in
/// alert.
struct Sensor {
    readings: Vec<f64>, // ring of the last window readings
    next: usize,        // where the next reading goes
    full: bool,         // the ring has wrapped: there are window readings
    alerting: bool,
}

/// The component's state, shared by its handlers (the host calls one at a
/// time). A fresh instance starts from a fresh one.
struct Alerts {
    cfg: Option<Settings>, // None before the first valid configuration
    sensors: BTreeMap<String, Sensor>,
}

fn start() -> Result<(), Box<dyn Error>> {
    let state = Rc::new(RefCell::new(Alerts { cfg: None, sensors: BTreeMap::new() }));
    state.borrow_mut().reload()?;
    // Watch the whole tree: a deployment may change any of the keys, and
    // the new values apply from the next reading, without a restart.
    let s = Rc::clone(&state);
    moss::config_watch("", move |_| {
        let mut s = s.borrow_mut();
        if let Err(e) = s.reload() {
            moss::warn!("configuration change ignored, keeping {}: {}", s.settings(), e);
        }
    })?;
    let s = Rc::clone(&state);
    moss::subscribe("sensors/+/temperature", move |m| s.borrow_mut().on_reading(m.topic(), m.payload()))?;
    let cfg = state.borrow().settings();
    moss::info!(
        "alerts: average of {} readings over {:.1} C raises alerts/<id> (cleared below {:.1} C)",
        cfg.window,
        cfg.threshold,
        cfg.threshold - cfg.hysteresis
    );
    Ok(())
}

/// Reads one configuration key into dst; when the key is absent dst keeps
/// the default it holds. The SDK's messages name the key.
fn get<T: moss::FromConfig>(dst: &mut T, key: &str, errs: &mut Vec<String>) {
    match moss::config_get::<T>(key) {
        Ok(v) => *dst = v,
        Err(e) if e.code() == moss::Code::NotFound => {}
        Err(e) => errs.push(e.to_string()),
    }
}

impl Alerts {
    fn settings(&self) -> Settings {
        self.cfg.unwrap_or(Settings { window: 0, threshold: 0.0, hysteresis: 0.0 })
    }

    /// Reads the configuration, keeping the current one if the new one is
    /// not valid; the errors, one a line (as Go's errors.Join), if so.
    fn reload(&mut self) -> Result<(), String> {
        let mut next = Settings { window: 5, threshold: 28.0, hysteresis: 0.5 };
        let mut errs = Vec::new();
        get(&mut next.window, "window", &mut errs);
        get(&mut next.threshold, "threshold", &mut errs);
        get(&mut next.hysteresis, "hysteresis", &mut errs);
        if !errs.is_empty() {
            return Err(errs.join("\n"));
        }
        if !(1..=1000).contains(&next.window) {
            return Err(format!("config window {}: want 1 to 1000 readings", next.window));
        }
        if next.hysteresis < 0.0 {
            return Err(format!("config hysteresis {}: must not be negative", next.hysteresis));
        }
        if Some(next.window) != self.cfg.map(|c| c.window) {
            // Averages over the old window mean nothing now: start again,
            // but remember which sensors are in alert so none is raised or
            // cleared twice.
            for s in self.sensors.values_mut() {
                s.readings = vec![0.0; next.window as usize];
                s.next = 0;
                s.full = false;
            }
        }
        if matches!(self.cfg, Some(cfg) if cfg != next) {
            moss::info!("alerts: configuration now {}", next);
        }
        self.cfg = Some(next);
        Ok(())
    }

    fn on_reading(&mut self, topic: &str, payload: &[u8]) {
        // The subscription is sensors/+/temperature: the id is the middle
        // level.
        let id = topic.split('/').nth(1).unwrap_or(topic);
        let t = match reading(payload) {
            Some(t) => t,
            None => {
                moss::warn!("{}: not a reading: {}", topic, quote(payload));
                return;
            }
        };
        let cfg = self.settings();
        if !self.sensors.contains_key(id) {
            if self.sensors.len() >= MAX_SENSORS {
                moss::warn!("{}: ignored: already tracking {} sensors", topic, MAX_SENSORS);
                return;
            }
            let s = Sensor { readings: vec![0.0; cfg.window as usize], next: 0, full: false, alerting: false };
            self.sensors.insert(id.to_string(), s);
        }
        let s = self.sensors.get_mut(id).expect("inserted above");
        s.readings[s.next] = t;
        s.next = (s.next + 1) % s.readings.len();
        s.full = s.full || s.next == 0;
        if !s.full {
            return;
        }
        // Summed in ring order, as the Go version does, for the same
        // rounding.
        let avg = s.readings.iter().sum::<f64>() / s.readings.len() as f64;
        if !s.alerting && avg > cfg.threshold {
            s.alerting = true;
            publish(id, avg, false, cfg.threshold);
        } else if s.alerting && avg < cfg.threshold - cfg.hysteresis {
            s.alerting = false;
            publish(id, avg, true, cfg.threshold);
        }
    }
}

// ---- Alerts (JSON) -------------------------------------------------------------

/// Publishes an alert as encoding/json marshals the Go version's struct:
/// {"id":...,"cleared":true (only when true),"average":...,"threshold":...,"ts":...}.
fn publish(id: &str, avg: f64, cleared: bool, threshold: f64) {
    let rounded = (avg * 100.0).round() / 100.0;
    for v in [rounded, threshold] {
        if !v.is_finite() {
            moss::warn!("alerts/{}: json: unsupported value: {}", id, go_special(v));
            return;
        }
    }
    let mut o = String::with_capacity(96 + id.len());
    o.push_str("{\"id\":");
    json_string(&mut o, id);
    if cleared {
        o.push_str(",\"cleared\":true");
    }
    o.push_str(",\"average\":");
    json_number(&mut o, rounded);
    o.push_str(",\"threshold\":");
    json_number(&mut o, threshold);
    o.push_str(",\"ts\":\"");
    o.push_str(&rfc3339_now());
    o.push_str("\"}");
    let topic = format!("alerts/{}", id);
    if let Err(e) = moss::publish(&topic, o.as_bytes()) {
        moss::warn!("{}: {}", topic, e);
    }
}

/// Names a value that is not finite as strconv.FormatFloat does.
fn go_special(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// Writes s as a JSON string, escaped as encoding/json does: `"` and `\`,
/// \b \f \n \r \t, other control characters as \u00XX, HTML's <, > and &,
/// and U+2028, U+2029.
fn json_string(o: &mut String, s: &str) {
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\u{8}' => o.push_str("\\b"),
            '\u{c}' => o.push_str("\\f"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' | '\u{2028}' | '\u{2029}' => {
                o.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

/// Writes a finite v as encoding/json does: the shortest decimal that reads
/// back as v, in plain notation from 1e-6 up to 1e21, in exponent notation
/// (1e+21, 1.5e-7) outside.
fn json_number(o: &mut String, v: f64) {
    let a = v.abs();
    if a != 0.0 && (a < 1e-6 || a >= 1e21) {
        // Rust writes 1e21 and 1.5e-7 where Go writes 1e+21 and 1.5e-07,
        // then encoding/json cuts e-07 to e-7.
        let e = format!("{:e}", v);
        match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => {
                o.push_str(m);
                o.push_str("e+");
                o.push_str(x);
            }
            _ => o.push_str(&e),
        }
    } else {
        o.push_str(&v.to_string());
    }
}

/// The time now, UTC, in RFC 3339 to the second, as Go's time.RFC3339
/// formats it.
fn rfc3339_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Renders a payload for a log line: at most 256 bytes of it, quoted, with
/// bytes other than printable ASCII as \xNN.
fn quote(p: &[u8]) -> String {
    let mut q = String::from("\"");
    for &c in p.iter().take(256) {
        match c {
            b'"' | b'\\' => {
                q.push('\\');
                q.push(c as char);
            }
            0x20..=0x7e => q.push(c as char),
            _ => q.push_str(&format!("\\x{:02x}", c)),
        }
    }
    q.push('"');
    if p.len() > 256 {
        q.push_str("...");
    }
    q
}

// ---- Readings (JSON) -----------------------------------------------------------

/// encoding/json's nesting limit; the reading's own object counts as 1.
const MAX_DEPTH: usize = 10000;

/// Parses a payload: the temperature, or None if it is not a reading. A
/// reading is a JSON object with a numeric "temperature". The parser checks
/// the whole document as Go's encoding/json does for the Go version: the
/// key matches case-insensitively, the last of repeated keys wins, a null
/// one counts as absent, any other type or malformed JSON is not a reading.
fn reading(payload: &[u8]) -> Option<f64> {
    let mut j = Json { b: payload, p: 0 };
    let mut temperature = None;
    if !j.eat(b'{') {
        return None; // null, like any other non-object, is no reading
    }
    if !j.eat(b'}') {
        loop {
            let is_temperature = j.string()?;
            if !j.eat(b':') {
                return None;
            }
            if !is_temperature {
                if !j.value(MAX_DEPTH - 1) {
                    return None;
                }
            } else if j.literal(b"null") {
                temperature = None;
            } else {
                temperature = Some(j.number(true)?);
            }
            if !j.eat(b',') {
                break;
            }
        }
        if !j.eat(b'}') {
            return None;
        }
    }
    j.ws();
    if j.p != j.b.len() {
        return None;
    }
    temperature
}

struct Json<'a> {
    b: &'a [u8],
    p: usize,
}

impl Json<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.p).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.p += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.p += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, lit: &[u8]) -> bool {
        self.ws();
        if self.b[self.p..].starts_with(lit) {
            self.p += lit.len();
            true
        } else {
            false
        }
    }

    /// Reads a string; None if it is malformed, else whether it is
    /// "temperature" in any case (after unescaping).
    fn string(&mut self) -> Option<bool> {
        const KEY: &[u8] = b"temperature";
        let mut n = 0; // characters
        let mut same = true; // so far, those of KEY in any case
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        self.p += 1;
        loop {
            let mut c = self.peek()?;
            self.p += 1;
            match c {
                b'"' => return Some(same && n == KEY.len()),
                0..=0x1f => return None,
                b'\\' => {
                    c = match self.peek()? {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let hex = self.b.get(self.p + 1..self.p + 5)?;
                            let mut v = 0u32;
                            for &h in hex {
                                v = v << 4 | (h as char).to_digit(16)?;
                            }
                            self.p += 4;
                            if v < 0x80 {
                                v as u8
                            } else {
                                0x80 // not ASCII
                            }
                        }
                        _ => return None,
                    };
                    self.p += 1;
                }
                _ => {}
            }
            // A byte of a multi-byte character counts as a character that
            // is not in KEY: enough to tell KEY from anything else.
            same = same && n < KEY.len() && c.to_ascii_lowercase() == KEY[n];
            n += 1;
        }
    }

    /// Reads a JSON number; with parse, its value (None if out of range).
    fn number(&mut self, parse: bool) -> Option<f64> {
        self.ws();
        let start = self.p;
        let digits = |j: &mut Self| {
            let s = j.p;
            while matches!(j.peek(), Some(b'0'..=b'9')) {
                j.p += 1;
            }
            j.p > s
        };
        if self.peek() == Some(b'-') {
            self.p += 1;
        }
        match self.peek()? {
            b'0' => self.p += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.p += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.p += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.p += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        if !parse {
            return Some(0.0);
        }
        // Go refuses a number out of float64's range (but not one that
        // underflows to zero).
        let v: f64 = std::str::from_utf8(&self.b[start..self.p]).ok()?.parse().ok()?;
        if v.is_infinite() {
            None
        } else {
            Some(v)
        }
    }

    /// Checks one JSON value of any kind nested at most max_depth deep,
    /// without recursion: the open containers are kept on a stack (true for
    /// an object).
    fn value(&mut self, max_depth: usize) -> bool {
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // A value starts here.
            self.ws();
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    if stack.len() == max_depth {
                        return false;
                    }
                    self.p += 1;
                    let object = c == b'{';
                    stack.push(object);
                    if self.eat(if object { b'}' } else { b']' }) {
                        stack.pop();
                    } else if !object {
                        continue;
                    } else if self.string().is_none() || !self.eat(b':') {
                        return false;
                    } else {
                        continue;
                    }
                }
                Some(b'"') => {
                    if self.string().is_none() {
                        return false;
                    }
                }
                Some(b't') | Some(b'f') | Some(b'n') => {
                    let lit: &[u8] = match self.peek() {
                        Some(b't') => b"true",
                        Some(b'f') => b"false",
                        _ => b"null",
                    };
                    if !self.literal(lit) {
                        return false;
                    }
                }
                _ => {
                    if self.number(false).is_none() {
                        return false;
                    }
                }
            }
            // A value ended: close what it ends, or go on to the next.
            loop {
                let object = match stack.last() {
                    None => return true,
                    Some(&o) => o,
                };
                if self.eat(b',') {
                    if object && (self.string().is_none() || !self.eat(b':')) {
                        return false;
                    }
                    break;
                }
                if !self.eat(if object { b'}' } else { b']' }) {
                    return false;
                }
                stack.pop();
            }
        }
    }
}
