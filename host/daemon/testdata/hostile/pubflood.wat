;; Hostile: subscribes to "hostile/in" when started; on a message it
;; publishes on "flood/out" in an endless loop, ignoring every result. The
;; host must stop the handler at its deadline (ERRORED, "call deadline
;; exceeded"; BROKEN after broken_after floods); subscribers of flood/out
;; whose mailboxes fill lose messages, counted, and everyone else is
;; unaffected.
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (import "moss" "publish" (func $publish (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "hostile/in"}: 19 bytes
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  ;; {"topic": "flood/out", "payload": h'00010203'}: 30 bytes
  (data (i32.const 64) "\a2\65topic\69flood/out\67payload\44\00\01\02\03")
  (global $started (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (return (select (i32.const 0) (i32.const 1)
          (i32.ge_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 512) (i32.const 32)) (i32.const 0))))))
    (loop $flood
      (drop (call $publish (i32.const 64) (i32.const 30) (i32.const 0) (i32.const 0)))
      (br $flood))
    (i32.const 0)))
