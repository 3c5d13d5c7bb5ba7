package mqtttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// dynsec writes a dynamic security configuration letting user (the
// device certificate's CN) publish and receive anything but subscribe only
// to allow, and returns the mosquitto.conf lines that load it.
func dynsec(t testing.TB, dir, user string, allow []string) ([]string, error) {
	plugin := ""
	for _, p := range []string{
		"/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so",
		"/usr/lib/mosquitto_dynamic_security.so",
	} {
		if _, err := os.Stat(p); err == nil {
			plugin = p
			break
		}
	}
	if plugin == "" {
		t.Fatal("mqtttest: mosquitto_dynamic_security.so not found: install the Debian package mosquitto (make deps does)")
	}
	type acl struct {
		Type  string `json:"acltype"`
		Topic string `json:"topic"`
		Allow bool   `json:"allow"`
	}
	var acls []acl
	for _, f := range allow {
		acls = append(acls, acl{"subscribePattern", f, true})
	}
	type ref struct {
		Role string `json:"rolename"`
	}
	cfg := map[string]any{
		"defaultACLAccess": map[string]bool{"publishClientSend": true, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
		"clients":          []map[string]any{{"username": user, "roles": []ref{{"device"}}}},
		"groups":           []any{},
		"roles":            []map[string]any{{"rolename": "device", "acls": acls}},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "dynamic-security.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return nil, err
	}
	return []string{"plugin " + plugin, "plugin_opt_config_file " + p}, nil
}
