;; Asks for 512 pages (32 MiB) at start.
(module
  (memory (export "memory") 512)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
