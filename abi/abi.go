// Package abi is the contract between the Moss host and its WebAssembly
// components: the import module name, host function and guest export names,
// error codes, event kinds and the CBOR message types that cross the boundary.
//
// abi/ABI.md is the specification; this package is its Go form. It is a leaf:
// it imports nothing from the host, so the host and the Go SDK (built for
// GOOS=wasip1 GOARCH=wasm) share the same definitions. The tables in this file
// are the single source of truth for names and codes; ABI.md and the other
// SDKs' constants are checked against them by TestSpecMatchesTable.
package abi

// Version is the ABI version this package describes. A guest reports the
// version it was built for through the ExportABIVersion export; the host
// refuses a guest whose version it does not speak.
//
// Host functions may be added without changing Version (a guest importing a
// function the host lacks is refused at instantiation, naming the function);
// any change to an existing function, export or event does change it.
const Version = 1

// ImportModule is the Wasm import module name of every host function.
const ImportModule = "moss"

// Guest exports the host calls.
const (
	// ExportABIVersion: () -> i32. Returns the ABI version the guest speaks.
	ExportABIVersion = "moss_abi_version"
	// ExportEventBuffer: (size i32) -> i32. Returns the address of a buffer of
	// at least size bytes that stays valid until the next call of it.
	ExportEventBuffer = "moss_event_buffer"
	// ExportOnEvents: (ptr i32, len i32) -> i32. Delivers a CBOR array of
	// events written by the host at ptr; 0 means handled, anything else is a
	// component error.
	ExportOnEvents = "moss_on_events"
	// ExportInitialize is the WASI reactor initialiser, run once at
	// instantiation when present.
	ExportInitialize = "_initialize"
	// ExportMemory is the linear memory the host reads requests from.
	ExportMemory = "memory"
	// ExportInterrupt is reserved: the host adds a global of that name to
	// every module it compiles, to stop a call past its deadline. A module
	// that exports the name itself is refused.
	ExportInterrupt = "moss_interrupt"
)

// Host functions, all of the form
//
//	(req_ptr i32, req_len i32, resp_ptr i32, resp_cap i32) -> i32
//
// except FuncResponse, which is (ptr i32, cap i32) -> i32. See ABI.md.
const (
	FuncLog          = "log"
	FuncPublish      = "publish"
	FuncSubscribe    = "subscribe"
	FuncUnsubscribe  = "unsubscribe"
	FuncConfigGet    = "config_get"
	FuncConfigUpdate = "config_update"
	FuncConfigWatch  = "config_watch"
	FuncTimerStart   = "timer_start"
	FuncTimerStop    = "timer_stop"
	FuncReportState  = "report_state"
	FuncSecretGet    = "secret_get"
	// Cloud: the host's MQTT link to AWS IoT Core.
	FuncCloudPublish     = "cloud_publish"
	FuncCloudSubscribe   = "cloud_subscribe"
	FuncCloudUnsubscribe = "cloud_unsubscribe"
	// Device shadows: the host's local shadow service.
	FuncShadowGet    = "shadow_get"
	FuncShadowUpdate = "shadow_update"
	FuncShadowDelete = "shadow_delete"
	FuncShadowList   = "shadow_list"
	FuncShadowWatch  = "shadow_watch"
	// FuncStateSave hands a snapshot to the next version during an upgrade.
	FuncStateSave = "state_save"
	// FuncDeferUpdate asks a deployment to wait before updating the
	// component (Greengrass's DeferComponentUpdate).
	FuncDeferUpdate = "defer_update"
	FuncResponse    = "response"
)

// HostFunctions lists every host function of this ABI version in the order
// ABI.md documents them.
var HostFunctions = []string{
	FuncLog, FuncPublish, FuncSubscribe, FuncUnsubscribe,
	FuncConfigGet, FuncConfigUpdate, FuncConfigWatch,
	FuncTimerStart, FuncTimerStop, FuncReportState, FuncSecretGet,
	FuncCloudPublish, FuncCloudSubscribe, FuncCloudUnsubscribe,
	FuncShadowGet, FuncShadowUpdate, FuncShadowDelete, FuncShadowList, FuncShadowWatch,
	FuncStateSave, FuncDeferUpdate, FuncResponse,
}

// Code is a host function status. A host function returns a non-negative
// response length on success and -Code on failure.
type Code int32

// Error codes. Their numbers are part of the ABI and never change.
const (
	OK             Code = 0
	ErrMemory      Code = 1  // a pointer or length lies outside the guest's memory
	ErrDecode      Code = 2  // the request is not well-formed CBOR of the expected shape
	ErrInvalid     Code = 3  // a field has an invalid value (topic, filter, path, state...)
	ErrDenied      Code = 4  // the component's access policy does not grant the operation
	ErrNotFound    Code = 5  // no such key, subscription or timer
	ErrTooLarge    Code = 6  // the request or payload exceeds a size limit
	ErrFull        Code = 7  // a quota is used up (subscriptions, timers)
	ErrRate        Code = 8  // a rate limit was hit; retry later
	ErrUnavailable Code = 9  // the service is not available now
	ErrNoResponse  Code = 10 // FuncResponse was called with no response pending
	ErrInternal    Code = 11 // the host failed; the message says why
	ErrUnsupported Code = 12 // the host does not support this request
)

var codeNames = [...]string{
	OK:             "ok",
	ErrMemory:      "memory out of bounds",
	ErrDecode:      "malformed request",
	ErrInvalid:     "invalid argument",
	ErrDenied:      "access denied",
	ErrNotFound:    "not found",
	ErrTooLarge:    "too large",
	ErrFull:        "quota full",
	ErrRate:        "rate limited",
	ErrUnavailable: "unavailable",
	ErrNoResponse:  "no response pending",
	ErrInternal:    "internal error",
	ErrUnsupported: "unsupported",
}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "unknown error"
}

// EventKind says what an event carries.
type EventKind uint8

// Event kinds. Their numbers are part of the ABI and never change.
const (
	EventStart   EventKind = 1 // the instance may start: name, version, abi
	EventMessage EventKind = 2 // a message on a subscription: id, topic, payload
	EventTimer   EventKind = 3 // a host timer fired: id
	EventConfig  EventKind = 4 // configuration under a watched path changed: id, path
	EventStop    EventKind = 5 // the instance is being stopped: reason
	EventUpdate  EventKind = 6 // a deployment is about to update the component: version
)

// States a component may report with FuncReportState.
const (
	StateRunning  = "RUNNING"
	StateErrored  = "ERRORED"
	StateFinished = "FINISHED"
)

// Log levels for LogRequest.Level; they are log/slog's numbers.
const (
	LevelDebug = -4
	LevelInfo  = 0
	LevelWarn  = 4
	LevelError = 8
)
