package moss

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/moss-edge/moss/abi"
)

// hostFunc names a host function by its index in abi.HostFunctions;
// TestHostFuncTable keeps the two in step.
type hostFunc uint8

const (
	fnLog hostFunc = iota
	fnPublish
	fnSubscribe
	fnUnsubscribe
	fnConfigGet
	fnConfigUpdate
	fnConfigWatch
	fnTimerStart
	fnTimerStop
	fnReportState
	fnSecretGet
	fnCloudPublish
	fnCloudSubscribe
	fnCloudUnsubscribe
	fnShadowGet
	fnShadowUpdate
	fnShadowDelete
	fnShadowList
	fnShadowWatch
	fnStateSave
	fnDeferUpdate
)

func (f hostFunc) String() string { return abi.HostFunctions[f] }

// Error is a failed host call as the host reported it: the ABI error code and
// the host's message. Every error a host function returns unwraps to one:
//
//	var e *moss.Error
//	if errors.As(err, &e) && e.Code == abi.ErrDenied { ... }
type Error = abi.Error

// Sentinels for the error codes a component may want to branch on:
// errors.Is(err, moss.ErrNotFound) holds for any error a host function
// returned with that code.
var (
	ErrInvalid     error = codeError(abi.ErrInvalid)     // an argument has an invalid value
	ErrDenied      error = codeError(abi.ErrDenied)      // the access policy does not grant it
	ErrNotFound    error = codeError(abi.ErrNotFound)    // no such configuration key, subscription or timer
	ErrTooLarge    error = codeError(abi.ErrTooLarge)    // a request or payload exceeds a size limit
	ErrFull        error = codeError(abi.ErrFull)        // a quota (subscriptions, timers, watches) is used up
	ErrRate        error = codeError(abi.ErrRate)        // a rate limit was hit; retry later
	ErrUnavailable error = codeError(abi.ErrUnavailable) // the service is not available now
	ErrInternal    error = codeError(abi.ErrInternal)    // the host failed
	ErrUnsupported error = codeError(abi.ErrUnsupported) // the host does not support the request
)

// codeError is a sentinel: comparable, so errors.Is finds it, and matched
// by code by callError.Is.
type codeError abi.Code

func (c codeError) Error() string { return "moss: " + abi.Code(c).String() }

// callError is what a failed host call returns: the host's *Error, named after
// the host function so a log line says which call failed.
type callError struct {
	fn  hostFunc
	err *Error
}

func (e *callError) Error() string { return "moss: " + e.fn.String() + ": " + e.err.Error() }

func (e *callError) Unwrap() error { return e.err }

func (e *callError) Is(target error) bool {
	c, ok := target.(codeError)
	return ok && abi.Code(c) == e.err.Code
}

// initialResponse is the response buffer's first size: every fixed-shape
// response ({"id": n}) fits, and config values usually do.
const initialResponse = 256

// maxKeptBuffer bounds the request and response buffers kept between calls,
// so that one large publish or configuration value does not pin its size of
// memory for the instance's life.
const maxKeptBuffer = 64 << 10

// hostImport calls one host function: req is the request, resp the buffer
// offered for the response. Each is a wrapper of one Wasm import (see
// imports_wasip1.go).
type hostImport func(req, resp []byte) int32

// call runs host function fn, through its import imp, with the request in
// g.req and returns its response, which aliases g.resp until the next call.
// g.mu must be held.
func call(fn hostFunc, imp hostImport) ([]byte, error) {
	if cap(g.resp) == 0 {
		g.resp = make([]byte, initialResponse)
	}
	n := imp(g.req, g.resp[:cap(g.resp)])
	if cap(g.req) > maxKeptBuffer {
		g.req = nil
	}
	if n < 0 {
		return nil, fetchError(fn, abi.Code(-n))
	}
	if int(n) <= cap(g.resp) {
		return g.resp[:n], nil
	}
	// The response did not fit and is pending: grow and fetch it.
	resp, rc := fetch(int(n))
	if rc < 0 {
		return nil, &callError{fn, &Error{Code: abi.Code(-rc), Message: "fetching the response failed"}}
	}
	return resp, nil
}

// send runs host function fn, which has no response, through its import
// imp with the request in g.req. g.mu must be held.
func send(fn hostFunc, imp hostImport) error {
	n := imp(g.req, nil)
	if cap(g.req) > maxKeptBuffer {
		g.req = nil
	}
	if n < 0 {
		return fetchError(fn, abi.Code(-n))
	}
	return nil
}

// fetch copies the pending response into g.resp, growing it until the
// response fits (the host says how long it is each time it does not). It
// returns the response or the negative result of the response call. A
// response too large to keep a buffer for gets a buffer of its own.
func fetch(size int) ([]byte, int32) {
	buf := g.resp
	for {
		if size > cap(buf) {
			buf = make([]byte, size)
		}
		n := hostResponse(buf[:cap(buf)])
		if n < 0 || int(n) <= cap(buf) {
			if cap(buf) <= maxKeptBuffer {
				g.resp = buf
			}
			return buf[:max(int(n), 0)], n
		}
		size = int(n)
	}
}

// fetchError builds the error for a call that returned -code, with the
// message the host left pending. The code is the call's own result: the
// message is only an explanation, and a guest works without it.
func fetchError(fn hostFunc, code abi.Code) error {
	e := &Error{Code: code}
	if resp, n := fetch(initialResponse); n >= 0 {
		e.Message = decodeErrorMessage(resp)
	}
	return &callError{fn, e}
}

// decodeErrorMessage reads the message of an {code, message} map, or returns
// "" if the map is not what the ABI says (a key twice included).
func decodeErrorMessage(b []byte) string {
	r := abi.NewReader(b)
	pairs, err := r.Map()
	if err != nil {
		return ""
	}
	var seen abi.KeySet
	var msg []byte
	for range pairs {
		key, err := r.Text()
		if err != nil || !seen.Add(key) {
			return ""
		}
		if string(key) == "message" {
			if msg, err = r.Text(); err != nil {
				return ""
			}
		} else if err := r.Skip(); err != nil {
			return ""
		}
	}
	return string(msg)
}

// decodeID reads the {"id": n} response of subscribe, timer_start and
// config_watch.
func decodeID(fn hostFunc, b []byte) (uint32, error) {
	r := abi.NewReader(b)
	pairs, err := r.Map()
	if err != nil {
		return 0, fmt.Errorf("moss: %s: response: %w", fn, err)
	}
	var seen abi.KeySet
	id, haveID := uint64(0), false
	for range pairs {
		key, err := r.Text()
		if err != nil {
			return 0, fmt.Errorf("moss: %s: response: %w", fn, err)
		}
		if !seen.Add(key) {
			return 0, fmt.Errorf("moss: %s: response: %w (%q)", fn, abi.ErrDuplicateKey, key)
		}
		if string(key) != "id" {
			if err := r.Skip(); err != nil {
				return 0, fmt.Errorf("moss: %s: response: %w", fn, err)
			}
			continue
		}
		if id, err = r.Uint(); err != nil || id > 0xffffffff {
			return 0, fmt.Errorf("moss: %s: response: id is not a uint32", fn)
		}
		haveID = true
	}
	if !haveID {
		return 0, fmt.Errorf("moss: %s: response has no id", fn)
	}
	return uint32(id), nil
}

// appendInt appends a CBOR integer of either sign; abi only has AppendUint.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return abi.AppendUint(dst, uint64(v))
	}
	// Major type 1 carries -1-v. Build it as a uint head and flip the type
	// bits, which are the top three of the first byte.
	start := len(dst)
	dst = abi.AppendUint(dst, uint64(-1-v))
	dst[start] |= 1 << 5
	return dst
}

// appendPath appends a path as a CBOR array of text strings.
func appendPath(dst []byte, path []string) []byte {
	dst = abi.AppendArray(dst, len(path))
	for _, p := range path {
		dst = abi.AppendText(dst, p)
	}
	return dst
}

// appendIDRequest encodes {"id": id}, the request of unsubscribe and
// timer_stop.
func appendIDRequest(dst []byte, id uint32) []byte {
	return abi.AppendUint(abi.AppendText(abi.AppendMap(dst, 1), "id"), uint64(id))
}

// addressOf is the address of b's first byte, as the host sees it.
func addressOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

var errNilFunc = errors.New("nil function")
