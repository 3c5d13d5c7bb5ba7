;; Not hostile: the flood's victim. Subscribes to "flood/out" when started
;; and accepts every batch. With a small mailbox it cannot keep up with a
;; publish flood: the host must drop what does not fit, count the drops and
;; keep the sink RUNNING.
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "flood/out"}: 18 bytes
  (data (i32.const 16) "\a1\66filter\69flood/out")
  (global $started (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (return (select (i32.const 0) (i32.const 1)
          (i32.ge_s (call $subscribe (i32.const 16) (i32.const 18) (i32.const 512) (i32.const 32)) (i32.const 0))))))
    (i32.const 0)))
