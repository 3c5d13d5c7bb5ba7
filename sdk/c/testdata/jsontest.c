// jsontest.c runs the SDK's JSON reader (json.c), built natively, over the
// documents json_test.go sends it, which compares the answers with Go's
// encoding/json. json_test.go builds it with
//
//	cc -I sdk/c sdk/c/json.c sdk/c/testdata/jsontest.c -lm
//
// Each input line is "<hex of a document> <hex of a path>" ("-" for the
// empty path); each output line is a JSON object: {"valid": bool} and, for a
// valid document, what moss_json_get found at the path: "rc", and for a value
// its "type" and what the reader makes of it ("string" in hex, "number" as
// text, "bool", or the "members" of a container: the names in hex and the
// types, in order).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moss.h"

static const char *const type_names[] = {"null", "bool", "number", "string", "array", "object"};

static const char *type_name(moss_json v) {
	moss_json_type t = moss_json_type_of(v);
	return t == MOSS_JSON_INVALID ? "invalid" : type_names[t];
}

static void print_hex(const char *p, size_t n) {
	putchar('"');
	for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)p[i]);
	putchar('"');
}

// unhex decodes s into a malloc'd buffer of exactly the decoded length, so
// the address sanitizer sees any read past a document's end.
static char *unhex(const char *s, size_t *n) {
	*n = strcmp(s, "-") == 0 ? 0 : strlen(s) / 2;
	char *b = malloc(*n ? *n : 1);
	for (size_t i = 0; i < *n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		b[i] = (char)v;
	}
	return b;
}

// string prints the string v in hex, reading it with every kind of buffer:
// exact, one byte short, and none.
static void string(moss_json v) {
	int n = moss_json_string(v, NULL, 0);
	char *full = malloc((size_t)n + 1);
	char *cut = malloc((size_t)n + 1);
	if (moss_json_string(v, full, (size_t)n + 1) != n || (n > 0 && moss_json_string(v, cut, (size_t)n) != n)) {
		printf(",\"string_error\":\"the lengths differ\"");
	} else if (n > 0 && (memcmp(cut, full, (size_t)n - 1) != 0 || cut[n - 1] != 0)) {
		printf(",\"string_error\":\"cut wrong\"");
	} else if (strlen(full) == (size_t)n && !moss_json_string_is(v, full)) {
		printf(",\"string_error\":\"moss_json_string_is false for its own text\"");
	}
	printf(",\"string\":");
	print_hex(full, (size_t)n);
	free(full);
	free(cut);
}

static void answer(const char *doc, size_t len, const char *path) {
	moss_json v;
	if (moss_json_parse(doc, len, &v) != MOSS_OK) {
		printf("{\"valid\":false}\n");
		return;
	}
	moss_json at;
	int rc = moss_json_get(v, path, &at);
	printf("{\"valid\":true,\"rc\":%d", rc);
	if (rc == MOSS_OK) {
		printf(",\"type\":\"%s\"", type_name(at));
		double d;
		bool b;
		switch (moss_json_type_of(at)) {
		case MOSS_JSON_STRING:
			string(at);
			break;
		case MOSS_JSON_NUMBER:
			rc = moss_json_number(at, &d);
			printf(",\"number_rc\":%d", rc);
			if (rc == MOSS_OK) printf(",\"number\":\"%.17g\"", d);
			break;
		case MOSS_JSON_BOOL:
			if (moss_json_bool(at, &b) == MOSS_OK) printf(",\"bool\":%s", b ? "true" : "false");
			break;
		case MOSS_JSON_ARRAY:
		case MOSS_JSON_OBJECT: {
			printf(",\"members\":[");
			size_t pos = 0;
			moss_json k, m;
			for (int i = 0; moss_json_next(at, &pos, &k, &m); i++) {
				printf("%s{\"type\":\"%s\"", i ? "," : "", type_name(m));
				if (k.p != NULL) {
					int n = moss_json_string(k, NULL, 0);
					char *name = malloc((size_t)n + 1);
					moss_json_string(k, name, (size_t)n + 1);
					printf(",\"name\":");
					print_hex(name, (size_t)n);
					free(name);
				}
				printf("}");
			}
			printf("]");
			break;
		}
		default:
			break;
		}
		// The wrong accessors refuse the value.
		if (moss_json_type_of(at) != MOSS_JSON_STRING && moss_json_string(at, NULL, 0) != MOSS_E_TYPE) printf(",\"wrong\":\"string\"");
		if (moss_json_type_of(at) != MOSS_JSON_NUMBER && moss_json_number(at, &d) != MOSS_E_TYPE) printf(",\"wrong\":\"number\"");
		if (moss_json_type_of(at) != MOSS_JSON_BOOL && moss_json_bool(at, &b) != MOSS_E_TYPE) printf(",\"wrong\":\"bool\"");
	}
	printf("}\n");
}

int main(void) {
	static char line[1 << 20];
	while (fgets(line, sizeof line, stdin)) {
		char *doc_hex = strtok(line, " \n");
		char *path_hex = strtok(NULL, " \n");
		if (doc_hex == NULL || path_hex == NULL) continue;
		size_t len, plen;
		char *doc = unhex(doc_hex, &len);
		char *path = unhex(path_hex, &plen);
		path = realloc(path, plen + 1);
		path[plen] = 0;
		answer(doc, len, path);
		free(doc);
		free(path);
		fflush(stdout);
	}
	return 0;
}
