;; Hostile: subscribes to "hostile/in" when started; on a message it grows
;; its memory one page at a time until memory.grow returns -1, asks again
;; (one page, then 4 GiB at once) and traps. The host must refuse every grow
;; past the component's memory limit (memory.grow returns -1, the host
;; allocates nothing beyond the limit), then fail the call with a cause that
;; says "memory limit reached" and names the limit; ERRORED, then BROKEN.
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "hostile/in"}: 19 bytes
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  (global $started (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (return (select (i32.const 0) (i32.const 1)
          (i32.ge_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 512) (i32.const 32)) (i32.const 0))))))
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (drop (memory.grow (i32.const 1)))
    (drop (memory.grow (i32.const 0xffff)))
    (unreachable)))
