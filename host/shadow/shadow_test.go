package shadow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock for timestamps and rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(sec int64) *clock { return &clock{t: time.Unix(sec, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(sec int64) {
	c.mu.Lock()
	c.t = time.Unix(sec, 0)
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openStore opens a store in dir, closed at the end of the test.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "moss.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newService starts a Service on a fresh store; both are closed at the end
// of the test. Rate limits are off unless opts sets them.
func newService(t testing.TB, opts Options) *Service {
	t.Helper()
	if opts.Store == nil {
		st := openStore(t, t.TempDir())
		t.Cleanup(func() { st.Close() })
		opts.Store = st
	}
	if opts.RateLimits == nil {
		opts.RateLimits = &RateLimits{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// jsonEqual fails unless got and want are the same JSON value (numbers
// compared as written).
func jsonEqual(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	g, err := decodeJSON(got)
	if err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	w, err := decodeJSON([]byte(want))
	if err != nil {
		t.Fatalf("%s: bad want: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, compact(want))
	}
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

// send publishes payload on topic through HandleTopic and returns the
// replies by topic, checking there is no duplicate.
func send(t testing.TB, s *Service, topic, payload string) map[string][]byte {
	t.Helper()
	msgs, ok := s.HandleTopic(context.Background(), topic, []byte(payload))
	if !ok {
		t.Fatalf("HandleTopic(%q) did not take the request", topic)
	}
	out := make(map[string][]byte, len(msgs))
	for _, m := range msgs {
		if _, dup := out[m.Topic]; dup {
			t.Fatalf("two replies on %s", m.Topic)
		}
		out[m.Topic] = m.Payload
	}
	return out
}

// wantError checks err is IoT Core's error code and message.
func wantError(t testing.TB, err error, code int, msg string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want %d %q", err, code, msg)
	}
	if e.Code != code || e.Message != msg {
		t.Fatalf("got %d %q, want %d %q", e.Code, e.Message, code, msg)
	}
	return e
}

func update(t testing.TB, s *Service, thing, name, payload string) Reply {
	t.Helper()
	r, err := s.Update(context.Background(), thing, name, []byte(payload), OriginLocal)
	if err != nil {
		t.Fatalf("update %s/%s with %s: %v", thing, name, payload, err)
	}
	return r
}

func get(t testing.TB, s *Service, thing, name string) []byte {
	t.Helper()
	r, err := s.Get(context.Background(), thing, name, nil)
	if err != nil {
		t.Fatalf("get %s/%s: %v", thing, name, err)
	}
	return r.Payload
}

// TestSimulatedWalkthrough replays, reply for reply, the AWS IoT Developer
// Guide's "Simulating Device Shadow service communications"
// (using-device-shadows.html): thing mySimulatedThing, named shadow
// simShadow1, the console as the device and the CLI as the app. The bodies
// below are the guide's own, with its timestamps.
func TestSimulatedWalkthrough(t *testing.T) {
	clk := newClock(1591140517)
	s := newService(t, Options{Now: clk.Now})
	const prefix = "$aws/things/mySimulatedThing/shadow/name/simShadow1"

	// "If you haven't created the named shadow, simShadow1, you receive a
	// message in the .../get/rejected topic and the code is 404."
	r := send(t, s, prefix+"/get", "")
	var rej struct {
		Code    int
		Message string
	}
	if err := json.Unmarshal(r[prefix+"/get/rejected"], &rej); err != nil {
		t.Fatalf("get/rejected: %v in %v", err, r)
	}
	if rej.Code != 404 || rej.Message != "No shadow exists with name: 'simShadow1'" {
		t.Fatalf("get/rejected = %+v", rej)
	}

	// The device creates the shadow. The guide's shadow is at version 3 by
	// then; three identical reports at the same second get it there.
	create := `{"state":{"reported":{"ID":"SmartLamp21","ColorRGB":[128,128,128]}},"clientToken":"426bfd96-e720-46d3-95cd-014e3ef12bb6"}`
	for range 3 {
		r = send(t, s, prefix+"/update", create)
		if r[prefix+"/update/accepted"] == nil {
			t.Fatalf("create not accepted: %s", r)
		}
	}
	r = send(t, s, prefix+"/get", `{"clientToken":"426bfd96-e720-46d3-95cd-014e3ef12bb6"}`)
	jsonEqual(t, "get/accepted after the device's report", r[prefix+"/get/accepted"], `{
	  "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
	  "metadata": {"reported": {"ID": {"timestamp": 1591140517},
	    "ColorRGB": [{"timestamp": 1591140517}, {"timestamp": 1591140517}, {"timestamp": 1591140517}]}},
	  "version": 3, "timestamp": 1591140517,
	  "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"}`)

	// "aws iot-data get-thing-shadow": the app reads it over the API.
	clk.Set(1591141111)
	jsonEqual(t, "get-thing-shadow", get(t, s, "mySimulatedThing", "simShadow1"), `{
	  "state": {"reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
	  "metadata": {"reported": {"ID": {"timestamp": 1591140517},
	    "ColorRGB": [{"timestamp": 1591140517}, {"timestamp": 1591140517}, {"timestamp": 1591140517}]}},
	  "version": 3, "timestamp": 1591141111}`)

	// "aws iot-data update-thing-shadow": the app asks for yellow; the API
	// returns the accepted document and IoT Core publishes the delta.
	clk.Set(1591141596)
	up, err := s.Update(context.Background(), "mySimulatedThing", "simShadow1",
		[]byte(`{"state":{"desired":{"ColorRGB":[255,255,0]}},"clientToken":"21b21b21-bfd2-4279-8c65-e2f697ff4fab"}`), OriginLocal)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "update-thing-shadow response", up.Payload, `{
	  "state": {"desired": {"ColorRGB": [255, 255, 0]}},
	  "metadata": {"desired": {"ColorRGB": [{"timestamp": 1591141596}, {"timestamp": 1591141596}, {"timestamp": 1591141596}]}},
	  "version": 4, "timestamp": 1591141596,
	  "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"}`)
	if len(up.Messages) != 2 || up.Messages[0].Topic != prefix+"/update/delta" || up.Messages[1].Topic != prefix+"/update/documents" {
		t.Fatalf("messages published for the API update: %v", up.Messages)
	}
	jsonEqual(t, "update/delta", up.Messages[0].Payload, `{
	  "version": 4, "timestamp": 1591141596,
	  "state": {"ColorRGB": [255, 255, 0]},
	  "metadata": {"ColorRGB": [{"timestamp": 1591141596}, {"timestamp": 1591141596}, {"timestamp": 1591141596}]},
	  "clientToken": "21b21b21-bfd2-4279-8c65-e2f697ff4fab"}`)

	// The device reports yellow over MQTT: update/accepted, and the
	// "comprehensive description" on update/documents; desired and reported
	// now agree, so no delta.
	clk.Set(1591142747)
	r = send(t, s, prefix+"/update", `{"state":{"reported":{"ColorRGB":[255,255,0]}},"clientToken":"a4dc2227-9213-4c6a-a6a5-053304f60258"}`)
	if len(r) != 2 || r[prefix+"/update/delta"] != nil {
		t.Fatalf("replies to the device's report: %s", r)
	}
	jsonEqual(t, "update/accepted", r[prefix+"/update/accepted"], `{
	  "state": {"reported": {"ColorRGB": [255, 255, 0]}},
	  "metadata": {"reported": {"ColorRGB": [{"timestamp": 1591142747}, {"timestamp": 1591142747}, {"timestamp": 1591142747}]}},
	  "version": 5, "timestamp": 1591142747,
	  "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"}`)
	jsonEqual(t, "update/documents", r[prefix+"/update/documents"], `{
	  "previous": {
	    "state": {"desired": {"ColorRGB": [255, 255, 0]}, "reported": {"ID": "SmartLamp21", "ColorRGB": [128, 128, 128]}},
	    "metadata": {
	      "desired": {"ColorRGB": [{"timestamp": 1591141596}, {"timestamp": 1591141596}, {"timestamp": 1591141596}]},
	      "reported": {"ID": {"timestamp": 1591140517},
	        "ColorRGB": [{"timestamp": 1591140517}, {"timestamp": 1591140517}, {"timestamp": 1591140517}]}},
	    "version": 4},
	  "current": {
	    "state": {"desired": {"ColorRGB": [255, 255, 0]}, "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]}},
	    "metadata": {
	      "desired": {"ColorRGB": [{"timestamp": 1591141596}, {"timestamp": 1591141596}, {"timestamp": 1591141596}]},
	      "reported": {"ID": {"timestamp": 1591140517},
	        "ColorRGB": [{"timestamp": 1591142747}, {"timestamp": 1591142747}, {"timestamp": 1591142747}]}},
	    "version": 5},
	  "timestamp": 1591142747,
	  "clientToken": "a4dc2227-9213-4c6a-a6a5-053304f60258"}`)

	// "Observe the update in the app."
	clk.Set(1591143269)
	jsonEqual(t, "final get-thing-shadow", get(t, s, "mySimulatedThing", "simShadow1"), `{
	  "state": {"desired": {"ColorRGB": [255, 255, 0]}, "reported": {"ID": "SmartLamp21", "ColorRGB": [255, 255, 0]}},
	  "metadata": {
	    "desired": {"ColorRGB": [{"timestamp": 1591141596}, {"timestamp": 1591141596}, {"timestamp": 1591141596}]},
	    "reported": {"ID": {"timestamp": 1591140517},
	      "ColorRGB": [{"timestamp": 1591142747}, {"timestamp": 1591142747}, {"timestamp": 1591142747}]}},
	  "version": 5, "timestamp": 1591143269}`)
}

// step is one update of a documented example; the want fields left empty
// are not checked.
type step struct {
	at      int64
	payload string

	code int    // 0: accepted
	msg  string // rejection message

	accepted  string
	delta     string // "-": no delta may be published
	documents string
	get       string // the whole shadow afterwards
}

// TestDocumentedExamples runs the examples of the AWS IoT Developer Guide,
// each named after the page and section it comes from.
func TestDocumentedExamples(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{{
		// "Device Shadow service documents" › "Delta state": fields in
		// desired and not in reported are in the delta, fields only in
		// reported are not.
		name: "delta state",
		steps: []step{
			{at: 12345, payload: `{"state":{"reported":{"color":"GREEN","engine":"ON"}}}`, delta: "-"},
			{at: 12345, payload: `{"state":{"desired":{"color":"RED","state":"STOP"}}}`,
				delta: `{"version":2,"timestamp":12345,"state":{"color":"RED","state":"STOP"},
				  "metadata":{"color":{"timestamp":12345},"state":{"timestamp":12345}}}`,
				get: `{"state":{"desired":{"color":"RED","state":"STOP"},"reported":{"color":"GREEN","engine":"ON"},
				  "delta":{"color":"RED","state":"STOP"}},
				  "metadata":{"desired":{"color":{"timestamp":12345},"state":{"timestamp":12345}},
				    "reported":{"color":{"timestamp":12345},"engine":{"timestamp":12345}}},
				  "version":2,"timestamp":12345}`},
		},
	}, {
		// Same section: "When nested objects differ, the delta contains the
		// path all the way to the root."
		name: "nested delta",
		steps: []step{
			{at: 100, payload: `{"state":{"reported":{"lights":{"color":{"r":255,"g":0,"b":255}}}}}`},
			{at: 200, payload: `{"state":{"desired":{"lights":{"color":{"r":255,"g":255,"b":255}}}}}`,
				delta: `{"version":2,"timestamp":200,"state":{"lights":{"color":{"g":255}}},
				  "metadata":{"lights":{"color":{"g":{"timestamp":200}}}}}`},
		},
	}, {
		// Same section: "Arrays are treated like values. If an array in the
		// desired section doesn't match the array in the reported section,
		// then the entire desired array is copied into the delta."
		name: "array delta",
		steps: []step{
			{at: 1, payload: `{"state":{"reported":{"colors":["RED"]}}}`},
			{at: 2, payload: `{"state":{"desired":{"colors":["RED","GREEN"]}}}`,
				delta: `{"version":2,"timestamp":2,"state":{"colors":["RED","GREEN"]},
				  "metadata":{"colors":[{"timestamp":2},{"timestamp":2}]}}`},
			{at: 3, payload: `{"state":{"reported":{"colors":["RED","GREEN"]}}}`, delta: "-"},
		},
	}, {
		// "Array values in shadow documents": an update replaces the whole
		// array; "Arrays can't have null values".
		name: "arrays replaced whole",
		steps: []step{
			{at: 1, payload: `{"state":{"desired":{"colors":["RED","GREEN","BLUE"]}}}`},
			{at: 2, payload: `{"state":{"desired":{"colors":["RED"]}}}`,
				get: `{"state":{"desired":{"colors":["RED"]},"delta":{"colors":["RED"]}},
				  "metadata":{"desired":{"colors":[{"timestamp":2}]}},"version":2,"timestamp":2}`},
			{at: 3, payload: `{"state":{"desired":{"colors":[null,"RED","GREEN"]}}}`, code: 400, msg: msgInvalidNode},
		},
	}, {
		// "Empty shadow document properties": setting desired to null
		// removes the section; a document may have neither section.
		name: "desired null",
		steps: []step{
			{at: 1, payload: `{"state":{"desired":{"color":"red"}}}`},
			{at: 2, payload: `{"state":{"reported":{"color":"red"},"desired":null}}`,
				accepted: `{"state":{"reported":{"color":"red"},"desired":null},
				  "metadata":{"reported":{"color":{"timestamp":2}},"desired":{"timestamp":2}},"version":2,"timestamp":2}`,
				delta: "-",
				get: `{"state":{"reported":{"color":"red"}},"metadata":{"reported":{"color":{"timestamp":2}}},
				  "version":2,"timestamp":2}`},
			{at: 3, payload: `{"state":{"reported":null}}`,
				get: `{"state":{},"metadata":{},"version":3,"timestamp":3}`},
		},
	}, {
		// "Interacting with shadows" › "Deleting a property from a shadow
		// document": {"state":{"desired":{"engine":null}}}.
		name: "delete a property",
		steps: []step{
			{at: 10, payload: `{"state":{"desired":{"color":{"r":10},"engine":"ON"}}}`},
			{at: 20, payload: `{"state":{"desired":{"engine":null}}}`,
				accepted: `{"state":{"desired":{"engine":null}},"metadata":{"desired":{"engine":{"timestamp":20}}},
				  "version":2,"timestamp":20}`,
				get: `{"state":{"desired":{"color":{"r":10}},"delta":{"color":{"r":10}}},
				  "metadata":{"desired":{"color":{"r":{"timestamp":10}}}},"version":2,"timestamp":20}`},
		},
	}, {
		// Objects emptied by deletions disappear, up to the section.
		name: "emptied objects disappear",
		steps: []step{
			{at: 1, payload: `{"state":{"desired":{"a":{"b":{"c":1}}}}}`},
			{at: 2, payload: `{"state":{"desired":{"a":{"b":{"c":null}}}}}`,
				get: `{"state":{},"metadata":{},"version":2,"timestamp":2}`},
			{at: 3, payload: `{"state":{"desired":{"x":{"y":null,"z":{}}}}}`,
				get: `{"state":{},"metadata":{},"version":3,"timestamp":3}`},
		},
	}, {
		// "Interacting with shadows" › "Updating a shadow": the app's desired
		// {"color":{"r":10},"engine":"ON"} against a device reporting
		// {"color":{"r":255,"g":255,"b":0}} (the guide's "Initial state").
		name: "merge into reported",
		steps: []step{
			{at: 5, payload: `{"state":{"reported":{"color":{"r":255,"g":255,"b":0}}}}`},
			{at: 6, payload: `{"state":{"desired":{"color":{"r":10},"engine":"ON"}}}`,
				delta: `{"version":2,"timestamp":6,"state":{"color":{"r":10},"engine":"ON"},
				  "metadata":{"color":{"r":{"timestamp":6}},"engine":{"timestamp":6}}}`},
			{at: 7, payload: `{"state":{"reported":{"color":{"r":10},"engine":"ON"}}}`, delta: "-",
				get: `{"state":{"desired":{"color":{"r":10},"engine":"ON"},"reported":{"color":{"r":10,"g":255,"b":0},"engine":"ON"}},
				  "metadata":{"desired":{"color":{"r":{"timestamp":6}},"engine":{"timestamp":6}},
				    "reported":{"color":{"r":{"timestamp":7},"g":{"timestamp":5},"b":{"timestamp":5}},"engine":{"timestamp":7}}},
				  "version":3,"timestamp":7}`},
		},
	}, {
		// "Device Shadow MQTT topics" › "/update/delta" message body details:
		// the delta holds every differing desired attribute "regardless of
		// whether these attributes were contained in the current update
		// message", and "If an attribute is deleted from the reported section
		// but still exists in the desired section, it is included" — so a
		// reported-only update publishes a delta too.
		name: "delta rules",
		steps: []step{
			{at: 1, payload: `{"state":{"desired":{"a":1,"b":2},"reported":{"a":1,"b":2,"only":"reported"}}}`, delta: "-"},
			{at: 2, payload: `{"state":{"reported":{"b":null}}}`,
				delta: `{"version":2,"timestamp":2,"state":{"b":2},"metadata":{"b":{"timestamp":1}}}`},
			{at: 3, payload: `{"state":{"desired":{"c":3}}}`,
				delta: `{"version":3,"timestamp":3,"state":{"b":2,"c":3},"metadata":{"b":{"timestamp":1},"c":{"timestamp":3}}}`},
		},
	}, {
		// "Client tokens in shadow documents": the token comes back on
		// accepted, delta, documents and rejected alike.
		name: "client token echo",
		steps: []step{
			{at: 9, payload: `{"state":{"desired":{"x":1}},"clientToken":"tok-1"}`,
				accepted:  `{"state":{"desired":{"x":1}},"metadata":{"desired":{"x":{"timestamp":9}}},"version":1,"timestamp":9,"clientToken":"tok-1"}`,
				delta:     `{"version":1,"timestamp":9,"state":{"x":1},"metadata":{"x":{"timestamp":9}},"clientToken":"tok-1"}`,
				documents: `{"current":{"state":{"desired":{"x":1}},"metadata":{"desired":{"x":{"timestamp":9}}},"version":1},"timestamp":9,"clientToken":"tok-1"}`},
			{at: 9, payload: `{"state":{"desired":{"x":2}},"version":7,"clientToken":"tok-2"}`, code: 409, msg: msgVersionConflict},
		},
	}, {
		// Numbers compare by value: a reported 1.0 satisfies a desired 1,
		// and each is stored as written.
		name: "numbers by value",
		steps: []step{
			{at: 1, payload: `{"state":{"desired":{"n":1,"big":9007199254740993}}}`},
			{at: 2, payload: `{"state":{"reported":{"n":1.0,"big":9007199254740992}}}`,
				delta: `{"version":2,"timestamp":2,"state":{"big":9007199254740993},"metadata":{"big":{"timestamp":1}}}`,
				get: `{"state":{"desired":{"n":1,"big":9007199254740993},"reported":{"n":1.0,"big":9007199254740992},
				  "delta":{"big":9007199254740993}},
				  "metadata":{"desired":{"n":{"timestamp":1},"big":{"timestamp":1}},"reported":{"n":{"timestamp":2},"big":{"timestamp":2}}},
				  "version":2,"timestamp":2}`},
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock(0)
			s := newService(t, Options{Now: clk.Now})
			for i, st := range c.steps {
				clk.Set(st.at)
				checkStep(t, s, clk, fmt.Sprintf("step %d", i+1), st)
			}
		})
	}
}

// checkStep sends st's update to the classic shadow of thing "Thing" over
// MQTT and checks the replies it names.
func checkStep(t *testing.T, s *Service, clk *clock, what string, st step) {
	t.Helper()
	const prefix = "$aws/things/Thing/shadow"
	r := send(t, s, prefix+"/update", st.payload)
	if st.code != 0 {
		var e struct {
			Code        int
			Message     string
			ClientToken string
		}
		if err := json.Unmarshal(r[prefix+"/update/rejected"], &e); err != nil || len(r) != 1 {
			t.Fatalf("%s: want a rejection, got %s", what, r)
		}
		if e.Code != st.code || e.Message != st.msg {
			t.Fatalf("%s: rejected with %d %q, want %d %q", what, e.Code, e.Message, st.code, st.msg)
		}
		if tok := tokenOf(st.payload); e.ClientToken != tok {
			t.Fatalf("%s: rejection echoes token %q, want %q", what, e.ClientToken, tok)
		}
		return
	}
	if r[prefix+"/update/accepted"] == nil || r[prefix+"/update/documents"] == nil {
		t.Fatalf("%s: not accepted: %s", what, r)
	}
	if st.accepted != "" {
		jsonEqual(t, what+" update/accepted", r[prefix+"/update/accepted"], st.accepted)
	}
	switch st.delta {
	case "":
	case "-":
		if d := r[prefix+"/update/delta"]; d != nil {
			t.Fatalf("%s: unexpected delta %s", what, d)
		}
	default:
		jsonEqual(t, what+" update/delta", r[prefix+"/update/delta"], st.delta)
	}
	if st.documents != "" {
		jsonEqual(t, what+" update/documents", r[prefix+"/update/documents"], st.documents)
	}
	if st.get != "" {
		jsonEqual(t, what+" get", get(t, s, "Thing", ""), st.get)
	}
}

func tokenOf(payload string) string {
	var p struct{ ClientToken string }
	json.Unmarshal([]byte(payload), &p)
	return p.ClientToken
}

// TestOptimisticLocking is "Interacting with shadows" › "Optimistic
// locking": at version 10 an update naming version 9 is a 409, one naming
// version 10 makes version 11.
func TestOptimisticLocking(t *testing.T) {
	s := newService(t, Options{})
	for i := range 10 {
		update(t, s, "Thing", "", fmt.Sprintf(`{"state":{"desired":{"colors":["RED","GREEN","BLUE"],"i":%d}}}`, i))
	}
	_, err := s.Update(context.Background(), "Thing", "", []byte(`{"state":{"desired":{"colors":["BLUE"]}},"version":9,
	  "clientToken":"426bfd96-e720-46d3-95cd-014e3ef12bb6"}`), OriginLocal)
	e := wantError(t, err, 409, "Version conflict")
	jsonEqual(t, "409 document", e.Payload(), fmt.Sprintf(`{"code":409,"message":"Version conflict","timestamp":%d,
	  "clientToken":"426bfd96-e720-46d3-95cd-014e3ef12bb6"}`, e.Timestamp))
	r := update(t, s, "Thing", "", `{"state":{"desired":{"colors":["BLUE"]}},"version":10}`)
	var acc struct{ Version int64 }
	json.Unmarshal(r.Payload, &acc)
	if acc.Version != 11 {
		t.Fatalf("accepted version %d, want 11", acc.Version)
	}
	// A shadow that does not exist is at version 0.
	update(t, s, "Other", "", `{"state":{},"version":0}`)
	_, err = s.Update(context.Background(), "Third", "", []byte(`{"state":{},"version":1}`), OriginLocal)
	wantError(t, err, 409, "Version conflict")
}

// TestErrors covers every code of "Device Shadow error messages" that a
// request can provoke, with IoT Core's message.
func TestErrors(t *testing.T) {
	deep := func(levels int) string { // desired is level 1
		return `{"state":{"desired":` + strings.Repeat(`{"a":`, levels-1) + `{"leaf":1}` + strings.Repeat(`}`, levels-1) + `}}`
	}
	big := func(n int) string { // desired {"a":"xxx"} is n+8 bytes of state
		return `{"state":{"desired":{"a":"` + strings.Repeat("x", n) + `"}}}`
	}
	cases := []struct {
		name    string
		thing   string
		shadow  string
		payload string
		code    int // 0: accepted
		msg     string
		token   string // echoed in the rejection
	}{
		{name: "not JSON", payload: `{"state":`, code: 400, msg: "Invalid JSON"},
		{name: "empty payload", payload: ``, code: 400, msg: "Invalid JSON"},
		{name: "trailing data", payload: `{"state":{}} {}`, code: 400, msg: "Invalid JSON"},
		{name: "array", payload: `[{"state":{}}]`, code: 400, msg: "Invalid JSON"},
		{name: "no state", payload: `{"clientToken":"t1"}`, code: 400, msg: "Missing required node: state", token: "t1"},
		{name: "state a number", payload: `{"state":1}`, code: 400, msg: "State node must be an object"},
		{name: "state an array", payload: `{"state":[]}`, code: 400, msg: "State node must be an object"},
		{name: "desired a string", payload: `{"state":{"desired":"on"}}`, code: 400, msg: "Desired node must be an object"},
		{name: "reported an array", payload: `{"state":{"reported":[1]}}`, code: 400, msg: "Reported node must be an object"},
		{name: "version a string", payload: `{"state":{},"version":"1"}`, code: 400, msg: "Invalid version"},
		{name: "version negative", payload: `{"state":{},"version":-1}`, code: 400, msg: "Invalid version"},
		{name: "version fractional", payload: `{"state":{},"version":1.5}`, code: 400, msg: "Invalid version"},
		{name: "version null", payload: `{"state":{},"version":null}`, code: 400, msg: "Invalid version"},
		{name: "token over 64 bytes", payload: `{"state":{},"clientToken":"` + strings.Repeat("t", 65) + `"}`, code: 400, msg: "Invalid clientToken"},
		{name: "token not a string", payload: `{"state":{},"clientToken":7}`, code: 400, msg: "Invalid clientToken"},
		{name: "token of 64 bytes", payload: `{"state":{},"clientToken":"` + strings.Repeat("t", 64) + `"}`},
		{name: "6 levels", payload: deep(6)},
		{name: "7 levels", payload: deep(7), code: 400, msg: "JSON contains too many levels of nesting; maximum is 6"},
		{name: "7 levels through arrays", payload: `{"state":{"reported":{"a":[[[[[{"b":1}]]]]]}}}`, code: 400, msg: "JSON contains too many levels of nesting; maximum is 6"},
		{name: "delta is not an input", payload: `{"state":{"delta":{"a":1}}}`, code: 400, msg: "State contains an invalid node"},
		{name: "null in an array", payload: `{"state":{"reported":{"a":[1,null]}}}`, code: 400, msg: "State contains an invalid node"},
		{name: "8192 bytes of state", payload: big(8192 - 8)},
		{name: "8193 bytes of state", payload: big(8193 - 8), code: 413, msg: "The payload exceeds the maximum size allowed"},
		{name: "over 128 KB of payload", payload: `{"state":{},"pad":"` + strings.Repeat(" ", 128<<10) + `"}`, code: 413, msg: "The payload exceeds the maximum size allowed"},
		{name: "not UTF-8", payload: "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}", code: 415, msg: "Unsupported documented encoding; supported encoding is UTF-8"},
		{name: "version conflict", payload: `{"state":{},"version":99,"clientToken":"c"}`, code: 409, msg: "Version conflict", token: "c"},
		{name: "thing name missing", thing: "-", payload: `{"state":{}}`, code: 400, msg: "ThingName is missing"},
		{name: "thing name too long", thing: strings.Repeat("t", 129), payload: `{"state":{}}`, code: 400, msg: "ThingName has a maximum length of 128"},
		{name: "thing name of 128", thing: strings.Repeat("t", 128), payload: `{"state":{}}`},
		{name: "thing name with $", thing: "$thing", payload: `{"state":{}}`, code: 400, msg: "ThingName must match pattern [a-zA-Z0-9:_-]+"},
		{name: "shadow name too long", shadow: strings.Repeat("s", 65), payload: `{"state":{}}`, code: 400, msg: "ShadowName has a maximum length of 64"},
		{name: "shadow name with $", shadow: "$x", payload: `{"state":{}}`, code: 400, msg: "ShadowName must match pattern [a-zA-Z0-9:_-]+"},
		{name: "shadow name of 64", shadow: strings.Repeat("s", 64) + "", payload: `{"state":{}}`},
	}
	s := newService(t, Options{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			thing := c.thing
			switch thing {
			case "":
				thing = "Thing"
			case "-":
				thing = ""
			}
			_, err := s.Update(context.Background(), thing, c.shadow, []byte(c.payload), OriginLocal)
			if c.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := wantError(t, err, c.code, c.msg)
			if e.ClientToken != c.token {
				t.Fatalf("token %q, want %q", e.ClientToken, c.token)
			}
		})
	}

	t.Run("404", func(t *testing.T) {
		_, err := s.Get(context.Background(), "Nobody", "", nil)
		wantError(t, err, 404, "No shadow exists with name: 'Nobody'")
		_, err = s.Delete(context.Background(), "Nobody", "named", []byte(`{"clientToken":"d"}`), OriginLocal)
		e := wantError(t, err, 404, "No shadow exists with name: 'named'")
		if e.ClientToken != "d" {
			t.Fatalf("404 token %q", e.ClientToken)
		}
	})
	t.Run("bigger documents when configured", func(t *testing.T) {
		s := newService(t, Options{MaxDocumentBytes: MaxDocumentBytesLimit})
		update(t, s, "Thing", "", big(MaxDocumentBytesLimit-8))
		_, err := s.Update(context.Background(), "Thing", "", []byte(big(MaxDocumentBytesLimit-7)), OriginLocal)
		wantError(t, err, 413, msgPayloadTooLarge)
		if _, err := New(Options{Store: s.store, MaxDocumentBytes: MaxDocumentBytesLimit + 1}); err == nil {
			t.Fatal("New accepted MaxDocumentBytes over 30 KB")
		}
	})
	t.Run("500 after Close", func(t *testing.T) {
		s := newService(t, Options{})
		s.Close()
		_, err := s.Update(context.Background(), "Thing", "", []byte(`{"state":{}}`), OriginLocal)
		wantError(t, err, 500, "Internal service failure")
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%v does not wrap ErrClosed", err)
		}
	})
}

// TestSizeIgnoresMetadata: "Metadata do not contribute to the document
// size". A document of exactly the limit takes metadata on top.
func TestSizeIgnoresMetadata(t *testing.T) {
	s := newService(t, Options{})
	// 100 leaves "kNN":1 make state well under the limit but metadata
	// ({"timestamp":N} per leaf) far over it if it counted.
	var b strings.Builder
	b.WriteString(`{"state":{"reported":{`)
	for i := range 400 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%03d":1`, i)
	}
	b.WriteString(`}}}`)
	update(t, s, "Thing", "", b.String())
	if n := len(get(t, s, "Thing", "")); n < 2*DefaultMaxDocumentBytes {
		t.Fatalf("get returned %d bytes; the test wants metadata beyond the limit", n)
	}
}

// TestDeleteKeepsVersion: "Deleting a shadow does not reset its version
// number to 0", and delete/accepted carries the version ("Interacting with
// shadows" › "Deleting a shadow": {"version": 4, "timestamp": 1591057529}).
// After 48 hours the version is forgotten.
func TestDeleteKeepsVersion(t *testing.T) {
	clk := newClock(1591057529)
	s := newService(t, Options{Now: clk.Now})
	for range 4 {
		update(t, s, "Thing", "shadowName", `{"state":{"reported":{"on":true}}}`)
	}
	r, err := s.Delete(context.Background(), "Thing", "shadowName", nil, OriginLocal)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "delete/accepted", r.Payload, `{"version":4,"timestamp":1591057529}`)
	_, err = s.Get(context.Background(), "Thing", "shadowName", nil)
	wantError(t, err, 404, "No shadow exists with name: 'shadowName'")
	_, err = s.Delete(context.Background(), "Thing", "shadowName", nil, OriginLocal)
	wantError(t, err, 404, "No shadow exists with name: 'shadowName'")

	// Re-created within 48 hours: continues from 4, and a conditional
	// update names the deleted version.
	clk.Add(47 * time.Hour)
	r = update(t, s, "Thing", "shadowName", `{"state":{"reported":{"on":false}},"version":4}`)
	jsonEqual(t, "re-created", r.Payload, fmt.Sprintf(`{"state":{"reported":{"on":false}},
	  "metadata":{"reported":{"on":{"timestamp":%d}}},"version":5,"timestamp":%[1]d}`, clk.Now().Unix()))
	// update/documents of a re-created shadow has no "previous".
	if bytes.Contains(r.Messages[len(r.Messages)-1].Payload, []byte(`"previous"`)) {
		t.Fatalf("documents of a re-created shadow: %s", r.Messages[len(r.Messages)-1].Payload)
	}

	// Deleted more than 48 hours ago: starts over.
	if _, err := s.Delete(context.Background(), "Thing", "shadowName", nil, OriginLocal); err != nil {
		t.Fatal(err)
	}
	clk.Add(48*time.Hour + time.Second)
	r = update(t, s, "Thing", "shadowName", `{"state":{"reported":{"on":true}}}`)
	if !bytes.Contains(r.Payload, []byte(`"version":1,`)) {
		t.Fatalf("after 48 hours: %s", r.Payload)
	}
}

// TestStateNull: "Setting the device's shadow state to null does not
// delete the shadow. The shadow version will be incremented on the next
// update."
func TestStateNull(t *testing.T) {
	clk := newClock(50)
	s := newService(t, Options{Now: clk.Now})
	update(t, s, "Thing", "", `{"state":{"desired":{"a":1},"reported":{"b":2}}}`)
	r := update(t, s, "Thing", "", `{"state":null}`)
	jsonEqual(t, "accepted", r.Payload, `{"state":null,"metadata":{"timestamp":50},"version":2,"timestamp":50}`)
	jsonEqual(t, "get", get(t, s, "Thing", ""), `{"state":{},"metadata":{},"version":2,"timestamp":50}`)
}

// TestGetDeleteToken: get and delete requests carry an optional
// clientToken (the AWS IoT Device SDKs send one); any other payload is
// ignored, as "The content of the message is ignored".
func TestGetDeleteToken(t *testing.T) {
	clk := newClock(7)
	s := newService(t, Options{Now: clk.Now})
	update(t, s, "Thing", "", `{"state":{"reported":{"a":1}}}`)
	r, err := s.Get(context.Background(), "Thing", "", []byte(`{"clientToken":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "get", r.Payload, `{"state":{"reported":{"a":1}},"metadata":{"reported":{"a":{"timestamp":7}}},
	  "version":1,"timestamp":7,"clientToken":"g"}`)
	if _, err := s.Get(context.Background(), "Thing", "", []byte("not json at all")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(context.Background(), "Thing", "", []byte(`{"clientToken":"`+strings.Repeat("x", 65)+`"}`))
	wantError(t, err, 400, "Invalid clientToken")
	r, err = s.Delete(context.Background(), "Thing", "", []byte(`{"clientToken":"d"}`), OriginLocal)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "delete", r.Payload, `{"version":1,"timestamp":7,"clientToken":"d"}`)
}
