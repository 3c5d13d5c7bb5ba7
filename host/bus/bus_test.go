package bus

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type matchCase struct {
	filter, topic string
	want          bool
}

// matchCases also seed FuzzMatch.
var matchCases = []matchCase{
	// literal levels
	{"a", "a", true},
	{"a", "b", false},
	{"A", "a", false},
	{"a", "a/b", false},
	{"a/b", "a", false},
	{"a/b", "a/b", true},
	{"a/b", "a/bc", false},
	{" ", " ", true},
	{"ü/x", "ü/x", true},
	// empty levels
	{"/", "/", true},
	{"/a", "/a", true},
	{"/a", "a", false},
	{"a/", "a", false},
	{"a/", "a/", true},
	{"a//c", "a//c", true},
	{"a//c", "a/c", false},
	// '+' is exactly one level, an empty one too
	{"+", "a", true},
	{"+", "a/b", false},
	{"+", "/", false},
	{"+/+", "/", true},
	{"/+", "/", true},
	{"+/", "/", true},
	{"a/+", "a/", true},
	{"a/+", "a", false},
	{"a/+", "a/b/c", false},
	{"a/+/c", "a//c", true},
	{"a/+/c", "a/b/c", true},
	{"a/+/+", "a/b", false},
	{"+/a", "/a", true},
	{"+", "a$", true},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},
	// '#' is the parent level and any number of children
	{"#", "a", true},
	{"#", "a/b/c", true},
	{"#", "/", true},
	{"#", "/a", true},
	{"a/#", "a", true},
	{"a/#", "a/", true},
	{"a/#", "a/b/c", true},
	{"a/#", "ab", false},
	{"a/#", "b/a", false},
	{"a/b/#", "a", false},
	{"a/b/#", "a/b", true},
	{"+/#", "a", true},
	{"+/#", "a/b/c", true},
	{"+/+/#", "a", false},
	{"/#", "/", true},
	{"/#", "", false},
	{"/#", "a", false},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	// '$' topics are not seen by a filter starting with a wildcard
	{"#", "$aws/things/x", false},
	{"+/things/x", "$aws/things/x", false},
	{"+", "$SYS", false},
	{"+/+", "$a/b", false},
	{"+/#", "$a", false},
	{"$aws/#", "$aws/things/x", true},
	{"$aws/things/+", "$aws/things/x", true},
	{"$aws/+/x", "$aws/things/x", true},
	{"$", "$", true},
	{"a/$b", "a/$b", true},
	{"+/$b", "a/$b", true},
	{"a/#", "a/$b", true},
	// invalid filters and topics match nothing
	{"a/#/b", "a/x/b", false},
	{"a/b#", "a/b#", false},
	{"a+", "a+", false},
	{"", "a", false},
	{"+", "", false},
	{"+", "a+", false},
	{"#", "a/#", false},
	{"#", "a\x00", false},
	{"a\x00", "a\x00", false},
	{strings.Repeat("a", maxLen+1), strings.Repeat("a", maxLen+1), false},
	{strings.Repeat("/", maxLen-1) + "#", strings.Repeat("/", maxLen), true},
}

// refMatch is MQTT matching written as plainly as possible (allocations and
// all), to check Match and the trie against. Inputs must be valid.
func refMatch(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (f[0] == "+" || f[0] == "#") {
		return false
	}
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(t) || (level != "+" && level != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%s, %s) = %v, want %v", quote(c.filter), quote(c.topic), got, c.want)
		}
		valid := ValidateFilter(c.filter) == nil && ValidateTopic(c.topic) == nil
		if !valid {
			continue
		}
		if got := refMatch(c.filter, c.topic); got != c.want {
			t.Errorf("refMatch(%s, %s) = %v, want %v", quote(c.filter), quote(c.topic), got, c.want)
		}
		b := New()
		r := &recorder{}
		if err := b.Subscribe(c.filter, r, 1); err != nil {
			t.Fatal(err)
		}
		if n := b.Publish(&Message{Topic: c.topic}); (n == 1) != c.want || n > 1 {
			t.Errorf("subscribed to %s, Publish(%s) = %d, want match %v", quote(c.filter), quote(c.topic), n, c.want)
		}
	}
}

func TestValidateTopic(t *testing.T) {
	tests := []struct {
		topic   string
		wantErr string // "" for valid
	}{
		{"a", ""},
		{"/", ""},
		{"//", ""},
		{"a/b/c", ""},
		{"a//b", ""},
		{"$aws/things/x/shadow/update", ""},
		{"a b", ""},
		{"ü/ß", ""},
		{"a/$", ""},
		{strings.Repeat("a", maxLen), ""},
		{"", "empty"},
		{"+", "wildcard '+' at byte 0"},
		{"a/+", "wildcard '+' at byte 2"},
		{"a+b", "wildcard '+' at byte 1"},
		{"a/#", "wildcard '#' at byte 2"},
		{"#", "wildcard '#' at byte 0"},
		{"a\x00b", "NUL at byte 1"},
		{"a/\xff", "not UTF-8"},
		{strings.Repeat("a", maxLen+1), "65536 bytes, over the limit of 65535"},
	}
	for _, tt := range tests {
		checkErr(t, "ValidateTopic", tt.topic, ValidateTopic(tt.topic), tt.wantErr)
	}
}

func TestValidateFilter(t *testing.T) {
	tests := []struct {
		filter  string
		wantErr string // "" for valid
	}{
		{"a", ""},
		{"#", ""},
		{"+", ""},
		{"/", ""},
		{"+/+", ""},
		{"a/#", ""},
		{"/#", ""},
		{"+/#", ""},
		{"a/+/b", ""},
		{"a//b", ""},
		{"$SYS/#", ""},
		{"$aws/things/+/shadow/#", ""},
		{strings.Repeat("a", maxLen), ""},
		{"", "empty"},
		{"a#", "wildcard '#' at byte 1 is not a whole level"},
		{"#a", "wildcard '#' at byte 0 is not a whole level"},
		{"a/b#", "wildcard '#' at byte 3 is not a whole level"},
		{"##", "wildcard '#' at byte 0 is not a whole level"},
		{"a/#/b", "'#' at byte 2 is not the last level"},
		{"#/", "'#' at byte 0 is not the last level"},
		{"+a", "wildcard '+' at byte 0 is not a whole level"},
		{"a/+b", "wildcard '+' at byte 2 is not a whole level"},
		{"a/b+/c", "wildcard '+' at byte 3 is not a whole level"},
		{"++", "wildcard '+' at byte 0 is not a whole level"},
		{"a\x00", "NUL at byte 1"},
		{strings.Repeat("a", maxLen+1), "65536 bytes, over the limit of 65535"},
	}
	for _, tt := range tests {
		checkErr(t, "ValidateFilter", tt.filter, ValidateFilter(tt.filter), tt.wantErr)
	}
}

func checkErr(t *testing.T, fn, arg string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s(%s) = %v, want nil", fn, quote(arg), err)
	case want != "" && err == nil:
		t.Errorf("%s(%s) = nil, want an error saying %q", fn, quote(arg), want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s(%s) = %q, want it to say %q", fn, quote(arg), err, want)
	case err != nil && len(err.Error()) > 200:
		t.Errorf("%s(%s): error is %d bytes long; quote should cut the input short", fn, quote(arg), len(err.Error()))
	}
}

type delivery struct {
	id uint32
	m  *Message
}

// recorder is a Subscriber that remembers what it was given.
type recorder struct {
	mu  sync.Mutex
	got []delivery
}

func (r *recorder) Deliver(id uint32, m *Message) {
	r.mu.Lock()
	r.got = append(r.got, delivery{id, m})
	r.mu.Unlock()
}

func (r *recorder) take() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// randomLevels joins n levels drawn from alphabet.
func randomLevels(rng *rand.Rand, alphabet []string, n int) string {
	levels := make([]string, n)
	for i := range levels {
		levels[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return strings.Join(levels, "/")
}

// TestPublishAgreesWithMatch checks the trie against brute force: Publish must
// reach exactly the subscriptions whose filters Match the topic, with a small
// alphabet so that wildcards, empty levels and '$' collide often.
func TestPublishAgreesWithMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	filters := make([]string, 400)
	for i := range filters {
		f := randomLevels(rng, []string{"a", "b", "", "$x", "+"}, 1+rng.IntN(4))
		switch rng.IntN(4) {
		case 0:
			f += "/#"
		case 1:
			f = "#"
		}
		if f == "" {
			f = "/" // one empty level is not a filter; two are
		}
		if err := ValidateFilter(f); err != nil {
			t.Fatalf("generated an invalid filter: %v", err)
		}
		filters[i] = f
	}
	b := New()
	r := &recorder{}
	for i, f := range filters {
		if err := b.Subscribe(f, r, uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() != len(filters) {
		t.Fatalf("Len() = %d after %d subscriptions", b.Len(), len(filters))
	}
	matched := 0
	for range 2000 {
		topic := randomLevels(rng, []string{"a", "b", "", "$x"}, 1+rng.IntN(5))
		if topic == "" {
			topic = "/"
		}
		m := &Message{Topic: topic}
		n := b.Publish(m)
		var got []uint32
		for _, d := range r.take() {
			if d.m != m {
				t.Fatalf("Publish(%q) delivered a different *Message", topic)
			}
			got = append(got, d.id)
		}
		var want []uint32
		for i, f := range filters {
			if Match(f, topic) {
				want = append(want, uint32(i))
			}
			if Match(f, topic) != refMatch(f, topic) {
				t.Fatalf("Match(%q, %q) = %v, refMatch disagrees", f, topic, Match(f, topic))
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("Publish(%q) reached subscriptions %v, Match says %v", topic, got, want)
		}
		if n != len(want) {
			t.Fatalf("Publish(%q) = %d, delivered %d", topic, n, len(want))
		}
		matched += n
	}
	if matched == 0 {
		t.Fatal("no topic matched any filter: the generator is broken")
	}
	for i, f := range filters {
		if !b.Unsubscribe(f, r, uint32(i)) {
			t.Fatalf("Unsubscribe(%q, %d) = false", f, i)
		}
	}
	if b.Len() != 0 || !b.root.Load().empty() {
		t.Fatalf("after unsubscribing everything: Len() = %d, %d trie nodes left", b.Len(), countNodes(b.root.Load())-1)
	}
}

func countNodes(n *node) int {
	count := 1
	for _, c := range n.children {
		count += countNodes(c)
	}
	if n.one != nil {
		count += countNodes(n.one)
	}
	if n.plus != nil {
		count += countNodes(n.plus)
	}
	if n.hash != nil {
		count += countNodes(n.hash)
	}
	return count
}

func TestSubscribeUnsubscribe(t *testing.T) {
	b := New()
	r1, r2 := &recorder{}, &recorder{}
	mustSubscribe := func(filter string, s Subscriber, id uint32) {
		t.Helper()
		if err := b.Subscribe(filter, s, id); err != nil {
			t.Fatal(err)
		}
	}
	checkTrie := func(wantLen, wantNodes int) {
		t.Helper()
		if got := b.Len(); got != wantLen {
			t.Errorf("Len() = %d, want %d", got, wantLen)
		}
		if got := countNodes(b.root.Load()) - 1; got != wantNodes {
			t.Errorf("trie has %d nodes, want %d", got, wantNodes)
		}
	}

	mustSubscribe("a/b/c", r1, 1)
	mustSubscribe("a/b/c", r1, 1) // no-op
	checkTrie(1, 3)
	mustSubscribe("a/b/c", r1, 2) // another id: another subscription
	mustSubscribe("a/b/c", r2, 1) // another subscriber: another subscription
	mustSubscribe("a/b", r1, 3)
	mustSubscribe("a/+/#", r1, 4)
	checkTrie(5, 5)

	if n := b.Publish(&Message{Topic: "a/b/c"}); n != 4 {
		t.Errorf("Publish(a/b/c) = %d, want 4", n)
	}
	var ids []uint32
	for _, d := range r1.take() {
		ids = append(ids, d.id)
	}
	slices.Sort(ids)
	if want := []uint32{1, 2, 4}; !slices.Equal(ids, want) {
		t.Errorf("r1 got ids %v, want %v (once per subscription)", ids, want)
	}
	if got := r2.take(); len(got) != 1 || got[0].id != 1 {
		t.Errorf("r2 got %v, want one delivery with id 1", got)
	}

	for _, u := range []struct {
		filter string
		s      Subscriber
		id     uint32
	}{
		{"a/b/c", r1, 9},
		{"a/b/c", &recorder{}, 1},
		{"a/b", r2, 3},
		{"a/b/c/d", r1, 1},
		{"a", r1, 1},
		{"x/y", r1, 1},
		{"a/+", r1, 4},
		{"a/+/#/", r1, 4},
		{"", r1, 1},
	} {
		if b.Unsubscribe(u.filter, u.s, u.id) {
			t.Errorf("Unsubscribe(%q, %p, %d) = true for a subscription that does not exist", u.filter, u.s, u.id)
		}
	}
	checkTrie(5, 5)

	if !b.Unsubscribe("a/b/c", r1, 1) || !b.Unsubscribe("a/b/c", r1, 2) {
		t.Fatal("Unsubscribe(a/b/c, r1) = false")
	}
	checkTrie(3, 5) // r2 still holds a/b/c
	if b.Unsubscribe("a/b/c", r1, 1) {
		t.Error("a second Unsubscribe(a/b/c, r1, 1) = true")
	}
	if !b.Unsubscribe("a/b/c", r2, 1) {
		t.Fatal("Unsubscribe(a/b/c, r2, 1) = false")
	}
	checkTrie(2, 4) // c pruned; a/b holds a subscription
	if !b.Unsubscribe("a/+/#", r1, 4) {
		t.Fatal("Unsubscribe(a/+/#) = false")
	}
	checkTrie(1, 2) // + and # pruned
	if !b.Unsubscribe("a/b", r1, 3) {
		t.Fatal("Unsubscribe(a/b) = false")
	}
	checkTrie(0, 0)
	if b.root.Load() != emptyRoot {
		t.Error("an empty bus does not share emptyRoot")
	}
	if n := b.Publish(&Message{Topic: "a/b/c"}); n != 0 {
		t.Errorf("Publish on an empty bus = %d", n)
	}
}

type funcSubscriber func(uint32, *Message)

func (f funcSubscriber) Deliver(id uint32, m *Message) { f(id, m) }

func TestSubscribeErrors(t *testing.T) {
	b := New()
	tests := []struct {
		name    string
		filter  string
		s       Subscriber
		wantErr string
	}{
		{"bad filter", "a/#/b", &recorder{}, `invalid filter "a/#/b"`},
		{"empty filter", "", &recorder{}, "invalid filter: empty"},
		{"nil subscriber", "a", nil, `subscribe to "a": nil subscriber`},
		{"not comparable", "a", funcSubscriber(func(uint32, *Message) {}), "bus.funcSubscriber is not comparable"},
	}
	for _, tt := range tests {
		err := b.Subscribe(tt.filter, tt.s, 1)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Subscribe = %v, want an error saying %q", tt.name, err, tt.wantErr)
		}
	}
	if b.Len() != 0 || !b.root.Load().empty() {
		t.Errorf("failed subscriptions left Len() = %d, %d nodes", b.Len(), countNodes(b.root.Load())-1)
	}
}

type panicker struct{}

func (*panicker) Deliver(uint32, *Message) { panic("subscriber bug") }

func TestPanickingSubscriber(t *testing.T) {
	b := New()
	p := &panicker{}
	if err := b.Subscribe("a", p, 1); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the subscriber's panic did not reach the publisher")
			}
		}()
		b.Publish(&Message{Topic: "a"})
	}()
	if !b.Unsubscribe("a", p, 1) || b.Publish(&Message{Topic: "a"}) != 0 {
		t.Error("the bus is unusable after a subscriber panicked")
	}
}

type counter struct{ n *atomic.Int64 }

func (c counter) Deliver(uint32, *Message) { c.n.Add(1) }

// TestHammer runs subscribers, unsubscribers and publishers at once, for the
// race detector (writers must never touch a snapshot a publisher walks) and
// for the bookkeeping afterwards.
func TestHammer(t *testing.T) {
	b := New()
	var delivered, published, steadyDelivered atomic.Int64
	filters := []string{"#", "a/#", "a/+", "+/b", "a/b", "a/b/c", "+/+/+", "/", "$s/#"}
	topics := []string{"a", "a/b", "a/b/c", "x/b", "/", "$s/a", "a//"}

	// steady is subscribed throughout, so its count is known exactly.
	steady := &struct{ counter }{counter{&steadyDelivered}}
	for i, f := range filters {
		if err := b.Subscribe(f, steady, uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	const rounds = 300
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for range rounds {
				s := &struct{ counter }{counter{&delivered}}
				f := filters[rng.IntN(len(filters))]
				if err := b.Subscribe(f, s, 1); err != nil {
					t.Error(err)
					return
				}
				if err := b.Subscribe(f, s, 2); err != nil {
					t.Error(err)
					return
				}
				_ = b.Len()
				if !b.Unsubscribe(f, s, 1) || !b.Unsubscribe(f, s, 2) {
					t.Errorf("Unsubscribe(%q) = false", f)
					return
				}
			}
		})
	}
	for p := range 4 {
		wg.Go(func() {
			for i := range rounds * 4 {
				m := &Message{Topic: topics[(i+p)%len(topics)]}
				published.Add(int64(b.Publish(m)))
			}
		})
	}
	wg.Wait()

	var wantSteady int64
	for i := range rounds * 4 {
		for p := range 4 {
			for _, f := range filters {
				if Match(f, topics[(i+p)%len(topics)]) {
					wantSteady++
				}
			}
		}
	}
	if got := steadyDelivered.Load(); got != wantSteady {
		t.Errorf("steady subscriber got %d deliveries, want %d", got, wantSteady)
	}
	if got, want := delivered.Load()+steadyDelivered.Load(), published.Load(); got != want {
		t.Errorf("Deliver was called %d times, Publish reported %d", got, want)
	}
	fresh := New()
	for i, f := range filters {
		_ = fresh.Subscribe(f, steady, uint32(i))
	}
	if got, want := countNodes(b.root.Load()), countNodes(fresh.root.Load()); b.Len() != len(filters) || got != want {
		t.Errorf("after the hammer: Len() = %d, %d nodes; want %d, %d (as if only steady had subscribed)", b.Len(), got, len(filters), want)
	}
	for i, f := range filters {
		b.Unsubscribe(f, steady, uint32(i))
	}
	if b.Len() != 0 || !b.root.Load().empty() {
		t.Errorf("after unsubscribing: Len() = %d, %d nodes left", b.Len(), countNodes(b.root.Load())-1)
	}
}

// replier answers requests from inside Deliver, as a host service such as
// the shadow does; the bus must allow that.
type replier struct {
	b       *Bus
	replies *recorder
}

func (r *replier) Deliver(id uint32, m *Message) {
	r.b.Publish(&Message{Topic: m.Topic + "/accepted", Payload: m.Payload})
	_ = r.b.Subscribe(m.Topic+"/rejected", r.replies, id)
	r.b.Unsubscribe(m.Topic+"/rejected", r.replies, id)
}

func TestDeliverMayCallTheBus(t *testing.T) {
	b := New()
	replies := &recorder{}
	if err := b.Subscribe("req/+", &replier{b, replies}, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe("req/+/accepted", replies, 2); err != nil {
		t.Fatal(err)
	}
	if n := b.Publish(&Message{Topic: "req/x", Payload: []byte("p")}); n != 1 {
		t.Fatalf("Publish = %d, want 1", n)
	}
	got := replies.take()
	if len(got) != 1 || got[0].m.Topic != "req/x/accepted" || got[0].id != 2 {
		t.Errorf("replies = %+v, want one on req/x/accepted with id 2", got)
	}
	if b.Len() != 2 {
		t.Errorf("Len() = %d, want 2", b.Len())
	}
}

// seqChecker checks that each publisher's sequence numbers arrive in order.
type seqChecker struct {
	mu   sync.Mutex
	next map[string]uint64 // per topic, i.e. per publisher
	errs []string
}

func (c *seqChecker) Deliver(id uint32, m *Message) {
	seq := binary.BigEndian.Uint64(m.Payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if want := c.next[m.Topic]; seq != want {
		c.errs = append(c.errs, fmt.Sprintf("sub %d on %s: got seq %d, want %d", id, m.Topic, seq, want))
	}
	c.next[m.Topic] = seq + 1
}

func TestOrderPerPublisher(t *testing.T) {
	b := New()
	const publishers, perPublisher = 4, 2000
	var checkers []*seqChecker
	for i, f := range []string{"order/+", "order/#", "#", "+/+"} {
		c := &seqChecker{next: make(map[string]uint64)}
		checkers = append(checkers, c)
		if err := b.Subscribe(f, c, uint32(i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			topic := fmt.Sprintf("order/%d", p)
			for seq := range uint64(perPublisher) {
				m := &Message{Topic: topic, Payload: binary.BigEndian.AppendUint64(nil, seq)}
				if n := b.Publish(m); n != len(checkers) {
					t.Errorf("Publish(%s) = %d, want %d", topic, n, len(checkers))
					return
				}
			}
		})
	}
	wg.Wait()
	for i, c := range checkers {
		for _, e := range c.errs {
			t.Error(e)
		}
		for p := range publishers {
			if got := c.next[fmt.Sprintf("order/%d", p)]; got != perPublisher {
				t.Errorf("subscriber %d saw %d messages from publisher %d, want %d", i, got, p, perPublisher)
			}
		}
	}
}

// TestDeliveryOrderOnOneFilter: the subscriptions to one filter are
// delivered to in the order they were made, also after the first one (kept
// in the node itself) or a later one goes, and a node with a single literal
// child, then two, then one again, keeps routing.
func TestDeliveryOrderOnOneFilter(t *testing.T) {
	b := New()
	r := &recorder{}
	for id := uint32(1); id <= 4; id++ {
		if err := b.Subscribe("dev/+/temp", r, id); err != nil {
			t.Fatal(err)
		}
	}
	ids := func() (out []uint32) {
		b.Publish(&Message{Topic: "dev/a/temp"})
		for _, d := range r.take() {
			out = append(out, d.id)
		}
		return out
	}
	for _, step := range []struct {
		unsubscribe uint32
		want        []uint32
	}{{0, []uint32{1, 2, 3, 4}}, {1, []uint32{2, 3, 4}}, {3, []uint32{2, 4}}, {2, []uint32{4}}, {4, nil}} {
		if step.unsubscribe != 0 && !b.Unsubscribe("dev/+/temp", r, step.unsubscribe) {
			t.Fatalf("Unsubscribe(%d) = false", step.unsubscribe)
		}
		if got := ids(); !slices.Equal(got, step.want) {
			t.Fatalf("after unsubscribing %d: delivered to %v, want %v", step.unsubscribe, got, step.want)
		}
	}
	// One literal child under dev, then two, then one: each is reached.
	b.Subscribe("dev/a/x", r, 1)
	b.Subscribe("dev/b/x", r, 2)
	b.Unsubscribe("dev/a/x", r, 1)
	if n := b.Publish(&Message{Topic: "dev/b/x"}); n != 1 {
		t.Fatalf("dev/b/x reached %d subscriptions after dev/a/x went, want 1", n)
	}
	if n := b.Publish(&Message{Topic: "dev/a/x"}); n != 0 {
		t.Fatalf("dev/a/x reached %d subscriptions after it went, want 0", n)
	}
	b.Unsubscribe("dev/b/x", r, 2)
	if !b.root.Load().empty() {
		t.Fatal("the trie is not empty after every subscription went")
	}
}
