;; Tries to grow its memory by 1024 pages (64 MiB); returns 7 if memory.grow
;; failed (-1), 0 if it succeeded.
(module
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (result i32) (i32.eq (memory.grow (i32.const 1024)) (i32.const -1))
      (then (i32.const 7)) (else (i32.const 0)))))
