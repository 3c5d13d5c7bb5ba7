// Package wasm runs component modules under wazero. It owns the one wazero
// runtime of a host, the on-disk compilation cache, the "moss" host module and
// the instances, and enforces what the ABI promises about containment: memory
// is capped per instance, every call into a guest has a deadline after which
// the instance is closed, every guest pointer is bounds-checked, and a trap
// fails the call instead of the host.
//
// An Engine is safe for concurrent use. An Instance is not: the ABI says a
// guest is never entered twice at once, so exactly one goroutine (the
// component's deliverer) may use an Instance; that goroutine is also the one
// host functions run on, so handlers need no locking for per-instance state.
package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/moss-edge/moss/abi"
)

// Options configure an Engine.
type Options struct {
	// CacheDir holds compiled machine code across restarts; empty disables
	// the disk cache (modules are then compiled once per process).
	CacheDir string
	// Logger receives engine events (compilations, watchdog kills).
	Logger *slog.Logger
	// Interpreter forces wazero's interpreter. Without it the compiler is
	// used where wazero has one (amd64, arm64) and the interpreter elsewhere
	// (32-bit ARM, for one): far slower, but the same guarantees.
	Interpreter bool
	// NoTermination compiles modules without interrupt checks (and, under
	// the interpreter, without wazero's termination checks). A guest stuck
	// in a loop can then no longer be stopped: only for benchmarks
	// measuring what the checks cost.
	NoTermination bool
	// CompileTimeout bounds one compilation (DefaultCompileTimeout when
	// zero). A module not compiled within it is refused with
	// ErrCompileBudget.
	CompileTimeout time.Duration
}

// DefaultCompileTimeout is Options.CompileTimeout's default: the 3.9 MB Go
// sink guest compiles in about a second on a PC, and a small ARM board is a
// few times slower.
const DefaultCompileTimeout = time.Minute

// Engine compiles and instantiates component modules.
type Engine struct {
	rt    wazero.Runtime
	cache wazero.CompilationCache
	log   *slog.Logger
	dog   *watchdog
	// interrupt: modules are rewritten with interrupt checks before
	// compiling (interrupt.go).
	interrupt      bool
	compileTimeout time.Duration

	// compiling counts wazero compilations still running, abandoned ones
	// included; Close waits for them.
	compiling sync.WaitGroup

	mu       sync.Mutex
	compiled map[[32]byte]*Module
	seq      uint64
}

// NewEngine creates the runtime, the host module and the watchdog. Close
// releases them.
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// NewRuntimeConfig picks the compiler where the platform has one and
	// the interpreter elsewhere; NewRuntimeConfigCompiler would panic on
	// 32-bit ARM, a common edge device.
	rc := wazero.NewRuntimeConfig()
	engineKind := "compiler"
	if opts.Interpreter || !compilerPlatform() {
		rc = wazero.NewRuntimeConfigInterpreter()
		engineKind = "interpreter"
	}
	// Compiled modules carry their own interrupt checks (interrupt.go),
	// far cheaper than wazero's; the interpreter keeps wazero's.
	interrupt := engineKind == "compiler" && !opts.NoTermination
	rc = rc.WithCloseOnContextDone(engineKind == "interpreter" && !opts.NoTermination).WithCoreFeatures(api.CoreFeaturesV2)
	var cache wazero.CompilationCache
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", opts.CacheDir, err)
		}
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", opts.CacheDir, err)
		}
		cache = c
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := instantiateHostModule(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate host module: %w", err)
	}
	log.Debug("wasm engine", "kind", engineKind, "arch", runtime.GOARCH)
	e := &Engine{rt: rt, cache: cache, log: log, interrupt: interrupt, compileTimeout: opts.CompileTimeout, compiled: make(map[[32]byte]*Module)}
	if e.compileTimeout <= 0 {
		e.compileTimeout = DefaultCompileTimeout
	}
	e.dog = startWatchdog(log)
	return e, nil
}

// Close stops the watchdog and closes every instance and compiled module.
func (e *Engine) Close(ctx context.Context) error {
	e.dog.stop()
	e.compiling.Wait() // a compile the caller gave up on still uses the runtime
	err := e.rt.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// Module is a compiled, validated component module. It is safe for
// concurrent use and shared by all instances of the same bytes.
type Module struct {
	compiled  wazero.CompiledModule
	SHA256    [32]byte // of the bytes given to Compile
	minPages  uint32
	interrupt bool // carries interrupt checks and their global
}

// MinMemory is the linear memory the module declares it needs at start, in
// bytes: an instance with a smaller memory limit cannot be made.
func (m *Module) MinMemory() uint64 { return uint64(m.minPages) * 65536 }

// Compile validates and compiles wasm, or returns the module already compiled
// from the same bytes. name is used in error messages only.
//
// Compile returns when ctx ends or Options.CompileTimeout passes, whichever
// is first, with ctx's error or ErrCompileBudget. wazero's compiler cannot
// be interrupted: an abandoned compilation runs on in the background and its
// result is dropped. What bounds its cost is vetting before it starts (the
// limits in vet.go), which keeps the compile time of an accepted module
// about linear in its size.
func (e *Engine) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("component %s: compile: %w", name, err)
	}
	sum := sha256.Sum256(wasm)
	e.mu.Lock()
	m, ok := e.compiled[sum]
	e.mu.Unlock()
	if ok {
		return m, nil
	}
	// The rewrite also vets the module (vet.go); under the interpreter
	// only that is kept.
	code, err := instrument(wasm)
	if err != nil {
		return nil, fmt.Errorf("component %s: compile: %w", name, err)
	}
	if !e.interrupt {
		code = capTablesOnly(wasm)
	}
	cm, err := e.compileWithin(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("component %s: compile: %w", name, err)
	}
	minPages, err := validate(cm)
	if err != nil {
		cm.Close(ctx)
		return nil, fmt.Errorf("component %s: %w", name, err)
	}
	m = &Module{compiled: cm, SHA256: sum, minPages: minPages, interrupt: e.interrupt}
	e.mu.Lock()
	if prev, ok := e.compiled[sum]; ok { // a concurrent Compile won
		e.mu.Unlock()
		cm.Close(ctx)
		return prev, nil
	}
	e.compiled[sum] = m
	e.mu.Unlock()
	return m, nil
}

// compileWithin runs wazero's compiler on a goroutine of its own and waits
// for it, for ctx or for the compile timeout.
func (e *Engine) compileWithin(ctx context.Context, code []byte) (wazero.CompiledModule, error) {
	type result struct {
		cm  wazero.CompiledModule
		err error
	}
	done := make(chan result, 1)
	var mu sync.Mutex
	abandoned := false
	e.compiling.Add(1)
	go func() {
		defer e.compiling.Done()
		// Not ctx: wazero does not watch it while compiling, and the
		// compiled module must outlive this call.
		cm, err := e.rt.CompileModule(context.Background(), code)
		mu.Lock()
		defer mu.Unlock()
		if abandoned { // nobody waits for it: drop what the compiler made
			if err == nil {
				cm.Close(context.Background())
			}
			return
		}
		done <- result{cm, err}
	}()
	t := time.NewTimer(e.compileTimeout)
	defer t.Stop()
	// The compiler cannot be stopped; an abandoned compile runs on, and
	// Engine.Close waits for it (closing the runtime under it would crash
	// wazero).
	abandon := func() {
		mu.Lock()
		defer mu.Unlock()
		abandoned = true
		select {
		case r := <-done:
			if r.err == nil {
				r.cm.Close(context.Background())
			}
		default:
		}
	}
	select {
	case r := <-done:
		return r.cm, r.err
	case <-ctx.Done():
		abandon()
		return nil, ctx.Err()
	case <-t.C:
		abandon()
		return nil, fmt.Errorf("%w: not compiled within %v", ErrCompileBudget, e.compileTimeout)
	}
}

type funcSig struct{ params, results []api.ValueType }

var (
	i32         = api.ValueTypeI32
	hostCallSig = funcSig{[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}}
	responseSig = funcSig{[]api.ValueType{i32, i32}, []api.ValueType{i32}}
	exportSigs  = map[string]funcSig{
		abi.ExportABIVersion:  {nil, []api.ValueType{i32}},
		abi.ExportEventBuffer: {[]api.ValueType{i32}, []api.ValueType{i32}},
		abi.ExportOnEvents:    {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	}
)

func sameTypes(a, b []api.ValueType) bool { return bytes.Equal(a, b) }

// validate checks a module's imports and exports against the ABI before any
// instance is made, so that a module built for something else is refused with
// a message that says what is wrong rather than failing at some later call.
func validate(cm wazero.CompiledModule) (minPages uint32, err error) {
	var problems []error
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
		case abi.ImportModule:
			want := hostCallSig
			if name == abi.FuncResponse {
				want = responseSig
			} else if !isHostFunc(name) {
				problems = append(problems, fmt.Errorf("imports %s.%s, which this host (ABI version %d) does not provide", mod, name, abi.Version))
				continue
			}
			if !sameTypes(f.ParamTypes(), want.params) || !sameTypes(f.ResultTypes(), want.results) {
				problems = append(problems, fmt.Errorf("imports %s.%s with signature %v -> %v, want %v -> %v", mod, name, f.ParamTypes(), f.ResultTypes(), want.params, want.results))
			}
		default:
			problems = append(problems, fmt.Errorf("imports from module %q; only %q and %q are provided", mod, abi.ImportModule, wasi_snapshot_preview1.ModuleName))
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		problems = append(problems, errors.New("imports a memory; a component must define and export its own"))
	}
	exports := cm.ExportedFunctions()
	for name, want := range exportSigs {
		f, ok := exports[name]
		if !ok {
			problems = append(problems, fmt.Errorf("does not export %s: not a Moss component (ABI version %d), or built without the SDK", name, abi.Version))
			continue
		}
		if !sameTypes(f.ParamTypes(), want.params) || !sameTypes(f.ResultTypes(), want.results) {
			problems = append(problems, fmt.Errorf("export %s has signature %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), want.params, want.results))
		}
	}
	if f, ok := exports[abi.ExportInitialize]; ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
		problems = append(problems, fmt.Errorf("export %s must take and return nothing", abi.ExportInitialize))
	}
	mem, ok := cm.ExportedMemories()[abi.ExportMemory]
	if !ok {
		problems = append(problems, fmt.Errorf("does not export its memory as %q", abi.ExportMemory))
	} else {
		minPages = mem.Min()
	}
	if len(problems) > 0 {
		return 0, fmt.Errorf("not a valid component module: %w", errors.Join(problems...))
	}
	return minPages, nil
}

// compilerPlatform mirrors wazero's own check (internal, not exported): its
// compiler targets amd64 and arm64.
func compilerPlatform() bool {
	return runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"
}

func isHostFunc(name string) bool {
	for _, n := range abi.HostFunctions {
		if n == name {
			return true
		}
	}
	return false
}
