package cloud

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/moss-edge/moss/internal/mqtttest"
)

// TestCloseWaitsForDirectSends (issue 12, hole 9): a QoS 1 publish whose
// PUBACK does not come (the broker hangs) leaves sendDirect's goroutine
// waiting past AckWait; Close must wait for it rather than return with it
// running. (Before the fix it usually ended soon after Close anyway,
// since cancelling the link's context ends the send: the check right after
// Close catches the interleavings where it had not.)
func TestCloseWaitsForDirectSends(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	before := goleak.IgnoreCurrent()
	l := testLink(t, b, func(o *Options) { o.AckWait = 20 * time.Millisecond })
	waitState(t, l, "connected", connected)
	b.Pause()
	defer b.Resume()
	if err := l.Publish(context.Background(), "dev/hang", []byte("x"), 1); err != nil {
		t.Fatalf("publish: %v", err) // not acknowledged in time: spooled, no error
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Checked at once: the goroutine gives its slot back before it ends.
	if n := len(l.inflight); n != 0 {
		t.Errorf("Close returned with %d direct sends still running", n)
	}
	b.Resume()
	goleak.VerifyNone(t, before)
}
