//go:build !wasip1

package moss

import "github.com/moss-edge/moss/abi"

// host stands in for the "moss" import module outside wasip1, so that the
// package builds and vets with the rest of a module on any platform and its
// tests can play the host. Left alone, every call fails with ErrUnsupported.
var host = struct {
	call     func(fn hostFunc, req, resp []byte) int32
	response func(buf []byte) int32
}{
	call:     func(hostFunc, []byte, []byte) int32 { return -int32(abi.ErrUnsupported) },
	response: notInHost,
}

func hostResponse(buf []byte) int32 { return host.response(buf) }

func hostLog(req, resp []byte) int32 { return host.call(fnLog, req, resp) }

func hostPublish(req, resp []byte) int32 { return host.call(fnPublish, req, resp) }

func hostSubscribe(req, resp []byte) int32 { return host.call(fnSubscribe, req, resp) }

func hostUnsubscribe(req, resp []byte) int32 { return host.call(fnUnsubscribe, req, resp) }

func hostConfigGet(req, resp []byte) int32 { return host.call(fnConfigGet, req, resp) }

func hostConfigUpdate(req, resp []byte) int32 { return host.call(fnConfigUpdate, req, resp) }

func hostConfigWatch(req, resp []byte) int32 { return host.call(fnConfigWatch, req, resp) }

func hostTimerStart(req, resp []byte) int32 { return host.call(fnTimerStart, req, resp) }

func hostTimerStop(req, resp []byte) int32 { return host.call(fnTimerStop, req, resp) }

func hostReportState(req, resp []byte) int32 { return host.call(fnReportState, req, resp) }

func hostSecretGet(req, resp []byte) int32 { return host.call(fnSecretGet, req, resp) }

var notInHostError = func() []byte {
	b := abi.AppendMap(nil, 2)
	b = abi.AppendUint(abi.AppendText(b, "code"), uint64(abi.ErrUnsupported))
	return abi.AppendText(abi.AppendText(b, "message"),
		"not running in a Moss host: build the component with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared")
}()

func notInHost(buf []byte) int32 {
	if len(notInHostError) <= len(buf) {
		copy(buf, notInHostError)
	}
	return int32(len(notInHostError))
}

func hostCloudPublish(req, resp []byte) int32 { return host.call(fnCloudPublish, req, resp) }

func hostCloudSubscribe(req, resp []byte) int32 { return host.call(fnCloudSubscribe, req, resp) }

func hostCloudUnsubscribe(req, resp []byte) int32 { return host.call(fnCloudUnsubscribe, req, resp) }

func hostShadowGet(req, resp []byte) int32 { return host.call(fnShadowGet, req, resp) }

func hostShadowUpdate(req, resp []byte) int32 { return host.call(fnShadowUpdate, req, resp) }

func hostShadowDelete(req, resp []byte) int32 { return host.call(fnShadowDelete, req, resp) }

func hostShadowList(req, resp []byte) int32 { return host.call(fnShadowList, req, resp) }

func hostShadowWatch(req, resp []byte) int32 { return host.call(fnShadowWatch, req, resp) }

func hostStateSave(req, resp []byte) int32 { return host.call(fnStateSave, req, resp) }

func hostDeferUpdate(req, resp []byte) int32 { return host.call(fnDeferUpdate, req, resp) }
