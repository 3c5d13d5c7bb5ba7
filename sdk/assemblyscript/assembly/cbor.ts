// cbor.ts - the small CBOR codec the SDK speaks the ABI with: definite
// lengths only, text-keyed maps, 64-bit floats. Buffers live in linear
// memory outside the garbage collector (heap.alloc), so their addresses can
// be handed to the host.

export const MAJOR_UINT: u8 = 0;
export const MAJOR_NEGINT: u8 = 1;
export const MAJOR_BYTES: u8 = 2;
export const MAJOR_TEXT: u8 = 3;
export const MAJOR_ARRAY: u8 = 4;
export const MAJOR_MAP: u8 = 5;
export const MAJOR_SIMPLE: u8 = 7;

/** Encoder writes one CBOR item into a growable buffer it owns. */
export class Encoder {
  ptr: usize = 0;
  cap: usize = 0;
  len: usize = 0;

  reset(): Encoder {
    this.len = 0;
    return this;
  }

  ensure(n: usize): void {
    if (this.len + n <= this.cap) return;
    let c = this.cap < 256 ? <usize>256 : this.cap * 2;
    while (c < this.len + n) c *= 2;
    this.ptr = this.ptr == 0 ? heap.alloc(c) : heap.realloc(this.ptr, c);
    this.cap = c;
  }

  byte(b: u8): void {
    this.ensure(1);
    store<u8>(this.ptr + this.len, b);
    this.len++;
  }

  head(major: u8, v: u64): void {
    const m = major << 5;
    if (v < 24) {
      this.byte(m | <u8>v);
    } else if (v <= 0xff) {
      this.byte(m | 24);
      this.byte(<u8>v);
    } else if (v <= 0xffff) {
      this.byte(m | 25);
      this.be(v, 2);
    } else if (v <= 0xffffffff) {
      this.byte(m | 26);
      this.be(v, 4);
    } else {
      this.byte(m | 27);
      this.be(v, 8);
    }
  }

  be(v: u64, n: i32): void {
    for (let i = n - 1; i >= 0; i--) this.byte(<u8>(v >> (<u64>i * 8)));
  }

  uint(v: u64): void {
    this.head(MAJOR_UINT, v);
  }

  int(v: i64): void {
    if (v >= 0) this.head(MAJOR_UINT, <u64>v);
    else this.head(MAJOR_NEGINT, <u64>(-1 - v));
  }

  bool(b: bool): void {
    this.byte(b ? 0xf5 : 0xf4);
  }

  nil(): void {
    this.byte(0xf6);
  }

  f64(v: f64): void {
    this.byte(0xfb);
    this.be(reinterpret<u64>(v), 8);
  }

  raw(p: usize, n: usize): void {
    this.ensure(n);
    memory.copy(this.ptr + this.len, p, n);
    this.len += n;
  }

  text(s: string): void {
    const b = String.UTF8.encode(s);
    this.head(MAJOR_TEXT, <u64>b.byteLength);
    this.raw(changetype<usize>(b), <usize>b.byteLength);
  }

  bytes(b: Uint8Array): void {
    this.head(MAJOR_BYTES, <u64>b.length);
    this.raw(b.dataStart, <usize>b.length);
  }

  map(n: i32): void {
    this.head(MAJOR_MAP, <u64>n);
  }

  array(n: i32): void {
    this.head(MAJOR_ARRAY, <u64>n);
  }

  textArray(a: string[]): void {
    this.array(a.length);
    for (let i = 0; i < a.length; i++) this.text(a[i]);
  }
}

/** Decoder reads CBOR items from memory; on malformed input it sets err. */
export class Decoder {
  p: usize;
  end: usize;
  err: bool = false;
  // The last head read.
  major: u8 = 0;
  info: u8 = 0;
  arg: u64 = 0;

  constructor(ptr: usize, len: usize) {
    this.p = ptr;
    this.end = ptr + len;
  }

  fail(): bool {
    this.err = true;
    return false;
  }

  byte(): u8 {
    if (this.p >= this.end) {
      this.err = true;
      return 0;
    }
    const b = load<u8>(this.p);
    this.p++;
    return b;
  }

  be(n: i32): u64 {
    let v: u64 = 0;
    for (let i = 0; i < n; i++) v = (v << 8) | <u64>this.byte();
    return v;
  }

  /** Reads a head: major type, additional info and argument. */
  head(): bool {
    const b = this.byte();
    if (this.err) return false;
    this.major = b >> 5;
    this.info = b & 31;
    if (this.info < 24) this.arg = <u64>this.info;
    else if (this.info == 24) this.arg = this.be(1);
    else if (this.info == 25) this.arg = this.be(2);
    else if (this.info == 26) this.arg = this.be(4);
    else if (this.info == 27) this.arg = this.be(8);
    else return this.fail(); // indefinite lengths are not used by the ABI
    return !this.err;
  }

  /** Whether the last head is a float, and its value in f. */
  isFloat(): bool {
    return this.major == MAJOR_SIMPLE && this.info >= 25 && this.info <= 27;
  }

  floatValue(): f64 {
    if (this.info == 27) return reinterpret<f64>(this.arg);
    if (this.info == 26) return <f64>reinterpret<f32>(<u32>this.arg);
    // half precision
    const h = <u32>this.arg;
    const e = (h >> 10) & 0x1f;
    const m = <f64>(h & 0x3ff);
    let v: f64;
    if (e == 0) v = m * Math.pow(2, -24);
    else if (e == 31) v = m == 0 ? Infinity : NaN;
    else v = (m + 1024) * Math.pow(2, <f64>e - 25);
    return h & 0x8000 ? -v : v;
  }

  /** Reads a text string's bytes after its head. */
  textBody(): string {
    const n = <usize>this.arg;
    if (this.end - this.p < n) {
      this.err = true;
      return "";
    }
    const s = String.UTF8.decodeUnsafe(this.p, n);
    this.p += n;
    return s;
  }

  bytesBody(): Uint8Array {
    const n = <usize>this.arg;
    if (this.end - this.p < n) {
      this.err = true;
      return new Uint8Array(0);
    }
    const b = new Uint8Array(<i32>n);
    memory.copy(b.dataStart, this.p, n);
    this.p += n;
    return b;
  }

  /** Reads a text string (head included); "" and err if it is not one. */
  text(): string {
    if (!this.head()) return "";
    if (this.major != MAJOR_TEXT) {
      this.err = true;
      return "";
    }
    return this.textBody();
  }

  /** Reads an unsigned integer; err if it is not one. */
  uint(): u64 {
    if (!this.head()) return 0;
    if (this.major != MAJOR_UINT) {
      this.err = true;
      return 0;
    }
    return this.arg;
  }

  /**
   * Reads a map head, leaving its pair count in arg, and checks ahead
   * (without consuming them) that its pairs are there, each keyed by text,
   * no key given twice: the ABI refuses a map with a key twice (ABI.md,
   * "Overview") rather than pick one of its values. False and err if not.
   */
  mapUnique(): bool {
    if (!this.head() || this.major != MAJOR_MAP) return this.fail();
    const pairs = this.arg;
    const ahead = new Decoder(this.p, this.end - this.p);
    const keys: usize[] = []; // start and length of each key read
    for (let i: u64 = 0; i < pairs; i++) {
      if (!ahead.head() || ahead.major != MAJOR_TEXT || <u64>(ahead.end - ahead.p) < ahead.arg) return this.fail();
      const k = ahead.p;
      const n = <usize>ahead.arg;
      for (let j = 0; j < keys.length; j += 2) {
        if (keys[j + 1] == n && memory.compare(keys[j], k, n) == 0) return this.fail();
      }
      keys.push(k);
      keys.push(n);
      ahead.p += n;
      if (!ahead.skip()) return this.fail();
    }
    return true;
  }

  /** Skips the item whose head was just read. */
  skipBody(depth: i32): bool {
    if (depth > 16) return this.fail();
    switch (this.major) {
      case MAJOR_BYTES:
      case MAJOR_TEXT: {
        if (<u64>(this.end - this.p) < this.arg) return this.fail();
        this.p += <usize>this.arg;
        return true;
      }
      case MAJOR_ARRAY:
      case MAJOR_MAP: {
        const n = this.major == MAJOR_MAP ? this.arg * 2 : this.arg;
        for (let i: u64 = 0; i < n; i++) {
          if (!this.skip(depth + 1)) return false;
        }
        return true;
      }
      case 6:
        return this.fail(); // no tags in the ABI
      default:
        return true;
    }
  }

  /** Skips one whole item. */
  skip(depth: i32 = 0): bool {
    if (!this.head()) return false;
    return this.skipBody(depth);
  }
}
