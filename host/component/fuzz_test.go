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

// FuzzHostCall feeds arbitrary request bytes to every host function, as a
// hostile guest can: each must answer with a value or an *abi.Error, never
// panic, and never take more than the request's own size in memory.
func FuzzHostCall(f *testing.F) {
	seeds := [][]byte{
		abi.AppendPublish(nil, "a/b", []byte("x")),
		{0xa1, 0x66, 'f', 'i', 'l', 't', 'e', 'r', 0x61, '#'},
		{0xa1, 0x64, 'p', 'a', 't', 'h', 0x80},
		{0xa2, 0x64, 'p', 'a', 't', 'h', 0x81, 0x61, 'k', 0x65, 'v', 'a', 'l', 'u', 'e', 0xf6},
		{0xa2, 0x6b, 'i', 'n', 't', 'e', 'r', 'v', 'a', 'l', '_', 'm', 's', 0x01, 0x66, 'r', 'e', 'p', 'e', 'a', 't', 0xf4},
		{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0xbf, 0xff},
	}
	for i := range abi.HostFunctions {
		for _, s := range seeds {
			f.Add(uint8(i), s)
		}
	}
	codec, err := abi.NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	policy, _ := authz.New([]authz.Grant{{Operations: []string{"*"}, Resources: []string{"*"}}})
	f.Fuzz(func(t *testing.T, fn uint8, req []byte) {
		if int(fn) >= len(abi.HostFunctions) || abi.HostFunctions[fn] == abi.FuncResponse {
			return
		}
		c := New(Spec{Name: "fuzz", Version: "1.0.0", Limits: limits.Defaults(), Policy: policy}, Env{Bus: bus.New(), Codec: codec})
		c.guest = newGuestState()
		defer c.guest.stop()
		_, err := c.HostCall(context.Background(), wasm.Func(fn), req)
		var e *abi.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("%s: error %v is not an *abi.Error", abi.HostFunctions[fn], err)
		}
	})
}
