// probe.c exercises every function of the C SDK against a real host and
// publishes what it saw on probe/<what>; c_test.go (TestProbe) runs it and
// checks. Build: sdk/c/build.sh sdk/c/testdata/probe/probe.c -o probe.wasm
//
// On start it reads configuration of each type, fails a publish on purpose,
// subscribes, watches, and starts timers; commands published on probe/cmd
// drive the rest.

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor.h"
#include "moss.h"

// say publishes a formatted text on probe/<what>.
static void say(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *what, const char *fmt, ...) {
	char topic[64], buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	snprintf(topic, sizeof topic, "probe/%s", what);
	if (moss_publish(topic, buf, strlen(buf)) < 0) {
		moss_errorf("publish %s: %s", topic, moss_last_error());
	}
}

static int64_t echo_sub, every_timer;
static int every_count;

static void on_echo(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	// The payload is NUL-terminated for us: print it as a string.
	say("echo", "%s %s %zu %s", topic, (const char *)payload, len, (const char *)ctx);
}

static void on_after(int64_t id, void *ctx) {
	(void)ctx;
	say("after", "%" PRId64, id);
}

static void on_every(int64_t id, void *ctx) {
	(void)ctx;
	say("every", "%d", ++every_count);
	if (every_count == 3) say("every-stopped", "%d", moss_timer_stop(id));
}

static void on_config(const char *const *path, size_t n, void *ctx) {
	(void)ctx;
	char buf[256] = "";
	for (size_t i = 0; i < n; i++) {
		strncat(buf, i ? "/" : "", sizeof buf - strlen(buf) - 1);
		strncat(buf, path[i], sizeof buf - strlen(buf) - 1);
	}
	const uint8_t *v;
	size_t len;
	int rc = moss_config_get_cbor("watched.x", &v, &len);
	int64_t x = -1;
	moss_config_get_int64("watched.x", &x);
	say("config", "%s x=%" PRId64 " rc=%d len=%zu", buf, x, rc, len);
}

static void on_cmd(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)topic, (void)len, (void)ctx;
	const char *cmd = (const char *)payload;
	if (strcmp(cmd, "update") == 0) {
		moss_cbor_enc e = {0};
		moss_cbor_put_map(&e, 1);
		moss_cbor_put_str(&e, "x");
		moss_cbor_put_int(&e, 7);
		say("update", "%d", moss_config_update_cbor("watched", e.buf, e.len));
		moss_cbor_enc_free(&e);
	} else if (strcmp(cmd, "unsubscribe") == 0) {
		say("unsubscribed", "%d", moss_unsubscribe(echo_sub));
		say("unsubscribed-again", "%d", moss_unsubscribe(echo_sub));
	} else if (strcmp(cmd, "secret") == 0) {
		char buf[64];
		int n = moss_secret_get("token", buf, sizeof buf);
		say("secret", "%d %.*s", n, n > 0 ? n : 0, buf);
		n = moss_secret_get("other", buf, sizeof buf);
		say("secret-denied", "%d|%s", n, moss_last_error());
	} else if (strcmp(cmd, "log") == 0) {
		// 100 KiB, cut to 64 KiB by the SDK; then bytes that are not UTF-8.
		char *big = malloc(100 << 10);
		memset(big, 'x', 100 << 10);
		int a = moss_log(MOSS_LEVEL_INFO, "%.*s", 100 << 10, big);
		free(big);
		int b = moss_warnf("bad utf-8: \xff\xfe end");
		say("log", "%d %d", a, b);
	} else if (strcmp(cmd, "large") == 0) {
		// Over the 64 KiB the SDK keeps a request buffer for.
		size_t n = 100 << 10;
		char *big = malloc(n);
		memset(big, 'L', n);
		int rc = moss_publish("probe/large", big, n);
		free(big);
		say("after-large", "%d", rc);
	} else if (strcmp(cmd, "bad-timer") == 0) {
		int64_t rc = moss_every(0, on_every, NULL);
		say("bad-timer", "%" PRId64 "|%s|%s", rc, moss_strerror((int)rc), moss_last_error());
	} else if (strcmp(cmd, "errored") == 0) {
		say("erroring", "%d", moss_report_state(MOSS_STATE_ERRORED, "asked to"));
	} else if (strcmp(cmd, "finish") == 0) {
		say("finishing", "%d", moss_report_state(MOSS_STATE_FINISHED, "done"));
	} else {
		say("unknown", "%s", cmd);
	}
}

static void on_stop(const char *reason) { say("stopped", "%s", reason); }

static int start(void) {
	moss_infof("probe started name=%s version=%s", moss_name(), moss_version());

	char s[64];
	int n = moss_config_get_string("greeting", s, sizeof s);
	say("string", "%d %s", n, s);
	double d = 0;
	say("double", "%d %g", moss_config_get_double("ratio", &d), d);
	int64_t i = 0;
	say("int", "%d %" PRId64, moss_config_get_int64("count", &i), i);
	bool b = false;
	say("bool", "%d %d", moss_config_get_bool("flag", &b), b);
	n = moss_config_get_string("nested.inner", s, sizeof s);
	say("dotted", "%d %s", n, s);
	n = moss_config_get_int64("greeting", &i);
	say("type", "%d|%s %d", n, moss_strerror(n), moss_config_get_int64("ratio", &i));
	n = moss_config_get_double("missing", &d);
	say("missing", "%d|%s|%s", n, moss_strerror(n), moss_last_error());
	// Larger than the SDK's 512-byte response buffer: fetched with `response`.
	char *big = malloc(10000);
	n = moss_config_get_string("big", big, 10000);
	say("big", "%d %zu", n, strlen(big));
	free(big);
	const uint8_t *v;
	size_t len;
	n = moss_config_get_cbor("nested", &v, &len);
	char hex[256] = "";
	for (size_t k = 0; k < len && k < 100; k++) snprintf(hex + 2 * k, 3, "%02x", v[k]);
	say("raw", "%d %s", n, hex);
	static const char *const keys[] = {"dotted.key"};
	n = moss_config_get_cborv(keys, 1, &v, &len);
	say("cborv", "%d %zu", n, len);

	n = moss_publish("denied/topic", "x", 1);
	say("error", "%d|%s|%s", n, moss_strerror(n), moss_last_error());

	echo_sub = moss_subscribe("probe/in/#", on_echo, "ctx-ok");
	int64_t again = moss_subscribe("probe/in/#", on_echo, "ctx-ok");
	int64_t cmd = moss_subscribe("probe/cmd", on_cmd, NULL);
	int64_t watch = moss_config_watch("watched", on_config, NULL);
	int64_t after = moss_after(1, on_after, NULL);
	every_timer = moss_every(10, on_every, NULL);
	say("ids", "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64, echo_sub, again, cmd, watch, after,
	    every_timer);
	if (echo_sub < 0 || cmd < 0 || watch < 0 || after < 0 || every_timer < 0) {
		moss_errorf("start: %s", moss_last_error());
		return 1;
	}
	return 0;
}

__attribute__((constructor)) static void init(void) {
	moss_on_start(start);
	moss_on_stop(on_stop);
}
