;; Hostile: subscribes to "hostile/in" when started; on a message it runs a
;; call tree without a single loop: $bomb calls itself twice down to depth
;; 27, about 2^28 calls. The stack stays 27 frames deep, so it never
;; overflows; it would finish on its own after about a second (at depth 40,
;; after hours). The host must stop it at its deadline like any other
;; overrunning call, promptly (ERRORED, "call deadline exceeded"; BROKEN
;; after broken_after attempts).
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "hostile/in"}: 19 bytes
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  (global $started (mut i32) (i32.const 0))
  (func $bomb (param $d i32)
    (if (i32.lt_u (local.get $d) (i32.const 27))
      (then
        (call $bomb (i32.add (local.get $d) (i32.const 1)))
        (call $bomb (i32.add (local.get $d) (i32.const 1))))))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (return (select (i32.const 0) (i32.const 1)
          (i32.ge_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 512) (i32.const 32)) (i32.const 0))))))
    (call $bomb (i32.const 0))
    (i32.const 0)))
