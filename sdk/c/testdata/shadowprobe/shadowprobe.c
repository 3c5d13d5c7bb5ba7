// shadowprobe.c exercises the C SDK's shadow and cloud functions against a
// real host and publishes what it saw on probe/<what>; c_test.go
// (TestShadowProbe) runs it and checks. Build:
// sdk/c/build.sh sdk/c/testdata/shadowprobe/shadowprobe.c -o shadowprobe.wasm
//
// Its manifest grants shadow.get, shadow.update and shadow.delete on the
// named shadows of any thing, shadow.list on the device's thing, and
// cloud.publish and cloud.subscribe on one topic and filter.

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "moss.h"

#define SHADOW "probe-s"

static void say(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *what, const char *fmt, ...) {
	char topic[64], buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	snprintf(topic, sizeof topic, "probe/%s", what);
	if (moss_publish(topic, buf, strlen(buf)) < 0) moss_errorf("publish %s: %s", topic, moss_last_error());
}

// field reads the string or number at path in doc into out, as text; "-"
// when there is none.
static const char *field(const char *doc, size_t len, const char *path, char out[256]) {
	moss_json v, at;
	double d;
	snprintf(out, 256, "-");
	if (moss_json_parse(doc, len, &v) != MOSS_OK || moss_json_get(v, path, &at) != MOSS_OK) return out;
	if (moss_json_type_of(at) == MOSS_JSON_STRING) {
		moss_json_string(at, out, 256);
	} else if (moss_json_number(at, &d) == MOSS_OK) {
		snprintf(out, 256, "%g", d);
	}
	return out;
}

// result renders a shadow call's status with a field of its document, or
// its error.
static const char *result(int status, const char *doc, size_t len, const char *path, char out[512]) {
	char f[256];
	if (status < 0) {
		snprintf(out, 512, "%s|%s", moss_strerror(status), moss_last_error());
	} else {
		snprintf(out, 512, "%d %s", status, field(doc, len, path, f));
	}
	return out;
}

static int64_t delta_watch;
static int deltas;

static void on_delta(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	char f[256];
	say("delta", "%d %s %s %s", ++deltas, topic, field((const char *)payload, len, "state.color", f), (const char *)ctx);
}

static void on_documents(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)ctx, (void)topic;
	char f[256];
	say("documents", "%s", field((const char *)payload, len, "current.state.desired.color", f));
}

static void on_cmd(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)topic, (void)len, (void)ctx;
	const char *cmd = (const char *)payload;
	if (strcmp(cmd, "unwatch") == 0) {
		say("unwatch", "%d", moss_unsubscribe(delta_watch));
	} else if (strcmp(cmd, "ping") == 0) {
		say("pong", "%d", deltas);
	}
}

static int start(void) {
	char doc[4096], r[512];
	size_t n = 0;
	int st = moss_shadow_get(NULL, SHADOW, doc, sizeof doc, &n);
	say("get-missing", "%s", result(st, doc, n, "message", r));
	st = moss_shadow_update(NULL, SHADOW, "{\"state\":{\"desired\":{\"color\":\"RED\"},\"reported\":{\"color\":\"GREEN\"}}}", doc,
	                        sizeof doc, &n);
	say("update", "%s", result(st, doc, n, "version", r));
	st = moss_shadow_get("", SHADOW, doc, sizeof doc, &n);
	say("get", "%s", result(st, doc, n, "state.delta.color", r));
	// A buffer too small: the document is cut, NUL-terminated, and its
	// full length reported.
	char small[16];
	size_t full = 0;
	st = moss_shadow_get(NULL, SHADOW, small, sizeof small, &full);
	say("get-cut", "%d %d %zu %d", st, full == n, strlen(small), full > sizeof small);
	st = moss_shadow_update(NULL, SHADOW, "{", doc, sizeof doc, &n);
	say("update-bad", "%s", result(st, doc, n, "code", r));
	st = moss_shadow_update(NULL, SHADOW, "{\"state\":{\"reported\":{\"n\":1}},\"version\":99}", doc, sizeof doc, &n);
	say("update-conflict", "%s", result(st, doc, n, "code", r));

	// A page of the thing's named shadows, walked with moss_json_next.
	st = moss_shadow_list(NULL, 0, NULL, doc, sizeof doc, &n);
	char names[512] = "";
	moss_json v, results, item;
	if (st == 200 && moss_json_parse(doc, n, &v) == MOSS_OK && moss_json_get(v, "results", &results) == MOSS_OK) {
		size_t pos = 0;
		while (moss_json_next(results, &pos, NULL, &item)) {
			char name[128];
			moss_json_string(item, name, sizeof name);
			strncat(names, names[0] ? "," : "", sizeof names - strlen(names) - 1);
			strncat(names, name, sizeof names - strlen(names) - 1);
		}
	}
	say("list", "%d %s", st, names);
	st = moss_shadow_list(NULL, 1000, NULL, doc, sizeof doc, &n);
	say("list-bad", "%s", result(st, doc, n, "code", r));

	// Failures before the service: no grant, a bad name.
	st = moss_shadow_get(NULL, NULL, doc, sizeof doc, &n);
	say("classic-denied", "%s", result(st, doc, n, "", r));
	st = moss_shadow_get("other-thing", SHADOW, doc, sizeof doc, &n);
	say("other-thing", "%s", result(st, doc, n, "message", r));
	st = moss_shadow_list("other-thing", 0, NULL, doc, sizeof doc, &n);
	say("list-denied", "%s", result(st, doc, n, "", r));
	st = moss_shadow_get(NULL, "bad name!", doc, sizeof doc, &n);
	say("bad-name", "%s", result(st, doc, n, "", r));
	int64_t id = moss_shadow_watch(NULL, SHADOW, "nope", on_delta, NULL);
	say("watch-bad", "%s|%s", moss_strerror((int)id), moss_last_error());

	st = moss_shadow_delete(NULL, SHADOW, doc, sizeof doc, &n);
	say("delete", "%s", result(st, doc, n, "version", r));
	st = moss_shadow_delete(NULL, SHADOW, doc, sizeof doc, &n);
	say("delete-again", "%s", result(st, doc, n, "code", r));

	// The cloud functions, on a host whose cloud link is offline (no [cloud]
	// endpoint): QoS 1 goes to the spool, QoS 0 is refused; subscriptions
	// are taken, to be made when the link comes up.
	int q1 = moss_cloud_publish("dt/probe", "1", 1, MOSS_QOS_AT_LEAST_ONCE);
	int q0 = moss_cloud_publish("dt/probe", "0", 1, MOSS_QOS_AT_MOST_ONCE);
	int q2 = moss_cloud_publish("dt/probe", "2", 1, 2);
	int denied = moss_cloud_publish("dt/other", "", 0, MOSS_QOS_AT_LEAST_ONCE);
	say("cloud-publish", "%s %s %s %s", moss_strerror(q1), moss_strerror(q0), moss_strerror(q2), moss_strerror(denied));
	id = moss_cloud_subscribe("cmd/#", on_delta, NULL);
	int64_t again = moss_cloud_subscribe("cmd/#", on_delta, NULL);
	int un = moss_cloud_unsubscribe(id);
	int un2 = moss_cloud_unsubscribe(id);
	say("cloud-subscribe", "%d %d %s", id > 0, again == id, moss_strerror(un));
	say("cloud-unsubscribe", "%s|%s", moss_strerror(un2), moss_last_error());

	delta_watch = moss_shadow_watch(NULL, SHADOW, MOSS_SHADOW_DELTA, on_delta, "ctx-ok");
	int64_t docs = moss_shadow_watch(NULL, SHADOW, MOSS_SHADOW_DOCUMENTS, on_documents, NULL);
	int64_t cmd = moss_subscribe("probe/cmd", on_cmd, NULL);
	say("watch", "%" PRId64 " %" PRId64 " %" PRId64, delta_watch, docs, cmd);
	return delta_watch < 0 || docs < 0 || cmd < 0;
}

__attribute__((constructor)) static void init(void) { moss_on_start(start); }
