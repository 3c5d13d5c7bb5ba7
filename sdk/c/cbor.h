// cbor.h - the compact CBOR (RFC 8949) codec of the Moss C SDK.
//
// Only what the Moss ABI uses (abi/ABI.md, "Overview"): definite lengths, no
// tags, text-keyed maps. The encoder writes preferred (shortest) heads into a
// growable buffer; the decoder reads from a byte range and checks every
// length against the bytes left, so no input can make it read outside the
// range or allocate.
//
// Both sides are "sticky": after the first failure (out of memory, malformed
// input, a type other than the one asked for) every later call does nothing
// and returns false, so a sequence of calls needs one check at the end.
//
// Not safe for concurrent use; a component runs one call at a time anyway.
#ifndef MOSS_CBOR_H
#define MOSS_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The ABI's limits on every request and response (ABI.md, "Overview").
#define MOSS_CBOR_MAX_DEPTH 16          // containers nested in one another
#define MOSS_CBOR_MAX_ITEMS 4096        // array items or map pairs in one container
#define MOSS_CBOR_MAX_SIZE (1u << 20)   // bytes in one data item

// ---- Encoder ---------------------------------------------------------------

typedef struct moss_cbor_enc {
	uint8_t *buf; // malloc'd; NULL until the first write
	size_t len;   // bytes written
	size_t cap;   // bytes allocated
	bool failed;  // an allocation failed: buf holds an incomplete item
} moss_cbor_enc;

// moss_cbor_enc_reset empties e for a new item, keeping its buffer.
void moss_cbor_enc_reset(moss_cbor_enc *e);
// moss_cbor_enc_free releases e's buffer and empties it.
void moss_cbor_enc_free(moss_cbor_enc *e);

void moss_cbor_put_uint(moss_cbor_enc *e, uint64_t v);
void moss_cbor_put_int(moss_cbor_enc *e, int64_t v);
void moss_cbor_put_bytes(moss_cbor_enc *e, const void *p, size_t n);
void moss_cbor_put_text(moss_cbor_enc *e, const char *s, size_t n);
void moss_cbor_put_str(moss_cbor_enc *e, const char *s); // NUL-terminated text
// moss_cbor_put_array and moss_cbor_put_map write a header; the n items (for
// a map, n key-value pairs) follow.
void moss_cbor_put_array(moss_cbor_enc *e, size_t n);
void moss_cbor_put_map(moss_cbor_enc *e, size_t n);
void moss_cbor_put_bool(moss_cbor_enc *e, bool v);
void moss_cbor_put_null(moss_cbor_enc *e);
// moss_cbor_put_double writes a float64 (9 bytes).
void moss_cbor_put_double(moss_cbor_enc *e, double v);
// moss_cbor_put_raw appends bytes that are already CBOR.
void moss_cbor_put_raw(moss_cbor_enc *e, const void *p, size_t n);

// ---- Decoder ---------------------------------------------------------------

typedef struct moss_cbor_dec {
	const uint8_t *p;   // next byte
	const uint8_t *end; // one past the last byte
	bool failed;
} moss_cbor_dec;

// What the next item is (moss_cbor_type). INVALID at the end of the input,
// after a failure, or before a byte that starts no well-formed item.
typedef enum moss_cbor_type {
	MOSS_CBOR_INVALID = -1,
	MOSS_CBOR_UINT,
	MOSS_CBOR_NEGINT,
	MOSS_CBOR_BYTES,
	MOSS_CBOR_TEXT,
	MOSS_CBOR_ARRAY,
	MOSS_CBOR_MAP,
	MOSS_CBOR_TAG,
	MOSS_CBOR_BOOL,
	MOSS_CBOR_NULL,
	MOSS_CBOR_UNDEFINED,
	MOSS_CBOR_FLOAT,  // half, single or double precision
	MOSS_CBOR_SIMPLE, // another simple value
} moss_cbor_type;

void moss_cbor_dec_init(moss_cbor_dec *d, const void *p, size_t n);
moss_cbor_type moss_cbor_type_of(const moss_cbor_dec *d);
// moss_cbor_done reports whether every byte was read without a failure.
bool moss_cbor_done(const moss_cbor_dec *d);

// Each reader consumes one item of its type; any other type fails d.
bool moss_cbor_read_uint(moss_cbor_dec *d, uint64_t *v);
bool moss_cbor_read_int(moss_cbor_dec *d, int64_t *v); // uint or negint within int64
// moss_cbor_read_text and moss_cbor_read_bytes point into the input: the
// text is not NUL-terminated.
bool moss_cbor_read_text(moss_cbor_dec *d, const char **s, size_t *n);
bool moss_cbor_read_bytes(moss_cbor_dec *d, const uint8_t **p, size_t *n);
bool moss_cbor_read_array(moss_cbor_dec *d, size_t *n); // the header; n items follow
bool moss_cbor_read_map(moss_cbor_dec *d, size_t *n);   // the header; n pairs follow
// moss_cbor_read_map_unique reads a map header as moss_cbor_read_map does,
// and fails d unless the n pairs that follow are there, each keyed by text,
// no key given twice (the ABI refuses such a map: ABI.md, "Overview"). It
// reads the map ahead without consuming it or allocating.
bool moss_cbor_read_map_unique(moss_cbor_dec *d, size_t *n);
bool moss_cbor_read_bool(moss_cbor_dec *d, bool *v);
bool moss_cbor_read_null(moss_cbor_dec *d);
// moss_cbor_read_double reads a float of any width, or an integer.
bool moss_cbor_read_double(moss_cbor_dec *d, double *v);
// moss_cbor_skip consumes one whole item, whatever it is (tags included,
// nested at most 64 deep).
bool moss_cbor_skip(moss_cbor_dec *d);
// moss_cbor_text_is compares a text read by moss_cbor_read_text with a
// NUL-terminated string.
bool moss_cbor_text_is(const char *s, size_t n, const char *lit);

// moss_cbor_valid reports whether p[0:n] is exactly one data item following
// the ABI's rules as the host applies them: well-formed, definite lengths, no
// tags, text in UTF-8, map keys are text, at most MOSS_CBOR_MAX_DEPTH nested
// containers (the outermost counts), MOSS_CBOR_MAX_ITEMS items (or pairs) in
// each, MOSS_CBOR_MAX_SIZE bytes in all. It does not look for duplicate map
// keys, which the host refuses too (moss_cbor_read_map_unique does).
bool moss_cbor_valid(const void *p, size_t n);

// moss_cbor_utf8_len returns the length of the well-formed UTF-8 sequence
// at s[0:n] (RFC 3629), or 0 if there is none.
size_t moss_cbor_utf8_len(const uint8_t *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
