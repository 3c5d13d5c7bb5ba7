// alerts.ts - the alerts component in AssemblyScript (a port of
// examples/alerts): it keeps a moving average of each sensor's temperature
// readings and publishes on alerts/<id> when the average rises over a
// threshold, and again when it falls back below threshold - hysteresis.
//
// Build: sdk/assemblyscript/build.sh examples/alerts-as/alerts.ts -o examples/alerts-as/alerts-as.wasm

import * as moss from "@moss-edge/sdk";

export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

/** Bounds the per-sensor state. */
const MAX_SENSORS = 1024;

/** The configuration; see examples/alerts/README.md. */
class Settings {
  constructor(public window: i64, public threshold: f64, public hysteresis: f64) {}
  equals(o: Settings): bool {
    return this.window == o.window && this.threshold == o.threshold && this.hysteresis == o.hysteresis;
  }
  /** As the Go version prints its settings (%+v). */
  toString(): string {
    return "{Window:" + this.window.toString() + " Threshold:" + goV(this.threshold) + " Hysteresis:" + goV(this.hysteresis) + "}";
  }
}

/** What we know of one sensor. */
class Sensor {
  readings: StaticArray<f64>;
  next: i32 = 0;
  full: bool = false;
  alerting: bool = false;
  constructor(window: i32) {
    this.readings = new StaticArray<f64>(window);
  }
}

let cfg: Settings | null = null; // null before the first valid configuration
const sensors = new Map<string, Sensor>();
let errs: string[] = []; // reload's errors, one per key

function settings(): Settings {
  const c = cfg;
  return c == null ? new Settings(0, 0, 0) : c;
}

function start(): string | null {
  const e = reload();
  if (e != null) return e;
  // Watch the whole tree: a deployment may change any of the keys.
  if (moss.configWatch([], onConfig) < 0) return moss.lastError();
  if (moss.subscribe("sensors/+/temperature", onReading) < 0) return moss.lastError();
  const c = settings();
  moss.info(
    "alerts: average of " + c.window.toString() + " readings over " + fixed1(c.threshold) +
      " C raises alerts/<id> (cleared below " + fixed1(c.threshold - c.hysteresis) + " C)",
  );
  return null;
}

function onConfig(path: string[]): void {
  const e = reload();
  if (e != null) moss.warn("configuration change ignored, keeping " + settings().toString() + ": " + e);
}

/** Reads one configuration key into the result; absent keys keep the default. */
function getI64(key: string, dflt: i64): i64 {
  const r = moss.configI64([key]);
  if (r.ok) return r.value;
  if (r.code != -moss.E_NOT_FOUND) errs.push(moss.lastError());
  return dflt;
}
function getF64(key: string, dflt: f64): f64 {
  const r = moss.configF64([key]);
  if (r.ok) return r.value;
  if (r.code != -moss.E_NOT_FOUND) errs.push(moss.lastError());
  return dflt;
}

/** Reads the configuration, keeping the current one if the new one is not valid. */
function reload(): string | null {
  errs = [];
  const next = new Settings(getI64("window", 5), getF64("threshold", 28.0), getF64("hysteresis", 0.5));
  if (errs.length > 0) return errs.join("\n");
  if (next.window < 1 || next.window > 1000) return "config window " + next.window.toString() + ": want 1 to 1000 readings";
  if (next.hysteresis < 0) return "config hysteresis " + goV(next.hysteresis) + ": must not be negative";
  const old = cfg;
  if (old == null || old.window != next.window) {
    // Averages over the old window mean nothing now: start again, but
    // remember which sensors are in alert.
    const vs = sensors.values();
    for (let i = 0; i < vs.length; i++) {
      vs[i].readings = new StaticArray<f64>(<i32>next.window);
      vs[i].next = 0;
      vs[i].full = false;
    }
  }
  if (old != null && !old.equals(next)) moss.info("alerts: configuration now " + next.toString());
  cfg = next;
  return null;
}

function onReading(m: moss.Message): void {
  const topic = m.topic;
  const parts = topic.split("/");
  const id = parts.length > 1 ? parts[1] : topic;
  const t = reading(m.payload);
  if (!t.ok) {
    moss.warn(topic + ": not a reading: " + quote(m.payload));
    return;
  }
  const c = settings();
  if (!sensors.has(id)) {
    if (sensors.size >= MAX_SENSORS) {
      moss.warn(topic + ": ignored: already tracking " + MAX_SENSORS.toString() + " sensors");
      return;
    }
    sensors.set(id, new Sensor(<i32>c.window));
  }
  const s = sensors.get(id);
  s.readings[s.next] = t.value;
  s.next = (s.next + 1) % s.readings.length;
  s.full = s.full || s.next == 0;
  if (!s.full) return;
  // Summed in ring order, as the Go version does, for the same rounding.
  let sum: f64 = 0;
  for (let i = 0; i < s.readings.length; i++) sum += s.readings[i];
  const avg = sum / <f64>s.readings.length;
  if (!s.alerting && avg > c.threshold) {
    s.alerting = true;
    publish(id, avg, false, c.threshold);
  } else if (s.alerting && avg < c.threshold - c.hysteresis) {
    s.alerting = false;
    publish(id, avg, true, c.threshold);
  }
}

// ---- Alerts (JSON) ----------------------------------------------------------

/** Publishes an alert as encoding/json marshals the Go version's struct. */
function publish(id: string, avg: f64, cleared: bool, threshold: f64): void {
  const rounded = moss.roundGo(avg * 100) / 100;
  if (!isFinite(rounded) || !isFinite(threshold)) {
    moss.warn("alerts/" + id + ": json: unsupported value: " + moss.formatNumber(isFinite(rounded) ? threshold : rounded));
    return;
  }
  let o = '{"id":' + jsonString(id);
  if (cleared) o += ',"cleared":true';
  o += ',"average":' + moss.formatNumber(rounded);
  o += ',"threshold":' + moss.formatNumber(threshold);
  o += ',"ts":"' + moss.rfc3339Now() + '"}';
  const topic = "alerts/" + id;
  if (moss.publishText(topic, o) < 0) moss.warn(topic + ": " + moss.lastError());
}

const HEX = "0123456789abcdef";

/** A JSON string, escaped as encoding/json does (HTML characters, U+2028, U+2029 too). */
function jsonString(s: string): string {
  let o = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) o += '\\"';
    else if (c == 0x5c) o += "\\\\";
    else if (c == 8) o += "\\b";
    else if (c == 12) o += "\\f";
    else if (c == 10) o += "\\n";
    else if (c == 13) o += "\\r";
    else if (c == 9) o += "\\t";
    else if (c < 0x20 || c == 0x3c || c == 0x3e || c == 0x26 || c == 0x2028 || c == 0x2029) {
      o += "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
    } else o += String.fromCharCode(c);
  }
  return o + '"';
}

/** Go's %v of a float64 (for log lines; exact when encoding/json's form is plain or exponent alike). */
function goV(v: f64): string {
  const s = moss.formatNumber(v);
  const e = s.indexOf("e");
  if (e < 0) return s;
  // Go's %v writes at least two exponent digits: 1.5e-07, 1e+21.
  let exp = s.slice(e + 2);
  if (exp.length < 2) exp = "0" + exp;
  return s.slice(0, e + 2) + exp;
}

/** v to one decimal, as Go's %.1f (for log lines). */
function fixed1(v: f64): string {
  if (!isFinite(v)) return moss.formatNumber(v);
  const neg = v < 0;
  const t = Math.round(Math.abs(v) * 10);
  const ip = Math.floor(t / 10);
  let s = (<i64>ip).toString() + "." + (<i64>(t - ip * 10)).toString();
  if (Math.abs(v) >= 1e17) s = moss.formatNumber(Math.abs(v)) + ".0";
  return neg && t != 0 ? "-" + s : s;
}

/** A payload for a log line: at most 256 bytes of it, quoted. */
function quote(p: Uint8Array): string {
  let q = '"';
  const n = p.length < 256 ? p.length : 256;
  for (let i = 0; i < n; i++) {
    const c = p[i];
    if (c == 0x22 || c == 0x5c) q += "\\" + String.fromCharCode(c);
    else if (c >= 0x20 && c <= 0x7e) q += String.fromCharCode(c);
    else q += "\\x" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
  }
  q += '"';
  if (p.length > 256) q += "...";
  return q;
}

// ---- Readings (JSON) --------------------------------------------------------

/** encoding/json's nesting limit; the reading's own object counts as 1. */
const MAX_DEPTH = 10000;

class Reading {
  constructor(public ok: bool, public value: f64) {}
}

/**
 * Parses a payload: a reading is a JSON object with a numeric
 * "temperature". The whole document is checked as encoding/json does: the
 * key matches case-insensitively, the last of repeated keys wins, a null one
 * counts as absent, anything else is not a reading.
 */
function reading(payload: Uint8Array): Reading {
  const j = new Json(payload);
  const none = new Reading(false, 0);
  let have = false;
  let temp: f64 = 0;
  if (!j.eat(0x7b)) return none;
  if (!j.eat(0x7d)) {
    while (true) {
      const k = j.str();
      if (k < 0) return none;
      if (!j.eat(0x3a)) return none;
      if (k == 0) {
        if (!j.value(MAX_DEPTH - 1)) return none;
      } else if (j.literal("null")) {
        have = false;
      } else {
        if (!j.number(true)) return none;
        have = true;
        temp = j.num;
      }
      if (!j.eat(0x2c)) break;
    }
    if (!j.eat(0x7d)) return none;
  }
  j.ws();
  if (j.p != j.b.length) return none;
  return have ? new Reading(true, temp) : none;
}

const KEY = "temperature";

class Json {
  p: i32 = 0;
  num: f64 = 0;
  constructor(public b: Uint8Array) {}

  peek(): i32 {
    return this.p < this.b.length ? <i32>this.b[this.p] : -1;
  }

  ws(): void {
    while (true) {
      const c = this.peek();
      if (c == 0x20 || c == 9 || c == 10 || c == 13) this.p++;
      else return;
    }
  }

  eat(c: i32): bool {
    this.ws();
    if (this.peek() == c) {
      this.p++;
      return true;
    }
    return false;
  }

  literal(lit: string): bool {
    this.ws();
    if (this.p + lit.length > this.b.length) return false;
    for (let i = 0; i < lit.length; i++) {
      if (<i32>this.b[this.p + i] != lit.charCodeAt(i)) return false;
    }
    this.p += lit.length;
    return true;
  }

  /** Reads a string: -1 if malformed, 1 if it is "temperature" in any case, else 0. */
  str(): i32 {
    let n = 0;
    let same = true;
    this.ws();
    if (this.peek() != 0x22) return -1;
    this.p++;
    while (true) {
      let c = this.peek();
      if (c < 0) return -1;
      this.p++;
      if (c == 0x22) return same && n == KEY.length ? 1 : 0;
      if (c < 0x20) return -1;
      if (c == 0x5c) {
        const e = this.peek();
        if (e == 0x22 || e == 0x5c || e == 0x2f) c = e;
        else if (e == 0x62) c = 8;
        else if (e == 0x66) c = 12;
        else if (e == 0x6e) c = 10;
        else if (e == 0x72) c = 13;
        else if (e == 0x74) c = 9;
        else if (e == 0x75) {
          if (this.p + 5 > this.b.length) return -1;
          let v = 0;
          for (let i = 1; i <= 4; i++) {
            const h = <i32>this.b[this.p + i];
            let d = -1;
            if (h >= 0x30 && h <= 0x39) d = h - 0x30;
            else if (h >= 0x61 && h <= 0x66) d = h - 0x61 + 10;
            else if (h >= 0x41 && h <= 0x46) d = h - 0x41 + 10;
            if (d < 0) return -1;
            v = (v << 4) | d;
          }
          this.p += 4;
          c = v < 0x80 ? v : 0x80;
        } else return -1;
        this.p++;
      }
      // A byte of a multi-byte character is not in KEY: enough to tell them apart.
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      same = same && n < KEY.length && c == KEY.charCodeAt(n);
      n++;
    }
  }

  digits(): bool {
    const s = this.p;
    while (true) {
      const c = this.peek();
      if (c >= 0x30 && c <= 0x39) this.p++;
      else break;
    }
    return this.p > s;
  }

  /** Reads a JSON number; with parse, its value in num (false if out of range). */
  number(parse: bool): bool {
    this.ws();
    const start = this.p;
    if (this.peek() == 0x2d) this.p++;
    const c = this.peek();
    if (c == 0x30) this.p++;
    else if (c >= 0x31 && c <= 0x39) this.digits();
    else return false;
    if (this.peek() == 0x2e) {
      this.p++;
      if (!this.digits()) return false;
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.p++;
      const s = this.peek();
      if (s == 0x2b || s == 0x2d) this.p++;
      if (!this.digits()) return false;
    }
    if (!parse) return true;
    const v = parseFloat(String.UTF8.decodeUnsafe(this.b.dataStart + <usize>start, <usize>(this.p - start)));
    // Go refuses a number out of float64's range (not one that underflows).
    if (!isFinite(v)) return false;
    this.num = v;
    return true;
  }

  /** Checks one JSON value nested at most maxDepth deep, without recursion. */
  value(maxDepth: i32): bool {
    const stack: bool[] = []; // true for an object
    while (true) {
      this.ws();
      const c = this.peek();
      if (c == 0x7b || c == 0x5b) {
        if (stack.length == maxDepth) return false;
        this.p++;
        const object = c == 0x7b;
        stack.push(object);
        if (this.eat(object ? 0x7d : 0x5d)) {
          stack.pop();
        } else if (!object) {
          continue;
        } else if (this.str() < 0 || !this.eat(0x3a)) {
          return false;
        } else {
          continue;
        }
      } else if (c == 0x22) {
        if (this.str() < 0) return false;
      } else if (c == 0x74) {
        if (!this.literal("true")) return false;
      } else if (c == 0x66) {
        if (!this.literal("false")) return false;
      } else if (c == 0x6e) {
        if (!this.literal("null")) return false;
      } else if (!this.number(false)) {
        return false;
      }
      // A value ended: close what it ends, or go on to the next.
      while (true) {
        if (stack.length == 0) return true;
        const object = stack[stack.length - 1];
        if (this.eat(0x2c)) {
          if (object && (this.str() < 0 || !this.eat(0x3a))) return false;
          break;
        }
        if (!this.eat(object ? 0x7d : 0x5d)) return false;
        stack.pop();
      }
    }
  }
}

// Registered last: AssemblyScript runs top-level statements in order, and
// the handlers use the module's constants declared above.
moss.onStart(start);
