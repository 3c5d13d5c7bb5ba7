// Package cloud is the host's one MQTT 5 link to AWS IoT Core (or to any
// broker that speaks MQTT 5 with mutual TLS, such as Mosquitto in the
// tests). Components never hold a connection of their own: they publish and
// subscribe through host functions, and this package multiplexes them onto
// the device's connection, keeps what they send while the link is down, and
// routes what arrives to the components that asked for it.
//
// # Connection
//
// The link is an autopaho connection manager (paho.golang): mutual TLS with
// the thing's certificate and key, the server's certificate always verified
// against the configured root CA, the thing name as client id, clean start,
// exponential reconnect backoff with jitter, and every subscription made
// again after a reconnect (filters batched eight to a SUBSCRIBE). Port 443
// uses ALPN "x-amzn-mqtt-ca" as IoT Core requires.
//
// The connection is wrapped so that each MQTT packet leaves in one write:
// paho writes a PUBLISH as five pieces, which on a TLS connection become
// five TLS records (about 22 bytes of overhead each) and five syscalls. The
// wrapper also counts the bytes on the wire, which Status reports: devices
// on cellular links pay for every byte.
//
// # Sending: direct or spooled
//
// A QoS 1 message is accepted (Publish returns nil) only once it is safe:
// either the broker acknowledged it (PUBACK) or it is in the spool, which on
// disk is the host's bbolt file and survives a kill -9. When the link is up,
// nothing is queued before it and the rate and in-flight limits allow, a
// message goes straight to the broker and Publish waits up to AckWait for
// the PUBACK; otherwise, or if the PUBACK is late, it is spooled. A single
// sender drains the spool in order once the link is up, with up to 100
// messages awaiting their PUBACK (IoT Core's in-flight limit) rather than
// one per round trip; a message leaves the spool only on its PUBACK, and
// after a dropped connection the unacknowledged ones go again, oldest
// first, before anything newer. A message already
// written before a PUBACK went missing may be sent twice: QoS 1 is at least
// once. A full spool refuses new QoS 1 messages with ErrSpoolFull (after
// evicting spooled QoS 0 messages, oldest first); it never drops one
// silently. QoS 0 messages go to a writer goroutine through a short queue
// (in order) and, when it is behind, to the spool; while offline they are
// spooled only when KeepQoS0WhenOffline is set, otherwise Publish reports
// ErrOffline.
//
// No network write happens on the caller's goroutine: a component's host
// call must never hang on a full TCP send buffer (a broker or a link that
// stopped reading) past its deadline. Backpressure reaches the caller as
// the spool filling up, then as ErrSpoolFull.
//
// # AWS IoT Core limits
//
// IoT Core refuses, throttles or disconnects on these, so they are checked
// here first, with errors that say which limit was hit. Source: "AWS IoT
// Core endpoints and quotas", message broker and protocol limits
// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html), and "MQTT"
// in the AWS IoT Core developer guide (differences from the MQTT
// specification: no QoS 2, reserved topics):
//
//	topic (and topic filter) size              256 bytes of UTF-8      MaxTopicBytes
//	forward slashes in a topic or filter       7                       MaxTopicSlashes
//	message payload                            128 KB                  MaxPayloadBytes
//	QoS                                        0 and 1 (QoS 2 refused) ErrQoS
//	subscriptions per connection               50                      MaxSubscriptions
//	topic filters per SUBSCRIBE                8                       filtersPerSubscribe
//	unacknowledged QoS 1 publishes in flight   100                     maxInFlight
//	publishes per second per connection        100                     [cloud] max_publish_rate
//	keep-alive                                 30 s to 1200 s          [cloud] keep_alive
//	client id                                  128 bytes               the thing name
//
// Topics beginning with "$" are reserved; a device may use only the
// "$aws/..." topics IoT Core gives devices (shadows, jobs, tunnels,
// Defender, streams, Basic Ingest rules, fleet provisioning and, for
// subscriptions, events). Past 50 subscriptions Subscribe refuses with
// ErrTooManySubscriptions rather than opening a second connection as
// Greengrass does: on a device, one connection is also one TLS session and
// one keep-alive stream to pay for.
package cloud
