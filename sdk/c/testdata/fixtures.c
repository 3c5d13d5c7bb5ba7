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
// {"id": 1}, the answer to the functions that subscribe.
static const uint8_t id1[] = {0xa1, 0x62, 'i', 'd', 0x01};
int32_t moss__subscribe(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) {
	record(q, n);
	return answer(id1, sizeof id1, r, c);
}
int32_t moss__cloud_publish(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) { (void)r, (void)c; return record(q, n); }
int32_t moss__cloud_subscribe(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) {
	record(q, n);
	return answer(id1, sizeof id1, r, c);
}
int32_t moss__shadow_watch(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) {
	record(q, n);
	return answer(id1, sizeof id1, r, c);
}
// The shadow functions answer {"status": 200, "payload": h'7b7d'} ("{}").
#define SHADOW_HOST(name)                                                                                      \
	int32_t moss__##name(const uint8_t *q, int32_t n, uint8_t *r, int32_t c) {                             \
		static const uint8_t ok[] = {0xa2, 0x66, 's', 't', 'a', 't', 'u', 's', 0x18, 200,                 \
		                             0x67, 'p', 'a', 'y', 'l', 'o', 'a', 'd', 0x42, '{', '}'};             \
		record(q, n);                                                                                  \
		return answer(ok, sizeof ok, r, c);                                                            \
	}
SHADOW_HOST(shadow_get)
SHADOW_HOST(shadow_update)
SHADOW_HOST(shadow_delete)
SHADOW_HOST(shadow_list)
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
UNUSED_HOST(cloud_unsubscribe)
UNUSED_HOST(state_save)
UNUSED_HOST(defer_update)

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
	text s;     // the value, for TEXT and BYTES
	uint64_t u; // the value, for UINT
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
		if (f->type == MOSS_CBOR_UINT && !moss_cbor_read_uint(&d, &f->u)) return false;
	}
	return moss_cbor_done(&d);
}

// c_string copies field i's text into a NUL-terminated buffer of its own
// (the SDK's API takes C strings); "" for a field left out.
static const char *c_string(const field *f, size_t i) {
	static char buf[3][1 << 16];
	if (f[i].seen) memcpy(buf[i], f[i].s.s, f[i].s.n);
	buf[i][f[i].seen ? f[i].s.n : 0] = 0;
	return buf[i];
}

static void ignore(const char *topic, const uint8_t *payload, size_t len, void *ctx) {
	(void)topic, (void)payload, (void)len, (void)ctx;
}

// The requests the SDK builds, by fixture kind (the host function's name):
// the keys each may hold, with their types.
#define T MOSS_CBOR_TEXT
#define B MOSS_CBOR_BYTES
#define U MOSS_CBOR_UINT
static const struct {
	const char *kind;
	const char *keys[3];
	moss_cbor_type types[3];
} requests[] = {
	{"publish", {"topic", "payload"}, {T, B}},
	{"subscribe", {"filter"}, {T}},
	{"cloud_publish", {"topic", "payload", "qos"}, {T, B, U}},
	{"cloud_subscribe", {"filter"}, {T}},
	{"shadow_get", {"thing", "name"}, {T, T}},
	{"shadow_update", {"thing", "name", "payload"}, {T, T, B}},
	{"shadow_delete", {"thing", "name"}, {T, T}},
	{"shadow_list", {"thing", "page_size", "next_token"}, {T, U, T}},
	{"shadow_watch", {"thing", "name", "topic"}, {T, T, T}},
};
#undef T
#undef B
#undef U

static bool is_request(const char *kind) {
	for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
		if (strcmp(requests[i].kind, kind) == 0) return true;
	}
	return false;
}

// call makes the SDK call for a request fixture's fields.
static int64_t call(const char *kind, const field *f) {
#define S(i) c_string(f, i)
	if (strcmp(kind, "publish") == 0) return moss_publish(S(0), f[1].s.s, f[1].s.n);
	if (strcmp(kind, "subscribe") == 0) return moss_subscribe(S(0), ignore, NULL);
	if (strcmp(kind, "cloud_publish") == 0) return moss_cloud_publish(S(0), f[1].s.s, f[1].s.n, (int)f[2].u);
	if (strcmp(kind, "cloud_subscribe") == 0) return moss_cloud_subscribe(S(0), ignore, NULL);
	if (strcmp(kind, "shadow_get") == 0) return moss_shadow_get(S(0), S(1), NULL, 0, NULL);
	if (strcmp(kind, "shadow_update") == 0) return moss_shadow_update(S(0), S(1), S(2), NULL, 0, NULL);
	if (strcmp(kind, "shadow_delete") == 0) return moss_shadow_delete(S(0), S(1), NULL, 0, NULL);
	if (strcmp(kind, "shadow_list") == 0) return moss_shadow_list(S(0), (uint32_t)f[1].u, S(2), NULL, 0, NULL);
	return moss_shadow_watch(S(0), S(1), S(2), ignore, NULL);
#undef S
}

static void request(const char *kind, const uint8_t *b, size_t n) {
	field f[3] = {{0}};
	size_t nf = 0;
	for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
		if (strcmp(requests[i].kind, kind) != 0) continue;
		for (; nf < 3 && requests[i].keys[nf]; nf++) {
			f[nf].key = requests[i].keys[nf];
			f[nf].type = requests[i].types[nf];
		}
	}
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
		} else if (f[i].type == MOSS_CBOR_UINT) {
			printf("%llu", (unsigned long long)f[i].u);
		} else {
			print_bytes((const uint8_t *)f[i].s.s, f[i].s.n);
		}
	}
	printf("},\"encoded\":\"");
	last_req_len = 0;
	int64_t rc = call(kind, f);
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

// shadow_fixture decodes a shadow function's {status, payload} response as
// the SDK does, and checks that a document larger than the caller's buffer
// is cut and NUL-terminated with its full length reported.
static void shadow_fixture(const uint8_t *b, size_t n) {
	if (!grow_resp(n)) abort();
	memcpy(resp, b, n);
	resp_len = n;
	static char doc[1 << 17];
	size_t len = 0;
	int status = shadow_result(0, "test", doc, sizeof doc, &len);
	if (status < 0) {
		printf("{\"error\":\"E_DECODE\"}\n");
		return;
	}
	char cut[4] = "xxx";
	size_t cut_len = 0;
	if (shadow_result(0, "test", cut, sizeof cut, &cut_len) != status || cut_len != len ||
	    strncmp(cut, doc, sizeof cut - 1) != 0 || cut[len < sizeof cut ? len : sizeof cut - 1] != 0) {
		printf("{\"error\":\"a document cut to 3 bytes: %s (%zu)\"}\n", cut, cut_len);
		return;
	}
	printf("{\"want\":{\"status\":%d,\"payload\":", status);
	print_bytes((const uint8_t *)doc, len);
	printf("}}\n");
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
		} else if (strcmp(kind, "shadow_response") == 0) {
			shadow_fixture(bytes, n);
		} else if (is_request(kind)) {
			request(kind, bytes, n);
		} else {
			printf("{\"unknown_kind\":\"%s\"}\n", kind);
		}
		fflush(stdout);
	}
	return 0;
}
