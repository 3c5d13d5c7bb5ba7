;; Hostile: subscribes to "hostile/in" when started; on a message it sleeps
;; (WASI poll_oneoff on a one-hour relative clock) in a loop forever. The
;; guest's own interrupt checks run between sleeps, once every thousand:
;; the host's sleep must itself end at the call's deadline (it overran a
;; 50ms deadline by 5.3s when the sleep ran in 5ms steps), then ERRORED,
;; then BROKEN.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
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
    ;; One clock subscription at 1024: tag 0 (clock) at +8, clock id 1
    ;; (monotonic) at +16, timeout 3600s at +24, flags 0 (relative).
    (i32.store8 (i32.const 1032) (i32.const 0))
    (i32.store (i32.const 1040) (i32.const 1))
    (i64.store (i32.const 1048) (i64.const 3600000000000))
    (loop $forever
      (drop (call $poll (i32.const 1024) (i32.const 2048) (i32.const 1) (i32.const 2100)))
      (br $forever))
    (i32.const 0)))
