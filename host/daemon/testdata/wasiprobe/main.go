// Command wasiprobe is a test component: it reports on wasi/result what its
// WASI grants let it see: a file under /data, whether it can write there,
// two environment variables and the clock's year.
package main

import (
	"encoding/json"
	"os"
	"time"

	moss "github.com/moss-edge/moss/sdk/go"
)

func init() { moss.OnStart(start) }

func main() {}

func start() error {
	res := map[string]any{"year": time.Now().Year()}
	if b, err := os.ReadFile("/data/hello.txt"); err == nil {
		res["file"] = string(b)
	} else {
		res["file_error"] = err.Error()
	}
	if err := os.WriteFile("/data/written.txt", []byte("x"), 0o644); err == nil {
		res["write"] = "allowed"
	}
	res["granted"] = os.Getenv("MOSS_TEST_GRANTED")
	res["hidden"] = os.Getenv("MOSS_TEST_HIDDEN")
	b, _ := json.Marshal(res)
	return moss.Publish("wasi/result", b)
}
