// Package ipc is the wire and the two ends of the process-per-component
// baseline (bench/baseline): a broker process and component processes that
// exchange Moss's ABI messages, CBOR encoded, in length-prefixed frames over
// a Unix domain socket, as AWS IoT Greengrass V2's nucleus and its
// components exchange IPC messages.
//
// It exists only to be measured against Moss. It reuses what Moss itself
// uses wherever the two do the same work: host/bus for topic matching, the
// abi package's hand-written CBOR encoder for publish requests and message
// events, and abi.Reader for decoding them, so the difference measured is
// the process boundary and not the code on either side of it.
package ipc
