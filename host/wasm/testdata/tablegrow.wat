;; Grows its table by 100,000 entries per event until table.grow fails (-1):
;; returns 7 when it failed, so the host caps tables. Event payload length
;; unused.
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (loop $more
      (if (i32.ne (table.grow $t (ref.null func) (i32.const 100000)) (i32.const -1))
        (then (br $more))))
    (i32.const 7))
  (func (export "size") (result i32) (table.size $t)))
