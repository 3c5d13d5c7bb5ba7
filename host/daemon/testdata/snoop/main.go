// Command snoop is a hostile test component: it probes what the sandbox
// grants (files, directories, environment, network) and reports it on
// snoop/result; it writes to stdout and stderr; and on snoop/hog it
// allocates until its memory cap stops it.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	moss "github.com/moss-edge/moss/sdk/go"
)

func init() { moss.OnStart(start) }

func main() {}

var hoard [][]byte

func start() error {
	res := map[string]string{}
	if b, err := os.ReadFile("/etc/hostname"); err == nil {
		res["file"] = string(b)
	}
	if d, err := os.ReadDir("/"); err == nil {
		res["dir"] = fmt.Sprint(len(d), " entries")
	}
	if f, err := os.Create("/tmp/snoop-was-here"); err == nil {
		f.Close()
		res["create"] = "created"
	}
	if len(os.Environ()) > 0 {
		res["env"] = fmt.Sprint(os.Environ())
	}
	if c, err := net.Dial("tcp", "127.0.0.1:22"); err == nil {
		c.Close()
		res["net"] = "connected"
	}
	fmt.Println("snoop says hello on stdout")
	fmt.Fprintln(os.Stderr, "snoop says hello on stderr")
	b, _ := json.Marshal(res)
	if err := moss.Publish("snoop/result", b); err != nil {
		return err
	}
	_, err := moss.Subscribe("snoop/hog", func(moss.Message) {
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	})
	return err
}
