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
import { E_DECODE, E_INVALID, E_INTERNAL, E_REJECTED, codeName, lastErrorCode, setError } from "./errors";
import { JsonValue, parseJsonBytes } from "./json";
import { formatNumber } from "./float";
import { readEvent, readID, readErrorMessage } from "./decode";
// Re-exported with "export *": asc (0.28) drops names re-exported one by
// one ("export { X } from") when the package's index.ts re-exports this
// file with "export *".
export * from "./cbor";
export * from "./errors";
export * from "./float";
export * from "./json";

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
@external("moss", "cloud_publish") declare function host_cloud_publish(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "cloud_subscribe") declare function host_cloud_subscribe(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "cloud_unsubscribe") declare function host_cloud_unsubscribe(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "shadow_get") declare function host_shadow_get(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "shadow_update") declare function host_shadow_update(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "shadow_delete") declare function host_shadow_delete(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "shadow_list") declare function host_shadow_list(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "state_save") declare function host_state_save(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "defer_update") declare function host_defer_update(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("moss", "shadow_watch") declare function host_shadow_watch(reqPtr: usize, reqLen: u32, respPtr: usize, respCap: u32): i32;
@external("wasi_snapshot_preview1", "clock_time_get") declare function wasi_clock_time_get(id: u32, precision: u64, out: usize): u16;

// ---- Error codes ---------------------------------------------------------------

// The codes, lastError and codeName are in errors.ts.

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
      const m = readErrorMessage(respPtr, <usize>n);
      if (m != null) msg = m;
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
  const id = readID(respPtr, respLen);
  if (id >= 0) return id;
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
  /** The payload read as a JSON document, or null (lastError() says why). */
  json(): JsonValue | null {
    return parseJsonBytes(this.payload);
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

// The handlers of each subscription id. The host gives one id to a filter
// however often it is subscribed (and shadow_watch shares those ids), so an
// id may have several handlers: each message runs them all, in order.
const subs = new Map<u32, Array<(m: Message) => void>>();

function addHandler(id: i64, fn: (m: Message) => void): void {
  if (id <= 0) return;
  if (subs.has(<u32>id)) subs.get(<u32>id).push(fn);
  else subs.set(<u32>id, [fn]);
}

/**
 * Subscribes fn to a topic filter on the local bus: the subscription's id,
 * or a negative code. Subscribing again to a filter gives the same id and
 * adds fn beside the handlers it has.
 */
export function subscribe(filter: string, fn: (m: Message) => void): i64 {
  req.reset().map(1);
  req.text("filter");
  req.text(filter);
  const r = finish("subscribe", host_subscribe(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return r;
  const id = responseID("subscribe");
  addHandler(id, fn);
  return id;
}

/** Ends a subscription (of subscribe, or a watch of onShadowDelta/onShadowDocuments) and all its handlers. */
export function unsubscribe(id: u32): i32 {
  req.reset().map(1);
  req.text("id");
  req.uint(id);
  const r = finish("unsubscribe", host_unsubscribe(reqPtr(), reqLen(), respPtr, respCap));
  if (r == 0 && subs.has(id)) subs.delete(id);
  return r;
}

// ---- AWS IoT Core -----------------------------------------------------------------

/** QoS levels for cloudPublish. AWS IoT Core has no QoS 2. */
export const AT_MOST_ONCE: i32 = 0;
export const AT_LEAST_ONCE: i32 = 1;

/**
 * Sends payload to topic on AWS IoT Core through the host's MQTT
 * connection (host function cloud_publish; grant cloud.publish on the
 * topic). With AT_LEAST_ONCE it returns once the message is safe: acked by
 * the broker or in the host's spool, which sends it in order when the link
 * is up. 0, or -E_INVALID (topic over 256 bytes, over 7 slashes, wildcards,
 * a reserved $ topic), -E_TOO_LARGE (payload over 128 KiB), -E_UNSUPPORTED
 * (QoS 2), -E_FULL (the spool is full: the message was not taken),
 * -E_UNAVAILABLE (QoS 0 while offline, or no cloud link), -E_DENIED.
 */
export function cloudPublish(topic: string, payload: Uint8Array, qos: i32 = AT_MOST_ONCE): i32 {
  if (qos < 0 || qos > 255) return setError(-E_INVALID, "moss: cloud_publish: QoS " + qos.toString());
  req.reset().map(3);
  req.text("topic");
  req.text(topic);
  req.text("payload");
  req.bytes(payload);
  req.text("qos");
  req.uint(<u64>qos);
  return finish("cloud_publish", host_cloud_publish(reqPtr(), reqLen(), respPtr, respCap));
}

/** cloudPublish with a text payload, UTF-8 encoded. */
export function cloudPublishText(topic: string, payload: string, qos: i32 = AT_MOST_ONCE): i32 {
  return cloudPublish(topic, Uint8Array.wrap(String.UTF8.encode(payload)), qos);
}

/**
 * Calls fn with every message from AWS IoT Core whose topic matches filter
 * (host function cloud_subscribe; grant cloud.subscribe covering the
 * filter): the subscription's id (from the same space as subscribe's), or
 * -E_INVALID, -E_DENIED, -E_FULL (the component's max_subscriptions, or
 * IoT Core's 50 filters a connection), -E_UNAVAILABLE (no cloud link). The
 * host accepts it while offline and subscribes when the link is up.
 */
export function cloudSubscribe(filter: string, fn: (m: Message) => void): i64 {
  req.reset().map(1);
  req.text("filter");
  req.text(filter);
  const r = finish("cloud_subscribe", host_cloud_subscribe(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return r;
  const id = responseID("cloud_subscribe");
  addHandler(id, fn);
  return id;
}

/** Ends a cloud subscription: 0, or -E_NOT_FOUND. */
export function cloudUnsubscribe(id: u32): i32 {
  req.reset().map(1);
  req.text("id");
  req.uint(id);
  const r = finish("cloud_unsubscribe", host_cloud_unsubscribe(reqPtr(), reqLen(), respPtr, respCap));
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
  if (d.mapUnique()) {
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
  if (d == null) return new Result<f64>(lastErrorCode(), 0);
  if (d.isFloat()) return new Result<f64>(0, d.floatValue());
  if (d.major == MAJOR_UINT) return new Result<f64>(0, <f64>d.arg);
  if (d.major == MAJOR_NEGINT) return new Result<f64>(0, -1 - <f64>d.arg);
  return new Result<f64>(setError(-E_DECODE, "moss: config " + pathString(path) + ": " + kindOf(d) + " is not a number"), 0);
}

/** Reads an integer at path (a float is refused, as the Go SDK does). */
export function configI64(path: string[]): Result<i64> {
  const d = configValue(path);
  if (d == null) return new Result<i64>(lastErrorCode(), 0);
  if (d.major == MAJOR_UINT && d.arg <= <u64>i64.MAX_VALUE) return new Result<i64>(0, <i64>d.arg);
  if (d.major == MAJOR_NEGINT && d.arg <= <u64>i64.MAX_VALUE) return new Result<i64>(0, -1 - <i64>d.arg);
  return new Result<i64>(setError(-E_DECODE, "moss: config " + pathString(path) + ": cannot read " + kindOf(d) + " as an integer"), 0);
}

/** Reads a text at path. */
export function configString(path: string[]): Result<string> {
  const d = configValue(path);
  if (d == null) return new Result<string>(lastErrorCode(), "");
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
  if (d.mapUnique()) {
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

// parseJson and parseJsonBytes are in json.ts.

// ---- Device shadows -------------------------------------------------------------------------

/**
 * The answer of a shadow function. The documents are IoT Core's JSON, byte
 * for byte.
 *
 * - code 0: accepted; status is 200 and payload the accepted document.
 * - code -E_REJECTED: the shadow service rejected the request; status is
 *   IoT Core's error code (400 bad document, 404 no such shadow, 409
 *   version conflict, 413 too large, 415, 429 too many requests, 500),
 *   payload the rejected document ({"code":404,"message":"...",...}),
 *   message its message, and lastError() reads
 *   "moss: shadow_get: rejected: 404 No shadow exists with name: ...".
 * - another negative code: the host refused the call before the service
 *   saw it (-E_DENIED, -E_INVALID, -E_TOO_LARGE, -E_UNAVAILABLE); status
 *   is 0 and lastError() says why.
 */
export class ShadowResult {
  constructor(public code: i32, public status: i32, public payload: Uint8Array, public message: string = "") {}
  /** Whether the service accepted the request. */
  get ok(): bool {
    return this.code == 0;
  }
  /** The document as text. */
  text(): string {
    return String.UTF8.decodeUnsafe(this.payload.dataStart, <usize>this.payload.length);
  }
  /** The document read as JSON, or null (lastError() says why). */
  json(): JsonValue | null {
    return parseJsonBytes(this.payload);
  }
}

/** Writes the request map's thing and name (each left out when empty) and starts extra more keys. */
function shadowTarget(thing: string, name: string, extra: i32): void {
  let n = extra;
  if (thing.length > 0) n++;
  if (name.length > 0) n++;
  req.reset().map(n);
  if (thing.length > 0) {
    req.text("thing");
    req.text(thing);
  }
  if (name.length > 0) {
    req.text("name");
    req.text(name);
  }
}

/** Finishes a shadow call: decodes {status, payload} into a ShadowResult. */
function shadowResult(fn: string, r: i32): ShadowResult {
  const none = new Uint8Array(0);
  if (finish(fn, r) < 0) return new ShadowResult(lastErrorCode(), 0, none);
  const d = new Decoder(respPtr, respLen);
  let status: i64 = -1;
  let payload = none;
  if (d.mapUnique()) {
    const pairs = d.arg;
    for (let i: u64 = 0; i < pairs && !d.err; i++) {
      const k = d.text();
      if (k == "status") {
        const v = d.uint();
        if (!d.err && v <= 0xffff) status = <i64>v;
        else d.err = true;
      } else if (k == "payload") {
        if (d.head() && d.major == 2) payload = d.bytesBody();
        else d.err = true;
      } else d.skip();
    }
  }
  if (d.err || status < 0) return new ShadowResult(setError(-E_DECODE, "moss: " + fn + ": response has no status"), 0, none);
  if (status == 200) return new ShadowResult(0, 200, payload);
  // The rejected document: {"code":404,"message":"...","timestamp":...}.
  let message = "";
  const doc = parseJsonBytes(payload);
  if (doc != null) {
    const m = doc.get("message");
    if (m != null && m.isString()) message = m.asString();
  }
  let e = "moss: " + fn + ": rejected: " + status.toString();
  if (message.length > 0) e += " " + message;
  return new ShadowResult(setError(-E_REJECTED, e), <i32>status, payload, message);
}

/**
 * Reads a shadow (host function shadow_get; grant shadow.get on
 * $aws/things/THING/shadow[/name/NAME]): the get/accepted document (state
 * with desired, reported and delta, metadata, version, timestamp), or
 * -E_REJECTED with status 404 when the shadow does not exist. thing "" is
 * the device's own thing, name "" the classic shadow.
 */
export function getShadow(thing: string, name: string): ShadowResult {
  shadowTarget(thing, name, 0);
  return shadowResult("shadow_get", host_shadow_get(reqPtr(), reqLen(), respPtr, respCap));
}

/**
 * Sends an update document such as {"state":{"reported":{"color":"RED"}}}
 * (host function shadow_update; grant shadow.update): the update/accepted
 * document, or -E_REJECTED with status 400 (not an update document), 409
 * (version conflict), 413, 415, 429 or 500; -E_TOO_LARGE for a document
 * over 128 KiB. The service publishes update/delta and update/documents as
 * IoT Core does.
 */
export function updateShadow(thing: string, name: string, doc: string): ShadowResult {
  return updateShadowBytes(thing, name, Uint8Array.wrap(String.UTF8.encode(doc)));
}

/** updateShadow with the document as UTF-8 bytes. */
export function updateShadowBytes(thing: string, name: string, doc: Uint8Array): ShadowResult {
  shadowTarget(thing, name, 1);
  req.text("payload");
  req.bytes(doc);
  return shadowResult("shadow_update", host_shadow_update(reqPtr(), reqLen(), respPtr, respCap));
}

/**
 * Deletes a shadow (host function shadow_delete; grant shadow.delete): the
 * delete/accepted document, or -E_REJECTED with status 404 when it does not
 * exist.
 */
export function deleteShadow(thing: string, name: string): ShadowResult {
  shadowTarget(thing, name, 0);
  return shadowResult("shadow_delete", host_shadow_delete(reqPtr(), reqLen(), respPtr, respCap));
}

/**
 * Reads one page of a thing's named shadows (host function shadow_list;
 * grant shadow.list on $aws/things/THING): the document
 * {"results":["name",...],"nextToken":"...","timestamp":N}. pageSize 0 is
 * the host's default (25), at most 100; pass the nextToken of a page to get
 * the next one. listShadowNames follows the pages.
 */
export function listShadows(thing: string, pageSize: u32 = 0, nextToken: string = ""): ShadowResult {
  let n = 0;
  if (thing.length > 0) n++;
  if (pageSize > 0) n++;
  if (nextToken.length > 0) n++;
  req.reset().map(n);
  if (thing.length > 0) {
    req.text("thing");
    req.text(thing);
  }
  if (pageSize > 0) {
    req.text("page_size");
    req.uint(pageSize);
  }
  if (nextToken.length > 0) {
    req.text("next_token");
    req.text(nextToken);
  }
  return shadowResult("shadow_list", host_shadow_list(reqPtr(), reqLen(), respPtr, respCap));
}

/** The names of all of a thing's named shadows, following listShadows's pages. */
export function listShadowNames(thing: string): Result<string[]> {
  const names: string[] = [];
  let token = "";
  while (true) {
    const r = listShadows(thing, 100, token);
    if (!r.ok) return new Result<string[]>(r.code, names);
    const doc = r.json();
    let results: JsonValue | null = null;
    if (doc != null) results = doc.get("results");
    if (doc == null || results == null || !results.isArray()) {
      return new Result<string[]>(setError(-E_DECODE, "moss: shadow_list: the document has no results: " + r.text()), names);
    }
    for (let i = 0; i < results.length; i++) {
      const v = results.at(i);
      if (v != null && v.isString()) names.push(v.asString());
    }
    const next = doc.get("nextToken");
    const nt = next == null ? "" : next.asString();
    if (nt.length == 0) return new Result<string[]>(0, names);
    if (nt == token) return new Result<string[]>(setError(-E_DECODE, "moss: shadow_list: the service returned next token " + nt + " again"), names);
    token = nt;
  }
}

function shadowWatch(thing: string, name: string, topic: string, fn: (m: Message) => void): i64 {
  shadowTarget(thing, name, 1);
  req.text("topic");
  req.text(topic);
  const r = finish("shadow_watch", host_shadow_watch(reqPtr(), reqLen(), respPtr, respCap));
  if (r < 0) return r;
  const id = responseID("shadow_watch");
  addHandler(id, fn);
  return id;
}

/**
 * Calls fn with each of a shadow's update/delta messages (published after
 * an update while desired and reported differ; the payload is the delta
 * document, the topic $aws/things/THING/shadow[/name/NAME]/update/delta).
 * Host function shadow_watch; grant shadow.get. The subscription's id, or
 * -E_DENIED, -E_INVALID (a malformed thing or shadow name), -E_FULL;
 * unsubscribe(id) ends it.
 */
export function onShadowDelta(thing: string, name: string, fn: (m: Message) => void): i64 {
  return shadowWatch(thing, name, "delta", fn);
}

/** As onShadowDelta, for update/documents (the previous and current documents after every accepted update). */
export function onShadowDocuments(thing: string, name: string, fn: (m: Message) => void): i64 {
  return shadowWatch(thing, name, "documents", fn);
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

// formatNumber (Go's encoding/json float format) is in float.ts.

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

// ---- Hot swaps and deployments --------------------------------------------------------------

// The functions onUpgrade and onUpdate register, each with the host call it
// leads to: set only by them, so that a component that registers none does
// not import state_save or defer_update.
let upgradeFn: (() => Uint8Array) | null = null;
let updateFn: ((version: string) => u32) | null = null;
let runUpgrade: (() => void) | null = null;
let runUpdate: ((version: string) => void) | null = null;
let handoverData = new Uint8Array(0);

function saveState(): void {
  const data = upgradeFn!();
  req.reset().map(1);
  req.text("data");
  req.bytes(data);
  if (finish("state_save", host_state_save(reqPtr(), reqLen(), respPtr, respCap)) < 0) error("moss: upgrade: " + lastError());
}

function updateAndDefer(version: string): void {
  const secs = updateFn!(version);
  if (secs > 0 && deferUpdate(secs) < 0) error("moss: defer update: " + lastError());
}

/**
 * Registers fn to hand state to the next version of the component when a
 * deployment replaces this one without a restart (hot swap): fn runs on the
 * stop event that announces the upgrade, before the onStop functions, and
 * the new version reads what it returned with handover(). A later onUpgrade
 * replaces fn. Host function: state_save.
 */
export function onUpgrade(fn: () => Uint8Array): void {
  upgradeFn = fn;
  runUpgrade = saveState;
}

/**
 * The state the previous version handed over (onUpgrade); empty when this
 * instance did not start from a hot swap. Valid from the start functions on.
 */
export function handover(): Uint8Array {
  return handoverData;
}

/**
 * Registers fn to hear that a deployment is about to update or reconfigure
 * the component (version is the new version, "" when only its
 * configuration changes). fn returns how many seconds the deployment
 * should wait, 0 to accept now, as Greengrass's DeferComponentUpdate; the
 * deployment asks again when the time is up, and goes ahead anyway once its
 * update policy's timeout has passed. A later onUpdate replaces fn.
 */
export function onUpdate(fn: (version: string) => u32): void {
  updateFn = fn;
  runUpdate = updateAndDefer;
}

/**
 * Asks the deployment to wait seconds (at most 86400; 0 withdraws the
 * request): what onUpdate's function does with its answer. 0, or a negative
 * code (-E_INVALID over a day). Host function: defer_update.
 */
export function deferUpdate(seconds: u32): i32 {
  req.reset().map(1);
  req.text("seconds");
  req.uint(<u64>seconds);
  return finish("defer_update", host_defer_update(reqPtr(), reqLen(), respPtr, respCap));
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
    const ev = readEvent(d);
    if (ev == null) return RC_BAD_BATCH;
    const kind = ev.kind;
    const id = ev.id;
    const topic = ev.topic;
    const payload = ev.payload;
    const path = ev.path;
    if (kind == 1) {
      handoverData = payload == null ? new Uint8Array(0) : payload;
      for (let s = 0; s < onStarts.length; s++) {
        const e = onStarts[s]();
        if (e != null) {
          error("moss: start: " + e);
          return RC_START_FAILED;
        }
      }
    } else if (kind == 2) {
      if (subs.has(<u32>id)) {
        const fns = subs.get(<u32>id);
        const m = new Message(<u32>id, topic, payload == null ? new Uint8Array(0) : payload);
        // A handler may unsubscribe: run those there were when it arrived.
        const n = fns.length;
        for (let h = 0; h < n && h < fns.length; h++) fns[h](m);
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
      if (ev.reason == "upgrade" && runUpgrade != null) runUpgrade!();
      for (let s = onStops.length - 1; s >= 0; s--) onStops[s]();
    } else if (kind == 6) {
      if (runUpdate != null) runUpdate!(ev.version);
    }
    // Kinds added by later hosts are skipped.
  }
  return RC_OK;
}

/** The abort handler build.sh installs (--use abort=...): traps without importing env.abort. */
export function mossAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}
