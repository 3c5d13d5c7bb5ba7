;; Subscribes to "spin/in" when started, then loops forever on any message.
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "\a1\66filter\67spin/in")
  (global $started (mut i32) (i32.const 0))
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (drop (call $subscribe (i32.const 16) (i32.const 16) (i32.const 512) (i32.const 32)))
        (return (i32.const 0))))
    (loop $forever (br $forever))
    (i32.const 0)))
