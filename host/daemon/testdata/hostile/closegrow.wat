;; Hostile: subscribes to "hostile/in" when started; on a message it outlasts
;; its 100ms deadline in code without a loop (a call tree like callbomb's,
;; depth 27, about half a second), then asks for 1024 more pages (64 MiB),
;; far past its 4 MiB limit. The host must refuse that grow (memory.grow
;; returns -1) whether or not the watchdog has closed the instance by then,
;; so that it never allocates more than the limit for the component; the call
;; ends as past its deadline (ERRORED, then BROKEN after broken_after
;; attempts).
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "hostile/in"}: 19 bytes
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  (global $started (mut i32) (i32.const 0))
  (func $delay (param $d i32)
    (if (i32.lt_u (local.get $d) (i32.const 27))
      (then
        (call $delay (i32.add (local.get $d) (i32.const 1)))
        (call $delay (i32.add (local.get $d) (i32.const 1))))))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (return (select (i32.const 0) (i32.const 1)
          (i32.ge_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 512) (i32.const 32)) (i32.const 0))))))
    (call $delay (i32.const 0))
    ;; 0 if the grow was refused, 2 if it was granted
    (select (i32.const 0) (i32.const 2)
      (i32.eq (memory.grow (i32.const 1024)) (i32.const -1)))))
