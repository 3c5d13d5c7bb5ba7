package abi

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Requests and responses of the host functions. Field names are the CBOR map
// keys documented in ABI.md; every map key is a text string.

// LogRequest is the request of FuncLog.
type LogRequest struct {
	Level int    `cbor:"level"`
	Msg   string `cbor:"msg"`
}

// PublishRequest is the request of FuncPublish.
type PublishRequest struct {
	Topic   string `cbor:"topic"`
	Payload []byte `cbor:"payload"`
}

// SubscribeRequest is the request of FuncSubscribe.
type SubscribeRequest struct {
	Filter string `cbor:"filter"`
}

// IDResponse answers FuncSubscribe, FuncConfigWatch and FuncTimerStart.
type IDResponse struct {
	ID uint32 `cbor:"id"`
}

// IDRequest is the request of FuncUnsubscribe and FuncTimerStop.
type IDRequest struct {
	ID uint32 `cbor:"id"`
}

// ConfigGetRequest is the request of FuncConfigGet and FuncConfigWatch. An
// empty path names the whole configuration.
type ConfigGetRequest struct {
	Path []string `cbor:"path"`
}

// ConfigGetResponse answers FuncConfigGet.
type ConfigGetResponse struct {
	Value cbor.RawMessage `cbor:"value"`
}

// ConfigUpdateRequest is the request of FuncConfigUpdate. When both the old
// and the new value are maps they are merged key by key (recursively); a null
// value deletes the key; anything else replaces the value at Path.
type ConfigUpdateRequest struct {
	Path  []string        `cbor:"path"`
	Value cbor.RawMessage `cbor:"value"`
}

// TimerStartRequest is the request of FuncTimerStart.
type TimerStartRequest struct {
	IntervalMS uint32 `cbor:"interval_ms"`
	Repeat     bool   `cbor:"repeat"`
}

// ReportStateRequest is the request of FuncReportState.
type ReportStateRequest struct {
	State  string `cbor:"state"`
	Reason string `cbor:"reason,omitempty"`
}

// CloudPublishRequest is the request of FuncCloudPublish. QoS is 0 (the
// default) or 1.
type CloudPublishRequest struct {
	Topic   string `cbor:"topic"`
	Payload []byte `cbor:"payload"`
	QoS     uint8  `cbor:"qos,omitempty"`
}

// ShadowRequest is the request of FuncShadowGet, FuncShadowUpdate and
// FuncShadowDelete. An empty Thing is the device's own thing; an empty
// Name is the classic shadow. Payload is the JSON request document as
// IoT Core takes it on the shadow topics (empty for get and delete is
// allowed).
type ShadowRequest struct {
	Thing   string `cbor:"thing,omitempty"`
	Name    string `cbor:"name,omitempty"`
	Payload []byte `cbor:"payload,omitempty"`
}

// ShadowResponse answers the shadow functions: Status is 200 with the
// accepted document, or IoT Core's error code (400, 404, 409, 413, 415,
// 429, 500) with its rejected document ({code, message, timestamp,
// clientToken}).
type ShadowResponse struct {
	Status  uint16 `cbor:"status"`
	Payload []byte `cbor:"payload"`
}

// ShadowListRequest is the request of FuncShadowList.
type ShadowListRequest struct {
	Thing     string `cbor:"thing,omitempty"`
	PageSize  uint32 `cbor:"page_size,omitempty"`
	NextToken string `cbor:"next_token,omitempty"`
}

// ShadowWatchRequest is the request of FuncShadowWatch: Topic is "delta"
// (update/delta) or "documents" (update/documents).
type ShadowWatchRequest struct {
	Thing string `cbor:"thing,omitempty"`
	Name  string `cbor:"name,omitempty"`
	Topic string `cbor:"topic"`
}

// StateSaveRequest is the request of FuncStateSave.
type StateSaveRequest struct {
	Data []byte `cbor:"data"`
}

// DeferUpdateRequest is the request of FuncDeferUpdate.
type DeferUpdateRequest struct {
	Seconds uint32 `cbor:"seconds"`
}

// StopUpgrade is the stop event's reason when a new version of the
// component replaces the instance (hot swap); the guest may hand state to
// it with FuncStateSave.
const StopUpgrade = "upgrade"

// SecretGetRequest is the request of FuncSecretGet.
type SecretGetRequest struct {
	Name string `cbor:"name"`
}

// SecretGetResponse answers FuncSecretGet.
type SecretGetResponse struct {
	Value []byte `cbor:"value"`
}

// Error is a failed host call: the pending response after a host function
// failed (a guest fetches it with FuncResponse to learn why), and the error
// type host services return to say which code the guest gets.
type Error struct {
	Code    Code   `cbor:"code"`
	Message string `cbor:"message"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Event is one entry of the array passed to ExportOnEvents. Which fields are
// set depends on Kind (see ABI.md); absent fields are omitted on the wire.
type Event struct {
	Kind    EventKind `cbor:"kind"`
	ID      uint32    `cbor:"id,omitempty"`
	Topic   string    `cbor:"topic,omitempty"`
	Payload []byte    `cbor:"payload,omitempty"`
	Path    []string  `cbor:"path,omitempty"`
	Name    string    `cbor:"name,omitempty"`
	Version string    `cbor:"version,omitempty"`
	ABI     uint32    `cbor:"abi,omitempty"`
	Reason  string    `cbor:"reason,omitempty"`
}
