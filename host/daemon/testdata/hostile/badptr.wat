;; Hostile: calls every host function with pointers and lengths outside its
;; memory: requests past the end, starting at the end, empty requests far
;; beyond it, ranges whose end wraps around 2^32, response buffers outside
;; memory and resp_cap values that overflow it. The host must fail each call
;; cleanly with E_MEMORY (-1) before reading or writing anything; a request
;; length over the 1 MiB request cap may be refused with E_TOO_LARGE (-6)
;; instead. `response` must do the same with a bad buffer, keep the pending
;; error until it is fetched into a good one, then answer E_NO_RESPONSE (-10).
;; The component stays RUNNING: it runs the checks when started and again on
;; every message on "hostile/in".
;;
;; moss_on_events returns 0 when every call failed as expected, otherwise the
;; first unexpected one: 1000 + 100*f + c for case c of host function f
;; (0 log, 1 publish, 2 subscribe, 3 unsubscribe, 4 config_get,
;; 5 config_update, 6 config_watch, 7 timer_start, 8 timer_stop,
;; 9 report_state, 10 secret_get), or 3000 + c for case c of `response`; 1
;; if subscribing to hostile/in failed.
(module
  (type $hostfn (func (param i32 i32 i32 i32) (result i32)))
  (import "moss" "log" (func $log (type $hostfn)))
  (import "moss" "publish" (func $publish (type $hostfn)))
  (import "moss" "subscribe" (func $subscribe (type $hostfn)))
  (import "moss" "unsubscribe" (func $unsubscribe (type $hostfn)))
  (import "moss" "config_get" (func $config_get (type $hostfn)))
  (import "moss" "config_update" (func $config_update (type $hostfn)))
  (import "moss" "config_watch" (func $config_watch (type $hostfn)))
  (import "moss" "timer_start" (func $timer_start (type $hostfn)))
  (import "moss" "timer_stop" (func $timer_stop (type $hostfn)))
  (import "moss" "report_state" (func $report_state (type $hostfn)))
  (import "moss" "secret_get" (func $secret_get (type $hostfn)))
  (import "moss" "response" (func $response (param i32 i32) (result i32)))
  (memory (export "memory") 1) ;; 65536 bytes
  (table 11 funcref)
  (elem (i32.const 0) $log $publish $subscribe $unsubscribe $config_get
    $config_update $config_watch $timer_start $timer_stop $report_state $secret_get)
  ;; {"filter": "hostile/in"}: 19 bytes
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  (global $started (mut i32) (i32.const 0))

  ;; try calls host function $f with (a, b, c, d) and returns 0 if it
  ;; returned $want or $alt, else the code of case $c.
  (func $try (param $f i32) (param $c i32) (param $want i32) (param $alt i32)
             (param $a i32) (param $b i32) (param $cc i32) (param $d i32) (result i32)
    (local $r i32)
    (local.set $r (call_indirect (type $hostfn)
      (local.get $a) (local.get $b) (local.get $cc) (local.get $d) (local.get $f)))
    (if (result i32) (i32.or (i32.eq (local.get $r) (local.get $want)) (i32.eq (local.get $r) (local.get $alt)))
      (then (i32.const 0))
      (else (i32.add (i32.const 1000) (i32.add (i32.mul (local.get $f) (i32.const 100)) (local.get $c))))))

  (func $checkFunc (param $f i32) (result i32)
    (local $r i32)
    ;; 1: a request running past the end of memory
    (if (local.tee $r (call $try (local.get $f) (i32.const 1) (i32.const -1) (i32.const -1)
        (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 2: a request starting exactly at the end of memory
    (if (local.tee $r (call $try (local.get $f) (i32.const 2) (i32.const -1) (i32.const -1)
        (i32.const 65536) (i32.const 1) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 3: an empty request at an address far beyond memory
    (if (local.tee $r (call $try (local.get $f) (i32.const 3) (i32.const -1) (i32.const -1)
        (i32.const 0x10000000) (i32.const 0) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 4: a request whose end wraps around 2^32 (0xfffffff0 + 0x20)
    (if (local.tee $r (call $try (local.get $f) (i32.const 4) (i32.const -1) (i32.const -1)
        (i32.const 0xfffffff0) (i32.const 0x20) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 5: the same with the largest length under the request cap (1 MiB)
    (if (local.tee $r (call $try (local.get $f) (i32.const 5) (i32.const -1) (i32.const -1)
        (i32.const 0xffffffff) (i32.const 0x100000) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 6: a request length of 2^32-1 (over the request cap)
    (if (local.tee $r (call $try (local.get $f) (i32.const 6) (i32.const -1) (i32.const -6)
        (i32.const 0) (i32.const 0xffffffff) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 7: a huge length whose end wraps around to a small address (0x10 + 0xfffffff8 = 8 mod 2^32)
    (if (local.tee $r (call $try (local.get $f) (i32.const 7) (i32.const -1) (i32.const -6)
        (i32.const 0x10) (i32.const 0xfffffff8) (i32.const 0) (i32.const 0))) (then (return (local.get $r))))
    ;; 8: a good request, the response buffer beyond the end of memory
    (if (local.tee $r (call $try (local.get $f) (i32.const 8) (i32.const -1) (i32.const -1)
        (i32.const 0) (i32.const 1) (i32.const 70000) (i32.const 16))) (then (return (local.get $r))))
    ;; 9: a response buffer running past the end of memory
    (if (local.tee $r (call $try (local.get $f) (i32.const 9) (i32.const -1) (i32.const -1)
        (i32.const 0) (i32.const 1) (i32.const 65000) (i32.const 1000))) (then (return (local.get $r))))
    ;; 10: resp_cap 2^32-1 from a good address (overflows memory and wraps)
    (if (local.tee $r (call $try (local.get $f) (i32.const 10) (i32.const -1) (i32.const -1)
        (i32.const 0) (i32.const 1) (i32.const 0x10) (i32.const 0xffffffff))) (then (return (local.get $r))))
    ;; 11: a response buffer whose end wraps around 2^32
    (if (local.tee $r (call $try (local.get $f) (i32.const 11) (i32.const -1) (i32.const -1)
        (i32.const 0) (i32.const 1) (i32.const 0xfffffff0) (i32.const 0x20))) (then (return (local.get $r))))
    ;; 12: resp_cap 2^31 (negative as a signed i32)
    (if (local.tee $r (call $try (local.get $f) (i32.const 12) (i32.const -1) (i32.const -1)
        (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x80000000))) (then (return (local.get $r))))
    (i32.const 0))

  ;; leaveError makes an E_MEMORY error the pending response.
  (func $leaveError
    (drop (call $log (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 0))))

  (func $checkResponse (result i32)
    (local $n i32)
    (call $leaveError)
    ;; 1: the buffer beyond the end of memory
    (if (i32.ne (call $response (i32.const 70000) (i32.const 256)) (i32.const -1))
      (then (return (i32.const 3001))))
    ;; 2: a buffer running past the end of memory
    (if (i32.ne (call $response (i32.const 65530) (i32.const 100)) (i32.const -1))
      (then (return (i32.const 3002))))
    ;; 3: a buffer whose end wraps around 2^32 (cap above the error's length)
    (if (i32.ne (call $response (i32.const 0xfffffff0) (i32.const 0x100)) (i32.const -1))
      (then (return (i32.const 3003))))
    ;; 4: the error is still pending: fetched into a good buffer it is
    ;; {"code": 1, ...}, the code at offset 6 (a2 64 "code" 01)
    (local.set $n (call $response (i32.const 1024) (i32.const 256)))
    (if (i32.or (i32.le_s (local.get $n) (i32.const 0)) (i32.gt_s (local.get $n) (i32.const 256)))
      (then (return (i32.const 3004))))
    (if (i32.ne (i32.load8_u (i32.const 1030)) (i32.const 1))
      (then (return (i32.const 3005))))
    ;; 5: fetched, nothing is pending any more
    (if (i32.ne (call $response (i32.const 1024) (i32.const 256)) (i32.const -10))
      (then (return (i32.const 3006))))
    ;; 6: cap 2^32-1 from a good address: the range is outside memory
    (call $leaveError)
    (if (i32.ne (call $response (i32.const 0x10) (i32.const 0xffffffff)) (i32.const -1))
      (then (return (i32.const 3007))))
    (i32.const 0))

  (func $checkAll (result i32)
    (local $f i32) (local $r i32)
    (loop $each
      (if (local.tee $r (call $checkFunc (local.get $f))) (then (return (local.get $r))))
      (local.set $f (i32.add (local.get $f) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $f) (i32.const 11))))
    (call $checkResponse))

  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (if (i32.lt_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 512) (i32.const 32)) (i32.const 0))
          (then (return (i32.const 1))))))
    (call $checkAll)))
