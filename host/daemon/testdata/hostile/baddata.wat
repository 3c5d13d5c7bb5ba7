;; Hostile: a data segment that ends past the module's one page of memory.
;; It compiles (the offset is only checked against the memory when an
;; instance is made), and every instantiation fails: the component ends
;; BROKEN after broken_after attempts, naming the segment, and every other
;; component runs.
(module
  (memory (export "memory") 1)
  (data (i32.const 65534) "\01\02\03\04")
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
