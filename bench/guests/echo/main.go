// Command echo is the guest of the latency benchmark (see bench/README.md):
// it republishes every message on bench/lat/in, unchanged, on
// bench/lat/out. The harness stamps each message with its send time and
// reads the time back when the echo arrives: one delivery into a Go guest
// and one publish out of it, the same two hops a message takes from a
// publisher process to a subscriber process through the baseline's broker.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo.wasm .
package main

import moss "github.com/moss-edge/moss/sdk/go"

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	_, err := moss.Subscribe("bench/lat/in", func(m moss.Message) {
		if err := moss.Publish("bench/lat/out", m.Payload); err != nil {
			moss.Errorf("echo: %v", err)
		}
	})
	return err
}
