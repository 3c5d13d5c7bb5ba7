package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moss-edge/moss/host/logs"
)

// requestTimeout bounds how long a connection may take to send its request,
// so idle connections do not pile up.
const requestTimeout = 10 * time.Second

// probeTimeout bounds the check for another host on the socket.
const probeTimeout = time.Second

// Server serves the admin protocol on a Unix socket. Create it with
// NewServer and call Serve once.
type Server struct {
	path    string
	backend Backend
	logs    *logs.Buffer
	log     *slog.Logger
	ln      net.Listener // set by Listen

	wg sync.WaitGroup // every goroutine Serve starts

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
}

// NewServer returns a server for socketPath. logs may be nil, in which case
// "logs" requests fail; log may be nil to discard the server's own logs.
func NewServer(socketPath string, b Backend, logs *logs.Buffer, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		path:    socketPath,
		backend: b,
		logs:    logs,
		log:     log,
		conns:   map[net.Conn]struct{}{},
	}
}

// Serve listens on the socket and serves until ctx is done, then closes
// every connection, waits for every goroutine it started, removes the socket
// and returns nil. It returns an error at once if it cannot listen, and
// ErrAlreadyRunning (wrapped) if another host answers on the socket.
func (s *Server) Serve(ctx context.Context) error {
	ln := s.ln
	if ln == nil {
		var err error
		if ln, err = s.listen(); err != nil {
			return err
		}
	}
	s.log.Info("admin socket listening", "path", s.path)

	stopped := make(chan struct{})
	s.goroutine(func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		ln.Close()
	})

	err := s.acceptLoop(ctx, ln)
	close(stopped)

	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

// Listen creates the socket without serving it yet, so that a host can
// find out that the socket is taken (ErrAlreadyRunning) before it starts
// anything else. Serve then serves it.
func (s *Server) Listen() error {
	ln, err := s.listen()
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Close releases a socket that Listen made and Serve never served (Serve
// releases its own when ctx is done).
func (s *Server) Close() error {
	if s.ln == nil {
		return nil
	}
	return s.ln.Close() // a Unix listener removes its socket file on Close
}

func (s *Server) listen() (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := s.removeStale(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// Between Listen and Chmod the socket has the umask's mode; the 0700
	// directory (when we created it) is what keeps others out meanwhile.
	if err := os.Chmod(s.path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// removeStale deletes a socket file nobody listens on, which is what a host
// that was killed leaves behind, and refuses if a host still answers.
func (s *Server) removeStale() error {
	fi, err := os.Lstat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin socket %s: exists and is not a socket; remove it or choose another path", s.path)
	}
	c, err := net.DialTimeout("unix", s.path, probeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("admin socket %s: %w", s.path, ErrAlreadyRunning)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("admin socket %s: checking for a running host: %w", s.path, err)
	}
	s.log.Info("removing stale admin socket", "path", s.path)
	if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin socket: removing stale socket: %w", err)
	}
	return nil
}

func (s *Server) acceptLoop(ctx context.Context, ln net.Listener) error {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Running out of file descriptors passes; anything else means
			// the listener is gone for good.
			if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) && !errors.Is(err, syscall.ECONNABORTED) {
				return fmt.Errorf("admin socket: accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("admin socket accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			return nil
		}
		s.goroutine(func() {
			defer s.untrack(c)
			s.handle(ctx, c)
		})
	}
}

// goroutine is the one way the server starts goroutines, so Serve can wait
// for all of them.
func (s *Server) goroutine(fn func()) { s.wg.Go(fn) }

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// conn is one client connection being answered.
type conn struct {
	c   net.Conn
	w   *bufio.Writer
	enc *json.Encoder
}

func (c *conn) send(v any) error { return c.enc.Encode(v) }

func (c *conn) flush() error { return c.w.Flush() }

func (c *conn) fail(msg string) error {
	if err := c.send(reply{Error: msg}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) handle(ctx context.Context, nc net.Conn) {
	w := bufio.NewWriter(nc)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	c := &conn{c: nc, w: w, enc: enc}

	nc.SetReadDeadline(time.Now().Add(requestTimeout))
	var req request
	if err := json.NewDecoder(io.LimitReader(nc, maxRequest)).Decode(&req); err != nil {
		c.fail(fmt.Sprintf("bad request: %v", err))
		return
	}
	nc.SetReadDeadline(time.Time{})

	var err error
	switch req.Op {
	case "list":
		err = s.list(c)
	case "status":
		err = s.status(c)
	case "pub":
		err = s.pub(c, req)
	case "shadow":
		err = s.shadow(ctx, c, req)
	case "cloud_pub":
		err = s.cloudPub(ctx, c, req)
	case "sub":
		err = s.sub(ctx, c, req)
	case "logs":
		err = s.tailLogs(ctx, c, req)
	case "secret_set":
		err = s.secretSet(c, req)
	case "secret_list":
		err = s.secretList(c)
	case "deploy":
		err = s.deploy(ctx, c, req)
	case "deployments":
		err = s.deployments(c)
	case "deployment":
		err = s.deployment(c, req)
	case "deployment_cancel":
		err = s.deploymentCancel(ctx, c, req)
	case "component":
		err = s.component(ctx, c, req)
	case "clients":
		err = s.clients(c, req)
	case "":
		err = c.fail(`bad request: no "op"`)
	default:
		err = c.fail(fmt.Sprintf("unknown op %q", req.Op))
	}
	if err != nil && ctx.Err() == nil {
		// Usually the client went away mid-stream; nothing to answer.
		s.log.Debug("admin connection ended", "op", req.Op, "err", err)
	}
}

func (s *Server) list(c *conn) error {
	cs := s.backend.Components()
	if cs == nil {
		cs = []ComponentInfo{}
	}
	if err := c.send(listReply{Components: cs}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) status(c *conn) error {
	st := s.backend.Status()
	if err := c.send(reply{Status: &st}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) shadow(ctx context.Context, c *conn, req request) error {
	switch req.Shadow {
	case "get", "update", "delete", "list":
	default:
		return c.fail(fmt.Sprintf(`shadow: "shadow" %q: want get, update, delete or list`, req.Shadow))
	}
	code, doc, err := s.backend.Shadow(ctx, req.Shadow, req.Thing, req.Name, req.Payload)
	if err != nil {
		return c.fail(err.Error())
	}
	if err := c.send(reply{Code: code, Payload: doc}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) cloudPub(ctx context.Context, c *conn, req request) error {
	if req.Topic == "" {
		return c.fail(`cloud_pub: "topic" is required`)
	}
	if err := s.backend.CloudPublish(ctx, req.Topic, req.Payload, req.QoS); err != nil {
		return c.fail(err.Error())
	}
	if err := c.send(reply{OK: true}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) pub(c *conn, req request) error {
	if req.Topic == "" {
		return c.fail(`pub: "topic" is required`)
	}
	if len(req.Payload) > MaxPayload {
		return c.fail(fmt.Sprintf("pub: payload is %d bytes, more than the %d allowed", len(req.Payload), MaxPayload))
	}
	if err := s.backend.Publish(req.Topic, req.Payload); err != nil {
		return c.fail(err.Error()) // the client knows which topic it asked for
	}
	if err := c.send(reply{OK: true}); err != nil {
		return err
	}
	return c.flush()
}

// clientGone returns a context that ends when ctx does or when the client
// closes its end of the connection. The reader goroutine ends when the
// connection is closed, which handle's caller always does.
func (s *Server) clientGone(ctx context.Context, c *conn) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	s.goroutine(func() {
		defer cancel()
		// Anything the client sends after its request is ignored; EOF or an
		// error means it is gone.
		io.Copy(io.Discard, c.c)
	})
	return ctx, cancel
}

type message struct {
	topic   string
	payload []byte
}

func (s *Server) sub(ctx context.Context, c *conn, req request) error {
	if req.Filter == "" {
		return c.fail(`sub: "filter" is required`)
	}
	// The queue is never closed: fn may still run after cancel, and a send
	// on a queue nobody reads any more is harmless.
	queue := make(chan message, SubQueue)
	var dropped atomic.Uint64
	cancel, err := s.backend.Subscribe(req.Filter, func(topic string, payload []byte) {
		// The publisher may reuse payload once fn returns.
		m := message{topic: topic, payload: append([]byte(nil), payload...)}
		select {
		case queue <- m:
		default:
			dropped.Add(1)
		}
	})
	if err != nil {
		return c.fail(err.Error())
	}
	defer cancel()

	ctx, stop := s.clientGone(ctx, c)
	defer stop()
	if err := c.send(reply{OK: true}); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-queue:
			if err := c.send(reply{Topic: m.topic, Payload: m.payload}); err != nil {
				return err
			}
		}
		// Report drops as soon as they are seen, not when the queue drains,
		// so a client under sustained overload hears of them too. The notice
		// can come before messages queued ahead of the gap: it says how many
		// are missing, not exactly where.
		if n := dropped.Swap(0); n > 0 {
			if err := c.send(reply{Dropped: n}); err != nil {
				return err
			}
		}
		// While more messages wait, let them share one write.
		if len(queue) == 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

func (s *Server) tailLogs(ctx context.Context, c *conn, req request) error {
	if s.logs == nil {
		return c.fail("logs: this host keeps no log buffer")
	}
	n := -1
	if req.Tail != nil {
		n = *req.Tail
	}
	if !req.Follow {
		for _, r := range s.logs.Tail(req.Component, n) {
			if err := c.send(reply{Record: &r}); err != nil {
				return err
			}
		}
		if err := c.send(reply{End: true}); err != nil {
			return err
		}
		return c.flush()
	}

	tail, ch, cancel := s.logs.TailAndFollow(req.Component, n)
	defer cancel()
	ctx, stop := s.clientGone(ctx, c)
	defer stop()
	for _, r := range tail {
		if err := c.send(reply{Record: &r}); err != nil {
			return err
		}
	}
	if err := c.flush(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-ch:
			if err := c.send(reply{Record: &r}); err != nil {
				return err
			}
		}
		if len(ch) == 0 {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

// secretSet stores a secret. Neither the value nor anything derived from it
// is logged or echoed; errors name the secret only.
func (s *Server) secretSet(c *conn, req request) error {
	if req.Name == "" {
		return c.fail(`secret_set: "name" is required`)
	}
	if err := s.backend.SetSecret(req.Name, req.Value); err != nil {
		return c.fail(err.Error())
	}
	clear(req.Value)
	if err := c.send(reply{OK: true}); err != nil {
		return err
	}
	return c.flush()
}

func (s *Server) secretList(c *conn) error {
	names, err := s.backend.SecretNames()
	if err != nil {
		return c.fail(err.Error())
	}
	if names == nil {
		names = []string{}
	}
	if err := c.send(secretsReply{Secrets: names}); err != nil {
		return err
	}
	return c.flush()
}

// secretsReply is written instead of reply so that an empty list is [].
type secretsReply struct {
	Secrets []string `json:"secrets"`
}
