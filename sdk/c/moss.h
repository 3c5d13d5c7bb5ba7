// moss.h - the Moss component SDK for C (component ABI version 1,
// abi/ABI.md).
//
// A component is a WASI reactor: it has no main and runs only while the host
// calls it. Build one with sdk/c/build.sh (clang --target=wasm32-wasi
// -mexec-model=reactor, plus moss.c, cbor.c and json.c):
//
//	sdk/c/build.sh component.c -o component.wasm
//
// # Registering the start function
//
// wasi-libc's reactor start-up code exports _initialize, which the host calls
// once before anything else; it runs the module's constructors. A component
// registers its handlers from a constructor, and does its real work (reading
// configuration, subscribing, starting timers) in the start function, which
// runs when the host delivers the start event:
//
//	static int start(void) {
//		int64_t id = moss_subscribe("sensors/+/temperature", on_reading, NULL);
//		if (id < 0) {
//			moss_log(MOSS_LEVEL_ERROR, "subscribe: %s", moss_last_error());
//			return 1; // the start fails: the component goes ERRORED
//		}
//		return 0;
//	}
//
//	__attribute__((constructor)) static void init(void) { moss_on_start(start); }
//
// A constructor must not call the host: only moss_on_start and moss_on_stop
// are meant for it.
//
// # Errors
//
// Functions that call the host return a negative MOSS_E_* code on failure:
// the ABI's codes (MOSS_E_MEMORY ... MOSS_E_UNSUPPORTED, the host's answer)
// or the SDK's own (MOSS_E_NOMEM and up, found on the guest's side).
// moss_last_error() returns the message explaining the most recent failure.
//
// When the SDK cannot handle a batch of events, moss_on_events returns
// non-zero and the host marks the component ERRORED, logging the value: 1
// for a batch that is not CBOR as ABI.md describes events, 2 for a start
// function that returned non-zero, 3 for the guest's allocator failing.
//
// # Memory and threads
//
// The host calls one export of an instance at a time and never while the
// instance is inside a host call, so the SDK keeps its state in globals with
// no locks; none of its functions may be called from another thread. Every
// pointer the SDK hands to a handler (topics, payloads, paths, reasons) is
// valid until the handler returns: copy what you keep.
#ifndef MOSS_H
#define MOSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MOSS_ABI_VERSION is the ABI this SDK speaks (the moss_abi_version export).
#define MOSS_ABI_VERSION 1

// ---- Error codes -------------------------------------------------------

// The ABI's error codes (ABI.md, "Error codes"), negated as host functions
// return them.
#define MOSS_OK 0
#define MOSS_E_MEMORY (-1)      // a pointer or length lies outside the guest's memory
#define MOSS_E_DECODE (-2)      // the request is not well-formed CBOR of the expected shape
#define MOSS_E_INVALID (-3)     // a field has an invalid value
#define MOSS_E_DENIED (-4)      // the access policy does not grant the operation
#define MOSS_E_NOT_FOUND (-5)   // no such key, subscription or timer
#define MOSS_E_TOO_LARGE (-6)   // the request or payload exceeds a size limit
#define MOSS_E_FULL (-7)        // a quota is used up
#define MOSS_E_RATE (-8)        // a rate limit was hit; retry later
#define MOSS_E_UNAVAILABLE (-9) // the service is not available now
#define MOSS_E_NO_RESPONSE (-10) // response was called with nothing pending
#define MOSS_E_INTERNAL (-11)   // the host failed; the message says why
#define MOSS_E_UNSUPPORTED (-12) // the host does not support this request

// The SDK's own codes: failures found in the guest, before or after the
// host call.
#define MOSS_E_NOMEM (-100)    // the guest's allocator failed
#define MOSS_E_TYPE (-101)     // a configuration value is not of the type asked for
#define MOSS_E_PROTOCOL (-102) // the host answered something ABI.md does not allow

// moss_strerror names a code: "E_DENIED", "E_NOMEM", "OK"; "E_UNKNOWN" for
// other values.
const char *moss_strerror(int code);

// moss_last_error returns the message of the most recent failed call: the
// host's own message (fetched with the `response` host function at once, so
// later calls cannot lose it) or the SDK's. It stays until the next failure;
// "" before any. The string is overwritten by the next failure.
const char *moss_last_error(void);

// ---- Lifecycle -------------------------------------------------------------

// moss_start_fn runs on the start event, the first of every instance (the
// host makes a fresh instance after a crash: subscriptions keep their ids but
// timers and watches must be made again here). Return 0, or anything else to
// fail the start: the component goes ERRORED and is restarted after a
// backoff.
typedef int (*moss_start_fn)(void);

// moss_stop_fn runs on the stop event, the last one of an instance, with the
// host's reason.
typedef void (*moss_stop_fn)(const char *reason);

void moss_on_start(moss_start_fn fn);
void moss_on_stop(moss_stop_fn fn);

// ---- Hot swaps and deployments ---------------------------------------------

// moss_state_save hands data to the next version of the component when a
// deployment replaces this one without a restart (hot swap): call it from
// the stop function when the reason is "upgrade" (at most 1 MiB; a later
// call replaces the data). Errors: MOSS_E_INVALID outside such a stop.
// Host function: state_save.
int moss_state_save(const void *data, size_t len);

// moss_handover returns the data the previous version saved with
// moss_state_save and its length in *len, or NULL (and 0) when this
// instance did not start from a hot swap. Valid from the start function on,
// until the next start.
const uint8_t *moss_handover(size_t *len);

// moss_update_fn runs on the update event: a deployment is about to update
// or reconfigure the component (version is the new one, "" when only the
// configuration changes). It returns how many seconds the deployment should
// wait, 0 to accept now, as Greengrass's DeferComponentUpdate; the
// deployment asks again when the time is up and goes ahead anyway once its
// update policy's timeout has passed.
typedef uint32_t (*moss_update_fn)(const char *version);
void moss_on_update(moss_update_fn fn);

// moss_defer_update asks the deployment to wait seconds (at most 86400; 0
// withdraws the request): what moss_on_update's function does with its
// answer. Host function: defer_update.
int moss_defer_update(uint32_t seconds);

// moss_name and moss_version return the component's name and version as the
// start event gave them ("" before it).
const char *moss_name(void);
const char *moss_version(void);

// The states moss_report_state accepts.
#define MOSS_STATE_RUNNING "RUNNING"
#define MOSS_STATE_ERRORED "ERRORED"   // the host discards this instance after the current call and restarts it
#define MOSS_STATE_FINISHED "FINISHED" // the host stops the component after the current call, for good

// moss_report_state reports the component's own state; reason may be NULL.
int moss_report_state(const char *state, const char *reason);

// ---- Logging ---------------------------------------------------------------

// Levels are slog's; values in between are allowed.
#define MOSS_LEVEL_DEBUG (-4)
#define MOSS_LEVEL_INFO 0
#define MOSS_LEVEL_WARN 4
#define MOSS_LEVEL_ERROR 8

// moss_log formats a line (printf) and writes it to the component's log. A
// line over 64 KiB is cut at 64 KiB; bytes that are not UTF-8 are written as
// '?'. Returns 0 or an error (MOSS_E_RATE when the host's log flood limit
// drops the line).
int moss_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define moss_debugf(...) moss_log(MOSS_LEVEL_DEBUG, __VA_ARGS__)
#define moss_infof(...) moss_log(MOSS_LEVEL_INFO, __VA_ARGS__)
#define moss_warnf(...) moss_log(MOSS_LEVEL_WARN, __VA_ARGS__)
#define moss_errorf(...) moss_log(MOSS_LEVEL_ERROR, __VA_ARGS__)

// ---- Publish and subscribe -------------------------------------------------

// moss_publish publishes payload[0:len] on topic (no wildcards). It returns
// once the message is queued for every subscriber. Errors: MOSS_E_INVALID,
// MOSS_E_DENIED, MOSS_E_TOO_LARGE, MOSS_E_RATE.
int moss_publish(const char *topic, const void *payload, size_t len);

// moss_message_fn handles a message. topic and payload are NUL-terminated
// (the NUL is not counted in len), which is handy for text payloads; both are
// valid until the handler returns.
typedef void (*moss_message_fn)(const char *topic, const uint8_t *payload, size_t len, void *ctx);

// moss_subscribe subscribes to an MQTT-style filter (`+` one level, `#` the
// rest) and returns the subscription's id (>= 0) or an error (MOSS_E_INVALID,
// MOSS_E_DENIED, MOSS_E_FULL). Subscribing again to the same filter returns
// the same id and replaces its handler.
int64_t moss_subscribe(const char *filter, moss_message_fn fn, void *ctx);

// moss_unsubscribe ends a subscription; its handler is not called again.
int moss_unsubscribe(int64_t id);

// ---- Timers ----------------------------------------------------------------

typedef void (*moss_timer_fn)(int64_t id, void *ctx);

// moss_every calls fn every ms milliseconds (at least 1), moss_after once
// after ms. Both return the timer's id (>= 0) or an error (MOSS_E_INVALID,
// MOSS_E_FULL: 64 timers per instance). A timer whose previous call is still
// queued skips a beat rather than queueing a second call.
int64_t moss_every(uint32_t ms, moss_timer_fn fn, void *ctx);
int64_t moss_after(uint32_t ms, moss_timer_fn fn, void *ctx);

// moss_timer_stop stops a timer; its function is not called again.
// MOSS_E_NOT_FOUND for a timer that is not running (a one-shot timer that
// has fired included).
int moss_timer_stop(int64_t id);

// ---- Configuration ---------------------------------------------------------

// Configuration is a tree of maps. A path names a value in it: keys
// separated by '.', as "mqtt.broker"; "" is the whole tree. (For keys that
// hold a '.', use moss_config_get_cborv.)
//
// The getters return MOSS_E_NOT_FOUND when there is no value at path and
// MOSS_E_TYPE when the value is of another type (the output is then left
// alone, so it can hold a default):
//
//	double threshold = 28.0;
//	int rc = moss_config_get_double("threshold", &threshold);
//	if (rc < 0 && rc != MOSS_E_NOT_FOUND) ...

// moss_config_get_string copies the text at path into buf, NUL-terminated
// and cut to cap-1 bytes, and returns its full length (like snprintf).
int moss_config_get_string(const char *path, char *buf, size_t cap);
// moss_config_get_double reads a number: a float, or an integer converted.
int moss_config_get_double(const char *path, double *out);
// moss_config_get_int64 reads an integer; a float is MOSS_E_TYPE, even 5.0
// (as the Go SDK decodes: an integer into a float, not the reverse).
int moss_config_get_int64(const char *path, int64_t *out);
int moss_config_get_bool(const char *path, bool *out);

// moss_config_get_cbor points *value at the CBOR of the value at path (maps
// have text keys; integers, floats, text, booleans, arrays). The bytes stay
// valid until the next call of an SDK function that calls the host.
int moss_config_get_cbor(const char *path, const uint8_t **value, size_t *len);
int moss_config_get_cborv(const char *const *keys, size_t nkeys, const uint8_t **value, size_t *len);

// moss_config_update_cbor updates the configuration at path with one CBOR
// value (see cbor.h to build one): two maps merge key by key, a null deletes
// a key, anything else replaces the value at path. Watchers are notified.
int moss_config_update_cbor(const char *path, const uint8_t *value, size_t len);

// moss_config_fn is called when the configuration at or under the watched
// path changes; path[0:n] is where it changed.
typedef void (*moss_config_fn)(const char *const *path, size_t n, void *ctx);

// moss_config_watch calls fn on every change at or under path (by this
// component or by a deployment) and returns the watch's id or an error
// (MOSS_E_FULL: 64 watches). Watches last as long as the instance.
int64_t moss_config_watch(const char *path, moss_config_fn fn, void *ctx);

// ---- Secrets ---------------------------------------------------------------

// moss_secret_get copies the secret name into buf (at most cap bytes, not
// NUL-terminated) and returns its full length; when that is over cap only cap
// bytes were copied. The SDK keeps no copy. Errors: MOSS_E_DENIED,
// MOSS_E_NOT_FOUND, MOSS_E_UNAVAILABLE.
int moss_secret_get(const char *name, void *buf, size_t cap);

// ---- AWS IoT Core ----------------------------------------------------------

// QoS levels for moss_cloud_publish. AWS IoT Core has no QoS 2.
#define MOSS_QOS_AT_MOST_ONCE 0  // fire and forget; refused while the link is down unless the host keeps QoS 0 offline
#define MOSS_QOS_AT_LEAST_ONCE 1 // acknowledged by the broker or kept in the host's spool

// moss_cloud_publish sends payload[0:len] to topic on AWS IoT Core through
// the host's MQTT connection. With MOSS_QOS_AT_LEAST_ONCE it returns once the
// message is safe: acknowledged by the broker, or in the host's spool, which
// sends it in order when the link is up. The manifest must grant
// "cloud.publish" on the topic. Errors: MOSS_E_INVALID (topic over 256 bytes,
// over 7 slashes, wildcards, a reserved $ topic), MOSS_E_TOO_LARGE (payload
// over 128 KiB), MOSS_E_UNSUPPORTED (QoS 2), MOSS_E_FULL (the spool is full:
// the message was not taken), MOSS_E_UNAVAILABLE (QoS 0 while offline, or a
// host without a cloud link), MOSS_E_DENIED.
int moss_cloud_publish(const char *topic, const void *payload, size_t len, int qos);

// moss_cloud_subscribe calls fn with every message from AWS IoT Core whose
// topic matches filter, and returns the subscription's id (>= 0; ids come
// from the same space as moss_subscribe's) or an error: MOSS_E_INVALID,
// MOSS_E_DENIED (no "cloud.subscribe" grant covering the filter), MOSS_E_FULL
// (the component's subscriptions, or IoT Core's 50 per connection),
// MOSS_E_UNAVAILABLE (a host without a cloud link). The host makes the broker
// subscription again after every reconnect; the call succeeds while offline.
int64_t moss_cloud_subscribe(const char *filter, moss_message_fn fn, void *ctx);

// moss_cloud_unsubscribe ends a subscription moss_cloud_subscribe made
// (moss_unsubscribe is for the local bus's); fn is not called again.
// MOSS_E_NOT_FOUND for an id that is not a cloud subscription.
int moss_cloud_unsubscribe(int64_t id);

// ---- Device shadows --------------------------------------------------------

// The host's shadow service has AWS IoT Device Shadow semantics (ABI.md,
// "Device shadows"). In every call thing may be NULL or "" for the device's
// own thing, and name NULL or "" for the classic shadow. The access policy
// resource is "$aws/things/THING/shadow" (classic) or
// "$aws/things/THING/shadow/name/NAME".
//
// moss_shadow_get, _update, _delete and _list return the shadow service's
// status, as IoT Core's HTTP-like codes: 200 (accepted) or 400, 404, 409,
// 413, 415, 429, 500 (rejected); or a negative MOSS_E_* code when the call
// failed (then buf is left alone). The JSON document the service answered
// (accepted: the shadow's state, metadata, version; rejected: {"code",
// "message", ...}) is copied into buf, NUL-terminated and cut to cap-1
// bytes, and its full length stored in *len, as snprintf does: *len >= cap
// means the document was cut. buf may be NULL when cap is 0, len NULL when
// the length is not wanted. Read the document with moss_json_* below:
//
//	char doc[4096];
//	size_t n;
//	int status = moss_shadow_get(NULL, "thermostat", doc, sizeof doc, &n);
//	if (status == 200 && n < sizeof doc) {
//		moss_json v, color;
//		if (moss_json_parse(doc, n, &v) == MOSS_OK && moss_json_get(v, "state.reported.color", &color) == MOSS_OK) ...
//	}
//
// Besides those: MOSS_E_DENIED (no grant), MOSS_E_UNAVAILABLE (no shadow
// service), MOSS_E_INVALID (a bad thing or shadow name).

// moss_shadow_get reads a shadow (grant "shadow.get"): 200 and the
// get/accepted document, or 404.
int moss_shadow_get(const char *thing, const char *name, char *buf, size_t cap, size_t *len);

// moss_shadow_update sends the update document doc (JSON, NUL-terminated),
// e.g. {"state":{"reported":{"color":"RED"}},"version":7} (grant
// "shadow.update"): 200 and the update/accepted document, or 400 (bad JSON or
// structure), 409 (version conflict), 413 (state too large), 429 (rate) and
// the update/rejected one. MOSS_E_TOO_LARGE for a document over 128 KiB.
int moss_shadow_update(const char *thing, const char *name, const char *doc, char *buf, size_t cap, size_t *len);

// moss_shadow_delete deletes a shadow (grant "shadow.delete"): 200 and the
// delete/accepted document, or 404.
int moss_shadow_delete(const char *thing, const char *name, char *buf, size_t cap, size_t *len);

// moss_shadow_list lists a thing's named shadows (grant "shadow.list" on
// "$aws/things/THING"), page_size of them (1 to 100; 0 for the service's
// default, 25) from next_token (NULL or "" for the first page): 200 and
// {"results":["name",...],"nextToken":"...","timestamp":N}.
int moss_shadow_list(const char *thing, uint32_t page_size, const char *next_token, char *buf, size_t cap, size_t *len);

// What moss_shadow_watch watches: the shadow's update/delta messages (the
// difference between desired and reported, after each update that makes
// one) or its update/documents messages (previous and current state).
#define MOSS_SHADOW_DELTA "delta"
#define MOSS_SHADOW_DOCUMENTS "documents"

// moss_shadow_watch calls fn with every message on the shadow's
// update/delta or update/documents topic (topic is MOSS_SHADOW_DELTA or
// MOSS_SHADOW_DOCUMENTS): a local-bus subscription granted by "shadow.get" on
// the shadow. fn gets IoT Core's topic and JSON document. It returns the
// subscription's id (>= 0) or an error (MOSS_E_INVALID, MOSS_E_DENIED,
// MOSS_E_FULL); end it with moss_unsubscribe.
int64_t moss_shadow_watch(const char *thing, const char *name, const char *topic, moss_message_fn fn, void *ctx);

// ---- JSON ------------------------------------------------------------------

// A small JSON (RFC 8259) reader for shadow documents and payloads: it
// never allocates, never reads outside the bytes it is given, and does not
// recurse. moss_json_parse checks a whole document once; a moss_json is then
// a view of one value inside it (the caller keeps the document), and the
// accessors find members and read strings, numbers and booleans:
//
//	moss_json doc, t;
//	double target = 20;
//	if (moss_json_parse(payload, len, &doc) != MOSS_OK) ... // not JSON
//	if (moss_json_get(doc, "state.target_temperature", &t) == MOSS_OK && moss_json_number(t, &target) == MOSS_OK) ...
//
// The accessors check every length against the view they get, so even a
// view the caller made up cannot make them read outside it; on a view that
// moss_json_parse did not check they may just fail.

// The deepest nesting of arrays and objects moss_json_parse takes.
#define MOSS_JSON_MAX_DEPTH 512

typedef enum moss_json_type {
	MOSS_JSON_INVALID = -1, // not a value (an empty or malformed view)
	MOSS_JSON_NULL,
	MOSS_JSON_BOOL,
	MOSS_JSON_NUMBER,
	MOSS_JSON_STRING,
	MOSS_JSON_ARRAY,
	MOSS_JSON_OBJECT,
} moss_json_type;

// moss_json is one JSON value: p[0:n] are its bytes, inside a document the
// caller keeps. {NULL, 0} is no value.
typedef struct moss_json {
	const char *p;
	size_t n;
} moss_json;

// moss_json_parse checks that doc[0:len] is exactly one JSON value
// (whitespace around it allowed; nested at most MOSS_JSON_MAX_DEPTH deep) and
// points *v at it. MOSS_OK, or MOSS_E_INVALID (moss_last_error() is left
// alone: the JSON functions call no host). Strings are not checked for
// UTF-8.
int moss_json_parse(const char *doc, size_t len, moss_json *v);

// moss_json_type_of returns v's type.
moss_json_type moss_json_type_of(moss_json v);

// moss_json_get finds the value at path in v: member names separated by
// '.', each looked up in the object the previous one found ("state.delta";
// "" is v itself). Of a name repeated in one object, the last member wins,
// as Go's encoding/json and JavaScript have it. MOSS_OK, MOSS_E_NOT_FOUND (a
// name is absent) or MOSS_E_TYPE (a value on the path is not an object). A
// member whose value is null is found: check its type.
int moss_json_get(moss_json v, const char *path, moss_json *out);

// moss_json_member finds the member name[0:name_len] of object v (a name
// holding '.' included), as moss_json_get does one step.
int moss_json_member(moss_json v, const char *name, size_t name_len, moss_json *out);

// moss_json_next walks an object's members or an array's items: set *pos to
// 0, then each call stores the next member's name (a JSON string: read it with
// moss_json_string; {NULL, 0} for an array item) in *name (which may be NULL)
// and its value in *value, and returns true; false after the last one, or
// when v is not an array or an object.
//
//	size_t pos = 0;
//	moss_json k, item;
//	while (moss_json_next(obj, &pos, &k, &item)) ...
bool moss_json_next(moss_json v, size_t *pos, moss_json *name, moss_json *value);

// moss_json_string copies the string v, its escapes decoded (as UTF-8; an
// unpaired surrogate becomes U+FFFD), into buf, NUL-terminated and cut to
// cap-1 bytes, and returns its full length (like snprintf); MOSS_E_TYPE when
// v is not a string. buf may be NULL when cap is 0.
int moss_json_string(moss_json v, char *buf, size_t cap);

// moss_json_string_is reports whether v is a string equal to s (escapes
// decoded).
bool moss_json_string_is(moss_json v, const char *s);

// moss_json_number reads the number v, rounded to the nearest double.
// MOSS_E_TYPE when v is not a number, or is one too large for a double
// (1e400); *out is then left alone.
int moss_json_number(moss_json v, double *out);

// moss_json_bool reads true or false; MOSS_E_TYPE for anything else.
int moss_json_bool(moss_json v, bool *out);

#ifdef __cplusplus
}
#endif

#endif
