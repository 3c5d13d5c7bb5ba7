package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moss-edge/moss/host/admin"
	"github.com/moss-edge/moss/internal/mqtttest"
	"github.com/moss-edge/moss/internal/poll"
)

// mossProcess is a `moss run` child process.
type mossProcess struct {
	cmd    *exec.Cmd
	out    bytes.Buffer
	exited chan struct{}
	err    error
}

// startMoss runs `moss run --config cfg` and waits until its admin socket
// answers a status request.
func startMoss(t *testing.T, bin, cfg, sock string) *mossProcess {
	t.Helper()
	p := &mossProcess{cmd: exec.Command(bin, "run", "--config", cfg), exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("moss run output:\n%s", p.out.String())
		}
	})
	client := &admin.Client{Path: sock}
	poll.Until(t, "the host's admin socket", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("moss run exited: %v\n%s", p.err, p.out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.Status(ctx)
		return err == nil
	})
	return p
}

// kill9 kills the process as a power cut or the OOM killer would.
func (p *mossProcess) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-p.exited
}

// TestCloudSpoolSurvivesKill9: QoS 1 messages accepted while the broker is
// down are in the spool on disk; the host is killed with SIGKILL, and once
// restarted (the broker back up) it delivers all of them, in order.
func TestCloudSpoolSurvivesKill9(t *testing.T) {
	bin := buildMoss(t)
	b := mqtttest.Start(t, mqtttest.Options{})
	b.Stop()
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfg := filepath.Join(dir, "moss.toml")
	// No health document: it would add to the spool this test counts.
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nadmin_socket = %q\n%s[health]\nenabled = false\n", filepath.Join(dir, "data"), sock, b.CloudConfig())), 0o644)

	p := startMoss(t, bin, cfg, sock)
	client := &admin.Client{Path: sock}
	ctx := context.Background()
	const n = 50
	for i := range n {
		if err := client.CloudPublish(ctx, "spool/"+strconv.Itoa(i), []byte("m"), 1); err != nil {
			t.Fatalf("cloud publish %d with the broker down: %v", i, err)
		}
	}
	st, err := client.Status(ctx)
	if err != nil || st.Cloud == nil || st.Cloud.Spooled != n || st.Cloud.State == "CONNECTED" {
		t.Fatalf("before the kill: %v %+v", err, st.Cloud)
	}
	p.kill9(t)

	b.Restart()
	sub := b.Sub(t, "spool/#")
	startMoss(t, bin, cfg, sock)
	seen := map[string]bool{}
	next := 0
	deadline := time.Now().Add(poll.Deadline)
	for next < n {
		m, ok := sub.Next(time.Until(deadline))
		if !ok {
			t.Fatalf("after the restart, %d of %d spooled messages arrived", next, n)
		}
		if seen[m.Topic] {
			continue // QoS 1 may resend
		}
		if want := "spool/" + strconv.Itoa(next); m.Topic != want {
			t.Fatalf("got %s, want %s (order broken)", m.Topic, want)
		}
		seen[m.Topic] = true
		next++
	}
	// The spool is empty once the broker took everything.
	poll.Until(t, "an empty spool", func() bool {
		st, err := client.Status(ctx)
		return err == nil && st.Cloud.Spooled == 0 && st.Cloud.State == "CONNECTED"
	})
	// `moss status` shows the link.
	out, err := exec.Command(bin, "--socket", sock, "status").Output()
	if err != nil || !strings.Contains(string(out), "CONNECTED to 127.0.0.1:"+strconv.Itoa(b.Port())) {
		t.Errorf("moss status: %v\n%s", err, out)
	}
}
