;; On every batch after the start event, publishes 100 messages on
;; "burst/out" as fast as it can, ignoring the results.
(module
  (import "moss" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"topic": "burst/out", "payload": h''}
  (data (i32.const 64) "\a2\65topic\69burst/out\67payload\40")
  (global $started (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (local $i i32)
    (if (i32.eqz (global.get $started))
      (then (global.set $started (i32.const 1)) (return (i32.const 0))))
    (loop $again
      (drop (call $publish (i32.const 64) (i32.const 26) (i32.const 0) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100))))
    (i32.const 0)))
