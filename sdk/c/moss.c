//go:build ignore

// moss.c - the Moss component SDK for C: the exports the host calls, event
// dispatch, and a wrapper for each host function. See moss.h; the contract
// is abi/ABI.md.
//
// The go:build line keeps the go tool away: it would build any .c file in a
// directory holding Go files (c_test.go) with cgo. This file is built for Wasm
// by build.sh and natively by c_test.go.

#include "moss.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"

#if defined(__wasm__)
#define MOSS_IMPORT(name) __attribute__((import_module("moss"), import_name(name)))
#define MOSS_EXPORT(name) __attribute__((export_name(name)))
#else
// Built natively (c_test.go's codec test), the host functions are ordinary
// symbols the test program defines.
#define MOSS_IMPORT(name)
#define MOSS_EXPORT(name)
#endif

// The host functions (ABI.md, "Host functions"): (req_ptr, req_len, resp_ptr,
// resp_cap) -> length of the response, or -code. wasm-ld imports only those a
// component calls, so a component runs on any host that has them.
#define HOST_FUNC(name) \
	MOSS_IMPORT(#name) int32_t moss__##name(const uint8_t *req, int32_t req_len, uint8_t *resp, int32_t resp_cap)
HOST_FUNC(log);
HOST_FUNC(publish);
HOST_FUNC(subscribe);
HOST_FUNC(unsubscribe);
HOST_FUNC(config_get);
HOST_FUNC(config_update);
HOST_FUNC(config_watch);
HOST_FUNC(timer_start);
HOST_FUNC(timer_stop);
HOST_FUNC(report_state);
HOST_FUNC(secret_get);
HOST_FUNC(cloud_publish);
HOST_FUNC(cloud_subscribe);
HOST_FUNC(cloud_unsubscribe);
HOST_FUNC(shadow_get);
HOST_FUNC(shadow_update);
HOST_FUNC(shadow_delete);
HOST_FUNC(shadow_list);
HOST_FUNC(shadow_watch);
HOST_FUNC(state_save);
HOST_FUNC(defer_update);
// response copies the pending response (a result, or the {code, message} of
// a failure) to ptr if it fits in cap, and returns its length.
MOSS_IMPORT("response") int32_t moss__response(uint8_t *ptr, int32_t cap);

// What moss_on_events returns when it cannot handle a batch; the host marks
// the component ERRORED and logs the value.
enum {
	RC_BAD_BATCH = 1,    // the batch is not CBOR as ABI.md describes events
	RC_START_FAILED = 2, // the start function returned non-zero
	RC_NOMEM = 3,        // the guest's allocator failed while dispatching
};

// ---- Errors ----------------------------------------------------------------

static char err_msg[1024];

const char *moss_last_error(void) { return err_msg; }

const char *moss_strerror(int code) {
	static const char *const abi_names[] = {
		"OK", "E_MEMORY", "E_DECODE", "E_INVALID", "E_DENIED", "E_NOT_FOUND", "E_TOO_LARGE",
		"E_FULL", "E_RATE", "E_UNAVAILABLE", "E_NO_RESPONSE", "E_INTERNAL", "E_UNSUPPORTED",
	};
	if (code <= 0 && code > -(int)(sizeof abi_names / sizeof abi_names[0])) {
		return abi_names[-code];
	}
	switch (code) {
	case MOSS_E_NOMEM: return "E_NOMEM";
	case MOSS_E_TYPE: return "E_TYPE";
	case MOSS_E_PROTOCOL: return "E_PROTOCOL";
	}
	return "E_UNKNOWN";
}

// sdk_error records a failure found in the guest and returns code.
__attribute__((format(printf, 2, 3))) static int sdk_error(int code, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof err_msg, fmt, ap);
	va_end(ap);
	return code;
}

// ---- Requests and responses ------------------------------------------------

static moss_cbor_enc req; // the request being built

// The response buffer: small and static, grown when a response is larger,
// and given back at the next request when it grew over 64 KiB.
static uint8_t resp_small[512];
static uint8_t *resp = resp_small;
static size_t resp_cap = sizeof resp_small;
static size_t resp_len; // of the last successful call's response

static bool grow_resp(size_t n) {
	if (n <= resp_cap) return true;
	uint8_t *b = malloc(n);
	if (b == NULL) return false;
	if (resp != resp_small) free(resp);
	resp = b;
	resp_cap = n;
	return true;
}

// begin starts a request: a map of pairs key-value pairs. Buffers that grew
// over 64 KiB for one large request or response are given back first.
static void begin(size_t pairs) {
	if (resp != resp_small && resp_cap > 64 << 10) {
		free(resp);
		resp = resp_small;
		resp_cap = sizeof resp_small;
	}
	if (req.cap > 64 << 10) moss_cbor_enc_free(&req);
	resp_len = 0;
	moss_cbor_enc_reset(&req);
	moss_cbor_put_map(&req, pairs);
}

// read_error decodes the {code, message} map explaining a failure.
static bool read_error(const uint8_t *p, size_t n, uint64_t *code, const char **msg, size_t *len) {
	moss_cbor_dec d;
	moss_cbor_dec_init(&d, p, n);
	size_t pairs;
	unsigned seen = 0;
	if (!moss_cbor_read_map_unique(&d, &pairs)) return false;
	for (size_t i = 0; i < pairs && !d.failed; i++) {
		const char *k;
		size_t kn;
		if (!moss_cbor_read_text(&d, &k, &kn)) return false;
		if (moss_cbor_text_is(k, kn, "code")) {
			seen |= moss_cbor_read_uint(&d, code) ? 1 : 0;
		} else if (moss_cbor_text_is(k, kn, "message")) {
			seen |= moss_cbor_read_text(&d, msg, len) ? 2 : 0;
		} else {
			moss_cbor_skip(&d);
		}
	}
	return moss_cbor_done(&d) && seen == 3;
}

// host_error fetches the message of a failed call (pending until the next
// host call, so now) and returns code.
static int host_error(int32_t code, const char *fn) {
	int32_t n = moss__response(resp, (int32_t)resp_cap);
	if (n > 0 && (size_t)n > resp_cap && grow_resp((size_t)n)) {
		n = moss__response(resp, (int32_t)resp_cap);
	}
	uint64_t c;
	const char *msg = NULL;
	size_t len = 0;
	if (n < 0 || (size_t)n > resp_cap || !read_error(resp, (size_t)n, &c, &msg, &len)) {
		msg = NULL;
	}
	if (msg == NULL) {
		snprintf(err_msg, sizeof err_msg, "%s: %s", fn, moss_strerror(code));
	} else {
		if (len >= sizeof err_msg) len = sizeof err_msg - 1;
		memcpy(err_msg, msg, len);
		err_msg[len] = 0;
	}
	return code;
}

// finish handles a host function's result r: a failure's message is
// fetched, a response too large for the buffer is fetched with `response`.
static int finish(int32_t r, const char *fn) {
	if (r < 0) return host_error(r, fn);
	if ((size_t)r > resp_cap) {
		if (!grow_resp((size_t)r)) {
			return sdk_error(MOSS_E_NOMEM, "moss: %s: no memory for a %d-byte response", fn, (int)r);
		}
		int32_t n = moss__response(resp, (int32_t)resp_cap);
		if (n != r) {
			return sdk_error(MOSS_E_PROTOCOL, "moss: %s: response returned %d for a %d-byte response", fn, (int)n, (int)r);
		}
	}
	resp_len = (size_t)r;
	return MOSS_OK;
}

// CALL sends the request built in req to host function name.
#define CALL(name)                                                                                  \
	(req.failed ? sdk_error(MOSS_E_NOMEM, "moss: %s: no memory for the request", #name)            \
	            : req.len > MOSS_CBOR_MAX_SIZE                                                      \
	                  ? sdk_error(MOSS_E_TOO_LARGE, "moss: %s: request of %zu bytes", #name, req.len) \
	                  : finish(moss__##name(req.buf, (int32_t)req.len, resp, (int32_t)resp_cap), #name))

// response_value positions d at the value of key in the response map, one
// whose keys are all distinct.
static bool response_value(moss_cbor_dec *d, const char *key) {
	moss_cbor_dec_init(d, resp, resp_len);
	size_t pairs;
	if (!moss_cbor_read_map_unique(d, &pairs)) return false;
	for (size_t i = 0; i < pairs; i++) {
		const char *k;
		size_t kn;
		if (!moss_cbor_read_text(d, &k, &kn)) return false;
		if (moss_cbor_text_is(k, kn, key)) return true;
		if (!moss_cbor_skip(d)) return false;
	}
	return false;
}

// response_id reads the {id} response of subscribe, config_watch and
// timer_start.
static int64_t response_id(const char *fn) {
	moss_cbor_dec d;
	uint64_t id;
	if (!response_value(&d, "id") || !moss_cbor_read_uint(&d, &id) || id > INT64_MAX) {
		return sdk_error(MOSS_E_PROTOCOL, "moss: %s: the response holds no id", fn);
	}
	return (int64_t)id;
}

// put_path writes a dotted path as an array of keys.
static void put_path(const char *path) {
	if (path == NULL || *path == 0) {
		moss_cbor_put_array(&req, 0);
		return;
	}
	size_t n = 1;
	for (const char *p = path; *p; p++) n += *p == '.';
	moss_cbor_put_array(&req, n);
	for (const char *p = path;;) {
		const char *dot = strchr(p, '.');
		if (dot == NULL) {
			moss_cbor_put_str(&req, p);
			return;
		}
		moss_cbor_put_text(&req, p, (size_t)(dot - p));
		p = dot + 1;
	}
}

// ---- Handlers --------------------------------------------------------------

// handler is a registered callback: fn is a moss_message_fn, moss_timer_fn
// or moss_config_fn, by table.
typedef void (*any_fn)(void);
typedef struct handler {
	int64_t id;
	any_fn fn;
	void *ctx;
	bool once; // a one-shot timer: dropped when it fires
} handler;

typedef struct table {
	handler *v;
	size_t n, cap;
} table;

static table subs, timers, watches;

static handler *find(table *t, int64_t id) {
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].id == id) return &t->v[i];
	}
	return NULL;
}

static bool put(table *t, handler h) {
	handler *old = find(t, h.id);
	if (old) {
		*old = h;
		return true;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		handler *v = realloc(t->v, cap * sizeof *v);
		if (v == NULL) return false;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = h;
	return true;
}

static void drop(table *t, int64_t id) {
	handler *h = find(t, id);
	if (h) *h = t->v[--t->n];
}

// ---- Lifecycle -------------------------------------------------------------

static moss_start_fn start_fn;
static moss_stop_fn stop_fn;
static char *name_str, *version_str;

void moss_on_start(moss_start_fn fn) { start_fn = fn; }
void moss_on_stop(moss_stop_fn fn) { stop_fn = fn; }
const char *moss_name(void) { return name_str ? name_str : ""; }
const char *moss_version(void) { return version_str ? version_str : ""; }

int moss_report_state(const char *state, const char *reason) {
	if (state == NULL) return sdk_error(MOSS_E_INVALID, "moss: report_state: no state");
	begin(reason ? 2 : 1);
	moss_cbor_put_str(&req, "state");
	moss_cbor_put_str(&req, state);
	if (reason) {
		moss_cbor_put_str(&req, "reason");
		moss_cbor_put_str(&req, reason);
	}
	return CALL(report_state);
}

// ---- Logging ---------------------------------------------------------------

// The longest line the host takes (ABI.md, `log`: E_TOO_LARGE over 64 KiB).
#define MAX_LOG (64u << 10)

// fix_utf8 replaces each byte that starts no well-formed UTF-8 sequence with
// '?': a log line is CBOR text, which must be UTF-8.
static void fix_utf8(char *s, size_t n) {
	uint8_t *u = (uint8_t *)s;
	for (size_t i = 0; i < n;) {
		size_t l = moss_cbor_utf8_len(u + i, n - i);
		if (l == 0) {
			u[i++] = '?';
		} else {
			i += l;
		}
	}
}

int moss_log(int level, const char *fmt, ...) {
	char small[512];
	char *msg = small;
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	size_t len;
	if (n < 0) {
		len = (size_t)snprintf(small, sizeof small, "moss_log: cannot format \"%s\"", fmt);
		if (len >= sizeof small) len = sizeof small - 1;
	} else if ((size_t)n < sizeof small) {
		len = (size_t)n;
	} else {
		len = (size_t)n > MAX_LOG ? MAX_LOG : (size_t)n;
		msg = malloc(len + 1);
		if (msg) {
			vsnprintf(msg, len + 1, fmt, again);
		} else {
			msg = small; // log what fits rather than nothing
			len = sizeof small - 1;
		}
	}
	va_end(again);
	va_end(ap);
	fix_utf8(msg, len);
	begin(2);
	moss_cbor_put_str(&req, "level");
	moss_cbor_put_int(&req, level);
	moss_cbor_put_str(&req, "msg");
	moss_cbor_put_text(&req, msg, len);
	int rc = CALL(log);
	if (msg != small) free(msg);
	return rc;
}

// ---- Publish and subscribe -------------------------------------------------

int moss_publish(const char *topic, const void *payload, size_t len) {
	if (topic == NULL || (payload == NULL && len > 0)) {
		return sdk_error(MOSS_E_INVALID, "moss: publish: no topic or no payload");
	}
	begin(2);
	moss_cbor_put_str(&req, "topic");
	moss_cbor_put_str(&req, topic);
	moss_cbor_put_str(&req, "payload");
	moss_cbor_put_bytes(&req, payload, len);
	return CALL(publish);
}

// add_sub finishes a call that subscribes (subscribe, cloud_subscribe,
// shadow_watch) and returned rc: it reads the {id} response and registers fn
// for the subscription's messages.
static int64_t add_sub(int rc, const char *fn_name, const char *what, moss_message_fn fn, void *ctx) {
	if (rc < 0) return rc;
	int64_t id = response_id(fn_name);
	if (id >= 0 && !put(&subs, (handler){id, (any_fn)fn, ctx, false})) {
		return sdk_error(MOSS_E_NOMEM, "moss: %s %s: no memory for the handler", fn_name, what);
	}
	return id;
}

int64_t moss_subscribe(const char *filter, moss_message_fn fn, void *ctx) {
	if (filter == NULL || fn == NULL) {
		return sdk_error(MOSS_E_INVALID, "moss: subscribe: no filter or no handler");
	}
	begin(1);
	moss_cbor_put_str(&req, "filter");
	moss_cbor_put_str(&req, filter);
	return add_sub(CALL(subscribe), "subscribe", filter, fn, ctx);
}

// id_request sends {id} to an unsubscribe or timer_stop host function.
static bool id_request(int64_t id) {
	if (id < 0) return false;
	begin(1);
	moss_cbor_put_str(&req, "id");
	moss_cbor_put_uint(&req, (uint64_t)id);
	return true;
}

int moss_unsubscribe(int64_t id) {
	drop(&subs, id);
	if (!id_request(id)) return sdk_error(MOSS_E_NOT_FOUND, "moss: unsubscribe: no subscription %lld", (long long)id);
	return CALL(unsubscribe);
}

// ---- Timers ----------------------------------------------------------------

static int64_t timer_start(uint32_t ms, bool repeat, moss_timer_fn fn, void *ctx) {
	if (fn == NULL) return sdk_error(MOSS_E_INVALID, "moss: timer_start: no function");
	begin(2);
	moss_cbor_put_str(&req, "interval_ms");
	moss_cbor_put_uint(&req, ms);
	moss_cbor_put_str(&req, "repeat");
	moss_cbor_put_bool(&req, repeat);
	int rc = CALL(timer_start);
	if (rc < 0) return rc;
	int64_t id = response_id("timer_start");
	if (id >= 0 && !put(&timers, (handler){id, (any_fn)fn, ctx, !repeat})) {
		return sdk_error(MOSS_E_NOMEM, "moss: timer_start: no memory for the handler");
	}
	return id;
}

int64_t moss_every(uint32_t ms, moss_timer_fn fn, void *ctx) { return timer_start(ms, true, fn, ctx); }
int64_t moss_after(uint32_t ms, moss_timer_fn fn, void *ctx) { return timer_start(ms, false, fn, ctx); }

int moss_timer_stop(int64_t id) {
	drop(&timers, id);
	if (!id_request(id)) return sdk_error(MOSS_E_NOT_FOUND, "moss: timer_stop: no timer %lld", (long long)id);
	return CALL(timer_stop);
}

// ---- Configuration ---------------------------------------------------------

// config_value sends the config_get request in req and points value at the
// answer's CBOR.
static int config_value(const uint8_t **value, size_t *len) {
	int rc = CALL(config_get);
	if (rc < 0) return rc;
	moss_cbor_dec d;
	if (!response_value(&d, "value")) {
		return sdk_error(MOSS_E_PROTOCOL, "moss: config_get: the response holds no value");
	}
	const uint8_t *start = d.p;
	if (!moss_cbor_skip(&d)) {
		return sdk_error(MOSS_E_PROTOCOL, "moss: config_get: the value is not well-formed");
	}
	*value = start;
	*len = (size_t)(d.p - start);
	return MOSS_OK;
}

int moss_config_get_cbor(const char *path, const uint8_t **value, size_t *len) {
	begin(1);
	moss_cbor_put_str(&req, "path");
	put_path(path);
	return config_value(value, len);
}

int moss_config_get_cborv(const char *const *keys, size_t nkeys, const uint8_t **value, size_t *len) {
	begin(1);
	moss_cbor_put_str(&req, "path");
	moss_cbor_put_array(&req, nkeys);
	for (size_t i = 0; i < nkeys; i++) moss_cbor_put_str(&req, keys[i]);
	return config_value(value, len);
}

// config_typed reads the value at path into d, if it has one of the types
// allowed (a mask of 1 << moss_cbor_type).
static int config_typed(const char *path, moss_cbor_dec *d, unsigned allowed, const char *what) {
	const uint8_t *v;
	size_t n;
	int rc = moss_config_get_cbor(path, &v, &n);
	if (rc < 0) return rc;
	moss_cbor_dec_init(d, v, n);
	static const char *const names[] = {
		[MOSS_CBOR_UINT] = "an integer", [MOSS_CBOR_NEGINT] = "an integer", [MOSS_CBOR_BYTES] = "bytes",
		[MOSS_CBOR_TEXT] = "text", [MOSS_CBOR_ARRAY] = "an array", [MOSS_CBOR_MAP] = "a map",
		[MOSS_CBOR_TAG] = "a tag", [MOSS_CBOR_BOOL] = "a boolean", [MOSS_CBOR_NULL] = "null",
		[MOSS_CBOR_UNDEFINED] = "undefined", [MOSS_CBOR_FLOAT] = "a float", [MOSS_CBOR_SIMPLE] = "a simple value",
	};
	moss_cbor_type t = moss_cbor_type_of(d);
	if (t == MOSS_CBOR_INVALID) {
		return sdk_error(MOSS_E_PROTOCOL, "moss: config %s: the value is not well-formed", path);
	}
	if (!(allowed & (1u << t))) {
		return sdk_error(MOSS_E_TYPE, "moss: config %s: %s, not %s", path, names[t], what);
	}
	return MOSS_OK;
}

#define NUMBER ((1u << MOSS_CBOR_UINT) | (1u << MOSS_CBOR_NEGINT) | (1u << MOSS_CBOR_FLOAT))

int moss_config_get_string(const char *path, char *buf, size_t cap) {
	if (path == NULL) path = "";
	moss_cbor_dec d;
	int rc = config_typed(path, &d, 1u << MOSS_CBOR_TEXT, "text");
	if (rc < 0) return rc;
	const char *s;
	size_t n;
	moss_cbor_read_text(&d, &s, &n);
	if (n > INT32_MAX) return sdk_error(MOSS_E_TOO_LARGE, "moss: config %s: text of %zu bytes", path, n);
	if (cap > 0) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(buf, s, c);
		buf[c] = 0;
	}
	return (int)n;
}

int moss_config_get_double(const char *path, double *out) {
	if (path == NULL) path = "";
	moss_cbor_dec d;
	int rc = config_typed(path, &d, NUMBER, "a number");
	if (rc < 0) return rc;
	moss_cbor_read_double(&d, out);
	return MOSS_OK;
}

int moss_config_get_int64(const char *path, int64_t *out) {
	if (path == NULL) path = "";
	moss_cbor_dec d;
	int rc = config_typed(path, &d, (1u << MOSS_CBOR_UINT) | (1u << MOSS_CBOR_NEGINT), "an integer");
	if (rc < 0) return rc;
	int64_t v;
	if (!moss_cbor_read_int(&d, &v)) {
		return sdk_error(MOSS_E_TYPE, "moss: config %s: the integer does not fit in 64 bits", path);
	}
	*out = v;
	return MOSS_OK;
}

int moss_config_get_bool(const char *path, bool *out) {
	if (path == NULL) path = "";
	moss_cbor_dec d;
	int rc = config_typed(path, &d, 1u << MOSS_CBOR_BOOL, "a boolean");
	if (rc < 0) return rc;
	moss_cbor_read_bool(&d, out);
	return MOSS_OK;
}

int moss_config_update_cbor(const char *path, const uint8_t *value, size_t len) {
	if (value == NULL || len == 0) return sdk_error(MOSS_E_INVALID, "moss: config_update: no value");
	begin(2);
	moss_cbor_put_str(&req, "path");
	put_path(path);
	moss_cbor_put_str(&req, "value");
	moss_cbor_put_raw(&req, value, len);
	return CALL(config_update);
}

int64_t moss_config_watch(const char *path, moss_config_fn fn, void *ctx) {
	if (fn == NULL) return sdk_error(MOSS_E_INVALID, "moss: config_watch: no function");
	begin(1);
	moss_cbor_put_str(&req, "path");
	put_path(path);
	int rc = CALL(config_watch);
	if (rc < 0) return rc;
	int64_t id = response_id("config_watch");
	if (id >= 0 && !put(&watches, (handler){id, (any_fn)fn, ctx, false})) {
		return sdk_error(MOSS_E_NOMEM, "moss: config_watch: no memory for the handler");
	}
	return id;
}

// ---- Secrets ---------------------------------------------------------------

int moss_secret_get(const char *name, void *buf, size_t cap) {
	if (name == NULL) return sdk_error(MOSS_E_INVALID, "moss: secret_get: no name");
	begin(1);
	moss_cbor_put_str(&req, "name");
	moss_cbor_put_str(&req, name);
	int rc = CALL(secret_get);
	if (rc < 0) return rc;
	moss_cbor_dec d;
	const uint8_t *v;
	size_t n;
	if (!response_value(&d, "value") || !moss_cbor_read_bytes(&d, &v, &n)) {
		rc = sdk_error(MOSS_E_PROTOCOL, "moss: secret_get: the response holds no value");
	} else {
		if (cap > 0) memcpy(buf, v, n < cap ? n : cap);
		rc = (int)n;
	}
	// Keep no copy of the secret.
	memset(resp, 0, resp_len);
	resp_len = 0;
	return rc;
}

// ---- AWS IoT Core ----------------------------------------------------------

int moss_cloud_publish(const char *topic, const void *payload, size_t len, int qos) {
	if (topic == NULL || (payload == NULL && len > 0)) {
		return sdk_error(MOSS_E_INVALID, "moss: cloud_publish: no topic or no payload");
	}
	if (qos < 0) return sdk_error(MOSS_E_INVALID, "moss: cloud_publish %s: QoS %d", topic, qos);
	begin(3);
	moss_cbor_put_str(&req, "topic");
	moss_cbor_put_str(&req, topic);
	moss_cbor_put_str(&req, "payload");
	moss_cbor_put_bytes(&req, payload, len);
	moss_cbor_put_str(&req, "qos");
	moss_cbor_put_uint(&req, (uint64_t)qos);
	return CALL(cloud_publish);
}

int64_t moss_cloud_subscribe(const char *filter, moss_message_fn fn, void *ctx) {
	if (filter == NULL || fn == NULL) {
		return sdk_error(MOSS_E_INVALID, "moss: cloud_subscribe: no filter or no handler");
	}
	begin(1);
	moss_cbor_put_str(&req, "filter");
	moss_cbor_put_str(&req, filter);
	return add_sub(CALL(cloud_subscribe), "cloud_subscribe", filter, fn, ctx);
}

int moss_cloud_unsubscribe(int64_t id) {
	drop(&subs, id);
	if (!id_request(id)) {
		return sdk_error(MOSS_E_NOT_FOUND, "moss: cloud_unsubscribe: no subscription %lld", (long long)id);
	}
	return CALL(cloud_unsubscribe);
}

// ---- Device shadows --------------------------------------------------------

static bool given(const char *s) { return s != NULL && *s != 0; }

// shadow_begin starts a shadow request with the thing and name (left out
// when empty: the device's thing, the classic shadow) and room for extra
// more pairs.
static void shadow_begin(const char *thing, const char *name, size_t extra) {
	begin((size_t)given(thing) + (size_t)given(name) + extra);
	if (given(thing)) {
		moss_cbor_put_str(&req, "thing");
		moss_cbor_put_str(&req, thing);
	}
	if (given(name)) {
		moss_cbor_put_str(&req, "name");
		moss_cbor_put_str(&req, name);
	}
}

// shadow_result finishes a shadow call that returned rc: it reads the
// {status, payload} response, copies the payload to buf as moss.h says and
// returns the status.
static int shadow_result(int rc, const char *fn, char *buf, size_t cap, size_t *len) {
	if (rc < 0) return rc;
	moss_cbor_dec d;
	moss_cbor_dec_init(&d, resp, resp_len);
	size_t pairs;
	uint64_t status = 0;
	const uint8_t *doc = (const uint8_t *)"";
	size_t n = 0;
	bool ok = moss_cbor_read_map_unique(&d, &pairs);
	for (size_t i = 0; ok && i < pairs; i++) {
		const char *k;
		size_t kn;
		ok = moss_cbor_read_text(&d, &k, &kn);
		if (!ok) break;
		if (moss_cbor_text_is(k, kn, "status")) {
			ok = moss_cbor_read_uint(&d, &status);
		} else if (moss_cbor_text_is(k, kn, "payload")) {
			// Go's CBOR encoder writes an empty document as null.
			ok = moss_cbor_type_of(&d) == MOSS_CBOR_NULL ? moss_cbor_read_null(&d) : moss_cbor_read_bytes(&d, &doc, &n);
		} else {
			ok = moss_cbor_skip(&d); // a key from a later version
		}
	}
	if (!ok || !moss_cbor_done(&d) || status < 100 || status > 999) {
		return sdk_error(MOSS_E_PROTOCOL, "moss: %s: the response holds no status", fn);
	}
	if (cap > 0 && buf != NULL) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(buf, doc, c);
		buf[c] = 0;
	}
	if (len) *len = n;
	return (int)status;
}

int moss_shadow_get(const char *thing, const char *name, char *buf, size_t cap, size_t *len) {
	shadow_begin(thing, name, 0);
	return shadow_result(CALL(shadow_get), "shadow_get", buf, cap, len);
}

int moss_shadow_update(const char *thing, const char *name, const char *doc, char *buf, size_t cap, size_t *len) {
	if (doc == NULL) return sdk_error(MOSS_E_INVALID, "moss: shadow_update: no document");
	shadow_begin(thing, name, 1);
	moss_cbor_put_str(&req, "payload");
	moss_cbor_put_bytes(&req, doc, strlen(doc));
	return shadow_result(CALL(shadow_update), "shadow_update", buf, cap, len);
}

int moss_shadow_delete(const char *thing, const char *name, char *buf, size_t cap, size_t *len) {
	shadow_begin(thing, name, 0);
	return shadow_result(CALL(shadow_delete), "shadow_delete", buf, cap, len);
}

int moss_shadow_list(const char *thing, uint32_t page_size, const char *next_token, char *buf, size_t cap, size_t *len) {
	begin((size_t)given(thing) + (page_size > 0) + (size_t)given(next_token));
	if (given(thing)) {
		moss_cbor_put_str(&req, "thing");
		moss_cbor_put_str(&req, thing);
	}
	if (page_size > 0) {
		moss_cbor_put_str(&req, "page_size");
		moss_cbor_put_uint(&req, page_size);
	}
	if (given(next_token)) {
		moss_cbor_put_str(&req, "next_token");
		moss_cbor_put_str(&req, next_token);
	}
	return shadow_result(CALL(shadow_list), "shadow_list", buf, cap, len);
}

int64_t moss_shadow_watch(const char *thing, const char *name, const char *topic, moss_message_fn fn, void *ctx) {
	if (topic == NULL || fn == NULL) {
		return sdk_error(MOSS_E_INVALID, "moss: shadow_watch: no topic or no handler");
	}
	shadow_begin(thing, name, 1);
	moss_cbor_put_str(&req, "topic");
	moss_cbor_put_str(&req, topic);
	return add_sub(CALL(shadow_watch), "shadow_watch", topic, fn, ctx);
}

// ---- Events ----------------------------------------------------------------

enum { EV_START = 1, EV_MESSAGE = 2, EV_TIMER = 3, EV_CONFIG = 4, EV_STOP = 5, EV_UPDATE = 6 };

// The keys an event carried (event.has), for the fixture test.
enum {
	HAS_KIND = 1 << 0, HAS_ID = 1 << 1, HAS_TOPIC = 1 << 2, HAS_PAYLOAD = 1 << 3, HAS_NAME = 1 << 4,
	HAS_VERSION = 1 << 5, HAS_ABI = 1 << 6, HAS_PATH = 1 << 7, HAS_REASON = 1 << 8,
};

// text is a string inside the batch, not NUL-terminated.
typedef struct text {
	const char *s;
	size_t n;
} text;

// event is one decoded event (ABI.md, "Events"); strings point into the
// batch.
typedef struct event {
	unsigned has;
	uint64_t kind, id, abi;
	text topic, name, version, reason;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *path, *path_end; // the path array's items, re-read by dispatch
	size_t path_len;                // items
} event;

// read_event decodes one event map. Keys this SDK does not know are skipped
// (later versions may add some); a key given twice fails it.
static bool read_event(moss_cbor_dec *d, event *ev) {
	memset(ev, 0, sizeof *ev);
	ev->payload = (const uint8_t *)"";
	ev->topic.s = ev->name.s = ev->version.s = ev->reason.s = "";
	size_t pairs;
	if (!moss_cbor_read_map_unique(d, &pairs)) return false;
	for (size_t i = 0; i < pairs; i++) {
		text k;
		if (!moss_cbor_read_text(d, &k.s, &k.n)) return false;
		if (moss_cbor_text_is(k.s, k.n, "kind")) {
			ev->has |= HAS_KIND;
			moss_cbor_read_uint(d, &ev->kind);
		} else if (moss_cbor_text_is(k.s, k.n, "id")) {
			ev->has |= HAS_ID;
			moss_cbor_read_uint(d, &ev->id);
		} else if (moss_cbor_text_is(k.s, k.n, "topic")) {
			ev->has |= HAS_TOPIC;
			moss_cbor_read_text(d, &ev->topic.s, &ev->topic.n);
		} else if (moss_cbor_text_is(k.s, k.n, "payload")) {
			ev->has |= HAS_PAYLOAD;
			moss_cbor_read_bytes(d, &ev->payload, &ev->payload_len);
		} else if (moss_cbor_text_is(k.s, k.n, "name")) {
			ev->has |= HAS_NAME;
			moss_cbor_read_text(d, &ev->name.s, &ev->name.n);
		} else if (moss_cbor_text_is(k.s, k.n, "version")) {
			ev->has |= HAS_VERSION;
			moss_cbor_read_text(d, &ev->version.s, &ev->version.n);
		} else if (moss_cbor_text_is(k.s, k.n, "abi")) {
			ev->has |= HAS_ABI;
			moss_cbor_read_uint(d, &ev->abi);
		} else if (moss_cbor_text_is(k.s, k.n, "reason")) {
			ev->has |= HAS_REASON;
			moss_cbor_read_text(d, &ev->reason.s, &ev->reason.n);
		} else if (moss_cbor_text_is(k.s, k.n, "path")) {
			ev->has |= HAS_PATH;
			if (moss_cbor_read_array(d, &ev->path_len)) {
				ev->path = d->p;
				for (size_t j = 0; j < ev->path_len; j++) {
					text t;
					moss_cbor_read_text(d, &t.s, &t.n);
				}
				ev->path_end = d->p;
			}
		} else {
			moss_cbor_skip(d);
		}
		if (d->failed) return false;
	}
	return (ev->has & HAS_KIND) != 0;
}

// cstring makes t a C string in place: it saves the byte after t (the next
// item's head, or the spare byte after the batch, see moss_event_buffer) in
// *saved and writes a NUL there. The caller puts *saved back.
static char *cstring(text t, uint8_t *saved) {
	char *s = (char *)t.s;
	*saved = (uint8_t)s[t.n];
	s[t.n] = 0;
	return s;
}

static char *dup_text(text t) {
	char *s = malloc(t.n + 1);
	if (s) {
		memcpy(s, t.s, t.n);
		s[t.n] = 0;
	}
	return s;
}

// dispatch_config calls a config watch's function with the changed path.
static int dispatch_config(const event *ev, moss_config_fn fn, void *ctx) {
	// One allocation: the pointers, then the NUL-terminated keys.
	size_t size = ev->path_len * sizeof(char *), n = ev->path_len;
	moss_cbor_dec d;
	if (n > 0) moss_cbor_dec_init(&d, ev->path, (size_t)(ev->path_end - ev->path));
	for (size_t i = 0; i < n; i++) {
		text t;
		moss_cbor_read_text(&d, &t.s, &t.n);
		size += t.n + 1;
	}
	char **path = malloc(size ? size : 1);
	if (path == NULL) return RC_NOMEM;
	char *p = (char *)(path + n);
	if (n > 0) moss_cbor_dec_init(&d, ev->path, (size_t)(ev->path_end - ev->path));
	for (size_t i = 0; i < n; i++) {
		text t;
		moss_cbor_read_text(&d, &t.s, &t.n);
		memcpy(p, t.s, t.n);
		p[t.n] = 0;
		path[i] = p;
		p += t.n + 1;
	}
	fn((const char *const *)path, n, ctx);
	free(path);
	return 0;
}

// ---- Upgrades and updates ----------------------------------------------------

static moss_update_fn update_fn;
// run_update is set by moss_on_update, so that only a component that
// registers an update function imports defer_update (wasm-ld drops the
// rest).
static void (*run_update)(const char *version);
static uint8_t *handover; // the start event's payload, NULL without one
static size_t handover_len;

static void update_and_defer(const char *version) {
	uint32_t secs = update_fn(version);
	if (secs > 0 && moss_defer_update(secs) < 0) {
		moss_log(MOSS_LEVEL_ERROR, "moss: defer update: %s", moss_last_error());
	}
}

void moss_on_update(moss_update_fn fn) {
	update_fn = fn;
	run_update = fn ? update_and_defer : NULL;
}

const uint8_t *moss_handover(size_t *len) {
	if (len) *len = handover_len;
	return handover;
}

int moss_state_save(const void *data, size_t len) {
	if (data == NULL && len > 0) return sdk_error(MOSS_E_INVALID, "moss: state_save: no data");
	begin(1);
	moss_cbor_put_str(&req, "data");
	moss_cbor_put_bytes(&req, data, len);
	return CALL(state_save);
}

int moss_defer_update(uint32_t seconds) {
	begin(1);
	moss_cbor_put_str(&req, "seconds");
	moss_cbor_put_uint(&req, seconds);
	return CALL(defer_update);
}

// dispatch handles one event; non-zero ends the batch.
static int dispatch(const event *ev) {
	handler *h;
	uint8_t saved = 0, saved2 = 0;
	switch (ev->kind) {
	case EV_START:
		free(name_str);
		free(version_str);
		name_str = dup_text(ev->name);
		version_str = dup_text(ev->version);
		free(handover);
		handover = NULL, handover_len = 0;
		if ((ev->has & HAS_PAYLOAD) && (handover = malloc(ev->payload_len ? ev->payload_len : 1)) != NULL) {
			memcpy(handover, ev->payload, ev->payload_len);
			handover_len = ev->payload_len;
		}
		if (start_fn) {
			int rc = start_fn();
			if (rc != 0) {
				moss_log(MOSS_LEVEL_ERROR, "moss: start function returned %d", rc);
				return RC_START_FAILED;
			}
		}
		return 0;
	case EV_MESSAGE:
		if ((h = find(&subs, (int64_t)ev->id)) == NULL) return 0; // unsubscribed since
		{
			moss_message_fn fn = (moss_message_fn)h->fn;
			text payload = {(const char *)ev->payload, ev->payload_len};
			const char *topic = ev->has & HAS_TOPIC ? cstring(ev->topic, &saved) : "";
			const uint8_t *pl = ev->has & HAS_PAYLOAD ? (const uint8_t *)cstring(payload, &saved2) : ev->payload;
			fn(topic, pl, ev->payload_len, h->ctx);
			if (ev->has & HAS_PAYLOAD) ((char *)pl)[ev->payload_len] = (char)saved2;
			if (ev->has & HAS_TOPIC) ((char *)topic)[ev->topic.n] = (char)saved;
		}
		return 0;
	case EV_TIMER:
		if ((h = find(&timers, (int64_t)ev->id)) == NULL) return 0; // stopped since
		{
			handler t = *h;
			if (t.once) drop(&timers, t.id);
			((moss_timer_fn)t.fn)(t.id, t.ctx);
		}
		return 0;
	case EV_CONFIG:
		if ((h = find(&watches, (int64_t)ev->id)) == NULL) return 0;
		return dispatch_config(ev, (moss_config_fn)h->fn, h->ctx);
	case EV_STOP:
		if (stop_fn) {
			const char *reason = ev->has & HAS_REASON ? cstring(ev->reason, &saved) : "";
			stop_fn(reason);
			if (ev->has & HAS_REASON) ((char *)reason)[ev->reason.n] = (char)saved;
		}
		return 0;
	case EV_UPDATE:
		if (run_update) {
			const char *version = ev->has & HAS_VERSION ? cstring(ev->version, &saved) : "";
			run_update(version);
			if (ev->has & HAS_VERSION) ((char *)version)[ev->version.n] = (char)saved;
		}
		return 0;
	}
	return 0; // a kind from a later version
}

// handle_batch decodes and dispatches a batch: a CBOR array of events. The
// byte at batch[n] must be writable (see cstring).
static int handle_batch(uint8_t *batch, size_t n) {
	moss_cbor_dec d;
	moss_cbor_dec_init(&d, batch, n);
	size_t count;
	if (!moss_cbor_read_array(&d, &count)) {
		moss_log(MOSS_LEVEL_ERROR, "moss: event batch of %zu bytes is not a CBOR array", n);
		return RC_BAD_BATCH;
	}
	for (size_t i = 0; i < count; i++) {
		event ev;
		if (!read_event(&d, &ev)) {
			moss_log(MOSS_LEVEL_ERROR, "moss: event %zu of %zu in the batch is malformed", i + 1, count);
			return RC_BAD_BATCH;
		}
		int rc = dispatch(&ev);
		if (rc != 0) return rc;
	}
	if (!moss_cbor_done(&d)) {
		moss_log(MOSS_LEVEL_ERROR, "moss: %zu bytes after the event batch", (size_t)(d.end - d.p));
		return RC_BAD_BATCH;
	}
	return 0;
}

// ---- Exports ---------------------------------------------------------------

MOSS_EXPORT("moss_abi_version") int32_t moss_abi_version(void) { return MOSS_ABI_VERSION; }

// The event buffer holds one byte more than the host asked for, so that the
// last string of a batch can be NUL-terminated in place too.
static uint8_t *evbuf;
static size_t evcap;

MOSS_EXPORT("moss_event_buffer") uint8_t *moss_event_buffer(int32_t size) {
	size_t n = (uint32_t)size;
	if (evbuf && n < evcap) return evbuf;
	free(evbuf);
	evbuf = malloc(n + 1);
	evcap = evbuf ? n + 1 : 0;
	return evbuf; // NULL (0) tells the host we are out of memory
}

MOSS_EXPORT("moss_on_events") int32_t moss_on_events(uint8_t *ptr, int32_t len) {
	size_t n = (uint32_t)len;
	uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)evbuf;
	if (evbuf && p >= b && p - b < evcap && n < evcap - (p - b)) {
		return handle_batch(ptr, n);
	}
	// Not inside our buffer with a byte to spare: work on a copy.
	uint8_t *copy = malloc(n + 1);
	if (copy == NULL) return RC_NOMEM;
	memcpy(copy, ptr, n);
	int rc = handle_batch(copy, n);
	free(copy);
	return rc;
}
