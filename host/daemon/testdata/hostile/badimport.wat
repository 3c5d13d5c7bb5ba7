;; Hostile: a component importing a host function this host does not have
;; (moss.frobnicate), beside one it has. The host must refuse it when loading
;; the configuration, naming the function, and start nothing; a host already
;; running elsewhere is not affected.
(module
  (import "moss" "log" (func $log (param i32 i32 i32 i32) (result i32)))
  (import "moss" "frobnicate" (func $frobnicate (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (call $frobnicate (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
