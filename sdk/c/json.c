//go:build ignore

// json.c - the C SDK's JSON reader (moss.h, "JSON"): for the shadow
// service's documents and JSON payloads.
//
// Every read goes through a cursor (scan) that checks it against the end of
// the bytes it was given, so no input, not even a view the caller made up,
// can make it read outside them. Nothing here allocates or recurses: nesting
// is tracked in a bit stack (moss_json_parse) or a counter (skipping a value
// already checked).
//
// The go:build line keeps the go tool away, as in moss.c.

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moss.h"

typedef struct scan {
	const char *p, *end;
} scan;

static void ws(scan *s) {
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

// eat consumes c, after whitespace, if it is next.
static bool eat(scan *s, char c) {
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

static bool literal(scan *s, const char *lit) {
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) return false;
	s->p += n;
	return true;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// hex4 reads the four hex digits of a \u escape.
static bool hex4(scan *s, unsigned *v) {
	if (s->end - s->p < 4) return false;
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(s->p[i]);
		if (h < 0) return false;
		*v = *v << 4 | (unsigned)h;
	}
	s->p += 4;
	return true;
}

// unit reads the next character of a string's body into out (1 to 4 bytes of
// UTF-8, *n of them), decoding an escape. It returns 1 for a character, 0 at
// the closing quote (consumed), -1 for a malformed string. Bytes >= 0x80 pass
// one at a time, unchecked.
static int unit(scan *s, uint8_t out[4], size_t *n) {
	if (s->p >= s->end) return -1;
	uint8_t c = (uint8_t)*s->p++;
	if (c == '"') return 0;
	if (c < 0x20) return -1;
	*n = 1;
	out[0] = c;
	if (c != '\\') return 1;
	if (s->p >= s->end) return -1;
	switch (*s->p++) {
	case '"': out[0] = '"'; return 1;
	case '\\': out[0] = '\\'; return 1;
	case '/': out[0] = '/'; return 1;
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u': break;
	default: return -1;
	}
	unsigned r;
	if (!hex4(s, &r)) return -1;
	if (r >= 0xd800 && r < 0xdc00) {
		// A high surrogate: with a low one after it, one character.
		scan t = *s;
		unsigned lo;
		if (literal(&t, "\\u") && hex4(&t, &lo) && lo >= 0xdc00 && lo < 0xe000) {
			r = 0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00);
			*s = t;
		} else {
			r = 0xfffd;
		}
	} else if (r >= 0xdc00 && r < 0xe000) {
		r = 0xfffd;
	}
	if (r < 0x80) {
		out[0] = (uint8_t)r;
	} else if (r < 0x800) {
		out[0] = (uint8_t)(0xc0 | r >> 6), out[1] = (uint8_t)(0x80 | (r & 0x3f));
		*n = 2;
	} else if (r < 0x10000) {
		out[0] = (uint8_t)(0xe0 | r >> 12), out[1] = (uint8_t)(0x80 | (r >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (r & 0x3f));
		*n = 3;
	} else {
		out[0] = (uint8_t)(0xf0 | r >> 18), out[1] = (uint8_t)(0x80 | (r >> 12 & 0x3f));
		out[2] = (uint8_t)(0x80 | (r >> 6 & 0x3f)), out[3] = (uint8_t)(0x80 | (r & 0x3f));
		*n = 4;
	}
	return 1;
}

// string consumes a string, opening quote included, checking its escapes.
static bool string(scan *s) {
	if (s->p >= s->end || *s->p != '"') return false;
	s->p++;
	uint8_t u[4];
	size_t n;
	int r;
	while ((r = unit(s, u, &n)) == 1) {
	}
	return r == 0;
}

static bool digit(const scan *s) { return s->p < s->end && *s->p >= '0' && *s->p <= '9'; }

// number consumes a number as RFC 8259's grammar has it.
static bool number(scan *s) {
	if (s->p < s->end && *s->p == '-') s->p++;
	if (!digit(s)) return false;
	if (*s->p++ != '0') {
		while (digit(s)) s->p++;
	}
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!digit(s)) return false;
		while (digit(s)) s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
		if (!digit(s)) return false;
		while (digit(s)) s->p++;
	}
	return true;
}

// key consumes an object member's name and its colon.
static bool key(scan *s) {
	ws(s);
	return string(s) && eat(s, ':');
}

// scalar consumes a value that is not a container.
static bool scalar(scan *s) {
	if (s->p >= s->end) return false;
	switch (*s->p) {
	case '"': return string(s);
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	}
	return number(s);
}

// value consumes one value, checking it, at most MOSS_JSON_MAX_DEPTH deep:
// the containers open around the cursor are a stack of bits, 1 for an
// object.
static bool value(scan *s) {
	uint8_t stack[MOSS_JSON_MAX_DEPTH / 8];
	size_t depth = 0;
	for (;;) {
		// A value starts here.
		ws(s);
		if (s->p < s->end && (*s->p == '{' || *s->p == '[')) {
			char open = *s->p++;
			if (depth == MOSS_JSON_MAX_DEPTH) return false;
			if (open == '{') {
				stack[depth / 8] |= (uint8_t)(1u << depth % 8);
			} else {
				stack[depth / 8] &= (uint8_t) ~(1u << depth % 8);
			}
			depth++;
			if (!eat(s, open == '{' ? '}' : ']')) {
				if (open == '{' && !key(s)) return false;
				continue;
			}
			depth--;
		} else if (!scalar(s)) {
			return false;
		}
		// A value ended: close the containers it ends, or go on to the next.
		for (;;) {
			if (depth == 0) return true;
			bool object = stack[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
			if (eat(s, ',')) {
				if (object && !key(s)) return false;
				break;
			}
			if (!eat(s, object ? '}' : ']')) return false;
			depth--;
		}
	}
}

int moss_json_parse(const char *doc, size_t len, moss_json *v) {
	if (doc == NULL) return MOSS_E_INVALID;
	scan s = {doc, doc + len};
	ws(&s);
	const char *start = s.p;
	if (!value(&s)) return MOSS_E_INVALID;
	const char *end = s.p;
	ws(&s);
	if (s.p != s.end) return MOSS_E_INVALID;
	*v = (moss_json){start, (size_t)(end - start)};
	return MOSS_OK;
}

moss_json_type moss_json_type_of(moss_json v) {
	if (v.p == NULL || v.n == 0) return MOSS_JSON_INVALID;
	switch (v.p[0]) {
	case '{': return MOSS_JSON_OBJECT;
	case '[': return MOSS_JSON_ARRAY;
	case '"': return MOSS_JSON_STRING;
	case 't': case 'f': return MOSS_JSON_BOOL;
	case 'n': return MOSS_JSON_NULL;
	}
	return v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9') ? MOSS_JSON_NUMBER : MOSS_JSON_INVALID;
}

bool moss_json_next(moss_json v, size_t *pos, moss_json *name, moss_json *value_out) {
	moss_json_type t = moss_json_type_of(v);
	if ((t != MOSS_JSON_OBJECT && t != MOSS_JSON_ARRAY) || *pos >= v.n) return false;
	scan s = {v.p + (*pos == 0 ? 1 : *pos), v.p + v.n};
	if (eat(&s, t == MOSS_JSON_OBJECT ? '}' : ']')) return false;
	if (*pos > 0 && !eat(&s, ',')) return false;
	moss_json k = {NULL, 0};
	if (t == MOSS_JSON_OBJECT) {
		ws(&s);
		k.p = s.p;
		if (!string(&s)) return false;
		k.n = (size_t)(s.p - k.p);
		if (!eat(&s, ':')) return false;
	}
	ws(&s);
	const char *start = s.p;
	if (!value(&s)) return false;
	if (name) *name = k;
	*value_out = (moss_json){start, (size_t)(s.p - start)};
	*pos = (size_t)(s.p - v.p);
	return true;
}

// string_eq reports whether the JSON string v is name[0:n], escapes decoded.
static bool string_eq(moss_json v, const char *name, size_t n) {
	if (moss_json_type_of(v) != MOSS_JSON_STRING) return false;
	scan s = {v.p + 1, v.p + v.n};
	size_t i = 0;
	uint8_t u[4];
	size_t un;
	int r;
	while ((r = unit(&s, u, &un)) == 1) {
		if (un > n - i || memcmp(name + i, u, un) != 0) return false;
		i += un;
	}
	return r == 0 && i == n;
}

int moss_json_member(moss_json v, const char *name, size_t name_len, moss_json *out) {
	if (moss_json_type_of(v) != MOSS_JSON_OBJECT) return MOSS_E_TYPE;
	if (name == NULL && name_len > 0) return MOSS_E_NOT_FOUND;
	size_t pos = 0;
	moss_json k, m;
	bool found = false;
	while (moss_json_next(v, &pos, &k, &m)) {
		if (string_eq(k, name, name_len)) {
			*out = m; // the last of repeated names wins
			found = true;
		}
	}
	return found ? MOSS_OK : MOSS_E_NOT_FOUND;
}

int moss_json_get(moss_json v, const char *path, moss_json *out) {
	if (path == NULL || *path == 0) {
		*out = v;
		return MOSS_OK;
	}
	for (;;) {
		size_t n = strcspn(path, ".");
		int rc = moss_json_member(v, path, n, &v);
		if (rc < 0) return rc;
		if (path[n] == 0) break;
		path += n + 1;
	}
	*out = v;
	return MOSS_OK;
}

int moss_json_string(moss_json v, char *buf, size_t cap) {
	if (moss_json_type_of(v) != MOSS_JSON_STRING) return MOSS_E_TYPE;
	scan s = {v.p + 1, v.p + v.n};
	size_t n = 0;
	uint8_t u[4];
	size_t un;
	int r;
	while ((r = unit(&s, u, &un)) == 1) {
		for (size_t i = 0; i < un; i++, n++) {
			if (n + 1 < cap) buf[n] = (char)u[i];
		}
	}
	if (r < 0 || n > INT32_MAX) return MOSS_E_TYPE;
	if (cap > 0) buf[n < cap - 1 ? n : cap - 1] = 0;
	return (int)n;
}

bool moss_json_string_is(moss_json v, const char *s) { return s != NULL && string_eq(v, s, strlen(s)); }

// MAX_DIGITS significant digits are enough for strtod to round any decimal
// correctly (a double's exact decimal expansion has at most 767), with one
// more standing for all the digits dropped after them.
#define MAX_DIGITS 800

int moss_json_number(moss_json v, double *out) {
	if (moss_json_type_of(v) != MOSS_JSON_NUMBER) return MOSS_E_TYPE;
	scan s = {v.p, v.p + v.n};
	if (!number(&s) || s.p != s.end) return MOSS_E_TYPE;
	// strtod wants a NUL-terminated string, and the view has none: rewrite
	// the number as digits and an exponent into a buffer of bounded size,
	// value = digits * 10^exp.
	char buf[MAX_DIGITS + 32];
	size_t n = 0;
	long exp = 0;
	bool sticky = false;
	const char *p = v.p, *end = v.p + v.n;
	if (*p == '-') buf[n++] = *p++;
	size_t first = n;
	bool frac = false;
	for (; p < end && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.') {
			frac = true;
			continue;
		}
		if (n == first && *p == '0') { // a leading zero
			exp -= frac;
			continue;
		}
		if (n - first < MAX_DIGITS) {
			buf[n++] = *p;
			exp -= frac;
		} else {
			exp += !frac;
			sticky = sticky || *p != '0';
		}
	}
	if (n == first) {
		*out = first ? -0.0 : 0.0;
		return MOSS_OK;
	}
	if (sticky) {
		buf[n++] = '1';
		exp--;
	}
	if (p < end) { // the exponent, saturated far beyond any double's
		p++;
		bool neg = *p == '-';
		if (*p == '-' || *p == '+') p++;
		long e = 0;
		for (; p < end; p++) {
			if (e < 100000) e = e * 10 + (*p - '0');
		}
		exp += neg ? -e : e;
	}
	snprintf(buf + n, sizeof buf - n, "e%ld", exp);
	double d = strtod(buf, NULL);
	if (isinf(d)) return MOSS_E_TYPE;
	*out = d;
	return MOSS_OK;
}

int moss_json_bool(moss_json v, bool *out) {
	if (v.p != NULL && v.n == 4 && memcmp(v.p, "true", 4) == 0) {
		*out = true;
	} else if (v.p != NULL && v.n == 5 && memcmp(v.p, "false", 5) == 0) {
		*out = false;
	} else {
		return MOSS_E_TYPE;
	}
	return MOSS_OK;
}
