package wasm

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/moss-edge/moss/abi"
)

// instantiateHostModule defines the "moss" import module. Functions use
// wazero's stack-based API (about 60 ns a call against about 460 ns for the
// reflective one); each finds its instance in the call context.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for idx, name := range abi.HostFunctions {
		if name == abi.FuncResponse {
			b.NewFunctionBuilder().
				WithGoModuleFunction(api.GoModuleFunc(response), hostCallSig.params[:2], hostCallSig.results).
				WithParameterNames("ptr", "cap").
				Export(name)
			continue
		}
		fn := Func(idx)
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				stack[0] = api.EncodeI32(instanceFrom(ctx).hostCall(fn,
					api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), api.DecodeU32(stack[3])))
			}), hostCallSig.params, hostCallSig.results).
			WithParameterNames("req_ptr", "req_len", "resp_ptr", "resp_cap").
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func (i *Instance) hostCall(fn Func, reqPtr, reqLen, respPtr, respCap uint32) int32 {
	i.checkInterrupt()
	i.hasPending = false
	if reqLen > abi.MaxRequestBytes {
		return i.fail(abi.ErrTooLarge, "request larger than 1 MiB")
	}
	req, ok := i.mem.Read(reqPtr, reqLen)
	if !ok {
		return i.fail(abi.ErrMemory, "request outside memory")
	}
	if respCap > 0 {
		if _, ok := i.mem.Read(respPtr, respCap); !ok {
			return i.fail(abi.ErrMemory, "response buffer outside memory")
		}
	}
	resp, err := i.handler.HostCall(i.ctx, fn, req)
	i.checkInterrupt()
	if err != nil {
		var e *abi.Error
		if errors.As(err, &e) {
			return i.fail(e.Code, e.Message)
		}
		return i.fail(abi.ErrInternal, err.Error())
	}
	n := uint32(len(resp))
	if n <= respCap {
		i.mem.Write(respPtr, resp)
	} else {
		i.pending = append(i.pending[:0], resp...)
		i.hasPending = true
	}
	return int32(n)
}

// errInterrupted is what a host function panics with to trap a guest whose
// call the watchdog stopped; wazero turns the panic into the call's error.
var errInterrupted = errors.New("interrupted in a host function")

// checkInterrupt traps the guest if the watchdog has stopped its call. The
// guest's own checks read the interrupt flag only once every fuelPerYield
// checks (interrupt.go), which for a loop around a host call would be a
// thousand calls after the deadline; checking at every host call's entry
// and return ends such a loop within one call of the deadline, and a host
// call entered after the deadline does nothing.
func (i *Instance) checkInterrupt() {
	if i.killed.Load() {
		panic(errInterrupted)
	}
}

// sleep serves WASI sleeps (poll_oneoff with a clock subscription): it ends
// early, trapping the guest, when the watchdog stops the call, so a guest
// looping on sleeps ends at its deadline.
func (i *Instance) sleep(ns int64) {
	i.checkInterrupt()
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-i.ctx.Done():
		panic(errInterrupted)
	}
}

// fail makes an {code, message} map the pending response and returns -code.
func (i *Instance) fail(code abi.Code, msg string) int32 {
	p := abi.AppendMap(i.pending[:0], 2)
	p = abi.AppendUint(abi.AppendText(p, "code"), uint64(code))
	i.pending = abi.AppendText(abi.AppendText(p, "message"), msg)
	i.hasPending = true
	return -int32(code)
}

func response(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceFrom(ctx)
	i.checkInterrupt()
	ptr, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if !i.hasPending {
		stack[0] = api.EncodeI32(-int32(abi.ErrNoResponse))
		return
	}
	if capacity > 0 {
		// The same check every host function makes of its response
		// buffer: the whole range the guest offers must be memory.
		if _, ok := i.mem.Read(ptr, capacity); !ok {
			stack[0] = api.EncodeI32(-int32(abi.ErrMemory))
			return
		}
	}
	n := uint32(len(i.pending))
	if n <= capacity {
		if !i.mem.Write(ptr, i.pending) {
			stack[0] = api.EncodeI32(-int32(abi.ErrMemory))
			return
		}
		i.hasPending = false
	}
	stack[0] = api.EncodeI32(int32(n))
}
