// json.ts - a test component for the SDK's JSON reader and writer
// (as_test.go, TestJSON): each message on json/in/<n> is read with
// parseJsonBytes and written back with toString on json/out/<n>, as
// "ok <json>" or "error <lastError()>". At start it publishes on json/built
// a document made with the builders and read back with the accessors.
//
// Build: sdk/assemblyscript/build.sh sdk/assemblyscript/testdata/json/json.ts -o json.wasm

import * as moss from "@moss-edge/sdk";

export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

function onInput(m: moss.Message): void {
  const n = m.topic.slice("json/in/".length);
  const v = moss.parseJsonBytes(m.payload);
  let out: string;
  if (v == null) out = "error " + moss.lastError() + " (" + moss.codeName(moss.lastErrorCode()) + ")";
  else out = "ok " + v.toString();
  moss.publishText("json/out/" + n, out);
}

function built(): string {
  const o = moss.jsonObject()
    .set("s", moss.jsonString("<a & b>\u2028\"\\\n\t\u0001é😀"))
    .set("n", moss.jsonNumber(-22.5))
    .set("i", moss.jsonNumber(1e21))
    .set("small", moss.jsonNumber(1.5e-7))
    .set("nan", moss.jsonNumber(NaN))
    .set("t", moss.jsonBool(true))
    .set("f", moss.jsonBool(false))
    .set("z", moss.jsonNull())
    .set("a", moss.jsonArray().push(moss.jsonNumber(1)).push(moss.jsonArray()).push(moss.jsonObject()))
    .set("n", moss.jsonNumber(3)) // replaces, keeping its place
    .set("lone", moss.jsonString(String.fromCharCode(0xd800) + "x"));
  // Read back through the accessors.
  const a = o.get("a");
  const parts: string[] = [
    o.toString(),
    o.keys().join(","),
    o.length.toString(),
    o.has("z") ? "has z" : "no z",
    o.has("q") ? "has q" : "no q",
    o.get("q") == null ? "get q null" : "get q",
    o.get("n")!.asNumber().toString(),
    o.get("n")!.asString() + "|" + o.get("s")!.asNumber().toString() + "|" + o.get("t")!.asBool().toString(),
    o.get("z")!.isNull() ? "z null" : "z not null",
    a != null && a.isArray() ? "a array of " + a.length.toString() : "a not array",
    a!.at(1)!.kindName() + "," + a!.at(2)!.kindName() + "," + (a!.at(3) == null ? "at 3 null" : "at 3"),
    moss.jsonNumber(1).get("x") == null && moss.jsonNumber(1).keys().length == 0 ? "scalar has no keys" : "scalar keys",
  ];
  return parts.join("\n");
}

function start(): string | null {
  if (moss.subscribe("json/in/+", onInput) < 0) return moss.lastError();
  if (moss.publishText("json/built", built()) < 0) return moss.lastError();
  return null;
}

moss.onStart(start);
