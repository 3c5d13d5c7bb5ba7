// Command pub is the publishing side of the pub/sub benchmark (see
// bench/README.md). It waits for a message on bench/go, whose payload is a
// 4-byte little-endian run number, then publishes config count messages of
// 256 bytes on bench/data, in bursts of config burst messages per call so
// that no call comes near its deadline. Between bursts it publishes an empty
// message on bench/kick, which it subscribes to itself: the next burst then
// starts as soon as the host has delivered the kick, without the 1 ms floor
// of a host timer. When all are sent it publishes the run number on
// bench/sent.
//
// Each payload starts with the run number and the message's sequence number
// (both uint32, little-endian), so a sink can tell runs apart.
//
// With config cloud_qos = 0 or 1 the data messages go to the cloud link
// instead (cloud_publish at that QoS), for the cloud forwarding benchmark;
// the kicks and the end marker stay on the local bus.
//
// With config autostart = true it also starts run 0 from its start handler:
// the benchmark of start-up time uses that to see the first message a Go
// guest publishes.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o pub.wasm .
package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	moss "github.com/moss-edge/moss/sdk/go"
)

const (
	topicData = "bench/data"
	topicGo   = "bench/go"
	topicKick = "bench/kick"
	topicSent = "bench/sent"
)

// The host calls one handler at a time, so the state needs no lock.
var (
	count   = 200000
	burst   = 1000
	qos     = -1 // cloud_qos: -1 publishes on the local bus
	run     uint32
	sent    int
	payload [256]byte
	runBuf  [4]byte
)

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	autostart := false
	if err := errors.Join(get(&count, "count"), get(&burst, "burst"), get(&autostart, "autostart"), get(&qos, "cloud_qos")); err != nil {
		return err
	}
	if count < 1 || burst < 1 {
		return fmt.Errorf("config count %d, burst %d: both must be at least 1", count, burst)
	}
	if _, err := moss.Subscribe(topicGo, func(m moss.Message) {
		if len(m.Payload) < 4 {
			moss.Warnf("bench/go: payload of %d bytes, want a 4-byte run number", len(m.Payload))
			return
		}
		begin(binary.LittleEndian.Uint32(m.Payload))
	}); err != nil {
		return err
	}
	if _, err := moss.Subscribe(topicKick, func(moss.Message) { publishBurst() }); err != nil {
		return err
	}
	if autostart {
		begin(0)
	}
	return nil
}

func get(dst any, key string) error {
	if err := moss.Config().Get(dst, key); err != nil && !errors.Is(err, moss.ErrNotFound) {
		return err
	}
	return nil
}

func begin(r uint32) {
	run, sent = r, 0
	binary.LittleEndian.PutUint32(payload[0:4], run)
	binary.LittleEndian.PutUint32(runBuf[:], run)
	publishBurst()
}

func publishBurst() {
	if sent >= count {
		return
	}
	n := min(burst, count-sent)
	for range n {
		binary.LittleEndian.PutUint32(payload[4:8], uint32(sent))
		var err error
		if qos >= 0 {
			err = moss.CloudPublish(topicData, payload[:], qos)
		} else {
			err = moss.Publish(topicData, payload[:])
		}
		if err != nil {
			moss.Errorf("publish %s: %v", topicData, err)
			sent = count
			return
		}
		sent++
	}
	next := topicKick
	var p []byte
	if sent >= count {
		next, p = topicSent, runBuf[:]
	}
	if err := moss.Publish(next, p); err != nil {
		moss.Errorf("publish %s: %v", next, err)
	}
}
