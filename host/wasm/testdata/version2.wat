;; Built for a future ABI version: must be refused at the handshake.
(module
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 2))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
