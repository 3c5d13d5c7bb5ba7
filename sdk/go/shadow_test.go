//go:build !wasip1

package moss

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/moss-edge/moss/abi"
)

// shadowResponse encodes the {status, payload} answer of the shadow
// functions as the host does.
func shadowResponse(t *testing.T, status int, payload string) []byte {
	t.Helper()
	b, err := mustCodec(t).Marshal(abi.ShadowResponse{Status: uint16(status), Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shadowRequests decodes the requests made to fn with the host's strict
// codec (an unknown key fails).
func shadowRequests(t *testing.T, f *fakeHost, fn hostFunc) []abi.ShadowRequest {
	t.Helper()
	var out []abi.ShadowRequest
	for _, c := range f.calls {
		if c.fn != fn {
			continue
		}
		var r abi.ShadowRequest
		if err := mustCodec(t).Unmarshal(c.req, &r); err != nil {
			t.Fatalf("%s request %x: %v", fn, c.req, err)
		}
		out = append(out, r)
	}
	return out
}

func TestShadowGetUpdateDelete(t *testing.T) {
	accepted := `{"state":{"desired":{"color":"RED"},"reported":{"color":"GREEN"},"delta":{"color":"RED"}},"metadata":{},"version":3,"timestamp":1700000000}`
	big := `{"state":{"reported":{"note":"` + strings.Repeat("n", 3*initialResponse) + `"}},"version":4}`
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		switch fn {
		case fnShadowGet:
			return shadowResponse(t, 200, accepted), nil
		case fnShadowUpdate:
			return shadowResponse(t, 200, big), nil
		case fnShadowDelete:
			return shadowResponse(t, 200, `{"version":4,"timestamp":1700000001}`), nil
		}
		return nil, fmt.Errorf("unexpected %s", fn)
	})
	doc, err := GetShadow("", "")
	if err != nil || string(doc) != accepted {
		t.Fatalf("GetShadow = %s, %v", doc, err)
	}
	update := []byte(`{"state":{"reported":{"color":"RED"}},"clientToken":"t1"}`)
	got, err := UpdateShadow("pump-7", "settings", update)
	if err != nil || string(got) != big {
		t.Fatalf("UpdateShadow = %d bytes, %v (a response larger than the buffer must be fetched)", len(got), err)
	}
	if err := DeleteShadow("", "settings"); err != nil {
		t.Fatal(err)
	}
	// The documents returned are the caller's own, not the SDK's buffer.
	if _, err := GetShadow("", ""); err != nil || string(doc) != accepted {
		t.Fatalf("a later call changed the document returned earlier: %s, %v", doc, err)
	}
	want := map[hostFunc][]abi.ShadowRequest{
		fnShadowGet:    {{}, {}},
		fnShadowUpdate: {{Thing: "pump-7", Name: "settings", Payload: update}},
		fnShadowDelete: {{Name: "settings"}},
	}
	for fn, w := range want {
		r := shadowRequests(t, f, fn)
		if len(r) != len(w) {
			t.Fatalf("%s requests %+v, want %+v", fn, r, w)
		}
		for i := range r {
			if r[i].Thing != w[i].Thing || r[i].Name != w[i].Name || !bytes.Equal(r[i].Payload, w[i].Payload) {
				t.Errorf("%s request %d = %+v, want %+v", fn, i, r[i], w[i])
			}
		}
	}
	// Empty thing and name are left out of the request, not sent as "".
	if m := f.requests(fnShadowGet)[0]; len(m) != 0 {
		t.Errorf("get of the device's classic shadow sent %v, want an empty map", m)
	}
}

func TestShadowRejected(t *testing.T) {
	cases := []struct {
		what          string
		status        int
		payload       string
		code          int
		message, text string
	}{
		{"not found", 404, `{"code":404,"message":"No shadow exists with name: 'thermostat'","timestamp":1700000000}`, 404,
			"No shadow exists with name: 'thermostat'", "moss: shadow_get: rejected: 404 No shadow exists with name: 'thermostat'"},
		{"version conflict", 409, `{"code":409,"message":"Version conflict","clientToken":"t1"}`, 409, "Version conflict", "moss: shadow_get: rejected: 409 Version conflict"},
		{"not JSON: the status", 500, `oops`, 500, "", "moss: shadow_get: rejected: 500"},
		{"no code: the status", 429, `{"message":"Too Many Requests"}`, 429, "Too Many Requests", "moss: shadow_get: rejected: 429 Too Many Requests"},
		{"empty document", 404, ``, 404, "", "moss: shadow_get: rejected: 404"},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
				return shadowResponse(t, c.status, c.payload), nil
			})
			doc, err := GetShadow("", "thermostat")
			var e *ShadowError
			if doc != nil || !errors.As(err, &e) {
				t.Fatalf("GetShadow = %q, %v; want a *ShadowError", doc, err)
			}
			if e.Code != c.code || e.Message != c.message || string(e.Payload) != c.payload || err.Error() != c.text {
				t.Fatalf("error %+v (%q), want code %d message %q payload %q (%q)", e, err, c.code, c.message, c.payload, c.text)
			}
			var hostErr *Error
			if errors.As(err, &hostErr) {
				t.Fatal("a rejection by the shadow service is not a host error")
			}
		})
	}
}

func TestShadowHostErrors(t *testing.T) {
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		switch fn {
		case fnShadowUpdate:
			return nil, abi.Errorf(abi.ErrDenied, "shadow_update: no shadow.update grant for %q", "$aws/things/moss/shadow")
		case fnShadowGet:
			return []byte{0xa1, 0x61, 'x', 0x01}, nil // {"x": 1}: no status
		case fnShadowDelete:
			return []byte{0x01}, nil // not a map
		}
		return nil, abi.Errorf(abi.ErrUnavailable, "%s: this host has no shadow service", fn)
	})
	_, err := UpdateShadow("", "", []byte(`{}`))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrDenied) || !strings.HasPrefix(err.Error(), "moss: shadow_update: access denied") {
		t.Fatalf("UpdateShadow = %v", err)
	}
	if _, err := GetShadow("", ""); err == nil || !strings.Contains(err.Error(), "shadow_get: response") {
		t.Fatalf("GetShadow with a response lacking status = %v", err)
	}
	if err := DeleteShadow("", ""); err == nil || !strings.Contains(err.Error(), "shadow_delete: response") {
		t.Fatalf("DeleteShadow with a malformed response = %v", err)
	}
	if _, err := ListShadows(""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ListShadows = %v", err)
	}
	if _, err := OnShadowDelta("", "", func(Message) {}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("OnShadowDelta = %v", err)
	}
}

func TestListShadowsFollowsPages(t *testing.T) {
	pages := map[string]string{
		"":   `{"results":["a","b"],"nextToken":"p2","timestamp":1}`,
		"p2": `{"results":["c"],"nextToken":"p3","timestamp":1}`,
		"p3": `{"results":[],"timestamp":1}`,
	}
	var reqs []abi.ShadowListRequest
	newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		var r abi.ShadowListRequest
		if err := mustCodec(t).Unmarshal(req, &r); err != nil {
			return nil, abi.Errorf(abi.ErrDecode, "%v", err)
		}
		reqs = append(reqs, r)
		return shadowResponse(t, 200, pages[r.NextToken]), nil
	})
	names, err := ListShadows("gateway-1")
	if err != nil || !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Fatalf("ListShadows = %q, %v", names, err)
	}
	want := []abi.ShadowListRequest{
		{Thing: "gateway-1", PageSize: shadowListPage},
		{Thing: "gateway-1", PageSize: shadowListPage, NextToken: "p2"},
		{Thing: "gateway-1", PageSize: shadowListPage, NextToken: "p3"},
	}
	if !slices.Equal(reqs, want) {
		t.Fatalf("requests %+v, want %+v", reqs, want)
	}
}

func TestListShadowsErrors(t *testing.T) {
	for _, c := range []struct {
		what, page string
		status     int
		want       string
	}{
		{"a token that repeats", `{"results":["a"],"nextToken":"x"}`, 200, `next token "x" again`},
		{"not JSON", `[`, 200, "response document"},
		{"rejected", `{"code":429,"message":"Too Many Requests"}`, 429, "rejected: 429"},
	} {
		t.Run(c.what, func(t *testing.T) {
			n := 0
			newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
				if n++; n > 3 {
					t.Fatal("ListShadows does not stop")
				}
				return shadowResponse(t, c.status, c.page), nil
			})
			names, err := ListShadows("")
			if names != nil || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ListShadows = %q, %v; want an error saying %q", names, err, c.want)
			}
		})
	}
}

func TestShadowWatch(t *testing.T) {
	ids := map[string]uint32{"delta": 3, "documents": 4}
	var reqs []abi.ShadowWatchRequest
	f := newFakeHost(t, func(fn hostFunc, req []byte) ([]byte, error) {
		if fn != fnShadowWatch {
			return nil, nil
		}
		var r abi.ShadowWatchRequest
		if err := mustCodec(t).Unmarshal(req, &r); err != nil {
			return nil, abi.Errorf(abi.ErrDecode, "%v", err)
		}
		reqs = append(reqs, r)
		return idResponse(ids[r.Topic]), nil
	})
	var got []string
	delta, err := OnShadowDelta("", "thermostat", func(m Message) { got = append(got, "delta "+m.Topic+" "+string(m.Payload)) })
	if err != nil {
		t.Fatal(err)
	}
	docs, err := OnShadowDocuments("pump-7", "", func(m Message) { got = append(got, "documents "+m.Topic) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []abi.ShadowWatchRequest{{Name: "thermostat", Topic: "delta"}, {Thing: "pump-7", Topic: "documents"}}; !slices.Equal(reqs, want) {
		t.Fatalf("requests %+v, want %+v", reqs, want)
	}
	if delta.Filter() != "$aws/things/+/shadow/name/thermostat/update/delta" || docs.Filter() != "$aws/things/pump-7/shadow/update/documents" {
		t.Fatalf("filters %q, %q", delta.Filter(), docs.Filter())
	}
	deliver(t,
		abi.Event{Kind: abi.EventMessage, ID: 3, Topic: "$aws/things/moss/shadow/name/thermostat/update/delta", Payload: []byte(`{"state":{"color":"RED"}}`)},
		abi.Event{Kind: abi.EventMessage, ID: 4, Topic: "$aws/things/pump-7/shadow/update/documents", Payload: []byte(`{}`)},
	)
	want := []string{
		`delta $aws/things/moss/shadow/name/thermostat/update/delta {"state":{"color":"RED"}}`,
		"documents $aws/things/pump-7/shadow/update/documents",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("handled %q, want %q", got, want)
	}
	// A watch ends with unsubscribe, as a local-bus subscription does.
	if err := delta.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if r := f.requests(fnUnsubscribe); len(r) != 1 || r[0]["id"] != uint64(3) || len(f.requests(fnCloudUnsubscribe)) != 0 {
		t.Fatalf("unsubscribe requests %v", r)
	}
	if _, err := OnShadowDelta("", "", nil); err == nil || len(reqs) != 2 {
		t.Fatalf("OnShadowDelta with a nil handler = %v, and must not call the host", err)
	}
}
