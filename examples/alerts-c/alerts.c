// alerts.c - the alerts component in C (a port of examples/alerts): it
// keeps a moving average of each sensor's temperature readings and publishes
// on alerts/<id> when the average rises over a threshold, and again when it
// falls back below threshold - hysteresis. See README.md.
//
// Build: sdk/c/build.sh examples/alerts-c/alerts.c -o examples/alerts-c/alerts-c.wasm

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "moss.h"

// MAX_SENSORS bounds the per-sensor state, so that a publisher inventing ids
// cannot grow this component's memory until it hits its limit.
#define MAX_SENSORS 1024
#define SLOTS 2048 // hash table slots: a power of two, twice MAX_SENSORS

// settings is the configuration; see README.md.
typedef struct settings {
	int64_t window; // 1 to 1000 once valid
	double threshold;
	double hysteresis;
} settings;

// sensor is what we know of one sensor: its last readings and whether it is
// in alert.
typedef struct sensor {
	char *id; // NUL-terminated
	size_t id_len;
	double *readings; // ring of the last window readings
	int next;         // where the next reading goes
	bool full;        // the ring has wrapped: there are window readings
	bool alerting;
} sensor;

// State lives in globals: the host calls one handler at a time, so they need
// no lock.
static settings cfg;
static sensor *slots[SLOTS]; // open addressing, linear probing; never deleted
static int nsensors;

static uint32_t hash(const char *s, size_t n) {
	uint32_t h = 2166136261u; // FNV-1a
	for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

// lookup returns the sensor id[0:n], or the empty slot where it belongs.
static sensor **lookup(const char *id, size_t n) {
	for (uint32_t i = hash(id, n);; i++) {
		sensor **s = &slots[i & (SLOTS - 1)];
		if (*s == NULL || ((*s)->id_len == n && memcmp((*s)->id, id, n) == 0)) return s;
	}
}

// ---- Configuration ---------------------------------------------------------

// errbuf collects a reload's errors, one a line (as Go's errors.Join).
static char errbuf[1024];

static void add_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_error(const char *fmt, ...) {
	size_t n = strlen(errbuf);
	if (n > 0 && n + 1 < sizeof errbuf) errbuf[n++] = '\n', errbuf[n] = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf + n, sizeof errbuf - n, fmt, ap);
	va_end(ap);
}

// get_* read one key; when it is absent the output keeps the default it holds.
// The SDK's messages name the key.
static void get_int(const char *key, int64_t *dst) {
	int rc = moss_config_get_int64(key, dst);
	if (rc < 0 && rc != MOSS_E_NOT_FOUND) add_error("%s", moss_last_error());
}

static void get_double(const char *key, double *dst) {
	int rc = moss_config_get_double(key, dst);
	if (rc < 0 && rc != MOSS_E_NOT_FOUND) add_error("%s", moss_last_error());
}

static bool same(const settings *a, const settings *b) {
	return a->window == b->window && a->threshold == b->threshold && a->hysteresis == b->hysteresis;
}

// reload reads the configuration, keeping the current one if the new one is
// not valid; false (and errbuf says why) if so.
static bool reload(void) {
	settings next = {.window = 5, .threshold = 28.0, .hysteresis = 0.5};
	errbuf[0] = 0;
	get_int("window", &next.window);
	get_double("threshold", &next.threshold);
	get_double("hysteresis", &next.hysteresis);
	if (errbuf[0]) return false;
	if (next.window < 1 || next.window > 1000) {
		add_error("config window %lld: want 1 to 1000 readings", (long long)next.window);
		return false;
	}
	if (next.hysteresis < 0) {
		add_error("config hysteresis %g: must not be negative", next.hysteresis);
		return false;
	}
	if (next.window != cfg.window && nsensors > 0) {
		// Averages over the old window mean nothing now: start again, but
		// remember which sensors are in alert so none is raised or cleared
		// twice. Allocate every new ring before changing anything.
		double **rings = calloc((size_t)nsensors, sizeof *rings);
		int n = 0;
		while (rings && n < nsensors && (rings[n] = calloc((size_t)next.window, sizeof(double)))) n++;
		if (n < nsensors) {
			while (n > 0) free(rings[--n]);
			free(rings);
			add_error("config window %lld: out of memory for %d sensors", (long long)next.window, nsensors);
			return false;
		}
		for (int i = 0; i < SLOTS; i++) {
			sensor *s = slots[i];
			if (s == NULL) continue;
			free(s->readings);
			s->readings = rings[--n];
			s->next = 0;
			s->full = false;
		}
		free(rings);
	}
	if (cfg.window != 0 && !same(&next, &cfg)) {
		moss_infof("alerts: configuration now {Window:%lld Threshold:%g Hysteresis:%g}", (long long)next.window, next.threshold,
		           next.hysteresis);
	}
	cfg = next;
	return true;
}

static void on_config(const char *const *path, size_t n, void *ctx) {
	(void)path, (void)n, (void)ctx;
	if (!reload()) {
		moss_warnf("configuration change ignored, keeping {Window:%lld Threshold:%g Hysteresis:%g}: %s", (long long)cfg.window,
		           cfg.threshold, cfg.hysteresis, errbuf);
	}
}

// ---- Readings (JSON) -------------------------------------------------------

// A reading is a JSON object with a numeric "temperature". The parser checks
// the whole document as Go's encoding/json does for the Go version: the key
// matches case-insensitively, the last of repeated keys wins, a null one
// counts as absent, any other type or malformed JSON is not a reading.

typedef struct json {
	const char *p, *end;
} json;

static void ws(json *j) {
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static bool eat(json *j, char c) {
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// string reads a JSON string. When key is not NULL it receives the string's
// ASCII characters, lower-cased, up to 15 of them; a longer string or one
// with other characters leaves key as "" (it cannot be "temperature").
static bool string(json *j, char key[16]) {
	size_t n = 0;
	bool ascii = true;
	ws(j);
	if (j->p >= j->end || *j->p++ != '"') return false;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		if (c == '"') {
			if (key) {
				if (!ascii || n > 15) n = 0;
				key[n] = 0;
			}
			return true;
		}
		if (c < 0x20) return false;
		if (c == '\\') {
			if (j->p >= j->end) return false;
			c = (unsigned char)*j->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				if (j->end - j->p < 4) return false;
				int v = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(j->p[i]);
					if (h < 0) return false;
					v = v << 4 | h;
				}
				j->p += 4;
				c = v < 0x80 ? (unsigned char)v : 0x80; // 0x80: not ASCII
				break;
			}
			default:
				return false;
			}
		}
		if (c >= 0x80) ascii = false;
		if (key && n < 16) key[n] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		n++;
	}
	return false;
}

// number reads a JSON number into *v (NULL: only check it). The payload is
// NUL-terminated (moss.h), so strtod stops inside it.
static bool number(json *j, double *v) {
	ws(j);
	const char *s = j->p, *p = s;
	if (p < j->end && *p == '-') p++;
	if (p < j->end && *p == '0') {
		p++;
	} else if (p < j->end && *p >= '1' && *p <= '9') {
		while (p < j->end && *p >= '0' && *p <= '9') p++;
	} else {
		return false;
	}
	if (p < j->end && *p == '.') {
		p++;
		if (p >= j->end || *p < '0' || *p > '9') return false;
		while (p < j->end && *p >= '0' && *p <= '9') p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-')) p++;
		if (p >= j->end || *p < '0' || *p > '9') return false;
		while (p < j->end && *p >= '0' && *p <= '9') p++;
	}
	j->p = p;
	if (v) {
		char *end;
		errno = 0;
		*v = strtod(s, &end);
		// Go refuses a number out of float64's range (but not one that
		// underflows to zero).
		if (end != p || isinf(*v)) return false;
	}
	return true;
}

static bool literal(json *j, const char *lit) {
	ws(j);
	size_t n = strlen(lit);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) return false;
	j->p += n;
	return true;
}

// MAX_DEPTH is encoding/json's nesting limit.
#define MAX_DEPTH 10000

// value checks one JSON value of any kind, without recursion: containers
// are kept on a stack of bits (1 for an object).
static bool value(json *j) {
	static uint8_t stack[MAX_DEPTH / 8 + 1];
	int depth = 0;
	for (;;) {
		// A value starts here.
		ws(j);
		if (j->p >= j->end) return false;
		char c = *j->p;
		if (c == '{' || c == '[') {
			if (depth == MAX_DEPTH) return false;
			j->p++;
			if (c == '{') {
				stack[depth / 8] |= (uint8_t)(1 << depth % 8);
			} else {
				stack[depth / 8] &= (uint8_t) ~(1 << depth % 8);
			}
			depth++;
			if (eat(j, c == '{' ? '}' : ']')) {
				depth--;
			} else if (c == '[') {
				continue;
			} else if (!string(j, NULL) || !eat(j, ':')) {
				return false;
			} else {
				continue;
			}
		} else if (c == '"') {
			if (!string(j, NULL)) return false;
		} else if (c == 't' || c == 'f' || c == 'n') {
			if (!literal(j, c == 't' ? "true" : c == 'f' ? "false" : "null")) return false;
		} else if (!number(j, NULL)) {
			return false;
		}
		// A value ended: close what it ends, or go on to the next.
		for (;;) {
			if (depth == 0) return true;
			bool object = stack[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
			if (eat(j, ',')) {
				if (object && (!string(j, NULL) || !eat(j, ':'))) return false;
				break;
			}
			if (!eat(j, object ? '}' : ']')) return false;
			depth--;
		}
	}
}

// reading parses a payload; false if it is not a reading.
static bool reading(const uint8_t *payload, size_t len, double *temperature) {
	json j = {(const char *)payload, (const char *)payload + len};
	bool found = false;
	if (!eat(&j, '{')) return false; // null, like any other non-object, is no reading
	if (!eat(&j, '}')) {
		do {
			char key[16];
			if (!string(&j, key) || !eat(&j, ':')) return false;
			if (strcmp(key, "temperature") != 0) {
				if (!value(&j)) return false;
			} else if (literal(&j, "null")) {
				found = false;
			} else if (number(&j, temperature)) {
				found = true;
			} else {
				return false;
			}
		} while (eat(&j, ','));
		if (!eat(&j, '}')) return false;
	}
	ws(&j);
	return j.p == j.end && found;
}

// ---- Alerts (JSON) ---------------------------------------------------------

// out is a growing JSON document.
typedef struct out {
	char *buf; // malloc'd
	size_t n, cap;
	bool failed; // out of memory
} out;

static void emit(out *o, const char *s, size_t n) {
	if (o->failed) return;
	if (n > o->cap - o->n) {
		size_t cap = 2 * (o->n + n) + 64;
		char *b = realloc(o->buf, cap);
		if (b == NULL) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->n, s, n);
	o->n += n;
}

static void emits(out *o, const char *s) { emit(o, s, strlen(s)); }

// emit_string writes s as a JSON string, escaped as encoding/json does
// (HTML characters and U+2028/U+2029 too; bytes that are not UTF-8 become
// U+FFFD).
static void emit_string(out *o, const char *s) {
	static const char hex[] = "0123456789abcdef";
	emits(o, "\"");
	for (const uint8_t *p = (const uint8_t *)s; *p;) {
		uint8_t c = *p;
		char esc[7] = "\\u00";
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			emit(o, esc, 2);
		} else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
			// Go 1.22 and later write \b and \f too.
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
			emit(o, esc, 2);
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
			emit(o, esc, 6);
		} else if (c < 0x80) {
			emit(o, (const char *)p, 1);
		} else {
			// The length of a well-formed UTF-8 sequence here, or 0.
			size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
			for (size_t i = 1; i < n; i++) {
				if ((p[i] & 0xc0) != 0x80) n = 0;
			}
			if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))) n = 0;
			if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))) n = 0;
			if (n == 0) {
				emits(o, "\\ufffd");
				p++;
				continue;
			}
			if (n == 3 && c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
				emits(o, p[2] == 0xa8 ? "\\u2028" : "\\u2029");
			} else {
				emit(o, (const char *)p, n);
			}
			p += n;
			continue;
		}
		p++;
	}
	emits(o, "\"");
}

// emit_number writes a finite v as encoding/json does: the shortest decimal
// that reads back as v, in plain notation from 1e-6 up to 1e21.
static void emit_number(out *o, double v) {
	char e[32];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec, v);
		if (strtod(e, NULL) == v) break;
	}
	double a = fabs(v);
	if (a != 0 && (a < 1e-6 || a >= 1e21)) {
		// Go writes e-07 as e-7 but keeps e+21.
		size_t n = strlen(e);
		if (n >= 4 && e[n - 4] == 'e' && e[n - 3] == '-' && e[n - 2] == '0') e[n - 2] = e[n - 1], e[n - 1] = 0;
		emits(o, e);
		return;
	}
	// e is [-]d[.ddd]e±xx: lay its digits out around the decimal point.
	char digits[20];
	size_t nd = 0;
	const char *p = e;
	if (*p == '-') emits(o, "-"), p++;
	for (; *p != 'e'; p++) {
		if (*p != '.') digits[nd++] = *p;
	}
	int exp = atoi(p + 1);
	char buf[64];
	size_t n = 0;
	if (exp < 0) {
		buf[n++] = '0', buf[n++] = '.';
		for (int i = -1; i > exp; i--) buf[n++] = '0';
		memcpy(buf + n, digits, nd), n += nd;
	} else {
		for (int i = 0; i <= exp || (size_t)i < nd; i++) {
			if (i == exp + 1) buf[n++] = '.';
			buf[n++] = (size_t)i < nd ? digits[i] : '0';
		}
	}
	emit(o, buf, n);
}

static void publish(const char *id, double avg, bool cleared) {
	double rounded = round(avg * 100) / 100;
	if (!isfinite(rounded) || !isfinite(cfg.threshold)) {
		moss_warnf("alerts/%s: json: unsupported value: %g", id, isfinite(rounded) ? cfg.threshold : rounded);
		return;
	}
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	out topic = {.n = 0}, o = {.n = 0};
	emits(&topic, "alerts/");
	emits(&topic, id);
	emit(&topic, "", 1);
	emits(&o, "{\"id\":");
	emit_string(&o, id);
	if (cleared) emits(&o, ",\"cleared\":true");
	emits(&o, ",\"average\":");
	emit_number(&o, rounded);
	emits(&o, ",\"threshold\":");
	emit_number(&o, cfg.threshold);
	emits(&o, ",\"ts\":\"");
	emits(&o, ts);
	emits(&o, "\"}");
	if (topic.failed || o.failed) {
		moss_warnf("alerts/%s: out of memory", id);
	} else if (moss_publish(topic.buf, o.buf, o.n) < 0) {
		moss_warnf("%s: %s", topic.buf, moss_last_error());
	}
	free(topic.buf);
	free(o.buf);
}

// ---- Handlers --------------------------------------------------------------

// quote renders a payload for a log line, at most 256 bytes of it.
static const char *quote(const uint8_t *p, size_t n, char buf[1100]) {
	size_t o = 0;
	buf[o++] = '"';
	for (size_t i = 0; i < n && i < 256; i++) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\', buf[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[o++] = (char)c;
		} else {
			o += (size_t)sprintf(buf + o, "\\x%02x", c);
		}
	}
	buf[o++] = '"';
	if (n > 256) memcpy(buf + o, "...", 3), o += 3;
	buf[o] = 0;
	return buf;
}

static void on_reading(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)ctx;
	// The subscription is sensors/+/temperature: the id is the middle level.
	const char *slash = strchr(topic, '/');
	const char *id = slash ? slash + 1 : topic;
	size_t id_len = strcspn(id, "/");
	double t;
	if (!reading(payload, len, &t)) {
		char q[1100];
		moss_warnf("%s: not a reading: %s", topic, quote(payload, len, q));
		return;
	}
	sensor **slot = lookup(id, id_len);
	sensor *s = *slot;
	if (s == NULL) {
		if (nsensors >= MAX_SENSORS) {
			moss_warnf("%s: ignored: already tracking %d sensors", topic, MAX_SENSORS);
			return;
		}
		s = calloc(1, sizeof *s);
		if (s) s->id = strndup(id, id_len), s->id_len = id_len;
		if (s) s->readings = calloc((size_t)cfg.window, sizeof(double));
		if (s == NULL || s->id == NULL || s->readings == NULL) {
			if (s) free(s->id), free(s->readings), free(s);
			moss_warnf("%s: ignored: out of memory", topic);
			return;
		}
		*slot = s;
		nsensors++;
	}
	s->readings[s->next] = t;
	s->next = (s->next + 1) % cfg.window;
	s->full = s->full || s->next == 0;
	if (!s->full) return;
	// Summed in ring order, as the Go version does, for the same rounding.
	double sum = 0;
	for (int i = 0; i < cfg.window; i++) sum += s->readings[i];
	double avg = sum / cfg.window;
	if (!s->alerting && avg > cfg.threshold) {
		s->alerting = true;
		publish(s->id, avg, false);
	} else if (s->alerting && avg < cfg.threshold - cfg.hysteresis) {
		s->alerting = false;
		publish(s->id, avg, true);
	}
}

static int start(void) {
	if (!reload()) {
		moss_errorf("start: %s", errbuf);
		return 1;
	}
	// Watch the whole tree: a deployment may change any of the keys, and
	// the new values apply from the next reading, without a restart.
	if (moss_config_watch("", on_config, NULL) < 0) {
		moss_errorf("start: config watch: %s", moss_last_error());
		return 1;
	}
	if (moss_subscribe("sensors/+/temperature", on_reading, NULL) < 0) {
		moss_errorf("start: subscribe sensors/+/temperature: %s", moss_last_error());
		return 1;
	}
	moss_infof("alerts: average of %lld readings over %.1f C raises alerts/<id> (cleared below %.1f C)", (long long)cfg.window,
	           cfg.threshold, cfg.threshold - cfg.hysteresis);
	return 0;
}

// A component has no main: wasi-libc's _initialize runs this constructor,
// and the SDK calls start on the start event.
__attribute__((constructor)) static void init(void) { moss_on_start(start); }
