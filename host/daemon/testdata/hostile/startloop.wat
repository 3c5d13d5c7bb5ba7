;; Hostile: has a start section (section 8) whose function spins forever.
;; wazero runs a start function inside instantiation, before the watchdog
;; knows the instance, so nothing could stop it: the host must refuse the
;; module at load, saying why, and start nothing of it.
(module
  (memory (export "memory") 1)
  (func $spin (loop $forever (br $forever)))
  (start $spin)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
