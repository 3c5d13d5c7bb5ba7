// Package poll waits in tests for a condition that no event announces
// (STYLE.md: poll with a deadline, never sleep to synchronise).
package poll

import (
	"testing"
	"time"
)

// Deadline is how long Until waits: generous, because a loaded CI machine
// is slow, and it only matters when a test is failing anyway.
const Deadline = 30 * time.Second

// Until polls cond every millisecond until it holds, and fails the test
// naming what it waited for if it does not within Deadline.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Deadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Deadline, what)
		}
		time.Sleep(time.Millisecond)
	}
}
