;; Hostile: a component exporting moss_interrupt, the name under which the
;; host's interrupt rewrite exports its own flag (host/wasm/interrupt.go).
;; Taking it could let the guest hide the flag the watchdog sets, so the host
;; refuses the module when compiling it; at boot that makes this component
;; BROKEN, naming the export, and every other component runs.
(module
  (memory (export "memory") 1)
  (global (export "moss_interrupt") (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
