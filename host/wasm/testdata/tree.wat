;; Recurses without a loop in its event handler (2^40 calls, hours): must be
;; stopped at its deadline, at a function entry.
(module
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 1024))
  (func $tree (param $depth i32)
    (if (i32.eqz (local.get $depth)) (then (return)))
    (call $tree (i32.sub (local.get $depth) (i32.const 1)))
    (call $tree (i32.sub (local.get $depth) (i32.const 1))))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (call $tree (i32.const 40))
    (i32.const 0)))
