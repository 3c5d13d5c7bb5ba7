// Command sink is the receiving side of the pub/sub benchmark (see
// bench/README.md). It subscribes to bench/data and counts the messages of
// each run (the run number is the first 4 bytes of the payload, little-endian);
// when it has config count messages of one run it publishes the run number on
// bench/done. A run with lost messages never reaches count: the harness
// notices from the host's dropped counter instead.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o sink.wasm .
package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	moss "github.com/moss-edge/moss/sdk/go"
)

// The host calls one handler at a time, so the state needs no lock.
var (
	count  = 200000
	run    = ^uint32(0)
	got    int
	runBuf [4]byte
)

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	if err := moss.Config().Get(&count, "count"); err != nil && !errors.Is(err, moss.ErrNotFound) {
		return err
	}
	if count < 1 {
		return fmt.Errorf("config count %d: must be at least 1", count)
	}
	_, err := moss.Subscribe("bench/data", onData)
	return err
}

func onData(m moss.Message) {
	if len(m.Payload) < 4 {
		return
	}
	if r := binary.LittleEndian.Uint32(m.Payload); r != run {
		run, got = r, 0
	}
	got++
	if got == count {
		binary.LittleEndian.PutUint32(runBuf[:], run)
		if err := moss.Publish("bench/done", runBuf[:]); err != nil {
			moss.Errorf("publish bench/done: %v", err)
		}
	}
}
