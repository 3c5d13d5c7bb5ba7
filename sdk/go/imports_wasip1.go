//go:build wasip1

package moss

import (
	"unsafe"

	"github.com/moss-edge/moss/abi"
)

// The host functions of abi/ABI.md. Pointers are passed as *byte rather than
// as integers so that the collector sees the buffers as live for the length
// of the call; the toolchain lowers them to i32 addresses.
//
// Each SDK function calls its own import through its own wrapper, never
// through a table, so the linker keeps only the imports a component uses:
// a component then runs on every host that provides what it calls, even if
// a later SDK knows host functions an older host lacks.

//go:wasmimport moss log
func wasmLog(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostLog(req, resp []byte) int32 { return wasmLog(args(req, resp)) }

//go:wasmimport moss publish
func wasmPublish(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostPublish(req, resp []byte) int32 { return wasmPublish(args(req, resp)) }

//go:wasmimport moss subscribe
func wasmSubscribe(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostSubscribe(req, resp []byte) int32 { return wasmSubscribe(args(req, resp)) }

//go:wasmimport moss unsubscribe
func wasmUnsubscribe(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostUnsubscribe(req, resp []byte) int32 { return wasmUnsubscribe(args(req, resp)) }

//go:wasmimport moss config_get
func wasmConfigGet(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostConfigGet(req, resp []byte) int32 { return wasmConfigGet(args(req, resp)) }

//go:wasmimport moss config_update
func wasmConfigUpdate(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostConfigUpdate(req, resp []byte) int32 { return wasmConfigUpdate(args(req, resp)) }

//go:wasmimport moss config_watch
func wasmConfigWatch(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostConfigWatch(req, resp []byte) int32 { return wasmConfigWatch(args(req, resp)) }

//go:wasmimport moss timer_start
func wasmTimerStart(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostTimerStart(req, resp []byte) int32 { return wasmTimerStart(args(req, resp)) }

//go:wasmimport moss timer_stop
func wasmTimerStop(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostTimerStop(req, resp []byte) int32 { return wasmTimerStop(args(req, resp)) }

//go:wasmimport moss report_state
func wasmReportState(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostReportState(req, resp []byte) int32 { return wasmReportState(args(req, resp)) }

//go:wasmimport moss secret_get
func wasmSecretGet(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostSecretGet(req, resp []byte) int32 { return wasmSecretGet(args(req, resp)) }

//go:wasmimport moss response
func wasmResponse(buf *byte, bufCap uint32) int32

// hostResponse fetches the pending response into buf (see ABI.md).
func hostResponse(buf []byte) int32 {
	return wasmResponse(unsafe.SliceData(buf), uint32(len(buf)))
}

func args(req, resp []byte) (*byte, uint32, *byte, uint32) {
	return unsafe.SliceData(req), uint32(len(req)), unsafe.SliceData(resp), uint32(len(resp))
}

//go:wasmexport moss_abi_version
func exportABIVersion() int32 { return abi.Version }

//go:wasmexport moss_event_buffer
func exportEventBuffer(size int32) *byte {
	if size < 0 {
		return nil // the host treats 0 as a component error
	}
	return unsafe.SliceData(eventBuffer(int(size)))
}

//go:wasmexport moss_on_events
func exportOnEvents(ptr, n int32) int32 {
	return onEvents(uintptr(uint32(ptr)), int(n))
}

//go:wasmimport moss cloud_publish
func wasmCloudPublish(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostCloudPublish(req, resp []byte) int32 { return wasmCloudPublish(args(req, resp)) }

//go:wasmimport moss cloud_subscribe
func wasmCloudSubscribe(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostCloudSubscribe(req, resp []byte) int32 { return wasmCloudSubscribe(args(req, resp)) }

//go:wasmimport moss cloud_unsubscribe
func wasmCloudUnsubscribe(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostCloudUnsubscribe(req, resp []byte) int32 { return wasmCloudUnsubscribe(args(req, resp)) }

//go:wasmimport moss shadow_get
func wasmShadowGet(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostShadowGet(req, resp []byte) int32 { return wasmShadowGet(args(req, resp)) }

//go:wasmimport moss shadow_update
func wasmShadowUpdate(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostShadowUpdate(req, resp []byte) int32 { return wasmShadowUpdate(args(req, resp)) }

//go:wasmimport moss shadow_delete
func wasmShadowDelete(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostShadowDelete(req, resp []byte) int32 { return wasmShadowDelete(args(req, resp)) }

//go:wasmimport moss shadow_list
func wasmShadowList(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostShadowList(req, resp []byte) int32 { return wasmShadowList(args(req, resp)) }

//go:wasmimport moss shadow_watch
func wasmShadowWatch(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostShadowWatch(req, resp []byte) int32 { return wasmShadowWatch(args(req, resp)) }

//go:wasmimport moss state_save
func wasmStateSave(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostStateSave(req, resp []byte) int32 { return wasmStateSave(args(req, resp)) }

//go:wasmimport moss defer_update
func wasmDeferUpdate(req *byte, reqLen uint32, resp *byte, respCap uint32) int32

func hostDeferUpdate(req, resp []byte) int32 { return wasmDeferUpdate(args(req, resp)) }
