;; Quiet: subscribes to nothing and accepts every batch. A version 2 that
;; needs none of what version 1 held.
(module
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
