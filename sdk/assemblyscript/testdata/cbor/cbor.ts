// cbor.ts - a test component for the SDK's decoders of what the host sends
// (as_test.go, TestFixtures): each message on cbor/in/<n>/<kind> carries the
// bytes of one fixture of abi/testdata/fixtures.json, decoded by the SDK's
// own readEvent, readID or readErrorMessage, with the answer on cbor/out/<n>:
// "refused", or "ok" and what was read.
//
// Build: sdk/assemblyscript/build.sh sdk/assemblyscript/testdata/cbor/cbor.ts -o cbor.wasm

import * as moss from "@moss-edge/sdk";
import { readEvent, readID, readErrorMessage } from "@moss-edge/sdk/assembly/decode";

export { moss_abi_version, moss_event_buffer, moss_on_events } from "@moss-edge/sdk";

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function onInput(m: moss.Message): void {
  const parts = m.topic.split("/"); // cbor, in, <n>, <kind>
  const p = m.payload.dataStart;
  const n = <usize>m.payload.length;
  let out = "refused";
  if (parts[3] == "event") {
    const d = new moss.Decoder(p, n);
    const ev = readEvent(d);
    if (ev != null && d.p == d.end) {
      const payload = ev.payload;
      out = "ok kind=" + ev.kind.toString() + " id=" + ev.id.toString() + " topic=" + ev.topic +
        " payload=" + (payload == null ? "" : hex(payload));
    }
  } else if (parts[3] == "id") {
    const id = readID(p, n);
    if (id >= 0) out = "ok " + id.toString();
  } else if (parts[3] == "error") {
    const msg = readErrorMessage(p, n);
    if (msg != null) out = "ok " + msg;
  }
  moss.publishText("cbor/out/" + parts[2], out);
}

function start(): string | null {
  if (moss.subscribe("cbor/in/+/+", onInput) < 0) return moss.lastError();
  return null;
}

moss.onStart(start);
