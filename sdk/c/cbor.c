//go:build ignore

// cbor.c - the compact CBOR codec of the Moss C SDK; see cbor.h.
//
// The go:build line keeps the go tool away: it would build any .c file in a
// directory holding Go files (c_test.go) with cgo. This file is built for Wasm
// by build.sh and natively by c_test.go.

#include "cbor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- Encoder ---------------------------------------------------------------

void moss_cbor_enc_reset(moss_cbor_enc *e) {
	e->len = 0;
	e->failed = false;
}

void moss_cbor_enc_free(moss_cbor_enc *e) {
	free(e->buf);
	e->buf = NULL;
	e->len = e->cap = 0;
	e->failed = false;
}

// reserve makes room for n more bytes and returns where they go, or NULL.
static uint8_t *reserve(moss_cbor_enc *e, size_t n) {
	if (e->failed) {
		return NULL;
	}
	if (n > e->cap - e->len) {
		size_t cap = e->cap ? e->cap : 64;
		while (cap - e->len < n) {
			if (cap > SIZE_MAX / 2) {
				e->failed = true;
				return NULL;
			}
			cap *= 2;
		}
		uint8_t *b = realloc(e->buf, cap);
		if (b == NULL) {
			e->failed = true;
			return NULL;
		}
		e->buf = b;
		e->cap = cap;
	}
	uint8_t *p = e->buf + e->len;
	e->len += n;
	return p;
}

// put_head writes the shortest head for major type major and argument v.
static void put_head(moss_cbor_enc *e, unsigned major, uint64_t v) {
	uint8_t mt = (uint8_t)(major << 5);
	uint8_t *p;
	if (v < 24) {
		if ((p = reserve(e, 1))) p[0] = mt | (uint8_t)v;
	} else if (v <= 0xff) {
		if ((p = reserve(e, 2))) p[0] = mt | 24, p[1] = (uint8_t)v;
	} else if (v <= 0xffff) {
		if ((p = reserve(e, 3))) {
			p[0] = mt | 25;
			p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
		}
	} else if (v <= 0xffffffffu) {
		if ((p = reserve(e, 5))) {
			p[0] = mt | 26;
			for (int i = 0; i < 4; i++) p[1 + i] = (uint8_t)(v >> (24 - 8 * i));
		}
	} else {
		if ((p = reserve(e, 9))) {
			p[0] = mt | 27;
			for (int i = 0; i < 8; i++) p[1 + i] = (uint8_t)(v >> (56 - 8 * i));
		}
	}
}

void moss_cbor_put_uint(moss_cbor_enc *e, uint64_t v) { put_head(e, 0, v); }

void moss_cbor_put_int(moss_cbor_enc *e, int64_t v) {
	if (v >= 0) {
		put_head(e, 0, (uint64_t)v);
	} else {
		put_head(e, 1, (uint64_t)(-(v + 1)));
	}
}

void moss_cbor_put_bytes(moss_cbor_enc *e, const void *p, size_t n) {
	put_head(e, 2, n);
	uint8_t *d = reserve(e, n);
	if (d && n) memcpy(d, p, n);
}

void moss_cbor_put_text(moss_cbor_enc *e, const char *s, size_t n) {
	put_head(e, 3, n);
	uint8_t *d = reserve(e, n);
	if (d && n) memcpy(d, s, n);
}

void moss_cbor_put_str(moss_cbor_enc *e, const char *s) { moss_cbor_put_text(e, s, strlen(s)); }
void moss_cbor_put_array(moss_cbor_enc *e, size_t n) { put_head(e, 4, n); }
void moss_cbor_put_map(moss_cbor_enc *e, size_t n) { put_head(e, 5, n); }

void moss_cbor_put_bool(moss_cbor_enc *e, bool v) {
	uint8_t *p = reserve(e, 1);
	if (p) p[0] = v ? 0xf5 : 0xf4;
}

void moss_cbor_put_null(moss_cbor_enc *e) {
	uint8_t *p = reserve(e, 1);
	if (p) p[0] = 0xf6;
}

void moss_cbor_put_double(moss_cbor_enc *e, double v) {
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	uint8_t *p = reserve(e, 9);
	if (p) {
		p[0] = 0xfb;
		for (int i = 0; i < 8; i++) p[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
	}
}

void moss_cbor_put_raw(moss_cbor_enc *e, const void *p, size_t n) {
	uint8_t *d = reserve(e, n);
	if (d && n) memcpy(d, p, n);
}

// ---- Decoder ---------------------------------------------------------------

void moss_cbor_dec_init(moss_cbor_dec *d, const void *p, size_t n) {
	d->p = p;
	d->end = d->p + n;
	d->failed = false;
}

bool moss_cbor_done(const moss_cbor_dec *d) { return !d->failed && d->p == d->end; }

static bool fail(moss_cbor_dec *d) {
	d->failed = true;
	return false;
}

// head is a decoded item head.
typedef struct head {
	unsigned major; // 0-7
	unsigned info;  // the low five bits of the initial byte
	uint64_t arg;   // the argument (for major 7 with info 25-27: the float's bits)
	size_t size;    // bytes of the head
} head;

// peek_head decodes the head at d->p without consuming it. It fails on the
// end of input, reserved values (28-30) and indefinite lengths (31), which
// the ABI does not allow.
static bool peek_head(const moss_cbor_dec *d, head *h) {
	if (d->failed || d->p >= d->end) {
		return false;
	}
	uint8_t ib = d->p[0];
	h->major = ib >> 5;
	h->info = ib & 31;
	size_t left = (size_t)(d->end - d->p) - 1;
	size_t n;
	if (h->info < 24) {
		h->arg = h->info;
		h->size = 1;
		return true;
	}
	switch (h->info) {
	case 24: n = 1; break;
	case 25: n = 2; break;
	case 26: n = 4; break;
	case 27: n = 8; break;
	default: return false;
	}
	if (left < n) {
		return false;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) v = v << 8 | d->p[1 + i];
	// RFC 8949 3.3: a one-byte simple value below 32 is not well-formed.
	if (h->major == 7 && h->info == 24 && v < 32) {
		return false;
	}
	h->arg = v;
	h->size = 1 + n;
	return true;
}

moss_cbor_type moss_cbor_type_of(const moss_cbor_dec *d) {
	head h;
	if (!peek_head(d, &h)) {
		return MOSS_CBOR_INVALID;
	}
	switch (h.major) {
	case 0: return MOSS_CBOR_UINT;
	case 1: return MOSS_CBOR_NEGINT;
	case 2: return MOSS_CBOR_BYTES;
	case 3: return MOSS_CBOR_TEXT;
	case 4: return MOSS_CBOR_ARRAY;
	case 5: return MOSS_CBOR_MAP;
	case 6: return MOSS_CBOR_TAG;
	}
	switch (h.info) {
	case 20: case 21: return MOSS_CBOR_BOOL;
	case 22: return MOSS_CBOR_NULL;
	case 23: return MOSS_CBOR_UNDEFINED;
	case 25: case 26: case 27: return MOSS_CBOR_FLOAT;
	}
	return MOSS_CBOR_SIMPLE;
}

// take consumes a head of major type major.
static bool take(moss_cbor_dec *d, unsigned major, head *h) {
	if (!peek_head(d, h) || h->major != major) {
		return fail(d);
	}
	d->p += h->size;
	return true;
}

bool moss_cbor_read_uint(moss_cbor_dec *d, uint64_t *v) {
	head h;
	if (!take(d, 0, &h)) return false;
	*v = h.arg;
	return true;
}

bool moss_cbor_read_int(moss_cbor_dec *d, int64_t *v) {
	head h;
	if (!peek_head(d, &h) || (h.major != 0 && h.major != 1) || h.arg > (uint64_t)INT64_MAX) {
		return fail(d);
	}
	d->p += h.size;
	*v = h.major == 0 ? (int64_t)h.arg : -1 - (int64_t)h.arg;
	return true;
}

// take_string consumes a byte or text string: its length is checked against
// the bytes left before anything is read.
static bool take_string(moss_cbor_dec *d, unsigned major, const uint8_t **p, size_t *n) {
	head h;
	if (!peek_head(d, &h) || h.major != major || h.arg > (uint64_t)(d->end - d->p) - h.size) {
		return fail(d);
	}
	d->p += h.size;
	*p = d->p;
	*n = (size_t)h.arg;
	d->p += h.arg;
	return true;
}

bool moss_cbor_read_text(moss_cbor_dec *d, const char **s, size_t *n) {
	const uint8_t *p;
	if (!take_string(d, 3, &p, n)) return false;
	*s = (const char *)p;
	return true;
}

bool moss_cbor_read_bytes(moss_cbor_dec *d, const uint8_t **p, size_t *n) {
	return take_string(d, 2, p, n);
}

// take_container consumes an array or map header. Every item takes at least
// a byte, so a count larger than the bytes left is refused at once.
static bool take_container(moss_cbor_dec *d, unsigned major, size_t *n) {
	head h;
	if (!take(d, major, &h)) return false;
	uint64_t left = (uint64_t)(d->end - d->p);
	if (h.arg > left || (major == 5 && h.arg > left / 2)) {
		return fail(d);
	}
	*n = (size_t)h.arg;
	return true;
}

bool moss_cbor_read_array(moss_cbor_dec *d, size_t *n) { return take_container(d, 4, n); }
bool moss_cbor_read_map(moss_cbor_dec *d, size_t *n) { return take_container(d, 5, n); }

// Keys are compared through a table of the first UNIQUE_FAST; later keys
// (no ABI map has that many) are compared by re-reading the map, which is
// slower but needs no memory.
#define UNIQUE_FAST 32

bool moss_cbor_read_map_unique(moss_cbor_dec *d, size_t *n) {
	if (!moss_cbor_read_map(d, n)) return false;
	struct {
		const char *s;
		size_t n;
	} keys[UNIQUE_FAST];
	moss_cbor_dec scan = *d;
	for (size_t i = 0; i < *n; i++) {
		const char *k;
		size_t kn;
		if (!moss_cbor_read_text(&scan, &k, &kn)) return fail(d);
		size_t fast = i < UNIQUE_FAST ? i : UNIQUE_FAST;
		for (size_t j = 0; j < fast; j++) {
			if (keys[j].n == kn && memcmp(keys[j].s, k, kn) == 0) return fail(d);
		}
		if (i < UNIQUE_FAST) {
			keys[i].s = k, keys[i].n = kn;
		} else {
			moss_cbor_dec again = *d;
			for (size_t j = 0; j < i; j++) {
				const char *k2;
				size_t kn2;
				moss_cbor_read_text(&again, &k2, &kn2);
				if (j >= UNIQUE_FAST && kn2 == kn && memcmp(k2, k, kn) == 0) return fail(d);
				moss_cbor_skip(&again);
			}
		}
		if (!moss_cbor_skip(&scan)) return fail(d);
	}
	return true;
}

bool moss_cbor_read_bool(moss_cbor_dec *d, bool *v) {
	head h;
	if (!peek_head(d, &h) || h.major != 7 || (h.info != 20 && h.info != 21)) {
		return fail(d);
	}
	d->p += h.size;
	*v = h.info == 21;
	return true;
}

bool moss_cbor_read_null(moss_cbor_dec *d) {
	head h;
	if (!peek_head(d, &h) || h.major != 7 || h.info != 22) {
		return fail(d);
	}
	d->p += h.size;
	return true;
}

// half_to_double converts an IEEE 754 half-precision value (RFC 8949
// Appendix D).
static double half_to_double(uint16_t h) {
	int exp = (h >> 10) & 0x1f;
	int mant = h & 0x3ff;
	double v;
	if (exp == 0) {
		v = ldexp(mant, -24);
	} else if (exp != 31) {
		v = ldexp(mant + 1024, exp - 25);
	} else {
		v = mant == 0 ? INFINITY : NAN;
	}
	return (h & 0x8000) ? -v : v;
}

bool moss_cbor_read_double(moss_cbor_dec *d, double *v) {
	head h;
	if (!peek_head(d, &h)) return fail(d);
	if (h.major == 0 || h.major == 1) {
		d->p += h.size;
		*v = h.major == 0 ? (double)h.arg : -1.0 - (double)h.arg;
		return true;
	}
	if (h.major != 7) return fail(d);
	switch (h.info) {
	case 25:
		*v = half_to_double((uint16_t)h.arg);
		break;
	case 26: {
		uint32_t bits = (uint32_t)h.arg;
		float f;
		memcpy(&f, &bits, sizeof f);
		*v = f;
		break;
	}
	case 27:
		memcpy(v, &h.arg, sizeof *v);
		break;
	default:
		return fail(d);
	}
	d->p += h.size;
	return true;
}

static bool skip(moss_cbor_dec *d, int depth) {
	head h;
	if (depth > 64 || !peek_head(d, &h)) {
		return fail(d);
	}
	const uint8_t *p;
	size_t n;
	switch (h.major) {
	case 2: case 3:
		return take_string(d, h.major, &p, &n);
	case 4: case 5:
		if (!take_container(d, h.major, &n)) return false;
		if (h.major == 5) n *= 2;
		for (size_t i = 0; i < n; i++) {
			if (!skip(d, depth + 1)) return false;
		}
		return true;
	case 6:
		d->p += h.size;
		return skip(d, depth + 1);
	default:
		d->p += h.size;
		return true;
	}
}

bool moss_cbor_skip(moss_cbor_dec *d) { return skip(d, 0); }

bool moss_cbor_text_is(const char *s, size_t n, const char *lit) {
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

// ---- Validation ------------------------------------------------------------

// moss_cbor_utf8_len: RFC 3629, so no overlong forms, no surrogates, nothing
// over U+10FFFF.
size_t moss_cbor_utf8_len(const uint8_t *s, size_t n) {
	if (n == 0) return 0;
	uint8_t c = s[0];
	if (c < 0x80) return 1;
	size_t len;
	uint8_t lo = 0x80, hi = 0xbf; // the range of the second byte
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0) lo = 0xa0;
		if (c == 0xed) hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0) lo = 0x90;
		if (c == 0xf4) hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi) return 0;
	for (size_t i = 2; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) return 0;
	}
	return len;
}

// valid checks one item nested inside depth containers.
static bool valid(moss_cbor_dec *d, int depth) {
	head h;
	if (!peek_head(d, &h)) return fail(d);
	const uint8_t *p;
	size_t n;
	switch (h.major) {
	case 2:
		return take_string(d, h.major, &p, &n);
	case 3:
		if (!take_string(d, h.major, &p, &n)) return false;
		for (size_t i = 0, l; i < n; i += l) {
			if ((l = moss_cbor_utf8_len(p + i, n - i)) == 0) return fail(d);
		}
		return true;
	case 4: case 5:
		if (depth >= MOSS_CBOR_MAX_DEPTH || h.arg > MOSS_CBOR_MAX_ITEMS) return fail(d);
		if (!take_container(d, h.major, &n)) return false;
		for (size_t i = 0; i < n; i++) {
			if (h.major == 5 && moss_cbor_type_of(d) != MOSS_CBOR_TEXT) return fail(d);
			if (h.major == 5 && !valid(d, depth + 1)) return false;
			if (!valid(d, depth + 1)) return false;
		}
		return true;
	case 6:
		return fail(d);
	default:
		d->p += h.size;
		return true;
	}
}

bool moss_cbor_valid(const void *p, size_t n) {
	if (n > MOSS_CBOR_MAX_SIZE) return false;
	moss_cbor_dec d;
	moss_cbor_dec_init(&d, p, n);
	return valid(&d, 0) && moss_cbor_done(&d);
}
