package bus_test

import (
	"fmt"

	"github.com/moss-edge/moss/host/bus"
)

type printer struct{ name string }

func (p *printer) Deliver(id uint32, m *bus.Message) {
	fmt.Printf("%s: subscription %d got %s %q\n", p.name, id, m.Topic, m.Payload)
}

func Example() {
	b := bus.New()
	kitchen := &printer{name: "kitchen"}
	all := &printer{name: "all"}
	_ = b.Subscribe("sensors/kitchen/+", kitchen, 1)
	_ = b.Subscribe("sensors/#", all, 1)
	_ = b.Subscribe("#", all, 2) // does not see "$aws/..." topics

	n := b.Publish(&bus.Message{Topic: "sensors/kitchen/temp", Payload: []byte("21.5")})
	fmt.Println("matched", n)
	n = b.Publish(&bus.Message{Topic: "$aws/things/x/shadow/update", Payload: []byte("{}")})
	fmt.Println("matched", n)
	// Output:
	// all: subscription 2 got sensors/kitchen/temp "21.5"
	// all: subscription 1 got sensors/kitchen/temp "21.5"
	// kitchen: subscription 1 got sensors/kitchen/temp "21.5"
	// matched 3
	// matched 0
}
