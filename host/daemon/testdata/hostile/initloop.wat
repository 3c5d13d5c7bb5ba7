;; Hostile: spins forever in its WASI reactor initialiser (_initialize), so
;; no instance is ever made. The host must stop the initialiser at
;; max(call_deadline, 2s), fail the start (ERRORED, the cause naming the
;; deadline and the initialisation), retry after its backoff and, after
;; broken_after failures, give up (BROKEN), all without delaying any other
;; component.
(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $forever (br $forever)))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
