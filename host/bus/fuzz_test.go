package bus

import "testing"

// FuzzMatch checks that Match never panics, never matches invalid input,
// agrees with refMatch, and that the trie reaches a single subscription
// exactly when Match says it should.
func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		// The 64 KiB cases would make the fuzzer mutate and minimise
		// huge inputs, which it does very slowly; TestMatch covers them.
		if len(c.filter)+len(c.topic) <= 256 {
			f.Add(c.filter, c.topic)
		}
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		got := Match(filter, topic)
		if ValidateFilter(filter) != nil || ValidateTopic(topic) != nil {
			if got {
				t.Fatalf("Match(%q, %q) = true for invalid input", filter, topic)
			}
			return
		}
		if want := refMatch(filter, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, refMatch says %v", filter, topic, got, want)
		}
		b := New()
		r := &recorder{}
		if err := b.Subscribe(filter, r, 7); err != nil {
			t.Fatalf("Subscribe(%q) = %v for a filter ValidateFilter accepts", filter, err)
		}
		n := b.Publish(&Message{Topic: topic})
		if n > 1 || (n == 1) != got {
			t.Fatalf("subscribed to %q, Publish(%q) = %d; Match = %v", filter, topic, n, got)
		}
		if !b.Unsubscribe(filter, r, 7) || !b.root.Load().empty() {
			t.Fatalf("Unsubscribe(%q) did not empty the trie", filter)
		}
	})
}
