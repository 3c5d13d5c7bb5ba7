;; Not a component: imports an unknown host function and an unknown module,
;; and lacks the event exports.
(module
  (import "moss" "frobnicate" (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "abort" (func))
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1)))
