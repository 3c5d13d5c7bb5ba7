// Package admin is the host's local admin socket and its client: the "moss"
// CLI talks to a running "moss run" through it to list components, read the
// host status, publish and subscribe on the local bus and read the logs.
//
// # Transport and access
//
// A Unix domain socket, by default var/moss/admin.sock under the host's
// working directory. The server creates the socket's directory with mode
// 0700 (when it does not exist yet) and the socket with mode 0600, so only
// the user running the host can reach it; there is no other authentication.
// At start the server removes a socket file left by a host that died, but
// refuses to start (ErrAlreadyRunning) when another host answers on it.
//
// # Protocol
//
// Newline-delimited JSON, one request per connection. The client sends one
// request object; the server answers with one or more JSON lines and closes
// the connection, or, for streams, keeps sending until the client closes
// its end (a read of EOF by the server means the client is gone, so a client
// must not half-close its side) or the host stops. []byte fields are base64,
// as encoding/json writes them. Unknown fields are ignored, so newer clients
// can add optional ones.
//
// Requests (>) and the lines answering them (<):
//
//	> {"op":"list"}
//	< {"components":[ComponentInfo, ...]}
//
//	> {"op":"status"}
//	< {"status":Status}
//
//	> {"op":"pub","topic":"t","payload":"aGk="}
//	< {"ok":true}
//
//	> {"op":"cloud_pub","topic":"t","payload":"aGk=","qos":1}
//	< {"ok":true}                             once acknowledged or spooled
//
//	> {"op":"shadow","shadow":"update","thing":"t","name":"","payload":"eyJzdGF0ZSI6..."}
//	< {"code":200,"payload":"..."}            IoT Core's status and document
//
//	> {"op":"sub","filter":"sensors/#"}
//	< {"ok":true}                             once subscribed, then
//	< {"topic":"t","payload":"aGk="}          per message, and
//	< {"dropped":N}                           when N messages were dropped
//
//	> {"op":"logs","component":"","tail":100,"follow":true}
//	< {"record":Record}                       per record, then, without follow,
//	< {"end":true}
//
//	> {"op":"secret_set","name":"db-password","value":"aHVudGVyMg=="}
//	< {"ok":true}                             (the value is never echoed or logged)
//
//	> {"op":"secret_list"}
//	< {"secrets":["db-password"]}             names only
//
//	> {"op":"deploy","deploy":{"document":"aWQgPSAi...","file":"/abs/d.toml","artifacts":"/abs/dir"},"follow":true}
//	< {"deployment":Record}                   as submitted (QUEUED), then, with follow,
//	< {"progress":Progress}                   per event, the first ones replayed, and
//	< {"deployment":Record,"end":true}        once it has ended; without follow, or
//	                                          when it is REJECTED, the first line has "end"
//
//	> {"op":"deployments"}
//	< {"deployments":[Record, ...]}           the history, oldest first, without
//	                                          events, document and sets
//
//	> {"op":"deployment","id":"d1"}
//	< {"deployment":Record}
//
//	> {"op":"component","action":"restart","name":"sensor"}
//	< {"component":ComponentInfo}             once stopped (FINISHED), or started
//	                                          (RUNNING, or the state it reached)
//
//	> {"op":"deployment_cancel","id":"d1"}
//	< {"deployment":Record}                   once it has ended (rolled back)
//
// Any request may instead be answered by {"error":"message"}, after which
// the server closes the connection. ComponentInfo and Status are the types
// below, with their JSON field names. In "logs", "component":"" means every
// component, and "tail":-1 or no "tail" every buffered record. A Record is a
// logs.Record:
//
//	{"time":"2026-11-24T02:11:32.123Z","level":"INFO","component":"sensor","msg":"...","attrs":"k=v"}
//
// A log follower that reads too slowly receives a WARN record saying how
// many records it missed.
//
// A subscriber's messages pass through a bounded queue (SubQueue messages),
// because the bus calls the server from the publisher's goroutine and a slow
// client must not hold the publisher up. When the queue is full, messages
// are dropped and counted, and the count is sent as {"dropped":N} with the
// next message written.
//
// Example with a generic tool:
//
//	echo '{"op":"status"}' | socat - UNIX-CONNECT:var/moss/admin.sock
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moss-edge/moss/host/deploy"
	"github.com/moss-edge/moss/host/logs"
)

// MaxPayload is the largest message "pub" accepts.
const MaxPayload = 8 << 20

// maxRequest bounds a request line: a MaxPayload payload in base64 plus
// room for the other fields.
const maxRequest = MaxPayload/3*4 + 64<<10

// SubQueue is how many messages a subscriber may have waiting to be written
// to its connection before further messages are dropped.
const SubQueue = 256

// ErrAlreadyRunning is returned by Server.Serve when another host answers on
// the socket path.
var ErrAlreadyRunning = errors.New("another moss is running")

// ComponentInfo describes one component for "moss list".
type ComponentInfo struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	State     string    `json:"state"`
	Restarts  int       `json:"restarts"`
	Errors    int       `json:"errors"`
	Delivered uint64    `json:"delivered"` // messages delivered to the component
	Dropped   uint64    `json:"dropped"`   // messages its mailbox dropped
	Queued    int       `json:"queued"`    // messages waiting in its mailbox
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"` // when it entered State
}

// Status describes the host for "moss status".
type Status struct {
	Version       string    `json:"version"`
	Started       time.Time `json:"started"`
	Components    int       `json:"components"`
	Subscriptions int       `json:"subscriptions"`
	Cloud         *Cloud    `json:"cloud,omitempty"`
}

// Cloud is the state of the host's link to AWS IoT Core.
type Cloud struct {
	State         string    `json:"state"` // OFFLINE, CONNECTING, CONNECTED or DISCONNECTED
	Endpoint      string    `json:"endpoint,omitempty"`
	Since         time.Time `json:"since"`
	LastError     string    `json:"last_error,omitempty"`
	Reconnects    int       `json:"reconnects"`
	Spooled       int       `json:"spooled"`
	SpooledBytes  int64     `json:"spooled_bytes"`
	SpoolMax      int64     `json:"spool_max_bytes"`
	Evicted       uint64    `json:"evicted"`
	Subscriptions int       `json:"subscriptions"`
	Sent          uint64    `json:"sent"`
	Received      uint64    `json:"received"`
	Rejected      uint64    `json:"rejected"`
	BytesOut      uint64    `json:"bytes_out"`
	BytesIn       uint64    `json:"bytes_in"`
}

// Backend is what the server needs from the host. Its methods may be called
// from many goroutines at once.
type Backend interface {
	Components() []ComponentInfo
	Status() Status
	Publish(topic string, payload []byte) error
	// Subscribe calls fn for each message matching filter until cancel is
	// called. fn runs in the publisher's goroutine and does not block; it
	// may be called after cancel returns, and the server tolerates that.
	Subscribe(filter string, fn func(topic string, payload []byte)) (cancel func(), err error)
	// SetSecret stores a secret; the value must not be logged.
	SetSecret(name string, value []byte) error
	// SecretNames lists the secrets set (names, never values).
	SecretNames() ([]string, error)
	// Shadow runs a shadow operation ("get", "update", "delete" or "list")
	// as the operator and returns IoT Core's status and document.
	Shadow(ctx context.Context, op, thing, name string, payload []byte) (status int, doc []byte, err error)
	// CloudPublish sends a message to the cloud as the device; it returns
	// once a QoS 1 message is acknowledged or spooled.
	CloudPublish(ctx context.Context, topic string, payload []byte, qos byte) error
	// Deployments returns the host's deployer, or nil (untyped) while it
	// has none; see deploy.go.
	Deployments() Deployments
	// ControlComponent stops, starts or restarts a component; see
	// component.go.
	ControlComponent(ctx context.Context, action, name string) (ComponentInfo, error)
}

// request is the one object a client sends.
type request struct {
	Op        string `json:"op"`
	Topic     string `json:"topic,omitempty"`
	Payload   []byte `json:"payload,omitempty"`
	Filter    string `json:"filter,omitempty"`
	Component string `json:"component,omitempty"`
	Tail      *int   `json:"tail,omitempty"` // nil: every buffered record
	Follow    bool   `json:"follow,omitempty"`
	Name      string `json:"name,omitempty"`   // secret_set
	Value     []byte `json:"value,omitempty"`  // secret_set
	QoS       byte   `json:"qos,omitempty"`    // cloud_pub
	Shadow    string `json:"shadow,omitempty"` // shadow: get, update, delete or list
	Thing     string `json:"thing,omitempty"`  // shadow

	Action string         `json:"action,omitempty"` // component: stop, start or restart
	ID     string         `json:"id,omitempty"`     // deployment, deployment_cancel
	Deploy *DeployRequest `json:"deploy,omitempty"` // deploy

	Clients *ClientsRequest `json:"clients,omitempty"` // clients
}

// reply is the union of every line the server sends; exactly one group of
// fields is set per line.
type reply struct {
	Error      string          `json:"error,omitempty"`
	OK         bool            `json:"ok,omitempty"`
	End        bool            `json:"end,omitempty"`
	Components []ComponentInfo `json:"components,omitempty"`
	Status     *Status         `json:"status,omitempty"`
	Topic      string          `json:"topic,omitempty"`
	Payload    []byte          `json:"payload,omitempty"`
	Dropped    uint64          `json:"dropped,omitempty"`
	Record     *logs.Record    `json:"record,omitempty"`
	Secrets    []string        `json:"secrets,omitempty"`
	Code       int             `json:"code,omitempty"` // shadow: IoT Core's status

	Deployment  *deploy.Record   `json:"deployment,omitempty"`
	Deployments []deploy.Record  `json:"deployments,omitempty"`
	Progress    *deploy.Progress `json:"progress,omitempty"`
	Component   *ComponentInfo   `json:"component,omitempty"`

	Clients *ClientsReply `json:"clients,omitempty"`
}

// listReply is written instead of reply so an empty list is [] rather than
// absent.
type listReply struct {
	Components []ComponentInfo `json:"components"`
}

// RemoteError is an error the host answered with.
type RemoteError struct {
	Msg string
}

func (e *RemoteError) Error() string { return e.Msg }

// UnreachableError means the client could not connect to the socket.
type UnreachableError struct {
	Path string
	Err  error // the connect error, e.g. syscall.ENOENT or ECONNREFUSED
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the moss host at %s: is \"moss run\" running? (%v)", e.Path, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }
