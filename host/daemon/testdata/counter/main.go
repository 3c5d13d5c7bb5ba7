// Command counter is a test component for hot swaps. It counts the
// messages it handles on "seq/in" and publishes, for each, "TAG SEQ COUNT"
// on "seq/out", where TAG is its configuration's "tag" and SEQ the
// message's payload. On an upgrade it hands its count to the next version,
// which carries on from it. With configuration "trap_on_start" it fails
// its start (a broken version); with "defer_s" it defers the first update
// a deployment announces by that many seconds.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

var (
	tag   = "v1"
	count uint64
)

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	var trap bool
	if err := moss.Config().Get(&trap, "trap_on_start"); err == nil && trap {
		return errors.New("this version is broken on purpose")
	}
	moss.Config().Get(&tag, "tag")
	if h := moss.Handover(); len(h) == 8 {
		count = binary.LittleEndian.Uint64(h)
	}
	moss.OnUpgrade(func() []byte { return binary.LittleEndian.AppendUint64(nil, count) })
	var deferS int
	moss.Config().Get(&deferS, "defer_s")
	moss.OnUpdate(func(string) time.Duration {
		d := time.Duration(deferS) * time.Second
		deferS = 0 // once
		return d
	})
	_, err := moss.Subscribe("seq/in", func(m moss.Message) {
		count++
		moss.Publish("seq/out", fmt.Appendf(nil, "%s %s %d", tag, m.Payload, count))
	})
	return err
}
