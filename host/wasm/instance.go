package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/moss-edge/moss/abi"
)

// Handler serves the host functions an instance calls.
type Handler interface {
	// HostCall serves host function fn (an index into abi.HostFunctions).
	// req aliases guest memory and is valid only until HostCall returns: a
	// handler copies what it keeps. The returned response is copied into the
	// guest before the handler is called again, so it may reuse a buffer. An
	// *abi.Error selects the code the guest sees; any other error is
	// abi.ErrInternal. ctx is cancelled when the call into the guest passes
	// its deadline (or the instance closes): a handler that waits (a QoS 1
	// cloud publish waiting for its PUBACK) must give up when it is, so that
	// the call ends at its deadline.
	HostCall(ctx context.Context, fn Func, req []byte) ([]byte, error)
}

// Func identifies a host function: an index into abi.HostFunctions.
type Func uint8

func (f Func) String() string { return abi.HostFunctions[f] }

// InstanceConfig describes one instance.
type InstanceConfig struct {
	Name        string        // component name, for errors and logs
	MemoryLimit uint64        // bytes of linear memory the instance may grow to
	Deadline    time.Duration // per call into the guest
	Stdout      io.Writer     // guest stdout/stderr; nil discards
	Stderr      io.Writer
	Handler     Handler
	Caps        Capabilities
}

// Capabilities are what WASI gives a guest beyond its memory and stdout/
// stderr. The zero value grants nothing: no files, no environment, and
// wazero's deterministic clock and random source. Sockets are never given.
type Capabilities struct {
	Clock  bool        // the host's wall and monotonic clocks, and real sleeps
	Random bool        // crypto/rand bytes
	Env    [][2]string // name, value
	Dirs   []DirMount  // read-only
}

// DirMount mounts a host directory read-only in the guest.
type DirMount struct{ Host, Guest string }

// Errors a call into a guest can end with. After any error from Deliver the
// instance is closed and must be replaced.
var (
	ErrDeadline = errors.New("call deadline exceeded")
	ErrClosed   = errors.New("instance closed")
	// ErrMemoryLimit is wrapped into a call's error when the guest had
	// asked for more memory than its limit during the call's life.
	ErrMemoryLimit = errors.New("memory limit reached")
)

// Instance is one instantiated component module. Not safe for concurrent
// use: one goroutine owns it (see the package doc).
type Instance struct {
	name     string
	deadline time.Duration
	handler  Handler
	dog      *watchdog

	ctx       context.Context
	cancel    context.CancelFunc // cancels ctx
	interrupt api.MutableGlobal  // the module's interrupt flag (nil under the interpreter)
	mod       api.Module
	mem       api.Memory
	onEvents  api.Function
	evBuffer  api.Function
	stack     []uint64
	evPtr     uint32
	evCap     uint32

	alloc      *cappedAllocator
	pending    []byte
	hasPending bool
	closed     bool

	callStart    atomic.Int64 // unix nanos of the running call, 0 when idle
	callDeadline atomic.Int64 // the running call's deadline, in nanoseconds
	killed       atomic.Bool  // set by the watchdog
}

// kill stops the running call: the guest traps at its next interrupt check
// (interrupt.go) or, under the interpreter, at wazero's next termination
// check, which watches ctx. Called from the watchdog's goroutine.
func (i *Instance) kill() {
	i.cancel()
	if i.interrupt != nil {
		i.interrupt.Set(1)
	}
}

type instanceKey struct{}

func instanceFrom(ctx context.Context) *Instance {
	i, _ := ctx.Value(instanceKey{}).(*Instance)
	return i
}

// minInitDeadline is the least time instantiation (a language runtime's
// _initialize) gets: a Go runtime initialises its heap and packages there,
// once, which takes milliseconds on a PC and can take far longer on a small
// ARM board. Past max(call deadline, minInitDeadline) the initialiser is
// stopped like any overrunning call.
const minInitDeadline = 2 * time.Second

// Instantiate makes an instance of m, runs its initialiser and checks its ABI
// version.
func (e *Engine) Instantiate(ctx context.Context, m *Module, cfg InstanceConfig) (*Instance, error) {
	if need := uint64(m.minPages) * 65536; need > cfg.MemoryLimit {
		return nil, fmt.Errorf("instantiate %s: module needs %d KiB of memory at start, its limit is %d KiB", cfg.Name, need>>10, cfg.MemoryLimit>>10)
	}
	if cfg.Deadline <= 0 {
		return nil, fmt.Errorf("instantiate %s: no call deadline", cfg.Name)
	}
	i := &Instance{
		name:     cfg.Name,
		deadline: cfg.Deadline,
		handler:  cfg.Handler,
		dog:      e.dog,
		stack:    make([]uint64, 2),
	}
	// One context per instance for all calls: it carries the instance to
	// the host functions without a per-call allocation. Under the
	// interpreter, cancelling it is how the watchdog stops an overrunning
	// call: wazero watches the context of every call there
	// (WithCloseOnContextDone) and on cancellation closes the module
	// without releasing its memory while the guest may still be running;
	// Module.CloseWithExitCode from another goroutine would release it
	// under the running guest (a data race, and a later memory.grow would
	// bypass the memory cap). Compiled modules are stopped through their
	// interrupt global instead (interrupt.go).
	var base context.Context
	base, i.cancel = context.WithCancel(context.Background())
	i.ctx = context.WithValue(base, instanceKey{}, i)
	stdout, stderr := cfg.Stdout, cfg.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	e.mu.Lock()
	e.seq++
	modName := fmt.Sprintf("%s#%d", cfg.Name, e.seq)
	e.mu.Unlock()
	// The initialiser is called below, as any other call under the
	// watchdog, once the interrupt global can be reached.
	mc := wazero.NewModuleConfig().
		WithName(modName).
		WithStartFunctions().
		WithStdout(stdout).
		WithStderr(stderr)
	if cfg.Caps.Clock {
		mc = mc.WithSysWalltime().WithSysNanotime().WithNanosleep(i.sleep)
	}
	if cfg.Caps.Random {
		mc = mc.WithRandSource(rand.Reader)
	}
	for _, kv := range cfg.Caps.Env {
		mc = mc.WithEnv(kv[0], kv[1])
	}
	if len(cfg.Caps.Dirs) > 0 {
		fs := wazero.NewFSConfig()
		for _, d := range cfg.Caps.Dirs {
			fs = fs.WithReadOnlyDirMount(d.Host, d.Guest)
		}
		mc = mc.WithFSConfig(fs)
	}

	i.alloc = &cappedAllocator{limit: cfg.MemoryLimit}
	// Instantiating runs no guest code (no start functions): active data
	// and element segments are copied, which is bounded by the module's
	// size.
	mod, err := e.rt.InstantiateModule(experimental.WithMemoryAllocator(i.ctx, i.alloc), m.compiled, mc)
	if err != nil {
		i.cancel()
		return nil, fmt.Errorf("instantiate %s: %w", cfg.Name, i.withMemoryNote(describe(err)))
	}
	i.mod = mod
	i.mem = mod.Memory()
	i.onEvents = mod.ExportedFunction(abi.ExportOnEvents)
	i.evBuffer = mod.ExportedFunction(abi.ExportEventBuffer)
	if m.interrupt {
		g, ok := mod.ExportedGlobal(abi.ExportInterrupt).(api.MutableGlobal)
		if !ok { // instrument added it: only a bug gets here
			mod.Close(ctx)
			i.cancel()
			return nil, fmt.Errorf("instantiate %s: the interrupt global is missing", cfg.Name)
		}
		i.interrupt = g
	}
	e.dog.add(i)

	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		initDeadline := max(cfg.Deadline, minInitDeadline)
		if err := i.callWithin(init, initDeadline); err != nil {
			return nil, fmt.Errorf("instantiate %s: %s: %w", cfg.Name, abi.ExportInitialize, err)
		}
	}
	if err := i.call(mod.ExportedFunction(abi.ExportABIVersion)); err != nil {
		i.Close(ctx)
		return nil, fmt.Errorf("instantiate %s: %s: %w", cfg.Name, abi.ExportABIVersion, err)
	}
	if v := int32(i.stack[0]); v != abi.Version {
		i.Close(ctx)
		return nil, fmt.Errorf("instantiate %s: built for ABI version %d, this host speaks version %d", cfg.Name, v, abi.Version)
	}
	return i, nil
}

// Deliver writes batch (a CBOR array of events) into the guest's event buffer
// and calls its event export. Any error closes the instance.
func (i *Instance) Deliver(batch []byte) error {
	if i.closed {
		return ErrClosed
	}
	n := uint32(len(batch))
	if n > i.evCap {
		i.stack[0] = uint64(n)
		if err := i.call(i.evBuffer); err != nil {
			return fmt.Errorf("%s: %w", abi.ExportEventBuffer, err)
		}
		ptr := uint32(i.stack[0])
		if _, ok := i.mem.Read(ptr, n); !ok || ptr == 0 {
			i.Close(context.Background())
			return fmt.Errorf("%s(%d) returned %#x, not a buffer inside memory (%d bytes)", abi.ExportEventBuffer, n, ptr, i.mem.Size())
		}
		i.evPtr, i.evCap = ptr, n
	}
	if !i.mem.Write(i.evPtr, batch) {
		i.Close(context.Background())
		return fmt.Errorf("event buffer at %#x no longer inside memory", i.evPtr)
	}
	i.stack[0], i.stack[1] = uint64(i.evPtr), uint64(n)
	if err := i.call(i.onEvents); err != nil {
		return fmt.Errorf("%s: %w", abi.ExportOnEvents, err)
	}
	if rc := int32(i.stack[0]); rc != 0 {
		return i.withMemoryNote(fmt.Errorf("%s returned %d", abi.ExportOnEvents, rc))
	}
	return nil
}

// call runs f with i.stack under the deadline. On failure the instance is
// closed: after a trap its memory may be inconsistent, after a deadline it is
// already closed.
func (i *Instance) call(f api.Function) error { return i.callWithin(f, i.deadline) }

func (i *Instance) callWithin(f api.Function, deadline time.Duration) error {
	i.dog.begin(i, deadline)
	err := f.CallWithStack(i.ctx, i.stack)
	i.dog.end(i)
	if err == nil {
		return nil
	}
	if i.killed.Load() {
		err = fmt.Errorf("%w (%v)", ErrDeadline, deadline)
	} else {
		err = describe(err)
	}
	err = i.withMemoryNote(err)
	i.Close(context.Background())
	return err
}

// withMemoryNote adds to err that the guest hit its memory limit, if it did:
// a language runtime's out-of-memory exit, or a guest's error code, is then
// explained by the limit rather than left as a bare exit code.
func (i *Instance) withMemoryNote(err error) error {
	if r := i.alloc.refused(); r > 0 {
		return fmt.Errorf("%w: %w (limit %d KiB, a grow to %d KiB was refused)", err, ErrMemoryLimit, i.alloc.limit>>10, r>>10)
	}
	return err
}

// describe turns wazero's errors into what a component author needs.
func describe(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			// The watchdog cancelled the call, or instantiation ran
			// past its deadline.
			return ErrDeadline
		default:
			return fmt.Errorf("guest exited with code %d (proc_exit in a reactor)", exit.ExitCode())
		}
	}
	return fmt.Errorf("guest trapped: %w", err)
}

// MemorySize reports the instance's linear memory size in bytes.
func (i *Instance) MemorySize() uint32 {
	if i.mem == nil {
		return 0
	}
	return i.mem.Size()
}

// Close releases the instance. It is idempotent.
func (i *Instance) Close(ctx context.Context) error {
	if i.closed {
		return nil
	}
	i.closed = true
	i.dog.remove(i)
	i.cancel()
	return i.mod.Close(ctx)
}
