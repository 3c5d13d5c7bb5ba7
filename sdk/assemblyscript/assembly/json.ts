// json.ts - a small JSON reader and writer (RFC 8259), so that components can
// read and write shadow documents and JSON payloads without a dependency.
//
// parseJson reads a document into a tree of JsonValue (null, bool, f64
// number, string, array, object); JsonValue.toString writes one. The reader
// follows Go's encoding/json wherever they could differ, so that a document
// reads the same in every Moss SDK: the whole input must be one value
// (whitespace around it allowed); a repeated object key keeps its first
// place and takes the last value; a number out of f64's range is an error;
// invalid UTF-8 and unpaired \u surrogates become U+FFFD. Unlike Go, nesting
// deeper than MAX_JSON_DEPTH (512) is refused, to bound the reader's stack.
//
// The writer produces what Go's json.Marshal would for the same values
// (but objects keep their keys in insertion order, where Go sorts a map's):
// the shortest number that reads back the same, the closest of those (plain
// from 1e-6 to 1e21, else 1e+21 or 1.5e-7); "<", ">", "&", U+2028 and
// U+2029 escaped as \u003c ..., other control characters as \n, \t, ... or
// \u00XX. A NaN or infinite number, which JSON cannot hold, is written as
// null, and an unpaired surrogate in a string as \ufffd (as Go writes
// invalid UTF-8). Numbers are read and written exactly (float.ts).

import { E_DECODE, setError } from "./errors";
import { formatNumber, parseDecimal } from "./float";

/** The kinds of JsonValue. */
export const JSON_NULL: i32 = 0;
export const JSON_BOOL: i32 = 1;
export const JSON_NUMBER: i32 = 2;
export const JSON_STRING: i32 = 3;
export const JSON_ARRAY: i32 = 4;
export const JSON_OBJECT: i32 = 5;

/** The deepest nesting of arrays and objects parseJson reads (the outermost counts as 1). */
export const MAX_JSON_DEPTH: i32 = 512;

const kindNames: string[] = ["null", "bool", "number", "string", "array", "object"];

/**
 * One JSON value. Make one with jsonNull, jsonBool, jsonNumber,
 * jsonString, jsonArray or jsonObject (or parseJson), fill arrays with push
 * and objects with set; read with the is*, as*, get, at and keys methods.
 * The as* methods return the zero value (false, 0, "") for a value of
 * another kind, and get/at return null for a missing key or index.
 */
export class JsonValue {
  readonly kind: i32;
  private b: bool;
  private n: f64;
  private s: string;
  private items: JsonValue[] | null = null; // array items, or object values
  private names: string[] | null = null; // object keys, in order
  private index: Map<string, i32> | null = null; // object key -> place

  /** A value of a kind; b, n and s are the bool's, number's and string's value. Prefer the json* functions. */
  constructor(kind: i32, b: bool = false, n: f64 = 0, s: string = "") {
    this.kind = kind;
    this.b = b;
    this.n = n;
    this.s = s;
    if (kind == JSON_ARRAY || kind == JSON_OBJECT) this.items = [];
    if (kind == JSON_OBJECT) {
      this.names = [];
      this.index = new Map<string, i32>();
    }
  }

  isNull(): bool {
    return this.kind == JSON_NULL;
  }
  isBool(): bool {
    return this.kind == JSON_BOOL;
  }
  isNumber(): bool {
    return this.kind == JSON_NUMBER;
  }
  isString(): bool {
    return this.kind == JSON_STRING;
  }
  isArray(): bool {
    return this.kind == JSON_ARRAY;
  }
  isObject(): bool {
    return this.kind == JSON_OBJECT;
  }

  /** "null", "bool", "number", "string", "array" or "object". */
  kindName(): string {
    return kindNames[this.kind];
  }

  asBool(): bool {
    return this.kind == JSON_BOOL ? this.b : false;
  }
  asNumber(): f64 {
    return this.kind == JSON_NUMBER ? this.n : 0;
  }
  asString(): string {
    return this.kind == JSON_STRING ? this.s : "";
  }

  /** The number of an array's items or an object's keys (0 for the others). */
  get length(): i32 {
    const items = this.items;
    return items == null ? 0 : items.length;
  }

  /** An array's item i, or null. */
  at(i: i32): JsonValue | null {
    const items = this.items;
    if (this.kind != JSON_ARRAY || items == null || i < 0 || i >= items.length) return null;
    return items[i];
  }

  /** An object's keys in order (empty for the others). */
  keys(): string[] {
    const names = this.names;
    return names == null ? [] : names.slice(0);
  }

  /** An object's value for key, or null (also when this is not an object). */
  get(key: string): JsonValue | null {
    const index = this.index;
    const items = this.items;
    if (index == null || items == null || !index.has(key)) return null;
    return items[index.get(key)];
  }

  /**
   * The value at a path of object keys (doc.getPath(["state", "delta"])),
   * or null where a key is missing or a value on the way is not an object.
   */
  getPath(path: string[]): JsonValue | null {
    let v: JsonValue | null = this;
    for (let i = 0; i < path.length && v != null; i++) v = v.get(path[i]);
    return v;
  }

  /** Whether an object has key. */
  has(key: string): bool {
    const index = this.index;
    return index != null && index.has(key);
  }

  /** Sets an object's key (a key already there keeps its place): this, to chain. Does nothing to the other kinds. */
  set(key: string, v: JsonValue): JsonValue {
    const index = this.index;
    const items = this.items;
    const names = this.names;
    if (index == null || items == null || names == null) return this;
    if (index.has(key)) {
      items[index.get(key)] = v;
    } else {
      index.set(key, items.length);
      items.push(v);
      names.push(key);
    }
    return this;
  }

  /** Appends an item to an array: this, to chain. Does nothing to the other kinds. */
  push(v: JsonValue): JsonValue {
    const items = this.items;
    if (this.kind == JSON_ARRAY && items != null) items.push(v);
    return this;
  }

  /** The value as JSON text, as Go's json.Marshal writes it. */
  toString(): string {
    const parts: string[] = [];
    this.write(parts);
    return parts.join("");
  }

  private write(parts: string[]): void {
    switch (this.kind) {
      case JSON_NULL:
        parts.push("null");
        break;
      case JSON_BOOL:
        parts.push(this.b ? "true" : "false");
        break;
      case JSON_NUMBER:
        parts.push(isFinite(this.n) ? formatNumber(this.n) : "null");
        break;
      case JSON_STRING:
        writeString(parts, this.s);
        break;
      case JSON_ARRAY: {
        const items = this.items!;
        parts.push("[");
        for (let i = 0; i < items.length; i++) {
          if (i > 0) parts.push(",");
          items[i].write(parts);
        }
        parts.push("]");
        break;
      }
      case JSON_OBJECT: {
        const items = this.items!;
        const names = this.names!;
        parts.push("{");
        for (let i = 0; i < items.length; i++) {
          if (i > 0) parts.push(",");
          writeString(parts, names[i]);
          parts.push(":");
          items[i].write(parts);
        }
        parts.push("}");
        break;
      }
    }
  }
}

export function jsonNull(): JsonValue {
  return new JsonValue(JSON_NULL);
}
export function jsonBool(v: bool): JsonValue {
  return new JsonValue(JSON_BOOL, v);
}
export function jsonNumber(v: f64): JsonValue {
  return new JsonValue(JSON_NUMBER, false, v);
}
export function jsonString(v: string): JsonValue {
  return new JsonValue(JSON_STRING, false, 0, v);
}
export function jsonArray(): JsonValue {
  return new JsonValue(JSON_ARRAY);
}
export function jsonObject(): JsonValue {
  return new JsonValue(JSON_OBJECT);
}

// ---- Writer -------------------------------------------------------------------

const HEX = "0123456789abcdef";

/** Appends s as a JSON string, escaped as Go's encoding/json does. */
function writeString(parts: string[], s: string): void {
  parts.push('"');
  let from = 0; // start of the run of characters that need no escape
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let esc: string | null = null;
    if (c == 0x22) esc = '\\"';
    else if (c == 0x5c) esc = "\\\\";
    else if (c < 0x20 || c == 0x3c || c == 0x3e || c == 0x26 || c == 0x2028 || c == 0x2029) {
      if (c == 10) esc = "\\n";
      else if (c == 13) esc = "\\r";
      else if (c == 9) esc = "\\t";
      else if (c == 8) esc = "\\b";
      else if (c == 12) esc = "\\f";
      else esc = "\\u" + HEX.charAt((c >> 12) & 15) + HEX.charAt((c >> 8) & 15) + HEX.charAt((c >> 4) & 15) + HEX.charAt(c & 15);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A surrogate pair is one character; an unpaired one is not text:
      // Go writes invalid UTF-8 as \ufffd.
      if (c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          continue;
        }
      }
      esc = "\\ufffd";
    }
    if (esc != null) {
      if (i > from) parts.push(s.substring(from, i));
      parts.push(esc);
      from = i + 1;
    }
  }
  if (n > from) parts.push(from == 0 ? s : s.substring(from, n));
  parts.push('"');
}

// ---- Reader -------------------------------------------------------------------

/**
 * Reads one JSON document from UTF-8 bytes: its value, or null with
 * lastError() saying why ("json: invalid character 'x' looking for
 * beginning of value at offset 3") and the code -E_DECODE.
 */
export function parseJsonBytes(b: Uint8Array): JsonValue | null {
  const r = new Reader(b.dataStart, <usize>b.length);
  r.ws();
  const v = r.value(1);
  if (v != null) {
    r.ws();
    if (r.p == r.end) return v;
    r.fail("after top-level value");
  }
  setError(-E_DECODE, r.err);
  return null;
}

/** Reads one JSON document from a string, as parseJsonBytes. */
export function parseJson(text: string): JsonValue | null {
  return parseJsonBytes(Uint8Array.wrap(String.UTF8.encode(text)));
}

class Reader {
  p: usize;
  end: usize;
  start: usize;
  err: string = "";

  constructor(ptr: usize, len: usize) {
    this.p = ptr;
    this.start = ptr;
    this.end = ptr + len;
  }

  peek(): i32 {
    return this.p < this.end ? <i32>load<u8>(this.p) : -1;
  }

  /** Records the first error: what was found, where, and context. */
  fail(context: string): JsonValue | null {
    if (this.err.length > 0) return null;
    const off = (this.p - this.start).toString();
    const c = this.peek();
    let what: string;
    if (c < 0) what = "unexpected end of JSON input";
    else if (c >= 0x20 && c < 0x7f) what = "invalid character '" + String.fromCharCode(c) + "'";
    else what = "invalid byte 0x" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    this.err = "json: " + what + " " + context + " at offset " + off;
    return null;
  }

  ws(): void {
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c == 0x20 || c == 9 || c == 10 || c == 13) this.p++;
      else return;
    }
  }

  literal(lit: string, v: JsonValue): JsonValue | null {
    for (let i = 0; i < lit.length; i++) {
      if (this.peek() != lit.charCodeAt(i)) return this.fail("in literal " + lit);
      this.p++;
    }
    return v;
  }

  /** Reads a value at nesting depth (1 for the document's). */
  value(depth: i32): JsonValue | null {
    const c = this.peek();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.str();
      return s == null ? null : new JsonValue(JSON_STRING, false, 0, s);
    }
    if (c == 0x74) return this.literal("true", new JsonValue(JSON_BOOL, true));
    if (c == 0x66) return this.literal("false", new JsonValue(JSON_BOOL, false));
    if (c == 0x6e) return this.literal("null", new JsonValue(JSON_NULL));
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("looking for beginning of value");
  }

  object(depth: i32): JsonValue | null {
    if (depth > MAX_JSON_DEPTH) return this.fail("nested over " + MAX_JSON_DEPTH.toString() + " deep");
    this.p++;
    const o = new JsonValue(JSON_OBJECT);
    this.ws();
    if (this.peek() == 0x7d) {
      this.p++;
      return o;
    }
    while (true) {
      if (this.peek() != 0x22) return this.fail("looking for beginning of object key string");
      const k = this.str();
      if (k == null) return null;
      this.ws();
      if (this.peek() != 0x3a) return this.fail("after object key");
      this.p++;
      this.ws();
      const v = this.value(depth + 1);
      if (v == null) return null;
      o.set(k, v);
      this.ws();
      const c = this.peek();
      this.p++;
      if (c == 0x7d) return o;
      if (c != 0x2c) {
        this.p--;
        return this.fail("after object key:value pair");
      }
      this.ws();
    }
  }

  array(depth: i32): JsonValue | null {
    if (depth > MAX_JSON_DEPTH) return this.fail("nested over " + MAX_JSON_DEPTH.toString() + " deep");
    this.p++;
    const a = new JsonValue(JSON_ARRAY);
    this.ws();
    if (this.peek() == 0x5d) {
      this.p++;
      return a;
    }
    while (true) {
      const v = this.value(depth + 1);
      if (v == null) return null;
      a.push(v);
      this.ws();
      const c = this.peek();
      this.p++;
      if (c == 0x5d) return a;
      if (c != 0x2c) {
        this.p--;
        return this.fail("after array element");
      }
      this.ws();
    }
  }

  digits(): i32 {
    const s = this.p;
    while (this.p < this.end) {
      const c = load<u8>(this.p);
      if (c >= 0x30 && c <= 0x39) this.p++;
      else break;
    }
    return <i32>(this.p - s);
  }

  number(): JsonValue | null {
    const s = this.p;
    if (this.peek() == 0x2d) this.p++;
    const c = this.peek();
    if (c == 0x30) this.p++;
    else if (c >= 0x31 && c <= 0x39) this.digits();
    else return this.fail("in numeric literal");
    if (this.peek() == 0x2e) {
      this.p++;
      if (this.digits() == 0) return this.fail("after decimal point in numeric literal");
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      this.p++;
      const sign = this.peek();
      if (sign == 0x2b || sign == 0x2d) this.p++;
      if (this.digits() == 0) return this.fail("in exponent of numeric literal");
    }
    const text = String.UTF8.decodeUnsafe(s, this.p - s);
    const v = parseDecimal(text);
    if (!isFinite(v)) {
      // Go refuses a number out of float64's range (not one that underflows).
      this.err = "json: number " + text + " out of range at offset " + (s - this.start).toString();
      return null;
    }
    return new JsonValue(JSON_NUMBER, false, v);
  }

  hex4(): i32 {
    if (this.end - this.p < 4) return -1;
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const h = <i32>load<u8>(this.p + i);
      let d = -1;
      if (h >= 0x30 && h <= 0x39) d = h - 0x30;
      else if (h >= 0x61 && h <= 0x66) d = h - 0x61 + 10;
      else if (h >= 0x41 && h <= 0x46) d = h - 0x41 + 10;
      if (d < 0) {
        this.p += i;
        return -1;
      }
      v = (v << 4) | d;
    }
    this.p += 4;
    return v;
  }

  /** Reads a string (the reader is on its opening quote), or null. */
  str(): string | null {
    this.p++;
    // The common case: no escapes, ASCII or valid UTF-8.
    let q = this.p;
    let plain = true;
    while (q < this.end) {
      const c = load<u8>(q);
      if (c == 0x22) break;
      if (c == 0x5c || c < 0x20 || c >= 0x80) {
        plain = false;
        break;
      }
      q++;
    }
    if (plain && q < this.end) {
      const s = String.UTF8.decodeUnsafe(this.p, q - this.p);
      this.p = q + 1;
      return s;
    }
    const out: string[] = [];
    let units: i32[] = [];
    while (true) {
      if (this.p >= this.end) {
        this.fail("in string literal");
        return null;
      }
      const c = <i32>load<u8>(this.p);
      if (c == 0x22) {
        this.p++;
        break;
      }
      if (c < 0x20) {
        this.fail("in string literal");
        return null;
      }
      if (c == 0x5c) {
        this.p++;
        const e = this.peek();
        this.p++;
        if (e == 0x22 || e == 0x5c || e == 0x2f) units.push(e);
        else if (e == 0x62) units.push(8);
        else if (e == 0x66) units.push(12);
        else if (e == 0x6e) units.push(10);
        else if (e == 0x72) units.push(13);
        else if (e == 0x74) units.push(9);
        else if (e == 0x75) {
          const u = this.hex4();
          if (u < 0) {
            this.fail("in \\u hexadecimal character escape");
            return null;
          }
          if (u >= 0xd800 && u <= 0xdbff) {
            // A high surrogate counts only with a low one after it.
            const save = this.p;
            let lo = -1;
            if (this.end - this.p >= 6 && load<u8>(this.p) == 0x5c && load<u8>(this.p + 1) == 0x75) {
              this.p += 2;
              lo = this.hex4();
            }
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              units.push(u);
              units.push(lo);
            } else {
              this.p = save;
              units.push(0xfffd);
            }
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            units.push(0xfffd);
          } else units.push(u);
        } else {
          this.p--;
          this.fail("in string escape code");
          return null;
        }
      } else if (c < 0x80) {
        units.push(c);
        this.p++;
      } else {
        const r = this.rune(c);
        if (r < 0x10000) units.push(r);
        else {
          units.push((0xd800 + ((r - 0x10000) >> 10)));
          units.push((0xdc00 + ((r - 0x10000) & 0x3ff)));
        }
      }
      if (units.length >= 1024) {
        out.push(String.fromCharCodes(units));
        units = [];
      }
    }
    out.push(String.fromCharCodes(units));
    return out.join("");
  }

  /**
   * Decodes the UTF-8 sequence starting with byte c, as Go's
   * utf8.DecodeRune: U+FFFD, one byte consumed, when it is not valid
   * (overlong forms, surrogates, over U+10FFFF, cut short).
   */
  rune(c: i32): i32 {
    let n = 0;
    let lo = 0x80;
    let hi = 0xbf;
    let r = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
      r = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      r = c & 0x0f;
      if (c == 0xe0) lo = 0xa0;
      else if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      r = c & 0x07;
      if (c == 0xf0) lo = 0x90;
      else if (c == 0xf4) hi = 0x8f;
    }
    if (n == 0 || <usize>(this.end - this.p) < <usize>n) {
      this.p++;
      return 0xfffd;
    }
    for (let i = 1; i < n; i++) {
      const b = <i32>load<u8>(this.p + i);
      if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf)) {
        this.p++;
        return 0xfffd;
      }
      r = (r << 6) | (b & 0x3f);
    }
    this.p += n;
    return r;
  }
}
