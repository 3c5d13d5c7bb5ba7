;; Hostile by size: the code of a module the test makes 50 MB by appending a
;; data section with one 50,000,000-byte segment at address 1024 whose last
;; byte is 0x5a (see bigModule in hostile_test.go). Its 800 pages (50 MiB)
;; hold the segment. ReadWasm accepts modules up to 64 MiB, so the host must
;; load and compile it without disturbing other components, and then either
;; run it (when its memory limit allows 800 pages: the start handler checks
;; that the segment's last byte arrived) or refuse the instance, naming the
;; memory it needs and its limit. A module over 64 MiB is refused at load,
;; naming the size limit.
(module
  (memory (export "memory") 800)
  (func (export "moss_abi_version") (result i32) (i32.const 1))
  ;; past the segment: 1024 + 50,000,000 < 51,000,000 < 800 * 65536
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 51000000))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (select (i32.const 0) (i32.const 1)
      (i32.eq (i32.load8_u (i32.const 50001023)) (i32.const 0x5a)))))
