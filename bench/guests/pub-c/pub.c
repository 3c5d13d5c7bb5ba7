// pub.c is the publishing side of the pub/sub benchmark in C (see
// bench/README.md), with the same behaviour, configuration and grants as the
// Go publisher (bench/guests/pub). It waits for a message on bench/go, whose
// payload is a 4-byte little-endian run number, then publishes config count
// messages of 256 bytes on bench/data, in bursts of config burst messages per
// call so that no call comes near its deadline. Between bursts it publishes
// an empty message on bench/kick, which it subscribes to itself: the next
// burst then starts as soon as the host has delivered the kick, without the
// 1 ms floor of a host timer. When all are sent it publishes the run number
// on bench/sent.
//
// Each payload starts with the run number and the message's sequence number
// (both uint32, little-endian), so a sink can tell runs apart.
//
// With config cloud_qos = 0 or 1 the data messages go to the cloud link
// instead (moss_cloud_publish at that QoS); the kicks and the end marker stay
// on the local bus. With config autostart = true it also starts run 0 from
// its start function.
//
// Build: sdk/c/build.sh bench/guests/pub-c/pub.c -o pub-c.wasm
#include <stdbool.h>
#include <stdint.h>

#include "moss.h"

#define TOPIC_DATA "bench/data"
#define TOPIC_GO "bench/go"
#define TOPIC_KICK "bench/kick"
#define TOPIC_SENT "bench/sent"

// The host calls one handler at a time, so the state needs no lock.
static int64_t count = 200000;
static int64_t burst = 1000;
static int64_t qos = -1; // cloud_qos: -1 publishes on the local bus
static uint32_t run;
static int64_t sent;
static uint8_t payload[256];
static uint8_t run_buf[4];

static void put_u32(uint8_t *b, uint32_t v) {
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static void publish_burst(void) {
	if (sent >= count) {
		return;
	}
	int64_t n = count - sent < burst ? count - sent : burst;
	for (int64_t i = 0; i < n; i++) {
		put_u32(payload + 4, (uint32_t)sent);
		int rc = qos >= 0 ? moss_cloud_publish(TOPIC_DATA, payload, sizeof payload, (int)qos)
				  : moss_publish(TOPIC_DATA, payload, sizeof payload);
		if (rc < 0) {
			moss_errorf("publish %s: %s", TOPIC_DATA, moss_last_error());
			sent = count;
			return;
		}
		sent++;
	}
	const char *next = TOPIC_KICK;
	const uint8_t *p = NULL;
	size_t len = 0;
	if (sent >= count) {
		next = TOPIC_SENT;
		p = run_buf;
		len = sizeof run_buf;
	}
	if (moss_publish(next, p, len) < 0) {
		moss_errorf("publish %s: %s", next, moss_last_error());
	}
}

static void begin(uint32_t r) {
	run = r;
	sent = 0;
	put_u32(payload, run);
	put_u32(run_buf, run);
	publish_burst();
}

static void on_go(const char *topic, const uint8_t *p, size_t len, void *ctx) {
	(void)topic;
	(void)ctx;
	if (len < 4) {
		moss_warnf("%s: payload of %zu bytes, want a 4-byte run number", TOPIC_GO, len);
		return;
	}
	begin((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void on_kick(const char *topic, const uint8_t *p, size_t len, void *ctx) {
	(void)topic;
	(void)p;
	(void)len;
	(void)ctx;
	publish_burst();
}

// get_int and get_bool read one key; when it is absent the output keeps the
// default it holds. The SDK's message names the key.
static bool get_int(const char *key, int64_t *dst) {
	int rc = moss_config_get_int64(key, dst);
	if (rc < 0 && rc != MOSS_E_NOT_FOUND) {
		moss_errorf("%s", moss_last_error());
		return false;
	}
	return true;
}

static bool get_bool(const char *key, bool *dst) {
	int rc = moss_config_get_bool(key, dst);
	if (rc < 0 && rc != MOSS_E_NOT_FOUND) {
		moss_errorf("%s", moss_last_error());
		return false;
	}
	return true;
}

static int start(void) {
	bool autostart = false;
	// Every key is read, so that one start reports all the bad ones.
	bool ok = get_int("count", &count);
	ok &= get_int("burst", &burst);
	ok &= get_bool("autostart", &autostart);
	ok &= get_int("cloud_qos", &qos);
	if (!ok) {
		return 1;
	}
	if (count < 1 || burst < 1) {
		moss_errorf("config count %lld, burst %lld: both must be at least 1", (long long)count, (long long)burst);
		return 1;
	}
	if (moss_subscribe(TOPIC_GO, on_go, NULL) < 0) {
		moss_errorf("subscribe %s: %s", TOPIC_GO, moss_last_error());
		return 1;
	}
	if (moss_subscribe(TOPIC_KICK, on_kick, NULL) < 0) {
		moss_errorf("subscribe %s: %s", TOPIC_KICK, moss_last_error());
		return 1;
	}
	if (autostart) {
		begin(0);
	}
	return 0;
}

__attribute__((constructor)) static void init(void) { moss_on_start(start); }
