// counter.ts - the AssemblyScript port of host/daemon/testdata/counter, for
// the handover scenario (internal/conformance.RunHandover; as_test.go,
// TestHandover): it counts the messages on "seq/in" and publishes
// "TAG SEQ COUNT" on "seq/out" for each, TAG being its configuration's
// "tag". On an upgrade it hands its count to the next version
// (moss.onUpgrade), which carries on from it (moss.handover); with
// configuration "defer_s" it defers the first update announced by that many
// seconds (moss.onUpdate).
//
// Build: sdk/assemblyscript/build.sh sdk/assemblyscript/testdata/counter/counter.ts -o counter.wasm

import * as moss from "@moss-edge/sdk";

export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

let tag = "v1";
let count: u64 = 0;
let deferS: u32 = 0;

function onSeq(m: moss.Message): void {
  count++;
  moss.publishText("seq/out", tag + " " + String.UTF8.decode(m.payload.buffer) + " " + count.toString());
}

function save(): Uint8Array {
  const b = new Uint8Array(8);
  store<u64>(b.dataStart, count);
  return b;
}

function update(version: string): u32 {
  const d = deferS;
  deferS = 0; // once
  return d;
}

function start(): string | null {
  const t = moss.configString(["tag"]);
  if (t.ok) tag = t.value;
  const d = moss.configI64(["defer_s"]);
  if (d.ok) deferS = <u32>d.value;
  const h = moss.handover();
  if (h.length == 8) count = load<u64>(h.dataStart);
  moss.onUpgrade(save);
  moss.onUpdate(update);
  if (moss.subscribe("seq/in", onSeq) < 0) return moss.lastError();
  return null;
}

moss.onStart(start);
