// decode.ts - the SDK's decoders of what the host sends: events and the
// {id} and {code, message} responses. Apart from index.ts so that the tests
// (testdata/cbor) run them over the ABI's shared fixtures; not part of the
// package's API.

import { Decoder, MAJOR_ARRAY } from "./cbor";

/** One event of a batch (ABI.md, "Events"): the keys this SDK reads. */
export class Event {
  kind: u64 = 0;
  id: u64 = 0;
  topic: string = "";
  version: string = "";
  reason: string = "";
  payload: Uint8Array | null = null;
  path: string[] = [];
}

/**
 * Reads one event map. Keys from later versions are skipped; a map that is
 * malformed, or holds a key twice, gives null (and d.err).
 */
export function readEvent(d: Decoder): Event | null {
  if (!d.mapUnique()) return null;
  const pairs = d.arg;
  const ev = new Event();
  for (let j: u64 = 0; j < pairs; j++) {
    const k = d.text();
    if (d.err) return null;
    if (k == "kind") ev.kind = d.uint();
    else if (k == "id") ev.id = d.uint();
    else if (k == "topic") ev.topic = d.text();
    else if (k == "version") ev.version = d.text();
    else if (k == "reason") ev.reason = d.text();
    else if (k == "payload") {
      if (d.head() && d.major == 2) ev.payload = d.bytesBody();
      else d.err = true;
    } else if (k == "path") {
      if (d.head() && d.major == MAJOR_ARRAY) {
        const m = d.arg;
        for (let x: u64 = 0; x < m && !d.err; x++) ev.path.push(d.text());
      } else d.err = true;
    } else d.skip();
    if (d.err) return null;
  }
  return ev;
}

/** Reads an {id: uint32} response: the id, or -1 if it is malformed. */
export function readID(ptr: usize, len: usize): i64 {
  const d = new Decoder(ptr, len);
  if (!d.mapUnique()) return -1;
  const pairs = d.arg;
  let id: i64 = -1;
  for (let i: u64 = 0; i < pairs && !d.err; i++) {
    if (d.text() == "id") {
      const v = d.uint();
      if (d.err || v > 0xffffffff) return -1;
      id = <i64>v;
    } else d.skip();
  }
  return d.err ? -1 : id;
}

/**
 * Reads the message of a {code, message} map: null if there is none or the
 * map is malformed.
 */
export function readErrorMessage(ptr: usize, len: usize): string | null {
  const d = new Decoder(ptr, len);
  if (!d.mapUnique()) return null;
  const pairs = d.arg;
  let msg: string | null = null;
  for (let i: u64 = 0; i < pairs && !d.err; i++) {
    if (d.text() == "message") {
      const m = d.text();
      if (!d.err && m.length > 0) msg = m;
    } else d.skip();
  }
  return d.err ? null : msg;
}
