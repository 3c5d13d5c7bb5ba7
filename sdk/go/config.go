package moss

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	"github.com/moss-edge/moss/abi"
)

// Configuration is the component's configuration: a tree of maps seeded from
// the manifest's [config] table, with the host configuration's and
// deployments' overrides merged in. A path names a key at each level; an
// empty path is the whole tree.
//
// Values are decoded with github.com/fxamacker/cbor, the one place the SDK
// uses a reflection-based codec: configuration is read at start and on
// change, not per message.
type Configuration struct{}

// Config returns the component's configuration.
func Config() Configuration { return Configuration{} }

// codec returns the codec for configuration values. It is made on first use,
// and reached only from the functions that use it, so that a component that
// never touches its configuration links no reflection-based CBOR.
func codec() (*abi.Codec, error) {
	codecOnce.Do(func() { theCodec, codecErr = abi.NewCodec() })
	return theCodec, codecErr
}

var (
	codecOnce sync.Once
	theCodec  *abi.Codec
	codecErr  error
)

// Get decodes the value at path into dst, a pointer, through the host
// function config_get. An integer decodes into a float, not the reverse;
// decoding a map into a struct refuses keys the struct lacks, so a mistyped
// key in a deployment fails loudly (decode into a map to accept any keys).
//
// When there is no value at path Get returns an error matching ErrNotFound
// and leaves dst as it was, so a default set beforehand survives:
//
//	interval := "2s"
//	if err := moss.Config().Get(&interval, "interval"); err != nil && !errors.Is(err, moss.ErrNotFound) {
//		return err
//	}
func (Configuration) Get(dst any, path ...string) error {
	raw, err := configGet(path)
	if err != nil {
		return err
	}
	c, err := codec()
	if err != nil {
		return err
	}
	if err := c.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("moss: config %s: %w", pathString(path), err)
	}
	return nil
}

// configGet returns a copy of the CBOR value at path: decoding runs without
// g.mu held, since a type's UnmarshalCBOR may call the SDK.
func configGet(path []string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = appendPath(abi.AppendText(abi.AppendMap(g.req[:0], 1), "path"), path)
	resp, err := call(fnConfigGet, hostConfigGet)
	if err != nil {
		return nil, err
	}
	r := abi.NewReader(resp)
	pairs, err := r.Map()
	if err != nil {
		return nil, fmt.Errorf("moss: config_get: response: %w", err)
	}
	var seen abi.KeySet
	var value []byte
	for range pairs {
		key, err := r.Text()
		if err != nil {
			return nil, fmt.Errorf("moss: config_get: response: %w", err)
		}
		if !seen.Add(key) {
			return nil, fmt.Errorf("moss: config_get: response: %w (%q)", abi.ErrDuplicateKey, key)
		}
		start := len(resp) - r.Len()
		if err := r.Skip(); err != nil {
			return nil, fmt.Errorf("moss: config_get: response: %w", err)
		}
		if string(key) == "value" {
			value = resp[start : len(resp)-r.Len()]
		}
	}
	if value == nil {
		return nil, fmt.Errorf("moss: config_get: response has no value")
	}
	return bytes.Clone(value), nil
}

// Update sets the value at path through the host function config_update, and
// the host tells every watcher. When the old and the new value are both maps
// they are merged key by key, and a nil value in the new map deletes that
// key; any other value replaces the one at path, creating missing parents.
//
// Errors: ErrInvalid (an empty path with a value that is not a map, or a path
// through a value that is not a map).
func (Configuration) Update(value any, path ...string) error {
	c, err := codec()
	if err != nil {
		return err
	}
	raw, err := c.Marshal(value)
	if err != nil {
		return fmt.Errorf("moss: config %s: %w", pathString(path), err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := abi.AppendMap(g.req[:0], 2)
	b = appendPath(abi.AppendText(b, "path"), path)
	g.req = append(abi.AppendText(b, "value"), raw...)
	return send(fnConfigUpdate, hostConfigUpdate)
}

// Watch calls fn whenever the configuration at or under path changes, by this
// component or by the host (a deployment), through the host function
// config_watch. fn receives the path that changed; read the new value with
// Get. Watches do not survive a restart of the instance: make them in an
// OnStart function. Errors: ErrFull (more than 64 watches).
func (Configuration) Watch(fn func(path []string), path ...string) error {
	if fn == nil {
		return fmt.Errorf("moss: config_watch: %w", errNilFunc)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.req = appendPath(abi.AppendText(abi.AppendMap(g.req[:0], 1), "path"), path)
	resp, err := call(fnConfigWatch, hostConfigWatch)
	if err != nil {
		return err
	}
	id, err := decodeID(fnConfigWatch, resp)
	if err != nil {
		return err
	}
	g.watches[id] = fn
	return nil
}

func pathString(path []string) string {
	if len(path) == 0 {
		return "(root)"
	}
	return strings.Join(path, "/")
}
