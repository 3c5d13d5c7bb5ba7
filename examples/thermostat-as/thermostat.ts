// thermostat.ts - the thermostat component in AssemblyScript (a port of
// examples/thermostat; its README.md is the behaviour): it keeps a light
// color and a target temperature in a named device shadow, applies what is
// desired there when valid, reports what it applied, clears a desired value
// it refuses, and publishes the settings it runs with on
// thermostat/<shadow>/applied.
//
// Build: sdk/assemblyscript/build.sh examples/thermostat-as/thermostat.ts -o examples/thermostat-as/thermostat-as.wasm

import * as moss from "@moss-edge/sdk";

export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

const MIN_TARGET: f64 = 5;
const MAX_TARGET: f64 = 35;

/** What the thermostat runs with, and what it reports and publishes. */
class Settings {
  constructor(public color: string, public target: f64) {}
  /** {"color":C,"target_temperature":T}, as the Go version marshals it. */
  toJson(): moss.JsonValue {
    return moss.jsonObject().set("color", moss.jsonString(this.color)).set("target_temperature", moss.jsonNumber(this.target));
  }
}

// State lives in module variables: the host calls one handler at a time.
let shadow = "thermostat"; // the shadow's name
let current = new Settings("GREEN", 20);
let errs: string[] = []; // the start's configuration errors

function start(): string | null {
  errs = [];
  shadow = getString("shadow", "thermostat");
  const defaults = new Settings(getString("color", "GREEN"), getF64("target_temperature", 20));
  if (errs.length > 0) return errs.join("\n");
  // Watch first, then read: a change made in between arrives as a delta.
  if (moss.onShadowDelta("", shadow, onDelta) < 0) return moss.lastError();
  const r = moss.getShadow("", shadow);
  if (r.code == -moss.E_REJECTED && r.status == 404) {
    // A new shadow: start from the configuration and say so.
    current = defaults;
    moss.info("thermostat: no shadow " + shadow + " yet: starting from " + current.color + " at " + goV(current.target) + " C");
    report([]);
    return null;
  }
  if (!r.ok) return "shadow " + shadow + ": " + moss.lastError();
  const doc = r.json();
  if (doc == null) return "shadow " + shadow + ": " + moss.lastError();
  const state = member(doc, "state");
  // Resume from what was reported; a setting missing or invalid there
  // keeps the configured default.
  current = defaults;
  const reported = member(state, "reported");
  const c = member(reported, "color");
  if (validColor(c)) current.color = c!.asString();
  const t = member(reported, "target_temperature");
  if (validTarget(t)) current.target = t!.asNumber();
  moss.info("thermostat: shadow " + shadow + " reports " + current.color + " at " + goV(current.target) + " C");
  const delta = member(state, "delta");
  if (delta != null && delta.isObject()) apply(delta);
  return null;
}

/** o's value for key when o is an object that has it, else null. */
function member(o: moss.JsonValue | null, key: string): moss.JsonValue | null {
  if (o == null || !o.isObject()) return null;
  return o.get(key);
}

/** Reads one configuration key; an absent key gives the default. */
function getString(key: string, dflt: string): string {
  const r = moss.configString([key]);
  if (r.ok) return r.value;
  if (r.code != -moss.E_NOT_FOUND) errs.push("config " + key + ": " + moss.lastError());
  return dflt;
}
function getF64(key: string, dflt: f64): f64 {
  const r = moss.configF64([key]);
  if (r.ok) return r.value;
  if (r.code != -moss.E_NOT_FOUND) errs.push("config " + key + ": " + moss.lastError());
  return dflt;
}

function onDelta(m: moss.Message): void {
  const doc = m.json();
  if (doc == null) {
    moss.warn(m.topic + ": not a delta document: " + moss.lastError());
    return;
  }
  const state = member(doc, "state");
  if (!doc.isNull() && !doc.isObject() || state != null && !state.isNull() && !state.isObject()) {
    moss.warn(m.topic + ": not a delta document: want an object with a state object");
    return;
  }
  // A delta without a state still reports, as the Go version does.
  apply(state != null && state.isObject() ? state : moss.jsonObject());
}

/** Takes the desired settings that are valid, then reports. Keys other than color and target_temperature are ignored. */
function apply(state: moss.JsonValue): void {
  // A state with neither setting is not reported, or the service would
  // answer the report with the same delta again.
  if (state.get("color") == null && state.get("target_temperature") == null) return;
  const rejected: string[] = [];
  const c = state.get("color");
  if (c != null) {
    if (validColor(c)) current.color = c.asString();
    else {
      moss.warn("thermostat: desired color " + c.toString() + " refused: want RED, GREEN or BLUE");
      rejected.push("color");
    }
  }
  const t = state.get("target_temperature");
  if (t != null) {
    if (validTarget(t)) current.target = t.asNumber();
    else {
      moss.warn("thermostat: desired target_temperature " + t.toString() + " refused: want a number from " + goV(MIN_TARGET) + " to " + goV(MAX_TARGET));
      rejected.push("target_temperature");
    }
  }
  report(rejected);
}

function validColor(v: moss.JsonValue | null): bool {
  if (v == null || !v.isString()) return false;
  const s = v.asString();
  return s == "RED" || s == "GREEN" || s == "BLUE";
}

function validTarget(v: moss.JsonValue | null): bool {
  if (v == null || !v.isNumber()) return false;
  const f = v.asNumber();
  return f >= MIN_TARGET && f <= MAX_TARGET;
}

/**
 * Writes the current settings to the shadow's reported state, and clears
 * the desired keys it refused: the service publishes a delta after every
 * update while desired and reported differ, so a refused value left in
 * desired would come back after each report. Then publishes the settings on
 * thermostat/<shadow>/applied.
 */
function report(rejected: string[]): void {
  const state = moss.jsonObject().set("reported", current.toJson());
  if (rejected.length > 0) {
    const desired = moss.jsonObject();
    for (let i = 0; i < rejected.length; i++) desired.set(rejected[i], moss.jsonNull());
    state.set("desired", desired);
  }
  const doc = moss.jsonObject().set("state", state).toString();
  if (!moss.updateShadow("", shadow, doc).ok) {
    moss.warn("thermostat: shadow " + shadow + ": reporting " + doc + ": " + moss.lastError());
  }
  const topic = "thermostat/" + shadow + "/applied";
  if (moss.publishText(topic, current.toJson().toString()) < 0) moss.warn(topic + ": " + moss.lastError());
}

/** Go's %v of a float64 (for log lines). */
function goV(v: f64): string {
  const s = moss.formatNumber(v);
  const e = s.indexOf("e");
  if (e < 0) return s;
  // Go's %v writes at least two exponent digits: 1.5e-07, 1e+21.
  let exp = s.slice(e + 2);
  if (exp.length < 2) exp = "0" + exp;
  return s.slice(0, e + 2) + exp;
}

// Registered last: AssemblyScript runs top-level statements in order, and
// the handlers use the module's variables declared above.
moss.onStart(start);
