;; Calls publish in a loop forever: each call passes one interrupt check
;; only, so the guest's own checks read the interrupt flag once every
;; thousand calls. The host must trap it at the first host call after its
;; deadline.
(module
  (import "moss" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param $ptr i32) (param $len i32) (result i32)
    (loop $forever
      (drop (call $publish (local.get $ptr) (local.get $len) (i32.const 0) (i32.const 0)))
      (br $forever))
    (i32.const 0)))
