;; Passes out-of-range pointers to host functions. on_events returns 0 only if
;; every call failed with E_MEMORY (-1) and the host is still answering.
(module
  (import "moss" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (import "moss" "response" (func $response (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (local $bad i32)
    ;; request past the end of memory
    (if (i32.ne (call $publish (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 0)) (i32.const -1))
      (then (local.set $bad (i32.const 1))))
    ;; request whose end wraps around 2^32
    (if (i32.ne (call $publish (i32.const 0xfffffff0) (i32.const 0x20) (i32.const 0) (i32.const 0)) (i32.const -1))
      (then (local.set $bad (i32.const 2))))
    ;; response buffer outside memory
    (if (i32.ne (call $publish (i32.const 0) (i32.const 1) (i32.const 70000) (i32.const 16)) (i32.const -1))
      (then (local.set $bad (i32.const 3))))
    ;; fetching the pending error into a bad buffer
    (if (i32.ne (call $response (i32.const 0xffffff00) (i32.const 200)) (i32.const -1))
      (then (local.set $bad (i32.const 4))))
    (local.get $bad)))
