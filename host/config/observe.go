package config

import (
	"net"
	"strings"
	"time"

	"github.com/moss-edge/moss/host/internal/tomlx"
	"github.com/moss-edge/moss/host/limits"
)

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the address /metrics is served on, e.g. "127.0.0.1:9464";
	// empty (the default) serves nothing.
	Listen string `toml:"listen"`
}

// Health configures the status document the host publishes to the cloud,
// as Greengrass's fleet status service does.
type Health struct {
	// Enabled publishes the document (default true); it needs a cloud
	// link ([cloud] endpoint), without which nothing is published.
	Enabled bool `toml:"enabled"`
	// Topic is where it goes; "{thing}" stands for the thing name.
	// Default "moss/{thing}/health".
	Topic string `toml:"topic"`
	// StatusInterval is how often it is published when nothing changes
	// (default 24h, as Greengrass's).
	StatusInterval limits.Duration `toml:"status_interval"`
	// Debounce gathers changes that come close together (a deployment
	// moving several components) into one document (default 1s).
	Debounce limits.Duration `toml:"debounce"`
}

// DefaultHealthTopic is Health.Topic's default.
const DefaultHealthTopic = "moss/{thing}/health"

func defaultHealth() Health {
	return Health{
		Enabled:        true,
		Topic:          DefaultHealthTopic,
		StatusInterval: limits.Duration{Duration: 24 * time.Hour},
		Debounce:       limits.Duration{Duration: time.Second},
	}
}

// HealthTopic is the health topic with the thing name filled in.
func (c *Config) HealthTopic() string {
	return strings.ReplaceAll(c.Health.Topic, "{thing}", c.Thing())
}

func (c *Config) validateObserve(doc *tomlx.Doc) {
	doc.Check(tomlx.Path{"metrics", "listen"}, func() {
		if c.Metrics.Listen == "" {
			return
		}
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			doc.Errorf(tomlx.Path{"metrics", "listen"}, "metrics.listen %q: want HOST:PORT, e.g. \"127.0.0.1:9464\": %v", c.Metrics.Listen, err)
		}
	})
	doc.Check(tomlx.Path{"health", "topic"}, func() {
		t := c.Health.Topic
		if t == "" || strings.ContainsAny(t, "+#") || strings.HasPrefix(t, "$") {
			doc.Errorf(tomlx.Path{"health", "topic"}, "health.topic %q: want a topic without wildcards, not under $ (IoT Core reserves $aws/...)", t)
		}
	})
	doc.Check(tomlx.Path{"health", "status_interval"}, func() {
		if c.Health.StatusInterval.Duration < time.Second {
			doc.Errorf(tomlx.Path{"health", "status_interval"}, "health.status_interval %s: want at least 1s", c.Health.StatusInterval)
		}
	})
	doc.Check(tomlx.Path{"health", "debounce"}, func() {
		if d := c.Health.Debounce.Duration; d < 0 || d > time.Minute {
			doc.Errorf(tomlx.Path{"health", "debounce"}, "health.debounce %s: want 0 to 1m", c.Health.Debounce)
		}
	})
}
