// @moss-edge/sdk - write Moss components (ABI version 1, abi/ABI.md) in
// AssemblyScript.
//
// Handlers are plain function references: AssemblyScript has no closures, so
// a handler must be a top-level function (or a static method) and keeps its
// state in module-level variables. The host calls one handler at a time.
//
// Errors: every call that can fail returns 0 (or a non-negative id) on
// success and a negative ABI error code (-E_...) on failure; lastError()
// then gives the message, fetched from the host with `response`.
//
// The component's entry file must re-export the ABI exports:
//
//	export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";
//
// and be built with sdk/assemblyscript/build.sh (see there for the flags).

import { Encoder, Decoder, MAJOR_UINT, MAJOR_NEGINT, MAJOR_TEXT, MAJOR_ARRAY, MAJOR_MAP } from "./cbor";
export { Encoder, Decoder } from "./cbor";

// ---- Host functions ----------------------------------------------------------

@external("moss", "response") declare function host_response(ptr: usize, cap: u32): i32;
@external("moss", "log") declare function host_log(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "publish") declare function host_publish(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "subscribe") declare function host_subscribe(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "unsubscribe") declare function host_unsubscribe(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "config_get") declare function host_config_get(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "config_update") declare function host_config_update(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "config_watch") declare function host_config_watch(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "timer_start") declare function host_timer_start(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "timer_stop") declare function host_timer_stop(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "report_state") declare function host_report_state(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "secret_get") declare function host_secret_get(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("wasi_snapshot_preview1", "clock_time_get") declare function wasi_clock_time_get(id: u32, precision: u64, out: usize): u16;

// ---- Error codes ---------------------------------------------------------------

export const OK: i32 = 0;
export const E_MEMORY: i32 = 1;
export const E_DECODE: i32 = 2;
export const E_INVALID: i32 = 3;
export const E_DENIED: i32 = 4;
export const E_NOT_FOUND: i32 = 5;
export const E_TOO_LARGE: i32 = 6;
export const E_FULL: i32 = 7;
export const E_RATE: i32 = 8;
export const E_UNAVAILABLE: i32 = 9;
export const E_NO_RESPONSE: i32 = 10;
export const E_INTERNAL: i32 = 11;
export const E_UNSUPPORTED: i32 = 12;

const codeNames: string[] = [
  "OK", "E_MEMORY", "E_DECODE", "E_INVALID", "E_DENIED", "E_NOT_FOUND", "E_TOO_LARGE",
  "E_FULL", "E_RATE", "E_UNAVAILABLE", "E_NO_RESPONSE", "E_INTERNAL", "E_UNSUPPORTED",
];

/** The name of an error code (positive or negative): "E_NOT_FOUND". */
export function codeName(code: i32): string {
  const c = code < 0 ? -code : code;
  return c < codeNames.length ? codeNames[c] : "E_" + c.toString();
}

let lastErr: string = "";
let lastCode: i32 = 0; // the code of the last failure

/** The message of the last failure of an SDK call. */
export function lastError(): string {
  return lastErr;
}

function setError(code: i32, msg: string): i32 {
  lastErr = msg;
  lastCode = code < 0 ? code : -code;
  return lastCode;
}

// ---- Calls ----------------------------------------------------------------------

const req = new Encoder();
let respPtr: usize = 0;
let respCap: u32 = 0;
let respLen: u32 = 0;

function growResp(n: u32): void {
  if (n <= respCap) return;
  let c: u32 = respCap < 512 ? 512 : respCap * 2;
  while (c < n) c *= 2;
  respPtr = respPtr == 0 ? heap.alloc(c) : heap.realloc(respPtr, c);
  respCap = c;
}

/** Finishes a host call that returned r: fetches a pending response or error. */
function finish(fn: string, r: i32): i32 {
  if (r < 0) {
    let msg = codeName(r);
    let n = host_response(respPtr, respCap);
    if (n > 0 && <u32>n > respCap) {
      growResp(<u32>n);
      n = host_response(respPtr, respCap);
    }
    if (n > 0 && <u32>n <= respCap) {
      const d = new Decoder(respPtr, <usize>n);
      if (d.head() && d.major == MAJOR_MAP) {
        const pairs = d.arg;
        for (let i: u64 = 0; i < pairs && !d.err; i++) {
          const k = d.text();
          if (k == "message") {
            const m = d.text();
            if (!d.err && m.length > 0) msg = m;
          } else d.skip();
        }
      }
    }
    return setError(r, "moss: " + fn + ": " + msg);
  }
  if (<u32>r > respCap) {
    growResp(<u32>r);
    const n = host_response(respPtr, respCap);
    if (n != r) return setError(-E_INTERNAL, "moss: " + fn + ": response: got " + n.toString() + " bytes, want " + r.toString());
  }
  respLen = <u32>r;
  return 0;
}

/** Decodes a response {id: uint}: the id, or a negative code. */
function responseID(fn: string): i64 {
  const d = new Decoder(respPtr, respLen);
  if (d.head() && d.major == MAJOR_MAP) {
    const pairs = d.arg;
    for (let i: u64 = 0; i < pairs && !d.err; i++) {
      if (d.text() == "id") {
        const id = d.uint();
        if (!d.err && id <= 0xffffffff) return <i64>id;
        break;
      } else d.skip();
    }
  }
  return setError(-E_DECODE, "moss: " + fn + ": response has no id");
}

function reqPtr(): usize {
  return req.ptr;
}
function reqLen(): u32 {
  return <u32>req.len;
}

// ---- Log --------------------------------------------------------------------------

export const LEVEL_DEBUG: i32 = -4;
export const LEVEL_INFO: i32 = 0;
export const LEVEL_WARN: i32 = 4;
export const LEVEL_ERROR: i32 = 8;

/** Writes a line to the component's log at a slog level. */
export function log(level: i32, msg: string): i32 {
  req.reset().map(2);
  req.text("level");
  req.int(level);
  req.text("msg");
  req.text(msg);
  growResp(0);
  return finish("log", host_log(reqPtr(), reqLen(), respPtr, respCap));
}
export function debug(msg: string): i32 {
  return log(LEVEL_DEBUG, msg);
}
export function info(msg: string): i32 {
  return log(LEVEL_INFO, msg);
}
export function warn(msg: string): i32 {
  return log(LEVEL_WARN, msg);
}
export function error(msg: string): i32 {
  return log(LEVEL_ERROR, msg);
}

// ---- Pub/sub -----------------------------------------------------------------------

/** A message delivered to a subscription. */
export class Message {
  constructor(public id: u32, public topic: string, public payload: Uint8Array) {}
  /** The payload as UTF-8 text. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.payload.dataStart, <usize>this.payload.length);
  }
}

/** Publishes payload on topic. */
export function publish(topic: string, payload: Uint8Array): i32 {
  req.reset().map(2);
  req.text("topic");
  req.text(topic);
  req.text("payload");
  req.bytes(payload);
  return finish("publish", host_publish(reqPtr(), reqLen(), respPtr, respCap));
}

/** Publishes text, UTF-8 encoded, on topic. */
export function publishText(topic: string, payload: string): i32 {
  return publish(topic, Uint8Array.wrap(String.UTF8.encode(payload)));
}

const subs = new Map<u32, (m: Message) => void>();

/** Subscribes fn to a topic filter: the subscription's id, or a negative code. */
export function subscribe(filter: string, fn: (m: Message) => void): i64 {
  req.reset().map(1);
  req.text("filter");
  req.text(filter);
  const r = finish("subscribe", host_subscribe(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return r;
  const id = responseID("subscribe");
  if (id > 0) subs.set(<u32>id, fn);
  return id;
}

export function unsubscribe(id: u32): i32 {
  req.reset().map(1);
  req.text("id");
  req.uint(id);
  const r = finish("unsubscribe", host_unsubscribe(reqPtr(), reqLen(), respPtr, respCap));
  if (r == 0 && subs.has(id)) subs.delete(id);
  return r;
}

// ---- Timers ---------------------------------------------------------------------------

class Timer {
  constructor(public fn: () => void, public repeat: bool) {}
}
const timers = new Map<u32, Timer>();

function timerStart(ms: u32, repeat: bool, fn: () => void): i64 {
  req.reset().map(2);
  req.text("interval_ms");
  req.uint(ms);
  req.text("repeat");
  req.bool(repeat);
  const r = finish("timer_start", host_timer_start(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return r;
  const id = responseID("timer_start");
  if (id > 0) timers.set(<u32>id, new Timer(fn, repeat));
  return id;
}

/** Calls fn every ms milliseconds: the timer's id, or a negative code. */
export function every(ms: u32, fn: () => void): i64 {
  return timerStart(ms, true, fn);
}

/** Calls fn once, after ms milliseconds: the timer's id, or a negative code. */
export function after(ms: u32, fn: () => void): i64 {
  return timerStart(ms, false, fn);
}

export function stopTimer(id: u32): i32 {
  if (timers.has(id)) timers.delete(id);
  req.reset().map(1);
  req.text("id");
  req.uint(id);
  return finish("timer_stop", host_timer_stop(reqPtr(), reqLen(), respPtr, respCap));
}

// ---- Configuration -----------------------------------------------------------------------

function pathString(path: string[]): string {
  return path.length == 0 ? "(root)" : path.join(".");
}

/** Reads the value at path; on success the decoder stands on its head. */
function configValue(path: string[]): Decoder | null {
  req.reset().map(1);
  req.text("path");
  req.textArray(path);
  const r = finish("config " + pathString(path), host_config_get(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return null;
  const d = new Decoder(respPtr, respLen);
  if (d.head() && d.major == MAJOR_MAP) {
    const pairs = d.arg;
    for (let i: u64 = 0; i < pairs && !d.err; i++) {
      if (d.text() == "value") {
        if (d.head()) return d;
        break;
      } else d.skip();
    }
  }
  setError(-E_DECODE, "moss: config " + pathString(path) + ": response has no value");
  return null;
}

/** A result of a call that yields a value: code is 0 or a negative ABI code. */
export class Result<T> {
  constructor(public code: i32, public value: T) {}
  get ok(): bool {
    return this.code == 0;
  }
}

/** Reads a float at path (an integer is converted). */
export function configF64(path: string[]): Result<f64> {
  const d = configValue(path);
  if (d == null) return new Result<f64>(lastCode, 0);
  if (d.isFloat()) return new Result<f64>(0, d.floatValue());
  if (d.major == MAJOR_UINT) return new Result<f64>(0, <f64>d.arg);
  if (d.major == MAJOR_NEGINT) return new Result<f64>(0, -1 - <f64>d.arg);
  return new Result<f64>(setError(-E_DECODE, "moss: config " + pathString(path) + ": " + kindOf(d) + " is not a number"), 0);
}

/** Reads an integer at path (a float is refused, as the Go SDK does). */
export function configI64(path: string[]): Result<i64> {
  const d = configValue(path);
  if (d == null) return new Result<i64>(lastCode, 0);
  if (d.major == MAJOR_UINT && d.arg <= <u64>i64.MAX_VALUE) return new Result<i64>(0, <i64>d.arg);
  if (d.major == MAJOR_NEGINT && d.arg <= <u64>i64.MAX_VALUE) return new Result<i64>(0, -1 - <i64>d.arg);
  return new Result<i64>(setError(-E_DECODE, "moss: config " + pathString(path) + ": cannot read " + kindOf(d) + " as an integer"), 0);
}

/** Reads a text at path. */
export function configString(path: string[]): Result<string> {
  const d = configValue(path);
  if (d == null) return new Result<string>(lastCode, "");
  if (d.major == MAJOR_TEXT) {
    const s = d.textBody();
    if (!d.err) return new Result<string>(0, s);
  }
  return new Result<string>(setError(-E_DECODE, "moss: config " + pathString(path) + ": " + kindOf(d) + " is not text"), "");
}

function kindOf(d: Decoder): string {
  if (d.isFloat()) {
    const f = d.floatValue();
    return "float " + formatNumber(f);
  }
  switch (d.major) {
    case MAJOR_UINT:
      return "integer " + d.arg.toString();
    case MAJOR_NEGINT:
      return "integer -" + (d.arg + 1).toString();
    case MAJOR_TEXT:
      return "text";
    case MAJOR_ARRAY:
      return "an array";
    case MAJOR_MAP:
      return "a map";
  }
  return "a value";
}


const watches = new Map<u32, (path: string[]) => void>();

/** Calls fn when the configuration at or under path changes: the watch's id, or a negative code. */
export function configWatch(path: string[], fn: (path: string[]) => void): i64 {
  req.reset().map(1);
  req.text("path");
  req.textArray(path);
  const r = finish("config_watch", host_config_watch(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return r;
  const id = responseID("config_watch");
  if (id > 0) watches.set(<u32>id, fn);
  return id;
}

// ---- State, secrets ------------------------------------------------------------------------

/** Reports RUNNING, ERRORED or FINISHED, with an optional reason. */
export function reportState(state: string, reason: string = ""): i32 {
  req.reset().map(reason.length > 0 ? 2 : 1);
  req.text("state");
  req.text(state);
  if (reason.length > 0) {
    req.text("reason");
    req.text(reason);
  }
  return finish("report_state", host_report_state(reqPtr(), reqLen(), respPtr, respCap));
}

/** Reads a secret's value. */
export function secretGet(name: string): Result<Uint8Array> {
  req.reset().map(1);
  req.text("name");
  req.text(name);
  const r = finish("secret_get", host_secret_get(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return new Result<Uint8Array>(r, new Uint8Array(0));
  const d = new Decoder(respPtr, respLen);
  if (d.head() && d.major == MAJOR_MAP) {
    const pairs = d.arg;
    for (let i: u64 = 0; i < pairs && !d.err; i++) {
      if (d.text() == "value") {
        if (d.head() && d.major == 2) {
          const b = d.bytesBody();
          if (!d.err) return new Result<Uint8Array>(0, b);
        }
        break;
      } else d.skip();
    }
  }
  return new Result<Uint8Array>(setError(-E_DECODE, "moss: secret_get: response has no value"), new Uint8Array(0));
}

// ---- Time ------------------------------------------------------------------------------------

/** The wall-clock time, in nanoseconds since the Unix epoch (WASI clock_time_get). */
export function nowNanos(): i64 {
  const p = heap.alloc(8);
  wasi_clock_time_get(0, 1000, p);
  const t = load<i64>(p);
  heap.free(p);
  return t;
}

/** The time now, UTC, to the second, as Go's time.RFC3339 formats it. */
export function rfc3339Now(): string {
  const secs = nowNanos() / 1000000000;
  let days = secs / 86400;
  let rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  const z = days + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(rem / 3600, 2) + ":" + pad((rem / 60) % 60, 2) + ":" + pad(rem % 60, 2) + "Z";
}

function pad(v: i64, n: i32): string {
  let s = v.toString();
  while (s.length < n) s = "0" + s;
  return s;
}

// ---- Numbers ------------------------------------------------------------------------------

/**
 * Formats a finite float as Go's encoding/json does: the shortest decimal
 * that reads back as v, plain from 1e-6 up to 1e21, else in exponent form
 * (1e+21, 1.5e-7). Go's %v differs only in the exponent form (1.5e-07).
 */
export function formatNumber(v: f64): string {
  if (isNaN(v)) return "NaN";
  if (!isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return (1 / v) < 0 ? "-0" : "0";
  const s = v.toString();
  if (s.endsWith(".0")) return s.slice(0, s.length - 2);
  return s;
}

/** Rounds half away from zero, as Go's math.Round. */
export function roundGo(x: f64): f64 {
  const t = Math.trunc(x);
  if (Math.abs(x - t) >= 0.5) return t + (x < 0 ? -1 : 1);
  return t;
}

// ---- Start and stop ----------------------------------------------------------------------

/**
 * A start handler returns null when it started, or an error message: the
 * SDK then logs "moss: start: <message>" and fails the start.
 */
const onStarts: Array<() => string | null> = [];
const onStops: Array<() => void> = [];

/** Registers fn to run at the start event (call it at the top level of the entry file). */
export function onStart(fn: () => string | null): void {
  onStarts.push(fn);
}

/** Registers fn to run at the stop event. */
export function onStop(fn: () => void): void {
  onStops.push(fn);
}

// ---- Exports -------------------------------------------------------------------------------

const RC_OK: i32 = 0;
const RC_BAD_BATCH: i32 = 1;
const RC_START_FAILED: i32 = 2;

let eventPtr: usize = 0;
let eventCap: usize = 0;

export function moss_abi_version(): i32 {
  return 1;
}

export function moss_event_buffer(size: i32): usize {
  let n = <usize>size;
  if (n < 4096) n = 4096;
  if (n > eventCap) {
    if (eventPtr != 0) heap.free(eventPtr);
    eventPtr = heap.alloc(n);
    eventCap = n;
  }
  return eventPtr;
}

export function moss_on_events(ptr: usize, len: i32): i32 {
  growResp(0);
  const d = new Decoder(ptr, <usize>len);
  if (!d.head() || d.major != MAJOR_ARRAY) return RC_BAD_BATCH;
  const n = d.arg;
  for (let i: u64 = 0; i < n; i++) {
    if (!d.head() || d.major != MAJOR_MAP) return RC_BAD_BATCH;
    const pairs = d.arg;
    let kind: u64 = 0;
    let id: u64 = 0;
    let topic = "";
    let payload: Uint8Array | null = null;
    let path: string[] = [];
    for (let j: u64 = 0; j < pairs; j++) {
      const k = d.text();
      if (d.err) return RC_BAD_BATCH;
      if (k == "kind") kind = d.uint();
      else if (k == "id") id = d.uint();
      else if (k == "topic") topic = d.text();
      else if (k == "payload") {
        if (d.head() && d.major == 2) payload = d.bytesBody();
        else d.err = true;
      } else if (k == "path") {
        if (d.head() && d.major == MAJOR_ARRAY) {
          const m = d.arg;
          for (let x: u64 = 0; x < m && !d.err; x++) path.push(d.text());
        } else d.err = true;
      } else d.skip();
      if (d.err) return RC_BAD_BATCH;
    }
    if (kind == 1) {
      for (let s = 0; s < onStarts.length; s++) {
        const e = onStarts[s]();
        if (e != null) {
          error("moss: start: " + e);
          return RC_START_FAILED;
        }
      }
    } else if (kind == 2) {
      if (subs.has(<u32>id)) {
        const fn = subs.get(<u32>id);
        fn(new Message(<u32>id, topic, payload == null ? new Uint8Array(0) : payload));
      }
    } else if (kind == 3) {
      if (timers.has(<u32>id)) {
        const t = timers.get(<u32>id);
        if (!t.repeat) timers.delete(<u32>id);
        t.fn();
      }
    } else if (kind == 4) {
      if (watches.has(<u32>id)) {
        const fn = watches.get(<u32>id);
        fn(path);
      }
    } else if (kind == 5) {
      for (let s = onStops.length - 1; s >= 0; s--) onStops[s]();
    }
    // Kinds added by later hosts are skipped.
  }
  return RC_OK;
}

/** The abort handler build.sh installs (--use abort=...): traps without importing env.abort. */
export function mossAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}
