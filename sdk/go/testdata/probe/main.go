// Command probe is a component that exercises the SDK from inside Wasm for
// guest_test.go: it reports what it sees by publishing on probe/... topics.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o probe.wasm .
package main

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

func init() {
	moss.OnStart(start)
	moss.OnStop(func() { report("probe/stopped", "") })
}

func main() {}

func report(topic, s string) {
	if err := moss.Publish(topic, []byte(s)); err != nil {
		panic(err)
	}
}

func start() error {
	// A value larger than the SDK's first response buffer.
	var big string
	if err := moss.Config().Get(&big, "big"); err != nil {
		return err
	}
	report("probe/big", strconv.Itoa(len(big)))

	err := moss.Publish("denied/topic", nil)
	var e *moss.Error
	if !errors.As(err, &e) || !errors.Is(err, moss.ErrDenied) {
		return fmt.Errorf("publish on a denied topic returned %v", err)
	}
	report("probe/error", fmt.Sprintf("%d|%s|%v", e.Code, e.Message, err))

	missing := "default"
	if err := moss.Config().Get(&missing, "missing"); !errors.Is(err, moss.ErrNotFound) || missing != "default" {
		return fmt.Errorf("missing key: %v, %q", err, missing)
	}
	if err := moss.Config().Update(map[string]any{"written": true}, "probe"); err != nil {
		return err
	}
	moss.Logger().Info("probe started", "big", len(big))

	// The relay: Payload is valid during the handler, long enough to publish.
	if _, err := moss.Subscribe("echo/in", func(m moss.Message) {
		if err := moss.Publish("echo/out", m.Payload); err != nil {
			panic(err)
		}
	}); err != nil {
		return err
	}
	if _, err := moss.Subscribe("probe/panic", func(m moss.Message) { panic("boom: " + string(m.Payload)) }); err != nil {
		return err
	}
	// Allocations: of Publish (measured inside one handler) and of
	// dispatching a message (between a "begin" and an "end" message).
	var before, now runtime.MemStats
	if _, err := moss.Subscribe("count/+", func(m moss.Message) {
		switch string(m.Payload) {
		case "begin":
			runtime.ReadMemStats(&before)
		case "end":
			runtime.ReadMemStats(&now)
			report("probe/dispatch-allocs", strconv.FormatUint(now.Mallocs-before.Mallocs, 10))
		case "publish":
			payload := make([]byte, 256)
			moss.Publish("probe/sink", payload) // grows the buffer once
			runtime.ReadMemStats(&before)
			for range 100 {
				moss.Publish("probe/sink", payload)
			}
			runtime.ReadMemStats(&now)
			report("probe/publish-allocs", strconv.FormatUint(now.Mallocs-before.Mallocs, 10))
		}
	}); err != nil {
		return err
	}
	if _, err := moss.After(time.Millisecond, func() { report("probe/after", "") }); err != nil {
		return err
	}
	every, err := moss.Every(time.Hour, func() { report("probe/every", "") })
	if err != nil {
		return err
	}
	_, err = moss.Subscribe("probe/stop-timer", func(moss.Message) {
		if err := every.Stop(); err != nil {
			panic(err)
		}
	})
	return err
}
