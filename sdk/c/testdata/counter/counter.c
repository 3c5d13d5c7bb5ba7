// counter.c - the C port of host/daemon/testdata/counter, for the handover
// scenario (internal/conformance.RunHandover): it counts the messages on
// "seq/in" and publishes "TAG SEQ COUNT" on "seq/out" for each, TAG being
// its configuration's "tag". On an upgrade it hands its count to the next
// version (moss_state_save), which carries on from it (moss_handover); with
// configuration "defer_s" it defers the first update announced by that many
// seconds (moss_on_update).
//
// Build: sdk/c/build.sh sdk/c/testdata/counter/counter.c -o counter.wasm

#include <stdio.h>
#include <string.h>

#include "moss.h"

static char tag[64] = "v1";
static uint64_t count;
static int64_t defer_s;

static void on_seq(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)topic, (void)ctx;
	char out[128];
	int n = snprintf(out, sizeof out, "%s %.*s %llu", tag, (int)len, (const char *)payload, (unsigned long long)++count);
	moss_publish("seq/out", out, (size_t)n);
}

static void stop(const char *reason) {
	if (strcmp(reason, "upgrade") == 0 && moss_state_save(&count, sizeof count) < 0) {
		moss_log(MOSS_LEVEL_ERROR, "state_save: %s", moss_last_error());
	}
}

static uint32_t update(const char *version) {
	(void)version;
	uint32_t d = (uint32_t)defer_s;
	defer_s = 0; // once
	return d;
}

static int start(void) {
	moss_config_get_string("tag", tag, sizeof tag);
	moss_config_get_int64("defer_s", &defer_s);
	size_t n;
	const uint8_t *h = moss_handover(&n);
	if (h != NULL && n == sizeof count) memcpy(&count, h, sizeof count);
	if (moss_subscribe("seq/in", on_seq, NULL) < 0) {
		moss_log(MOSS_LEVEL_ERROR, "subscribe: %s", moss_last_error());
		return 1;
	}
	return 0;
}

__attribute__((constructor)) static void init(void) {
	moss_on_start(start);
	moss_on_stop(stop);
	moss_on_update(update);
}
