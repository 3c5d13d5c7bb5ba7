;; Reports FINISHED from its start handler.
(module
  (import "moss" "report_state" (func $report (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"state": "FINISHED"}
  (data (i32.const 16) "\a1\65state\68FINISHED")
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (select (i32.const 0) (i32.const 1)
      (i32.eqz (call $report (i32.const 16) (i32.const 16) (i32.const 0) (i32.const 0))))))
