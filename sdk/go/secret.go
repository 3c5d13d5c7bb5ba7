package moss

import (
	"bytes"
	"fmt"

	"github.com/moss-edge/moss/abi"
)

// GetSecret returns the value of the secret name, which an operator stored
// on the device with `moss secret set NAME`. The component's manifest must
// grant it: operation "secret.get" on the name. Host function: secret_get.
//
// Keep secrets in memory only as long as needed, and never log them.
func GetSecret(name string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = abi.AppendText(abi.AppendText(abi.AppendMap(g.req[:0], 1), "name"), name)
	resp, err := call(fnSecretGet, hostSecretGet)
	if err != nil {
		return nil, err
	}
	r := abi.NewReader(resp)
	if n, err := r.Map(); err != nil || n != 1 {
		return nil, fmt.Errorf("moss: secret_get: malformed response")
	}
	if k, err := r.Text(); err != nil || string(k) != "value" {
		return nil, fmt.Errorf("moss: secret_get: malformed response")
	}
	v, err := r.Bytes()
	if err != nil {
		return nil, fmt.Errorf("moss: secret_get: malformed response")
	}
	// resp is the SDK's reused buffer: hand the caller its own copy.
	return bytes.Clone(v), nil
}
