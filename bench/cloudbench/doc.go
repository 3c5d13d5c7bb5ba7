// Package cloudbench measures the cloud link against the thing it wraps: a
// component's messages forwarded through the host to a real Mosquitto with
// mutual TLS, side by side with a bare paho.golang client publishing the
// same messages to the same broker, and the bytes a device pays on the
// wire to keep an idle link up. `make bench` runs BenchmarkCloud and puts
// its figures in the table (see bench/README.md).
package cloudbench
