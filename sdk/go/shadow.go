package moss

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/moss-edge/moss/abi"
)

// The device shadow functions reach the host's shadow service, which has the
// semantics of the AWS IoT Device Shadow service: the documents they take
// and return are IoT Core's JSON, byte for byte. In every one an empty thing
// is the device's own thing (the host's [cloud] thing_name, "moss" when none
// is set) and an empty name the thing's classic shadow. The manifest grants
// each operation on the shadow's topic prefix, $aws/things/THING/shadow for
// the classic shadow and $aws/things/THING/shadow/name/NAME for a named one:
//
//	[[access]]
//	operations = ["shadow.get", "shadow.update"]
//	resources = ["$aws/things/*/shadow/name/*"]
//
// A request the shadow service rejects (a malformed document, a version
// conflict, no such shadow, too many requests) fails with a *ShadowError
// holding IoT Core's code and rejected document; a request the host refuses
// before the service sees it fails with an *Error, as every host function
// does (ErrDenied, ErrInvalid, ErrTooLarge, ErrUnavailable).

// ShadowError is a shadow request the shadow service rejected: IoT Core's
// error code (400 bad request, 404 no such shadow, 409 version conflict, 413
// document too large, 415 not UTF-8, 429 too many requests, 500 internal
// failure), its message and the rejected document as the service sent it
// ({"code":404,"message":"...","timestamp":...,"clientToken":"..."}).
//
//	var e *moss.ShadowError
//	if errors.As(err, &e) && e.Code == 404 { ... }
type ShadowError struct {
	Code    int
	Message string
	Payload []byte

	fn hostFunc
}

func (e *ShadowError) Error() string {
	s := "moss: " + e.fn.String() + ": rejected: " + strconv.Itoa(e.Code)
	if e.Message != "" {
		s += " " + e.Message
	}
	return s
}

// GetShadow returns a shadow's get/accepted document: its state (desired,
// reported, and delta when they differ), metadata, version and timestamp.
// Host function: shadow_get; grant: shadow.get.
//
// Errors: *ShadowError with Code 404 when the shadow does not exist (or 429,
// 500); ErrDenied, ErrInvalid (a malformed thing or shadow name),
// ErrUnavailable (the host has no shadow service).
func GetShadow(thing, name string) ([]byte, error) {
	return shadowCall(fnShadowGet, hostShadowGet, thing, name, nil)
}

// UpdateShadow sends an update document, such as
// {"state":{"reported":{"color":"RED"}}}, and returns the update/accepted
// document. The service publishes the shadow's update/delta (when desired
// and reported differ) and update/documents messages as IoT Core does.
// Host function: shadow_update; grant: shadow.update.
//
// Errors: *ShadowError with Code 400 (not JSON, not an update document,
// nested too deep, a clientToken over 64 bytes), 409 (the document's
// version is not the shadow's), 413 (the state would exceed the size
// limit), 415, 429 or 500; ErrDenied, ErrInvalid, ErrTooLarge (doc over
// 128 KiB), ErrUnavailable.
func UpdateShadow(thing, name string, doc []byte) ([]byte, error) {
	return shadowCall(fnShadowUpdate, hostShadowUpdate, thing, name, doc)
}

// DeleteShadow deletes a shadow. Its version is remembered: a shadow made
// again soon after continues from it. Host function: shadow_delete; grant:
// shadow.delete.
//
// Errors: *ShadowError with Code 404 when the shadow does not exist (or 429,
// 500); ErrDenied, ErrInvalid, ErrUnavailable.
func DeleteShadow(thing, name string) error {
	_, err := shadowCall(fnShadowDelete, hostShadowDelete, thing, name, nil)
	return err
}

// shadowListPage is the page size ListShadows asks for: IoT Core's
// largest, so that few calls are made.
const shadowListPage = 100

// ListShadows returns the names of a thing's named shadows (IoT Core's
// ListNamedShadowsForThing), following the service's pages to the end.
// Host function: shadow_list; grant: shadow.list on $aws/things/THING.
//
// Errors: *ShadowError (429, 500); ErrDenied, ErrInvalid, ErrUnavailable.
func ListShadows(thing string) ([]string, error) {
	var names []string
	token := ""
	for {
		doc, err := shadowList(thing, token)
		if err != nil {
			return nil, err
		}
		var page struct {
			Results   []string `json:"results"`
			NextToken string   `json:"nextToken"`
		}
		if err := json.Unmarshal(doc, &page); err != nil {
			return nil, fmt.Errorf("moss: shadow_list: response document: %w", err)
		}
		names = append(names, page.Results...)
		if page.NextToken == "" {
			return names, nil
		}
		if page.NextToken == token {
			return nil, fmt.Errorf("moss: shadow_list: the service returned next token %q again", token)
		}
		token = page.NextToken
	}
}

func shadowList(thing, token string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 1
	if thing != "" {
		n++
	}
	if token != "" {
		n++
	}
	g.req = abi.AppendMap(g.req[:0], n)
	if thing != "" {
		g.req = abi.AppendText(abi.AppendText(g.req, "thing"), thing)
	}
	g.req = abi.AppendUint(abi.AppendText(g.req, "page_size"), shadowListPage)
	if token != "" {
		g.req = abi.AppendText(abi.AppendText(g.req, "next_token"), token)
	}
	resp, err := call(fnShadowList, hostShadowList)
	if err != nil {
		return nil, err
	}
	return shadowResult(fnShadowList, resp)
}

// OnShadowDelta calls h with each of a shadow's update/delta messages
// (published after an update while desired and reported differ: the
// desired values reported lacks). Message.Topic is
// $aws/things/THING/shadow[/name/NAME]/update/delta and Message.Payload
// the delta document. Host function: shadow_watch; grant: shadow.get.
//
// The watch is a local-bus subscription: Unsubscribe ends it. Its Filter
// is the topic, with "+" for the thing when thing is "" (the SDK does not
// know the device's thing name; the messages' topics spell it out).
//
// Errors: ErrDenied, ErrInvalid (a malformed thing or shadow name), ErrFull
// (the component's max_subscriptions), ErrUnavailable.
func OnShadowDelta(thing, name string, h func(Message)) (Subscription, error) {
	return shadowWatch(thing, name, "delta", h)
}

// OnShadowDocuments calls h with each of a shadow's update/documents
// messages (published after every accepted update, with the previous and
// current documents), as OnShadowDelta does for update/delta. Host
// function: shadow_watch; grant: shadow.get.
func OnShadowDocuments(thing, name string, h func(Message)) (Subscription, error) {
	return shadowWatch(thing, name, "documents", h)
}

func shadowWatch(thing, name, topic string, h func(Message)) (Subscription, error) {
	filter := shadowTopic(thing, name) + "/update/" + topic
	if h == nil {
		return Subscription{}, fmt.Errorf("moss: shadow_watch %q: %w", filter, errNilFunc)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = appendShadowTarget(g.req[:0], thing, name, 1)
	g.req = abi.AppendText(abi.AppendText(g.req, "topic"), topic)
	resp, err := call(fnShadowWatch, hostShadowWatch)
	if err != nil {
		return Subscription{}, err
	}
	id, err := decodeID(fnShadowWatch, resp)
	if err != nil {
		return Subscription{}, err
	}
	// The host shares one id per topic among subscribe and shadow_watch,
	// so the handler joins any others of that id, and Unsubscribe ends it
	// with unsubscribe.
	s := &subscription{id: id, filter: filter, handler: h}
	updateSubs(id, append(slices.Clip((*subs.Load())[id]), s))
	return Subscription{s}, nil
}

// shadowTopic is a shadow's topic prefix, "+" standing for the device's
// thing.
func shadowTopic(thing, name string) string {
	if thing == "" {
		thing = "+"
	}
	if name == "" {
		return "$aws/things/" + thing + "/shadow"
	}
	return "$aws/things/" + thing + "/shadow/name/" + name
}

// shadowCall runs shadow_get, shadow_update or shadow_delete.
func shadowCall(fn hostFunc, imp hostImport, thing, name string, payload []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	extra := 0
	if len(payload) > 0 {
		extra = 1
	}
	g.req = appendShadowTarget(g.req[:0], thing, name, extra)
	if extra > 0 {
		g.req = abi.AppendBytes(abi.AppendText(g.req, "payload"), payload)
	}
	resp, err := call(fn, imp)
	if err != nil {
		return nil, err
	}
	return shadowResult(fn, resp)
}

// appendShadowTarget starts a request map of the thing and name, omitted
// when empty, and extra more entries.
func appendShadowTarget(dst []byte, thing, name string, extra int) []byte {
	n := extra
	if thing != "" {
		n++
	}
	if name != "" {
		n++
	}
	dst = abi.AppendMap(dst, n)
	if thing != "" {
		dst = abi.AppendText(abi.AppendText(dst, "thing"), thing)
	}
	if name != "" {
		dst = abi.AppendText(abi.AppendText(dst, "name"), name)
	}
	return dst
}

// shadowResult decodes a {status, payload} response: the payload (a copy:
// resp is the SDK's reused buffer) when the status is 200, a *ShadowError
// otherwise.
func shadowResult(fn hostFunc, resp []byte) ([]byte, error) {
	status, payload, err := decodeShadowResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("moss: %s: response: %w", fn, err)
	}
	doc := bytes.Clone(payload)
	if status == 200 {
		if doc == nil {
			doc = []byte{}
		}
		return doc, nil
	}
	e := &ShadowError{Code: int(status), Payload: doc, fn: fn}
	var rejected struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(doc, &rejected) == nil {
		if rejected.Code != 0 {
			e.Code = rejected.Code
		}
		e.Message = rejected.Message
	}
	return nil, e
}

func decodeShadowResponse(b []byte) (status uint64, payload []byte, err error) {
	r := abi.NewReader(b)
	pairs, err := r.Map()
	if err != nil {
		return 0, nil, err
	}
	haveStatus := false
	var seen abi.KeySet
	for range pairs {
		key, err := r.Text()
		if err != nil {
			return 0, nil, err
		}
		if !seen.Add(key) {
			return 0, nil, fmt.Errorf("%w (%q)", abi.ErrDuplicateKey, key)
		}
		switch string(key) {
		case "status":
			if status, err = r.Uint(); err != nil {
				return 0, nil, err
			}
			haveStatus = true
		case "payload":
			if payload, err = r.Bytes(); err != nil {
				return 0, nil, err
			}
		default:
			if err := r.Skip(); err != nil {
				return 0, nil, err
			}
		}
	}
	if !haveStatus {
		return 0, nil, fmt.Errorf("no status")
	}
	return status, payload, nil
}
