;; Canary: subscribes to "canary/in" when started, then publishes one message
;; on "canary/out" for every batch of events it is given.
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (import "moss" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "canary/in"}
  (data (i32.const 16) "\a1\66filter\69canary/in")
  ;; {"topic": "canary/out", "payload": h''}
  (data (i32.const 64) "\a2\65topic\6acanary/out\67payload\40")
  (global $started (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        ;; response buffer at 512: {"id": n}
        (return (select (i32.const 0) (i32.const 1)
          (i32.ge_s (call $subscribe (i32.const 16) (i32.const 18) (i32.const 512) (i32.const 32)) (i32.const 0))))))
    (if (i32.lt_s (call $publish (i32.const 64) (i32.const 27) (i32.const 0) (i32.const 0)) (i32.const 0))
      (then (return (i32.const 2))))
    (i32.const 0)))
