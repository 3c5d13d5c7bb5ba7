// float.ts - exact conversions between f64 and decimal text, so that the
// SDK's JSON reads and writes numbers as Go's strconv does:
//
//   - formatNumber writes the shortest decimal that reads back as the same
//     f64 and, among those, the closest to it (the free-format algorithm of
//     Steele & White / Burger & Dybvig, in big integers); the runtime's
//     f64.toString (Grisu2) is also short but not always the closest, so its
//     last digit may differ from Go's.
//   - parseDecimal rounds a decimal correctly (to nearest, ties to even):
//     the runtime's parseFloat, which is exact only on its fast path, gives
//     a first guess, which big-integer comparisons with the halfway points
//     around it correct.
//
// The big integers are small, fixed-size and slow; these paths run only for
// numbers the fast paths (small integers, Clinger's exact cases) do not
// cover.

/** Limbs of 32 bits: 4352 bits, enough for a 768-digit decimal against a halfway point at any exponent. */
const LIMBS = 136;

class Big {
  d: StaticArray<u32> = new StaticArray<u32>(LIMBS);
  n: i32 = 0; // limbs in use; d[n-1] != 0 unless n == 0

  static of(v: u64): Big {
    const b = new Big();
    b.d[0] = <u32>v;
    b.d[1] = <u32>(v >> 32);
    b.n = 2;
    b.trim();
    return b;
  }

  clone(): Big {
    const b = new Big();
    for (let i = 0; i < this.n; i++) b.d[i] = this.d[i];
    b.n = this.n;
    return b;
  }

  trim(): void {
    while (this.n > 0 && this.d[this.n - 1] == 0) this.n--;
  }

  isZero(): bool {
    return this.n == 0;
  }

  mulSmall(m: u32): Big {
    let carry: u64 = 0;
    for (let i = 0; i < this.n; i++) {
      const x = <u64>this.d[i] * <u64>m + carry;
      this.d[i] = <u32>x;
      carry = x >> 32;
    }
    if (carry != 0) {
      assert(this.n < LIMBS);
      this.d[this.n++] = <u32>carry;
    }
    return this;
  }

  addSmall(a: u32): Big {
    let carry: u64 = a;
    for (let i = 0; carry != 0; i++) {
      if (i == this.n) {
        assert(this.n < LIMBS);
        this.d[this.n++] = 0;
      }
      const x = <u64>this.d[i] + carry;
      this.d[i] = <u32>x;
      carry = x >> 32;
    }
    return this;
  }

  mulPow10(k: i32): Big {
    for (; k >= 9; k -= 9) this.mulSmall(1000000000);
    if (k > 0) this.mulSmall(<u32>pow10u32(k));
    return this;
  }

  shl(bits: i32): Big {
    if (this.n == 0 || bits == 0) return this;
    const w = bits >> 5;
    const s = bits & 31;
    assert(this.n + w + 1 <= LIMBS);
    if (s == 0) {
      for (let i = this.n - 1; i >= 0; i--) this.d[i + w] = this.d[i];
    } else {
      this.d[this.n + w] = 0;
      for (let i = this.n - 1; i >= 0; i--) {
        const x = this.d[i];
        this.d[i + w + 1] |= x >> (32 - s);
        this.d[i + w] = x << s;
      }
    }
    for (let i = 0; i < w; i++) this.d[i] = 0;
    this.n += w + 1;
    this.trim();
    return this;
  }

  add(b: Big): Big {
    const n = this.n > b.n ? this.n : b.n;
    let carry: u64 = 0;
    for (let i = 0; i < n; i++) {
      const x = <u64>(i < this.n ? this.d[i] : 0) + <u64>(i < b.n ? b.d[i] : 0) + carry;
      this.d[i] = <u32>x;
      carry = x >> 32;
    }
    this.n = n;
    if (carry != 0) {
      assert(this.n < LIMBS);
      this.d[this.n++] = <u32>carry;
    }
    return this;
  }

  /** this -= b, for this >= b. */
  sub(b: Big): Big {
    let borrow: i64 = 0;
    for (let i = 0; i < this.n; i++) {
      let x = <i64>this.d[i] - <i64>(i < b.n ? b.d[i] : 0) - borrow;
      borrow = 0;
      if (x < 0) {
        x += 0x100000000;
        borrow = 1;
      }
      this.d[i] = <u32>x;
    }
    this.trim();
    return this;
  }

  cmp(b: Big): i32 {
    if (this.n != b.n) return this.n < b.n ? -1 : 1;
    for (let i = this.n - 1; i >= 0; i--) {
      if (this.d[i] != b.d[i]) return this.d[i] < b.d[i] ? -1 : 1;
    }
    return 0;
  }
}

function pow10u32(k: i32): u32 {
  let p: u32 = 1;
  for (let i = 0; i < k; i++) p *= 10;
  return p;
}

/** Compares a + b with c. */
function cmpSum(a: Big, b: Big, c: Big): i32 {
  return a.clone().add(b).cmp(c);
}

// ---- Formatting ------------------------------------------------------------------

/**
 * The shortest digits that read back as v (finite, > 0), closest to v:
 * v ~ 0.DIGITS x 10^k. Returns the digits; k is left in fmtK.
 */
let fmtK: i32 = 0;

function shortest(v: f64): string {
  const bits = reinterpret<u64>(v);
  const be = <i32>((bits >> 52) & 0x7ff);
  const frac = bits & 0xfffffffffffff;
  let f: u64;
  let e: i32;
  if (be == 0) {
    f = frac;
    e = -1074;
  } else {
    f = frac | (<u64>1 << 52);
    e = be - 1075;
  }
  // Boundaries are inclusive when the mantissa is even (a decimal halfway
  // between two floats reads as the even one).
  const even = (f & 1) == 0;
  // The gap below is half the gap above at a power of two (but the
  // smallest normal, whose lower neighbour is a subnormal as far away).
  const unequal = frac == 0 && be > 1;
  let r: Big, s: Big, mp: Big, mm: Big;
  if (e >= 0) {
    const be2 = Big.of(1).shl(e);
    if (!unequal) {
      r = Big.of(f).shl(e + 1);
      s = Big.of(2);
      mp = be2;
      mm = be2.clone();
    } else {
      r = Big.of(f).shl(e + 2);
      s = Big.of(4);
      mp = be2.clone().shl(1);
      mm = be2;
    }
  } else {
    if (!unequal) {
      r = Big.of(f).shl(1);
      s = Big.of(1).shl(1 - e);
      mp = Big.of(1);
      mm = Big.of(1);
    } else {
      r = Big.of(f).shl(2);
      s = Big.of(1).shl(2 - e);
      mp = Big.of(2);
      mm = Big.of(1);
    }
  }
  // Burger & Dybvig's estimate of k: k or k - 1, fixed up below.
  const bitlen = 64 - <i32>clz(f);
  let k = <i32>Math.ceil(<f64>(e + bitlen - 1) * 0.30102999566398114 - 1e-10);
  if (k >= 0) s.mulPow10(k);
  else {
    r.mulPow10(-k);
    mp.mulPow10(-k);
    mm.mulPow10(-k);
  }
  const high = cmpSum(r, mp, s);
  if (even ? high >= 0 : high > 0) {
    k++;
  } else {
    r.mulSmall(10);
    mp.mulSmall(10);
    mm.mulSmall(10);
  }
  fmtK = k;
  const digits: i32[] = [];
  while (true) {
    let d = 0;
    while (r.cmp(s) >= 0) {
      r.sub(s);
      d++;
    }
    const low = r.cmp(mm);
    const tc1 = even ? low <= 0 : low < 0;
    const hi = cmpSum(r, mp, s);
    const tc2 = even ? hi >= 0 : hi > 0;
    if (!tc1 && !tc2) {
      digits.push(0x30 + d);
      r.mulSmall(10);
      mp.mulSmall(10);
      mm.mulSmall(10);
      continue;
    }
    if (tc1 && tc2) {
      // Both neighbours are in range: the closer one (the even one on a tie).
      const twice = r.clone().shl(1).cmp(s);
      if (twice > 0 || (twice == 0 && (d & 1) == 1)) d++;
    } else if (tc2) d++;
    digits.push(0x30 + d);
    break;
  }
  return String.fromCharCodes(digits);
}

/**
 * Formats a finite float as Go's encoding/json does: the shortest decimal
 * that reads back as v (the closest to v of those), plain from 1e-6 up to
 * 1e21, else in exponent form (1e+21, 1.5e-7). Go's %v differs only in the
 * exponent form (1.5e-07). NaN and infinities, which JSON cannot hold, come
 * out as Go's %v has them: NaN, +Inf, -Inf.
 */
export function formatNumber(v: f64): string {
  if (isNaN(v)) return "NaN";
  if (!isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return (1 / v) < 0 ? "-0" : "0";
  const neg = v < 0;
  const a = Math.abs(v);
  // Integers below 2^53 are their own shortest form.
  if (a < 9007199254740992 && Math.floor(a) == a) return (neg ? "-" : "") + (<u64>a).toString();
  const digits = shortest(a);
  const k = fmtK;
  const n = digits.length;
  let s: string;
  if (a >= 1e-6 && a < 1e21) {
    if (k <= 0) s = "0." + "0".repeat(-k) + digits;
    else if (k >= n) s = digits + "0".repeat(k - n);
    else s = digits.slice(0, k) + "." + digits.slice(k);
  } else {
    const x = k - 1;
    s = digits.charAt(0);
    if (n > 1) s += "." + digits.slice(1);
    s += x < 0 ? "e-" + (-x).toString() : "e+" + x.toString();
  }
  return neg ? "-" + s : s;
}

// ---- Parsing -----------------------------------------------------------------------

/** Significant digits kept; what follows only counts as non-zero (767 digits decide any halfway case). */
const MAX_DIGITS = 768;

/**
 * Reads a JSON number (already checked against the grammar) from text,
 * correctly rounded. Out of f64's range gives an infinity (the caller
 * refuses it); below half the smallest subnormal, zero.
 */
export function parseDecimal(text: string): f64 {
  let i = 0;
  const len = text.length;
  const neg = text.charCodeAt(0) == 0x2d;
  if (neg) i++;
  // The significant digits, as D with value D x 10^exp10.
  const digits: i32[] = [];
  let exp10: i64 = 0;
  let sticky = false;
  let point = false;
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x2e) {
      point = true;
      continue;
    }
    if (c < 0x30 || c > 0x39) break;
    if (digits.length == 0 && c == 0x30) {
      if (point) exp10--;
      continue;
    }
    if (digits.length < MAX_DIGITS) {
      digits.push(c - 0x30);
      if (point) exp10--;
    } else {
      if (c != 0x30) sticky = true;
      if (!point) exp10++;
    }
  }
  if (i < len) {
    // The exponent, saturated: far beyond f64's range either way.
    i++;
    let eneg = false;
    const sc = text.charCodeAt(i);
    if (sc == 0x2d || sc == 0x2b) {
      eneg = sc == 0x2d;
      i++;
    }
    let x: i64 = 0;
    for (; i < len; i++) {
      if (x < 100000) x = x * 10 + <i64>(text.charCodeAt(i) - 0x30);
    }
    exp10 += eneg ? -x : x;
  }
  if (sticky) {
    digits.push(1);
    exp10--;
  }
  const zero: f64 = neg ? -0.0 : 0.0;
  if (digits.length == 0) return zero;
  // v < 10^(digits+exp10): far below the smallest subnormal, or far above the largest float.
  const mag = <i64>digits.length + exp10;
  if (mag < -330) return zero;
  if (mag > 310) return neg ? -Infinity : Infinity;
  const e10 = <i32>exp10;
  // Clinger's fast path: an exact integer and power of ten, one rounding.
  if (digits.length <= 15 && e10 >= -22 && e10 <= 22) {
    let m: f64 = 0;
    for (let j = 0; j < digits.length; j++) m = m * 10 + <f64>digits[j];
    let p: f64 = 1; // 10^|e10|, exact up to 10^22
    for (let j = e10 < 0 ? -e10 : e10; j > 0; j--) p *= 10;
    const v = e10 < 0 ? m / p : m * p;
    return neg ? -v : v;
  }
  // A first guess, a few ulps off at most (the first 19 digits, times a
  // power of ten), then exact comparisons with the halfway points. (The
  // runtime's parseFloat is no guess: it is far off for some exponents.)
  const head = digits.length < 19 ? digits.length : 19;
  let m: f64 = 0;
  for (let j = 0; j < head; j++) m = m * 10 + <f64>digits[j];
  let x = e10 + (digits.length - head);
  let guess = m;
  if (x < -300) {
    guess *= 1e-300;
    x += 300;
  } else if (x > 300) {
    guess *= 1e300;
    x -= 300;
  }
  guess *= Math.pow(10, <f64>x);
  if (!isFinite(guess)) guess = f64.MAX_VALUE;
  const D = new Big();
  for (let j = 0; j < digits.length; j++) D.mulSmall(10).addSmall(<u32>digits[j]);
  let bits = reinterpret<u64>(guess);
  for (let step = 0; step < 1000; step++) {
    if (bits >= 0x7ff0000000000000) return neg ? -Infinity : Infinity;
    const be = <i32>((bits >> 52) & 0x7ff);
    const frac = bits & 0xfffffffffffff;
    const m: u64 = be == 0 ? frac : frac | (<u64>1 << 52);
    const e: i32 = be == 0 ? -1074 : be - 1075;
    const odd = (m & 1) == 1;
    // Above the halfway point to the next float up?
    const up = cmpDecimal(D, e10, Big.of(2 * m + 1), e - 1);
    if (up > 0 || (up == 0 && odd)) {
      bits++;
      continue;
    }
    if (bits == 0) break;
    // Below the halfway point to the next float down?
    const unequal = frac == 0 && be > 1;
    const down = unequal ? cmpDecimal(D, e10, Big.of(4 * m - 1), e - 2) : cmpDecimal(D, e10, Big.of(2 * m - 1), e - 1);
    if (down < 0 || (down == 0 && odd)) {
      bits--;
      continue;
    }
    break;
  }
  const v = reinterpret<f64>(bits);
  return neg ? -v : v;
}

/** Compares D x 10^e10 with M x 2^e2. */
function cmpDecimal(D: Big, e10: i32, M: Big, e2: i32): i32 {
  const left = D.clone();
  const right = M;
  if (e10 >= 0) left.mulPow10(e10);
  else right.mulPow10(-e10);
  if (e2 >= 0) right.shl(e2);
  else left.shl(-e2);
  return left.cmp(right);
}
