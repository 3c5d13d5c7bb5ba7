;; Declares an initial table of 2 Mi entries (16 MiB of references), over
;; MaxTableEntries: refused at Compile.
(module
  (memory (export "memory") 1)
  (table 2097152 funcref)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
