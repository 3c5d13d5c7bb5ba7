;; Hostile: subscribes to "hostile/in" when started; on a message it asks
;; for 100 million more table slots (800 MB of references), then grows its
;; table 100,000 slots at a time until table.grow returns -1, and traps.
;; Tables live outside linear memory, so limits.memory does not see them:
;; the host must cap every table (wasm.MaxTableEntries), table.grow past the
;; cap returning -1, and the host allocating no more than the cap; ERRORED,
;; then BROKEN.
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
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
    (drop (table.grow $t (ref.null func) (i32.const 100000000)))
    (loop $grow
      (br_if $grow (i32.ne (table.grow $t (ref.null func) (i32.const 100000)) (i32.const -1))))
    (unreachable)))
