// fixtures.c runs the SDK's CBOR code, built natively, over the ABI's shared
// fixtures (abi/testdata/fixtures.json); c_test.go builds it with
//
//	cc -I sdk/c sdk/c/cbor.c sdk/c/testdata/fixtures.c -lm
//
// and compares what it prints with the fixtures. Each input line is
// "<kind> <hex>"; each output line is a JSON object: {"want": {...}} with
// the decoded map (byte strings as "h'hex'", as the fixtures write them) or
// {"error": "E_DECODE"}; for requests also "encoded", the hex of the request
// the SDK itself builds from the decoded fields. Kind "valid" answers
// {"valid": bool}, what moss_cbor_valid says.
//
// moss.c is included, not linked, to reach its static decoders; the host
// functions it imports are defined here as a fake host.

#include "moss.c"

// ---- The fake host ---------------------------------------------------------

static uint8_t last_req[1 << 16]; // the last request the SDK made
static size_t last_req_len;
static const uint8_t *pending; // what `response` hands out
static size_t pending_len;

static int32_t record(const uint8_t *req, int32_t len) {
	memcpy(last_req, req, (size_t)len);
	last_req_len = (size_t)len;
	return 0;
}

// answer hands the guest a response as a host does: written when it fits,
// pending otherwise.
static int32_t answer(const uint8_t *b, size_t n, uint8_t *resp, int32_t cap) {
	if ((int32_t)n <= cap) {
		memcpy(resp, b, n);
	} else {
		pending = b, pending_len = n;
	}
	return (int32_t)n;
}

int32_t moss__log(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) { (void)r, (void)c; return record(q, n); }
int32_t moss__publish(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) { (void)r, (void)c; return record(q, n); }
int32_t moss__subscribe(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) {
	static const uint8_t id1[] = {0xa1, 0x62, 'i', 'd', 0x01};
	record(q, n);
	return answer(id1, sizeof id1, r, c);
}
#define UNUSED_HOST(name) \
	int32_t moss__##name(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) { (void)q, (void)n, (void)r, (void)c; return -12; }
UNUSED_HOST(unsubscribe)
UNUSED_HOST(config_get)
UNUSED_HOST(config_update)
UNUSED_HOST(config_watch)
UNUSED_HOST(timer_start)
UNUSED_HOST(timer_stop)
UNUSED_HOST(report_state)
UNUSED_HOST(secret_get)

int32_t moss__response(uint8_t *ptr, int32_t cap) {
	if (pending == NULL) return MOSS_E_NO_RESPONSE;
	if ((int32_t)pending_len > cap) return (int32_t)pending_len;
	memcpy(ptr, pending, pending_len);
	pending = NULL;
	return (int32_t)pending_len;
}

// ---- Output ----------------------------------------------------------------

static void print_hex(const uint8_t *p, size_t n) {
	for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static void print_string(const char *s, size_t n) {
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			printf("\\%c", c);
		} else if (c < 0x20) {
			printf("\\u%04x", c);
		} else {
			putchar(c);
		}
	}
	putchar('"');
}

static void print_bytes(const uint8_t *p, size_t n) {
	printf("\"h'");
	print_hex(p, n);
	printf("'\"");
}

// ---- Requests: a strict decoder, as the host's ------------------------------

// field is one key a request may hold.
typedef struct field {
	const char *key;
	moss_cbor_type type;
	text s; // the value, for TEXT and BYTES
	bool seen;
} field;

// strict decodes a request map: valid by the ABI's rules, known keys only,
// each at most once, of its type.
static bool strict(const uint8_t *b, size_t n, field *fields, size_t nfields) {
	if (!moss_cbor_valid(b, n)) return false;
	moss_cbor_dec d;
	moss_cbor_dec_init(&d, b, n);
	size_t pairs;
	if (!moss_cbor_read_map(&d, &pairs)) return false;
	for (size_t i = 0; i < pairs; i++) {
		text k;
		if (!moss_cbor_read_text(&d, &k.s, &k.n)) return false;
		field *f = NULL;
		for (size_t j = 0; j < nfields; j++) {
			if (moss_cbor_text_is(k.s, k.n, fields[j].key)) f = &fields[j];
		}
		if (f == NULL || f->seen || moss_cbor_type_of(&d) != f->type) return false;
		f->seen = true;
		const uint8_t *p;
		if (f->type == MOSS_CBOR_TEXT && !moss_cbor_read_text(&d, &f->s.s, &f->s.n)) return false;
		if (f->type == MOSS_CBOR_BYTES && !moss_cbor_read_bytes(&d, &p, &f->s.n)) return false;
		if (f->type == MOSS_CBOR_BYTES) f->s.s = (const char *)p;
	}
	return moss_cbor_done(&d);
}

// c_string copies t into a NUL-terminated buffer (the SDK's API takes C
// strings).
static const char *c_string(text t) {
	static char buf[1 << 16];
	memcpy(buf, t.s, t.n);
	buf[t.n] = 0;
	return buf;
}

static void ignore(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)topic, (void)payload, (void)len, (void)ctx;
}

static void request(const char *kind, const uint8_t *b, size_t n) {
	field publish[] = {{.key = "topic", .type = MOSS_CBOR_TEXT}, {.key = "payload", .type = MOSS_CBOR_BYTES}};
	field subscribe[] = {{.key = "filter", .type = MOSS_CBOR_TEXT}};
	bool pub = strcmp(kind, "publish") == 0;
	field *f = pub ? publish : subscribe;
	size_t nf = pub ? 2 : 1;
	if (!strict(b, n, f, nf)) {
		printf("{\"error\":\"E_DECODE\"}\n");
		return;
	}
	printf("{\"want\":{");
	for (size_t i = 0, first = 1; i < nf; i++) {
		if (!f[i].seen) continue;
		printf("%s\"%s\":", first ? "" : ",", f[i].key);
		first = 0;
		if (f[i].type == MOSS_CBOR_TEXT) {
			print_string(f[i].s.s, f[i].s.n);
		} else {
			print_bytes((const uint8_t *)f[i].s.s, f[i].s.n);
		}
	}
	printf("},\"encoded\":\"");
	last_req_len = 0;
	int64_t rc;
	if (pub) {
		rc = moss_publish(c_string(f[0].s), f[1].s.s, f[1].s.n);
	} else {
		rc = moss_subscribe(c_string(f[0].s), ignore, NULL);
	}
	if (rc < 0) {
		printf("SDK failed: %s", moss_last_error());
	} else {
		print_hex(last_req, last_req_len);
	}
	printf("\"}\n");
}

// ---- Responses and events: the SDK's own decoders ---------------------------

static void event_fixture(uint8_t *b, size_t n) {
	moss_cbor_dec d;
	moss_cbor_dec_init(&d, b, n);
	event ev;
	if (!read_event(&d, &ev) || !moss_cbor_done(&d)) {
		printf("{\"error\":\"E_DECODE\"}\n");
		return;
	}
	printf("{\"want\":{\"kind\":%llu", (unsigned long long)ev.kind);
	if (ev.has & HAS_ID) printf(",\"id\":%llu", (unsigned long long)ev.id);
	if (ev.has & HAS_ABI) printf(",\"abi\":%llu", (unsigned long long)ev.abi);
	const struct {
		unsigned bit;
		const char *key;
		text t;
	} texts[] = {
		{HAS_TOPIC, "topic", ev.topic},
		{HAS_NAME, "name", ev.name},
		{HAS_VERSION, "version", ev.version},
		{HAS_REASON, "reason", ev.reason},
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		if (!(ev.has & texts[i].bit)) continue;
		printf(",\"%s\":", texts[i].key);
		print_string(texts[i].t.s, texts[i].t.n);
	}
	if (ev.has & HAS_PAYLOAD) {
		printf(",\"payload\":");
		print_bytes(ev.payload, ev.payload_len);
	}
	if (ev.has & HAS_PATH) {
		printf(",\"path\":[");
		moss_cbor_dec p;
		moss_cbor_dec_init(&p, ev.path, (size_t)(ev.path_end - ev.path));
		for (size_t i = 0; i < ev.path_len; i++) {
			text t;
			moss_cbor_read_text(&p, &t.s, &t.n);
			printf("%s", i ? "," : "");
			print_string(t.s, t.n);
		}
		printf("]");
	}
	printf("}}\n");
}

static void id_fixture(const uint8_t *b, size_t n) {
	memcpy(resp, b, n < resp_cap ? n : resp_cap);
	resp_len = n;
	int64_t id = n <= resp_cap ? response_id("test") : -1;
	if (id < 0) {
		printf("{\"error\":\"E_DECODE\"}\n");
	} else {
		printf("{\"want\":{\"id\":%lld}}\n", (long long)id);
	}
}

static void error_fixture(const uint8_t *b, size_t n) {
	uint64_t code;
	const char *msg;
	size_t len;
	if (!read_error(b, n, &code, &msg, &len)) {
		printf("{\"error\":\"E_DECODE\"}\n");
		return;
	}
	// The way a guest meets it: a failed call, then `response`.
	pending = b, pending_len = n;
	host_error(-(int32_t)code, "test");
	printf("{\"want\":{\"code\":%llu,\"message\":", (unsigned long long)code);
	print_string(msg, len);
	printf("},\"last_error\":");
	print_string(moss_last_error(), strlen(moss_last_error()));
	printf("}\n");
}

int main(void) {
	static char line[1 << 18];
	static uint8_t bytes[1 << 17];
	while (fgets(line, sizeof line, stdin)) {
		char *kind = strtok(line, " \n");
		char *hex = strtok(NULL, " \n");
		size_t n = 0;
		for (; hex && hex[2 * n] && hex[2 * n + 1] && n < sizeof bytes; n++) {
			unsigned v;
			sscanf(hex + 2 * n, "%2x", &v);
			bytes[n] = (uint8_t)v;
		}
		if (kind == NULL) continue;
		if (strcmp(kind, "event") == 0) {
			event_fixture(bytes, n);
		} else if (strcmp(kind, "id") == 0) {
			id_fixture(bytes, n);
		} else if (strcmp(kind, "error") == 0) {
			error_fixture(bytes, n);
		} else if (strcmp(kind, "valid") == 0) {
			printf("{\"valid\":%s}\n", moss_cbor_valid(bytes, n) ? "true" : "false");
		} else if (strcmp(kind, "publish") == 0 || strcmp(kind, "subscribe") == 0) {
			request(kind, bytes, n);
		} else {
			printf("{\"unknown_kind\":\"%s\"}\n", kind);
		}
		fflush(stdout);
	}
	return 0;
}
