// probe.ts - a test component for the SDK's shadow and cloud functions
// (as_test.go, TestShadowProbe). At start it calls each against the host's
// shadow service and publishes each outcome on probe/<what>, most as
// "code|status|codeName|payload-or-lastError"; then it reports the
// messages its watches receive.
//
// Build: sdk/assemblyscript/build.sh sdk/assemblyscript/testdata/shadowprobe/probe.ts -o probe.wasm

import * as moss from "@moss-edge/sdk";

export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

function out(what: string, s: string): void {
  moss.publishText("probe/" + what, s);
}

function res(what: string, r: moss.ShadowResult): void {
  out(what, r.code.toString() + "|" + r.status.toString() + "|" + moss.codeName(r.code) + "|" + (r.ok ? r.text() : moss.lastError()));
}

function code(what: string, c: i64): void {
  out(what, c.toString() + "|" + (c < 0 ? moss.codeName(<i32>c) + "|" + moss.lastError() : ""));
}

function onDelta(m: moss.Message): void {
  const doc = m.json();
  let state: moss.JsonValue | null = null;
  if (doc != null) state = doc.get("state");
  out("delta", m.topic + " " + (state == null ? "no state" : state.toString()));
}

function onDeltaAgain(m: moss.Message): void {
  out("delta-again", m.topic);
}

function onDocuments(m: moss.Message): void {
  const doc = m.json();
  let current: moss.JsonValue | null = null;
  if (doc != null) current = doc.getPath(["current", "state"]);
  out("documents", m.topic + " " + (current == null ? "?" : current.toString()));
}

function onCloud(m: moss.Message): void {}

function start(): string | null {
  // The watches first: the update below publishes a delta and documents.
  const w = moss.onShadowDelta("", "probe", onDelta);
  const again = moss.subscribe("$aws/things/moss/shadow/name/probe/update/delta", onDeltaAgain);
  const docs = moss.onShadowDocuments("", "probe", onDocuments);
  out("watch", w.toString() + " " + again.toString() + " " + docs.toString());

  res("get-missing", moss.getShadow("", "probe"));
  const r = moss.updateShadow("", "probe", '{"state":{"desired":{"x":1,"y":"two"},"reported":{"x":0}},"clientToken":"t1"}');
  res("update", r);
  res("update-bad", moss.updateShadow("", "probe", "{"));
  res("update-conflict", moss.updateShadow("", "probe", '{"state":{"reported":{"x":1}},"version":99}'));
  const g = moss.getShadow("", "probe");
  const doc = g.json();
  let x = "?";
  if (doc != null) {
    const delta = doc.getPath(["state", "delta"]);
    if (delta != null) x = delta.toString();
  }
  out("get", g.code.toString() + "|" + g.status.toString() + "|" + x);
  res("get-denied", moss.getShadow("", "other"));
  res("get-classic-denied", moss.getShadow("", ""));
  res("get-bad-name", moss.getShadow("", "bad name"));
  res("get-thing", moss.getShadow("other-thing", "probe"));
  res("update-large", moss.updateShadowBytes("", "probe", new Uint8Array(128 * 1024 + 1)));
  res("list", moss.listShadows(""));
  const names = moss.listShadowNames("");
  out("names", names.code.toString() + "|" + names.value.join(","));
  res("list-denied", moss.listShadows("other-thing", 1));
  res("delete", moss.deleteShadow("", "gone"));

  code("cloud-publish", moss.cloudPublishText("up/x", "hi", moss.AT_LEAST_ONCE));
  code("cloud-publish-qos", moss.cloudPublishText("up/x", "hi", 300));
  code("cloud-publish-denied", moss.cloudPublishText("elsewhere/x", "hi"));
  code("cloud-publish-big", moss.cloudPublish("up/big", new Uint8Array(128 * 1024 + 1), moss.AT_LEAST_ONCE));
  const sub = moss.cloudSubscribe("down/#", onCloud);
  code("cloud-subscribe", sub);
  code("cloud-subscribe-denied", moss.cloudSubscribe("elsewhere/#", onCloud));
  code("cloud-unsubscribe", moss.cloudUnsubscribe(<u32>sub));
  code("cloud-unsubscribe-again", moss.cloudUnsubscribe(<u32>sub));
  return null;
}

let watch: i64 = 0; // the delta watch of start2

function onCmd(m: moss.Message): void {
  const cmd = m.text();
  if (cmd == "delete") res("delete-probe", moss.deleteShadow("", "probe"));
  else if (cmd == "unwatch") code("unwatch", moss.unsubscribe(<u32>watch));
  else if (cmd == "update") res("update-again", moss.updateShadow("", "probe", '{"state":{"desired":{"x":2}}}'));
}

// A second start handler: onStart handlers run in order.
function start2(): string | null {
  watch = moss.onShadowDelta("", "probe", onDelta);
  if (watch < 0) return moss.lastError();
  if (moss.subscribe("probe/cmd", onCmd) < 0) return moss.lastError();
  return null;
}

moss.onStart(start);
moss.onStart(start2);
