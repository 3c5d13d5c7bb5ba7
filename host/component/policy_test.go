package component

import (
	"context"
	"errors"
	"testing"

	"github.com/moss-edge/moss/abi"
	"github.com/moss-edge/moss/host/authz"
	"github.com/moss-edge/moss/host/bus"
	"github.com/moss-edge/moss/host/limits"
	"github.com/moss-edge/moss/host/wasm"
)

type mapSecrets map[string]string

func (m mapSecrets) Get(name string) ([]byte, error) {
	v, ok := m[name]
	if !ok {
		return nil, ErrNoSecret
	}
	return []byte(v), nil
}

func fn(name string) wasm.Func {
	for i, n := range abi.HostFunctions {
		if n == name {
			return wasm.Func(i)
		}
	}
	panic(name)
}

func textReq(key, value string) []byte {
	return abi.AppendText(abi.AppendText(abi.AppendMap(nil, 1), key), value)
}

// TestPolicyMatrix: every host function that touches a shared resource,
// allowed and denied, through the host function itself.
func TestPolicyMatrix(t *testing.T) {
	codec, _ := abi.NewCodec()
	policy, err := authz.New([]authz.Grant{
		{Operations: []string{"pubsub.publish"}, Resources: []string{"sensors/+/temperature"}},
		{Operations: []string{"pubsub.subscribe"}, Resources: []string{"cmd/#"}},
		{Operations: []string{"secret.get"}, Resources: []string{"db-*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		fn   string
		req  []byte
		want abi.Code
	}{
		{abi.FuncPublish, abi.AppendPublish(nil, "sensors/s1/temperature", []byte("1")), abi.OK},
		{abi.FuncPublish, abi.AppendPublish(nil, "sensors/s1/humidity", []byte("1")), abi.ErrDenied},
		{abi.FuncPublish, abi.AppendPublish(nil, "cmd/x", []byte("1")), abi.ErrDenied},
		{abi.FuncSubscribe, textReq("filter", "cmd/#"), abi.OK},
		{abi.FuncSubscribe, textReq("filter", "cmd/+/led"), abi.OK},
		{abi.FuncSubscribe, textReq("filter", "#"), abi.ErrDenied},
		{abi.FuncSubscribe, textReq("filter", "sensors/s1/temperature"), abi.ErrDenied},
		{abi.FuncSecretGet, textReq("name", "db-password"), abi.OK},
		{abi.FuncSecretGet, textReq("name", "db-missing"), abi.ErrNotFound},
		{abi.FuncSecretGet, textReq("name", "root-password"), abi.ErrDenied},
	}
	for _, tc := range cases {
		c := New(Spec{Name: "m", Version: "1.0.0", Limits: limits.Defaults(), Policy: policy},
			Env{Bus: bus.New(), Codec: codec, Secrets: mapSecrets{"db-password": "pw", "root-password": "x"}})
		c.guest = newGuestState()
		resp, err := c.HostCall(context.Background(), fn(tc.fn), tc.req)
		c.guest.stop()
		got := abi.OK
		var e *abi.Error
		if errors.As(err, &e) {
			got = e.Code
		} else if err != nil {
			t.Fatalf("%s %x: %v", tc.fn, tc.req, err)
		}
		if got != tc.want {
			t.Errorf("%s %x: code %v, want %v (%v)", tc.fn, tc.req, got, tc.want, err)
		}
		if tc.fn == abi.FuncSecretGet && got == abi.OK {
			var r abi.SecretGetResponse
			if err := codec.Unmarshal(resp, &r); err != nil || string(r.Value) != "pw" {
				t.Errorf("secret_get response %x: %v", resp, err)
			}
		}
		if got == abi.ErrDenied && e.Message == "" {
			t.Errorf("%s: a denial without a message", tc.fn)
		}
	}
	// A host with no secret store says so.
	c := New(Spec{Name: "m", Version: "1.0.0", Limits: limits.Defaults(), Policy: policy}, Env{Bus: bus.New(), Codec: codec})
	c.guest = newGuestState()
	defer c.guest.stop()
	if _, err := c.HostCall(context.Background(), fn(abi.FuncSecretGet), textReq("name", "db-password")); !isCode(err, abi.ErrUnavailable) {
		t.Errorf("no secret store: %v", err)
	}
	// No policy at all: everything denied.
	c2 := New(Spec{Name: "n", Version: "1.0.0", Limits: limits.Defaults()}, Env{Bus: bus.New(), Codec: codec})
	c2.guest = newGuestState()
	defer c2.guest.stop()
	if _, err := c2.HostCall(context.Background(), fn(abi.FuncPublish), abi.AppendPublish(nil, "a", nil)); !isCode(err, abi.ErrDenied) {
		t.Errorf("no policy: %v", err)
	}
}

func isCode(err error, code abi.Code) bool {
	var e *abi.Error
	return errors.As(err, &e) && e.Code == code
}
