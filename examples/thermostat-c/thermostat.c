// thermostat.c - the thermostat component in C (a port of
// examples/thermostat): it keeps a light color and a target temperature in
// a named device shadow, applies what is desired there when valid, reports
// what it applied, clears a desired value it refuses, and publishes the
// settings it runs with on thermostat/<shadow>/applied. See README.md.
//
// Build: sdk/c/build.sh examples/thermostat-c/thermostat.c -o examples/thermostat-c/thermostat-c.wasm

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moss.h"

// Valid settings.
static const char *const colors[] = {"RED", "GREEN", "BLUE"};
#define MIN_TARGET 5.0
#define MAX_TARGET 35.0

// A configured color or shadow name longer than this is a configuration
// error (a valid color has 5 bytes, a shadow name at most 64).
#define MAX_TEXT 256

// settings is what the thermostat runs with, and what it reports and
// publishes.
typedef struct settings {
	char color[MAX_TEXT];
	double target;
} settings;

// State lives in globals: the host calls one handler at a time.
static char shadow[MAX_TEXT]; // the shadow's name
static settings current;

// ---- JSON out --------------------------------------------------------------

// out is a JSON document being written into a fixed buffer: the largest
// one, an update with a 255-byte color escaped, is well under its size.
typedef struct out {
	char buf[4096];
	size_t n;
	bool over; // it did not fit
} out;

static void emit(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out *o, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	int n = o->over ? 0 : vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof o->buf - o->n) {
		o->over = true;
	} else {
		o->n += (size_t)n;
	}
}

// emit_string writes s as a JSON string.
static void emit_string(out *o, const char *s) {
	emit(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			emit(o, "\\%c", c);
		} else if (c < 0x20) {
			emit(o, "\\u%04x", c);
		} else {
			emit(o, "%c", c);
		}
	}
	emit(o, "\"");
}

// emit_number writes v as the shortest decimal that reads back as v: 20,
// 22.5, 1e+300 (JSON has no infinities: those are null).
static void emit_number(out *o, double v) {
	char s[32] = "null";
	if (isfinite(v) && v == trunc(v) && fabs(v) < 1e15) {
		snprintf(s, sizeof s, "%.0f", v);
	} else if (isfinite(v)) {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(s, sizeof s, "%.*g", prec, v);
			if (strtod(s, NULL) == v) break;
		}
	}
	emit(o, "%s", s);
}

// emit_settings writes {"color":C,"target_temperature":T}.
static void emit_settings(out *o, const settings *s) {
	emit(o, "{\"color\":");
	emit_string(o, s->color);
	emit(o, ",\"target_temperature\":");
	emit_number(o, s->target);
	emit(o, "}");
}

// ---- Settings --------------------------------------------------------------

static bool valid_color(moss_json v, const char **color) {
	for (size_t i = 0; i < sizeof colors / sizeof colors[0]; i++) {
		if (moss_json_string_is(v, colors[i])) {
			*color = colors[i];
			return true;
		}
	}
	return false;
}

static bool valid_target(moss_json v, double *target) {
	double t;
	if (moss_json_number(v, &t) != MOSS_OK || t < MIN_TARGET || t > MAX_TARGET) return false;
	*target = t;
	return true;
}

// member finds v's member name as Go's encoding/json reads an object into
// a map[string]any: present (null included: it is not a valid setting), or
// not. v may be no value (an absent object).
static bool member(moss_json v, const char *name, moss_json *m) {
	return moss_json_type_of(v) == MOSS_JSON_OBJECT && moss_json_member(v, name, strlen(name), m) == MOSS_OK;
}

// object finds the object member name of v, as the Go version's
// encoding/json reads one into a map: 1 for an object (in *m), 0 when absent
// or null, -1 for any other value (encoding/json fails the whole document).
static int object(moss_json v, const char *name, moss_json *m) {
	moss_json x;
	*m = (moss_json){NULL, 0};
	if (!member(v, name, &x) || moss_json_type_of(x) == MOSS_JSON_NULL) return 0;
	if (moss_json_type_of(x) != MOSS_JSON_OBJECT) return -1;
	*m = x;
	return 1;
}

// text renders a JSON value for a log line, cut at 200 bytes.
static const char *text(moss_json v, char buf[256]) {
	snprintf(buf, 256, "%.*s%s", v.n > 200 ? 200 : (int)v.n, v.p, v.n > 200 ? "..." : "");
	return buf;
}

// report writes the current settings to the shadow's reported state, and
// clears the desired keys it refused: the service publishes a delta after
// every update while desired and reported differ, so a refused value left in
// desired would come back after each report. Then it publishes the settings
// on thermostat/<shadow>/applied.
static void report(const char *const *rejected, size_t n) {
	out doc = {.n = 0};
	emit(&doc, "{\"state\":{\"reported\":");
	emit_settings(&doc, &current);
	if (n > 0) {
		emit(&doc, ",\"desired\":{");
		for (size_t i = 0; i < n; i++) {
			emit(&doc, "%s\"%s\":null", i ? "," : "", rejected[i]);
		}
		emit(&doc, "}");
	}
	emit(&doc, "}}");
	char answer[512];
	size_t len;
	int status = doc.over ? MOSS_E_TOO_LARGE : moss_shadow_update(NULL, shadow, doc.buf, answer, sizeof answer, &len);
	if (status < 0) {
		moss_warnf("thermostat: shadow %s: reporting %.*s: %s", shadow, (int)doc.n, doc.buf, moss_last_error());
	} else if (status != 200) {
		moss_warnf("thermostat: shadow %s: reporting %.*s: rejected: %d %s", shadow, (int)doc.n, doc.buf, status, answer);
	}

	char topic[MAX_TEXT + 32];
	snprintf(topic, sizeof topic, "thermostat/%s/applied", shadow);
	out applied = {.n = 0};
	emit_settings(&applied, &current);
	if (applied.over || moss_publish(topic, applied.buf, applied.n) < 0) {
		moss_warnf("%s: %s", topic, applied.over ? "too long" : moss_last_error());
	}
}

// apply takes the desired settings in state (an object, or no value) that
// are valid, then reports. Keys other than color and target_temperature
// are ignored; a state with neither is not reported, or the service would
// answer the report with the same delta again.
static void apply(moss_json state) {
	const char *rejected[2];
	size_t n = 0;
	moss_json v;
	char shown[256];
	if (!member(state, "color", &v) && !member(state, "target_temperature", &v)) return;
	if (member(state, "color", &v)) {
		const char *c;
		if (valid_color(v, &c)) {
			snprintf(current.color, sizeof current.color, "%s", c);
		} else {
			moss_warnf("thermostat: desired color %s refused: want RED, GREEN or BLUE", text(v, shown));
			rejected[n++] = "color";
		}
	}
	if (member(state, "target_temperature", &v)) {
		if (!valid_target(v, &current.target)) {
			moss_warnf("thermostat: desired target_temperature %s refused: want a number from %g to %g", text(v, shown), MIN_TARGET,
			           MAX_TARGET);
			rejected[n++] = "target_temperature";
		}
	}
	report(rejected, n);
}

static void on_delta(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)ctx;
	moss_json doc, state;
	moss_json_type t;
	if (moss_json_parse((const char *)payload, len, &doc) != MOSS_OK ||
	    ((t = moss_json_type_of(doc)) != MOSS_JSON_OBJECT && t != MOSS_JSON_NULL) || object(doc, "state", &state) < 0) {
		moss_warnf("%s: not a delta document", topic);
		return;
	}
	apply(state);
}

// ---- Start -----------------------------------------------------------------

// get_text reads one configuration key into dst; when the key is absent dst
// keeps the default it holds. false (and an error logged) if it is not text
// or too long.
static bool get_text(const char *key, char dst[MAX_TEXT]) {
	char buf[MAX_TEXT];
	int n = moss_config_get_string(key, buf, sizeof buf);
	if (n == MOSS_E_NOT_FOUND) return true;
	if (n < 0) {
		moss_errorf("config %s: %s", key, moss_last_error());
		return false;
	}
	if (n >= MAX_TEXT) {
		moss_errorf("config %s: %d bytes, want at most %d", key, n, MAX_TEXT - 1);
		return false;
	}
	memcpy(dst, buf, (size_t)n + 1);
	return true;
}

// get_shadow reads the shadow into *doc (malloc'd, NUL-terminated, *len
// bytes) and returns the service's status, or a negative MOSS_E_* code.
static int get_shadow(char **doc, size_t *len) {
	size_t cap = 8192;
	for (int tries = 0; tries < 5; tries++) {
		char *buf = malloc(cap);
		if (buf == NULL) return MOSS_E_NOMEM;
		int status = moss_shadow_get(NULL, shadow, buf, cap, len);
		if (status < 0 || *len < cap) {
			*doc = buf;
			return status;
		}
		// Cut: the shadow grew past the buffer. Read it again, whole.
		free(buf);
		cap = *len + 1;
	}
	return MOSS_E_TOO_LARGE;
}

// resume starts from what the shadow doc reports, then applies its delta.
// false (and an error logged) for a document the Go version's
// encoding/json refuses.
static bool resume(const char *doc, size_t len) {
	moss_json v, state, reported, delta;
	moss_json_type t;
	if (moss_json_parse(doc, len, &v) != MOSS_OK || ((t = moss_json_type_of(v)) != MOSS_JSON_OBJECT && t != MOSS_JSON_NULL) ||
	    object(v, "state", &state) < 0 || object(state, "reported", &reported) < 0) {
		moss_errorf("shadow %s: not a shadow document: %.*s", shadow, len > 200 ? 200 : (int)len, doc);
		return false;
	}
	int has_delta = object(state, "delta", &delta);
	if (has_delta < 0) {
		moss_errorf("shadow %s: not a shadow document: %.*s", shadow, len > 200 ? 200 : (int)len, doc);
		return false;
	}
	// Resume from what was reported; a setting missing or invalid there
	// keeps the configured default.
	moss_json x;
	const char *c;
	if (member(reported, "color", &x) && valid_color(x, &c)) snprintf(current.color, sizeof current.color, "%s", c);
	if (member(reported, "target_temperature", &x)) valid_target(x, &current.target);
	moss_infof("thermostat: shadow %s reports %s at %g C", shadow, current.color, current.target);
	if (has_delta) apply(delta);
	return true;
}

static int start(void) {
	snprintf(shadow, sizeof shadow, "thermostat");
	settings defaults = {.color = "GREEN", .target = 20};
	bool ok = get_text("shadow", shadow);
	ok = get_text("color", defaults.color) && ok;
	int rc = moss_config_get_double("target_temperature", &defaults.target);
	if (rc < 0 && rc != MOSS_E_NOT_FOUND) {
		moss_errorf("config target_temperature: %s", moss_last_error());
		ok = false;
	}
	if (!ok) return 1;
	current = defaults;
	// Watch first, then read: a change made in between arrives as a delta.
	if (moss_shadow_watch(NULL, shadow, MOSS_SHADOW_DELTA, on_delta, NULL) < 0) {
		moss_errorf("shadow %s: watch: %s", shadow, moss_last_error());
		return 1;
	}
	char *doc = NULL;
	size_t len = 0;
	int status = get_shadow(&doc, &len);
	if (status == 404) {
		// A new shadow: start from the configuration and say so.
		moss_infof("thermostat: no shadow %s yet: starting from %s at %g C", shadow, current.color, current.target);
		report(NULL, 0);
	} else if (status < 0) {
		moss_errorf("shadow %s: %s: %s", shadow, moss_strerror(status), moss_last_error());
	} else if (status != 200) {
		moss_errorf("shadow %s: rejected: %d %s", shadow, status, doc);
	} else {
		ok = resume(doc, len);
	}
	free(doc);
	return ok && (status == 200 || status == 404) ? 0 : 1;
}

// A component has no main: wasi-libc's _initialize runs this constructor,
// and the SDK calls start on the start event.
__attribute__((constructor)) static void init(void) { moss_on_start(start); }
