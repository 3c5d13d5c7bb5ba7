;; Hostile: a well-formed component that says it was built for ABI version 2.
;; The host must refuse the instance at the version handshake, before any
;; event, with "built for ABI version 2, this host speaks version 1"
;; (ERRORED, then BROKEN after broken_after attempts).
(module
  (memory (export "memory") 1)
  (func (export "moss_abi_version") (result i32) (i32.const 2))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32) (i32.const 0)))
