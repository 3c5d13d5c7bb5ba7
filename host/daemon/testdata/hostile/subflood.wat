;; Hostile: when started, subscribes to "hostile/in" and then to distinct
;; filters "sub/0000", "sub/0001", ... until the host answers E_FULL (-7).
;; The host must refuse the subscription that would exceed max_subscriptions
;; (default 256, "hostile/in" included) with E_FULL and leave the component
;; RUNNING with exactly 256 subscriptions on the bus. A filter it already
;; holds is not a new subscription and still succeeds.
;;
;; moss_on_events returns 0 when all went as expected, otherwise:
;;   1   subscribing to hostile/in failed
;;   2   a subscription below the quota failed with something other than E_FULL
;;   3   no E_FULL after 65536 distinct filters
;;   4   re-subscribing to a filter it holds failed
;;   5   on a later message, one more new filter was not refused with E_FULL
;;   10000+n  E_FULL came after n new filters instead of 255
(module
  (import "moss" "subscribe" (func $subscribe (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; {"filter": "hostile/in"}: 19 bytes
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  ;; {"filter": "sub/0000"}: 17 bytes at 48..64; $name rewrites the four
  ;; hex digits at 61..64.
  (data (i32.const 48) "\a1\66filter\68sub/0000")
  (global $started (mut i32) (i32.const 0))

  (func $hex (param $d i32) (result i32)
    (select
      (i32.add (local.get $d) (i32.const 48))  ;; '0'..'9'
      (i32.add (local.get $d) (i32.const 87))  ;; 'a'..'f'
      (i32.lt_u (local.get $d) (i32.const 10))))

  ;; name makes the request at 48 subscribe to "sub/" + four hex digits of $i.
  (func $name (param $i i32)
    (i32.store8 (i32.const 61) (call $hex (i32.and (i32.shr_u (local.get $i) (i32.const 12)) (i32.const 15))))
    (i32.store8 (i32.const 62) (call $hex (i32.and (i32.shr_u (local.get $i) (i32.const 8)) (i32.const 15))))
    (i32.store8 (i32.const 63) (call $hex (i32.and (i32.shr_u (local.get $i) (i32.const 4)) (i32.const 15))))
    (i32.store8 (i32.const 64) (call $hex (i32.and (local.get $i) (i32.const 15)))))

  (func $sub (result i32)
    (call $subscribe (i32.const 48) (i32.const 17) (i32.const 512) (i32.const 32)))

  (func $start (result i32)
    (local $i i32) (local $r i32)
    (if (i32.lt_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 512) (i32.const 32)) (i32.const 0))
      (then (return (i32.const 1))))
    (block $full
      (loop $more
        (call $name (local.get $i))
        (local.set $r (call $sub))
        (br_if $full (i32.eq (local.get $r) (i32.const -7)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 65536))))
      (return (i32.const 3)))
    (if (i32.ne (local.get $i) (i32.const 255))
      (then (return (i32.add (i32.const 10000) (local.get $i)))))
    (call $name (i32.const 0))
    (if (i32.lt_s (call $sub) (i32.const 0)) (then (return (i32.const 4))))
    (i32.const 0))

  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 4096))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (return (call $start))))
    (call $name (i32.const 0xffff))
    (select (i32.const 0) (i32.const 5) (i32.eq (call $sub) (i32.const -7)))))
