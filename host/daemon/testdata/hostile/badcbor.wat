;; Hostile: calls host functions with malformed CBOR requests: truncated,
;; trailing bytes, wrong types and shapes, unknown and duplicate keys,
;; reserved and indefinite-length encodings, heads declaring lengths of
;; gigabytes (byte strings 0x5a ffffffff and 0x5b + 8 bytes, texts, arrays,
;; maps) and arrays nested 10,000 deep (written into memory by a loop). The
;; host must refuse each with E_DECODE (-2) without acting on it, quickly (all
;; of them run inside one call under a 100 ms deadline) and without
;; allocating what a head declares. The component stays RUNNING: it runs the
;; checks when started and again on every message on "hostile/in".
;;
;; moss_on_events returns 0 when every call returned E_DECODE, otherwise the
;; number of the first case that did not (see the comments below), or 1000
;; if subscribing to hostile/in failed. Requests sit at 0x100 * k; the deep
;; ones are built at 0x4000, 0x7000 and 0xa000.
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
  (memory (export "memory") 1)
  ;; host functions by number: 0 log, 1 publish, 2 subscribe, 3 unsubscribe,
  ;; 4 config_get, 5 config_update, 6 config_watch, 7 timer_start,
  ;; 8 timer_stop, 9 report_state, 10 secret_get
  (table 11 funcref)
  (elem (i32.const 0) $log $publish $subscribe $unsubscribe $config_get
    $config_update $config_watch $timer_start $timer_stop $report_state $secret_get)
  ;; {"filter": "hostile/in"}: 19 bytes, followed by a 0 byte
  (data (i32.const 16) "\a1\66filter\6ahostile/in")
  ;; {"topic": "hostile/x", "payload": h''}: 26 bytes
  (data (i32.const 0x100) "\a2\65topic\69hostile/x\67payload\40")
  ;; {"path": ["a"]}: 9 bytes
  (data (i32.const 0x200) "\a1\64path\81\61a")
  ;; {"topic": 5, "payload": h''}: 17 bytes
  (data (i32.const 0x300) "\a2\65topic\05\67payload\40")
  ;; {"topic": "a", "payload": "x"}: 19 bytes
  (data (i32.const 0x400) "\a2\65topic\61a\67payload\61x")
  ;; ["a", h''] (an array, not a map): 4 bytes
  (data (i32.const 0x500) "\82\61a\40")
  ;; {"topic": "a", "payload": h'', "qos": 1} (unknown key): 23 bytes
  (data (i32.const 0x600) "\a3\65topic\61a\67payload\40\63qos\01")
  ;; {"filter": 5}: 9 bytes
  (data (i32.const 0x700) "\a1\66filter\05")
  ;; {"filter": h'61'} (bytes, not text): 10 bytes
  (data (i32.const 0x800) "\a1\66filter\41a")
  ;; {1: "a"} (an integer key): 4 bytes
  (data (i32.const 0x900) "\a1\01\61a")
  ;; {"filter": "a", "filter": "b"} (duplicate key): 19 bytes
  (data (i32.const 0xa00) "\a2\66filter\61a\66filter\61b")
  ;; {"level": "x", "msg": "m"}: 15 bytes
  (data (i32.const 0xb00) "\a2\65level\61x\63msg\61m")
  ;; {"id": -1}: 5 bytes
  (data (i32.const 0xc00) "\a1\62id\20")
  ;; {"id": 2^32} (overflows uint32): 13 bytes
  (data (i32.const 0xd00) "\a1\62id\1b\00\00\00\01\00\00\00\00")
  ;; {"path": "x"}: 8 bytes
  (data (i32.const 0xe00) "\a1\64path\61x")
  ;; {"path": [1]}: 8 bytes
  (data (i32.const 0xf00) "\a1\64path\81\01")
  ;; {"path": {}}: 7 bytes
  (data (i32.const 0x1000) "\a1\64path\a0")
  ;; {"path": [], "value": 1, "extra": 1} (unknown key): 21 bytes
  (data (i32.const 0x1100) "\a3\64path\80\65value\01\65extra\01")
  ;; {"interval_ms": true}: 14 bytes
  (data (i32.const 0x1200) "\a1\6binterval_ms\f5")
  ;; {"id": "x"}: 6 bytes
  (data (i32.const 0x1300) "\a1\62id\61x")
  ;; {"state": 1}: 8 bytes
  (data (i32.const 0x1400) "\a1\65state\01")
  ;; {"name": 1}: 7 bytes
  (data (i32.const 0x1500) "\a1\64name\01")
  ;; reserved additional information 28: 1 bytes
  (data (i32.const 0x1600) "\1c")
  ;; a lone "break" byte: 1 bytes
  (data (i32.const 0x1700) "\ff")
  ;; {_ "topic": "a", "payload": h''}: 19 bytes
  (data (i32.const 0x1800) "\bf\65topic\61a\67payload\40\ff")
  ;; {_ "filter": "a"}: 11 bytes
  (data (i32.const 0x1900) "\bf\66filter\61a\ff")
  ;; {"filter": (_ "a", "b")}: 14 bytes
  (data (i32.const 0x1a00) "\a1\66filter\7f\61a\61b\ff")
  ;; {"path": [_ "a"]}: 10 bytes
  (data (i32.const 0x1b00) "\a1\64path\9f\61a\ff")
  ;; {"topic": "a", "payload": (_ h'00')}: 21 bytes
  (data (i32.const 0x1c00) "\a2\65topic\61a\67payload\5f\41\00\ff")
  ;; {"level": 0, "msg": (_ "m")}: 16 bytes
  (data (i32.const 0x1d00) "\a2\65level\00\63msg\7f\61m\ff")
  ;; payload a byte string of 2^32-1 bytes (0x5a): 22 bytes
  (data (i32.const 0x1e00) "\a2\65topic\61a\67payload\5a\ff\ff\ff\ff")
  ;; payload a byte string of 2^64-1 bytes (0x5b): 26 bytes
  (data (i32.const 0x1f00) "\a2\65topic\61a\67payload\5b\ff\ff\ff\ff\ff\ff\ff\ff")
  ;; topic a text of 2^64-1 bytes: 16 bytes
  (data (i32.const 0x2000) "\a2\65topic\7b\ff\ff\ff\ff\ff\ff\ff\ff")
  ;; a map of 2^64-1 pairs: 9 bytes
  (data (i32.const 0x2100) "\bb\ff\ff\ff\ff\ff\ff\ff\ff")
  ;; filter a text of 2 GiB: 13 bytes
  (data (i32.const 0x2200) "\a1\66filter\7a\7f\ff\ff\ff")
  ;; a bare byte string of 4 GiB: 5 bytes
  (data (i32.const 0x2300) "\5a\ff\ff\ff\ff")
  ;; path an array of 2^32-1 items: 11 bytes
  (data (i32.const 0x2400) "\a1\64path\9a\ff\ff\ff\ff")
  ;; value a map of 2^64-1 pairs: 22 bytes
  (data (i32.const 0x2500) "\a2\64path\80\65value\bb\ff\ff\ff\ff\ff\ff\ff\ff")
  ;; msg a text of 4 GiB: 21 bytes
  (data (i32.const 0x2600) "\a2\65level\00\63msg\7b\00\00\00\01\00\00\00\00")
  ;; value a byte string of 2^63-1 bytes: 22 bytes
  (data (i32.const 0x2700) "\a2\64path\80\65value\5b\7f\ff\ff\ff\ff\ff\ff\ff")
  ;; name a text of 4 GiB: 11 bytes
  (data (i32.const 0x2800) "\a1\64name\7a\ff\ff\ff\ff")
  ;; a map of 2^32-1 pairs: 5 bytes
  (data (i32.const 0x2900) "\ba\ff\ff\ff\ff")
  ;; {"filter": followed by the deep array: 8 bytes
  (data (i32.const 0x7000) "\a1\66filter")
  ;; {"path": [], "value": followed by the deep array: 13 bytes
  (data (i32.const 0xa000) "\a2\64path\80\65value")
  (global $started (mut i32) (i32.const 0))

  ;; deep writes 10,000 array heads of one item (0x81) at $at and the
  ;; innermost item (0) after them: 10,001 bytes.
  (func $deep (param $at i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $at) (i32.const 10000)))
    (loop $more
      (i32.store8 (local.get $at) (i32.const 0x81))
      (local.set $at (i32.add (local.get $at) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $at) (local.get $end))))
    (i32.store8 (local.get $end) (i32.const 0)))

  ;; expect calls host function $f with the request at $ptr, $len and returns
  ;; 0 if it answered E_DECODE, else $case.
  (func $expect (param $case i32) (param $f i32) (param $ptr i32) (param $len i32) (result i32)
    (select (i32.const 0) (local.get $case)
      (i32.eq (call_indirect (type $hostfn) (local.get $ptr) (local.get $len) (i32.const 0) (i32.const 0) (local.get $f))
        (i32.const -2))))

  (func $checkAll (result i32)
    (local $r i32)
    ;; 1: publish, truncated: the payload is missing
    (if (local.tee $r (call $expect (i32.const 1) (i32.const 1) (i32.const 0x100) (i32.const 25)))
      (then (return (local.get $r))))
    ;; 2: publish, truncated: the second pair is missing
    (if (local.tee $r (call $expect (i32.const 2) (i32.const 1) (i32.const 0x100) (i32.const 17)))
      (then (return (local.get $r))))
    ;; 3: publish, truncated inside the topic text
    (if (local.tee $r (call $expect (i32.const 3) (i32.const 1) (i32.const 0x100) (i32.const 10)))
      (then (return (local.get $r))))
    ;; 4: publish, truncated after the map head
    (if (local.tee $r (call $expect (i32.const 4) (i32.const 1) (i32.const 0x100) (i32.const 1)))
      (then (return (local.get $r))))
    ;; 5: subscribe, truncated inside the filter text
    (if (local.tee $r (call $expect (i32.const 5) (i32.const 2) (i32.const 0x10) (i32.const 18)))
      (then (return (local.get $r))))
    ;; 6: subscribe, truncated: the value is missing
    (if (local.tee $r (call $expect (i32.const 6) (i32.const 2) (i32.const 0x10) (i32.const 8)))
      (then (return (local.get $r))))
    ;; 7: subscribe, an empty request
    (if (local.tee $r (call $expect (i32.const 7) (i32.const 2) (i32.const 0x10) (i32.const 0)))
      (then (return (local.get $r))))
    ;; 8: subscribe, one trailing byte (the 0 after the request)
    (if (local.tee $r (call $expect (i32.const 8) (i32.const 2) (i32.const 0x10) (i32.const 20)))
      (then (return (local.get $r))))
    ;; 9: config_get, truncated inside the path array
    (if (local.tee $r (call $expect (i32.const 9) (i32.const 4) (i32.const 0x200) (i32.const 8)))
      (then (return (local.get $r))))
    ;; 10: publish, wrong shape: {"topic": 5, "payload": h''}
    (if (local.tee $r (call $expect (i32.const 10) (i32.const 1) (i32.const 0x300) (i32.const 17)))
      (then (return (local.get $r))))
    ;; 11: publish, wrong shape: {"topic": "a", "payload": "x"}
    (if (local.tee $r (call $expect (i32.const 11) (i32.const 1) (i32.const 0x400) (i32.const 19)))
      (then (return (local.get $r))))
    ;; 12: publish, wrong shape: ["a", h''] (an array, not a map)
    (if (local.tee $r (call $expect (i32.const 12) (i32.const 1) (i32.const 0x500) (i32.const 4)))
      (then (return (local.get $r))))
    ;; 13: publish, wrong shape: {"topic": "a", "payload": h'', "qos": 1} (unknown key)
    (if (local.tee $r (call $expect (i32.const 13) (i32.const 1) (i32.const 0x600) (i32.const 23)))
      (then (return (local.get $r))))
    ;; 14: subscribe, wrong shape: {"filter": 5}
    (if (local.tee $r (call $expect (i32.const 14) (i32.const 2) (i32.const 0x700) (i32.const 9)))
      (then (return (local.get $r))))
    ;; 15: subscribe, wrong shape: {"filter": h'61'} (bytes, not text)
    (if (local.tee $r (call $expect (i32.const 15) (i32.const 2) (i32.const 0x800) (i32.const 10)))
      (then (return (local.get $r))))
    ;; 16: subscribe, wrong shape: {1: "a"} (an integer key)
    (if (local.tee $r (call $expect (i32.const 16) (i32.const 2) (i32.const 0x900) (i32.const 4)))
      (then (return (local.get $r))))
    ;; 17: subscribe, wrong shape: {"filter": "a", "filter": "b"} (duplicate key)
    (if (local.tee $r (call $expect (i32.const 17) (i32.const 2) (i32.const 0xa00) (i32.const 19)))
      (then (return (local.get $r))))
    ;; 18: log, wrong shape: {"level": "x", "msg": "m"}
    (if (local.tee $r (call $expect (i32.const 18) (i32.const 0) (i32.const 0xb00) (i32.const 15)))
      (then (return (local.get $r))))
    ;; 19: unsubscribe, wrong shape: {"id": -1}
    (if (local.tee $r (call $expect (i32.const 19) (i32.const 3) (i32.const 0xc00) (i32.const 5)))
      (then (return (local.get $r))))
    ;; 20: unsubscribe, wrong shape: {"id": 2^32} (overflows uint32)
    (if (local.tee $r (call $expect (i32.const 20) (i32.const 3) (i32.const 0xd00) (i32.const 13)))
      (then (return (local.get $r))))
    ;; 21: config_get, wrong shape: {"path": "x"}
    (if (local.tee $r (call $expect (i32.const 21) (i32.const 4) (i32.const 0xe00) (i32.const 8)))
      (then (return (local.get $r))))
    ;; 22: config_get, wrong shape: {"path": [1]}
    (if (local.tee $r (call $expect (i32.const 22) (i32.const 4) (i32.const 0xf00) (i32.const 8)))
      (then (return (local.get $r))))
    ;; 23: config_watch, wrong shape: {"path": {}}
    (if (local.tee $r (call $expect (i32.const 23) (i32.const 6) (i32.const 0x1000) (i32.const 7)))
      (then (return (local.get $r))))
    ;; 24: config_update, wrong shape: {"path": [], "value": 1, "extra": 1} (unknown key)
    (if (local.tee $r (call $expect (i32.const 24) (i32.const 5) (i32.const 0x1100) (i32.const 21)))
      (then (return (local.get $r))))
    ;; 25: timer_start, wrong shape: {"interval_ms": true}
    (if (local.tee $r (call $expect (i32.const 25) (i32.const 7) (i32.const 0x1200) (i32.const 14)))
      (then (return (local.get $r))))
    ;; 26: timer_stop, wrong shape: {"id": "x"}
    (if (local.tee $r (call $expect (i32.const 26) (i32.const 8) (i32.const 0x1300) (i32.const 6)))
      (then (return (local.get $r))))
    ;; 27: report_state, wrong shape: {"state": 1}
    (if (local.tee $r (call $expect (i32.const 27) (i32.const 9) (i32.const 0x1400) (i32.const 8)))
      (then (return (local.get $r))))
    ;; 28: secret_get, wrong shape: {"name": 1}
    (if (local.tee $r (call $expect (i32.const 28) (i32.const 10) (i32.const 0x1500) (i32.const 7)))
      (then (return (local.get $r))))
    ;; 29: subscribe, wrong shape: reserved additional information 28
    (if (local.tee $r (call $expect (i32.const 29) (i32.const 2) (i32.const 0x1600) (i32.const 1)))
      (then (return (local.get $r))))
    ;; 30: publish, wrong shape: a lone "break" byte
    (if (local.tee $r (call $expect (i32.const 30) (i32.const 1) (i32.const 0x1700) (i32.const 1)))
      (then (return (local.get $r))))
    ;; 31: publish, indefinite length: {_ "topic": "a", "payload": h''}
    (if (local.tee $r (call $expect (i32.const 31) (i32.const 1) (i32.const 0x1800) (i32.const 19)))
      (then (return (local.get $r))))
    ;; 32: subscribe, indefinite length: {_ "filter": "a"}
    (if (local.tee $r (call $expect (i32.const 32) (i32.const 2) (i32.const 0x1900) (i32.const 11)))
      (then (return (local.get $r))))
    ;; 33: subscribe, indefinite length: {"filter": (_ "a", "b")}
    (if (local.tee $r (call $expect (i32.const 33) (i32.const 2) (i32.const 0x1a00) (i32.const 14)))
      (then (return (local.get $r))))
    ;; 34: config_get, indefinite length: {"path": [_ "a"]}
    (if (local.tee $r (call $expect (i32.const 34) (i32.const 4) (i32.const 0x1b00) (i32.const 10)))
      (then (return (local.get $r))))
    ;; 35: publish, indefinite length: {"topic": "a", "payload": (_ h'00')}
    (if (local.tee $r (call $expect (i32.const 35) (i32.const 1) (i32.const 0x1c00) (i32.const 21)))
      (then (return (local.get $r))))
    ;; 36: log, indefinite length: {"level": 0, "msg": (_ "m")}
    (if (local.tee $r (call $expect (i32.const 36) (i32.const 0) (i32.const 0x1d00) (i32.const 16)))
      (then (return (local.get $r))))
    ;; 37: publish, declared length of gigabytes: payload a byte string of 2^32-1 bytes (0x5a)
    (if (local.tee $r (call $expect (i32.const 37) (i32.const 1) (i32.const 0x1e00) (i32.const 22)))
      (then (return (local.get $r))))
    ;; 38: publish, declared length of gigabytes: payload a byte string of 2^64-1 bytes (0x5b)
    (if (local.tee $r (call $expect (i32.const 38) (i32.const 1) (i32.const 0x1f00) (i32.const 26)))
      (then (return (local.get $r))))
    ;; 39: publish, declared length of gigabytes: topic a text of 2^64-1 bytes
    (if (local.tee $r (call $expect (i32.const 39) (i32.const 1) (i32.const 0x2000) (i32.const 16)))
      (then (return (local.get $r))))
    ;; 40: publish, declared length of gigabytes: a map of 2^64-1 pairs
    (if (local.tee $r (call $expect (i32.const 40) (i32.const 1) (i32.const 0x2100) (i32.const 9)))
      (then (return (local.get $r))))
    ;; 41: subscribe, declared length of gigabytes: filter a text of 2 GiB
    (if (local.tee $r (call $expect (i32.const 41) (i32.const 2) (i32.const 0x2200) (i32.const 13)))
      (then (return (local.get $r))))
    ;; 42: subscribe, declared length of gigabytes: a bare byte string of 4 GiB
    (if (local.tee $r (call $expect (i32.const 42) (i32.const 2) (i32.const 0x2300) (i32.const 5)))
      (then (return (local.get $r))))
    ;; 43: config_get, declared length of gigabytes: path an array of 2^32-1 items
    (if (local.tee $r (call $expect (i32.const 43) (i32.const 4) (i32.const 0x2400) (i32.const 11)))
      (then (return (local.get $r))))
    ;; 44: config_update, declared length of gigabytes: value a map of 2^64-1 pairs
    (if (local.tee $r (call $expect (i32.const 44) (i32.const 5) (i32.const 0x2500) (i32.const 22)))
      (then (return (local.get $r))))
    ;; 45: log, declared length of gigabytes: msg a text of 4 GiB
    (if (local.tee $r (call $expect (i32.const 45) (i32.const 0) (i32.const 0x2600) (i32.const 21)))
      (then (return (local.get $r))))
    ;; 46: config_update, declared length of gigabytes: value a byte string of 2^63-1 bytes
    (if (local.tee $r (call $expect (i32.const 46) (i32.const 5) (i32.const 0x2700) (i32.const 22)))
      (then (return (local.get $r))))
    ;; 47: secret_get, declared length of gigabytes: name a text of 4 GiB
    (if (local.tee $r (call $expect (i32.const 47) (i32.const 10) (i32.const 0x2800) (i32.const 11)))
      (then (return (local.get $r))))
    ;; 48: unsubscribe, declared length of gigabytes: a map of 2^32-1 pairs
    (if (local.tee $r (call $expect (i32.const 48) (i32.const 3) (i32.const 0x2900) (i32.const 5)))
      (then (return (local.get $r))))
    ;; 49: subscribe, a bare array nested 10,000 deep
    (if (local.tee $r (call $expect (i32.const 49) (i32.const 2) (i32.const 0x4000) (i32.const 10001)))
      (then (return (local.get $r))))
    ;; 50: subscribe, {"filter": <nested 10,000 deep>}
    (if (local.tee $r (call $expect (i32.const 50) (i32.const 2) (i32.const 0x7000) (i32.const 10009)))
      (then (return (local.get $r))))
    ;; 51: publish, a bare array nested 10,000 deep
    (if (local.tee $r (call $expect (i32.const 51) (i32.const 1) (i32.const 0x4000) (i32.const 10001)))
      (then (return (local.get $r))))
    ;; 52: config_update, {"path": [], "value": <nested 10,000 deep>}
    (if (local.tee $r (call $expect (i32.const 52) (i32.const 5) (i32.const 0xa000) (i32.const 10014)))
      (then (return (local.get $r))))
    ;; 53: config_get, a bare array nested 10,000 deep
    (if (local.tee $r (call $expect (i32.const 53) (i32.const 4) (i32.const 0x4000) (i32.const 10001)))
      (then (return (local.get $r))))
    ;; 54: log, a bare array nested 10,000 deep
    (if (local.tee $r (call $expect (i32.const 54) (i32.const 0) (i32.const 0x4000) (i32.const 10001)))
      (then (return (local.get $r))))
    (i32.const 0))

  (func (export "moss_abi_version") (result i32) (i32.const 1))
  (func (export "moss_event_buffer") (param i32) (result i32) (i32.const 0xf000))
  (func (export "moss_on_events") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (if (i32.lt_s (call $subscribe (i32.const 16) (i32.const 19) (i32.const 0xe000) (i32.const 32)) (i32.const 0))
          (then (return (i32.const 1000))))
        (call $deep (i32.const 0x4000))
        (call $deep (i32.const 0x7008))
        (call $deep (i32.const 0xa00d))))
    (call $checkAll)))
