;; A minimal component: logs every event batch it receives (the batch bytes
;; are passed to moss.log as the request), so tests can see what was delivered.
(module
  (import "moss" "log" (func $log (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param $size i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param $ptr i32) (param $len i32) (result i32)
    (drop (call $log (local.get $ptr) (local.get $len) (i32.const 0) (i32.const 0)))
    (i32.const 0)))
