// sink.c is the receiving side of the pub/sub benchmark in C (see
// bench/README.md), with the same behaviour as the Go sink (bench/guests/sink):
// it subscribes to bench/data and counts the messages of each run (the run
// number is the first 4 bytes of the payload, little-endian); when it has
// config count messages of one run it publishes the run number on
// bench/done. A run with lost messages never reaches count: the harness
// notices from the host's dropped counter instead.
//
// Build: sdk/c/build.sh bench/guests/sink-c/sink.c -o sink-c.wasm
#include <stdint.h>

#include "moss.h"

// The host calls one handler at a time, so the state needs no lock.
static int64_t count = 200000;
static uint32_t run = UINT32_MAX;
static int64_t got;

static void on_data(const char *topic, const uint8_t *p, size_t len, void *ctx) {
	(void)topic;
	(void)ctx;
	if (len < 4) {
		return;
	}
	uint32_t r = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	if (r != run) {
		run = r;
		got = 0;
	}
	got++;
	if (got == count) {
		uint8_t buf[4] = {(uint8_t)run, (uint8_t)(run >> 8), (uint8_t)(run >> 16), (uint8_t)(run >> 24)};
		int rc = moss_publish("bench/done", buf, sizeof buf);
		if (rc < 0) {
			moss_errorf("publish bench/done: %s", moss_last_error());
		}
	}
}

static int start(void) {
	int rc = moss_config_get_int64("count", &count);
	if (rc < 0 && rc != MOSS_E_NOT_FOUND) {
		moss_errorf("config count: %s", moss_last_error());
		return 1;
	}
	if (count < 1) {
		moss_errorf("config count %lld: must be at least 1", (long long)count);
		return 1;
	}
	int64_t id = moss_subscribe("bench/data", on_data, NULL);
	if (id < 0) {
		moss_errorf("subscribe bench/data: %s", moss_last_error());
		return 1;
	}
	return 0;
}

__attribute__((constructor)) static void init(void) { moss_on_start(start); }
