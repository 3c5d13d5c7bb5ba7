//! The exports' bodies: the event buffer, decoding a batch of events and
//! calling the handlers the component registered.

use std::cell::{Cell, RefCell};
use std::fmt::Display;

use crate::cbor::Decoder;
use crate::Message;

/// What `moss_on_events` returns when it cannot handle a batch: the host
/// marks the component ERRORED and logs the value.
pub const RC_BAD_BATCH: i32 = 1; // the batch is not CBOR as ABI.md describes events
pub const RC_START_FAILED: i32 = 2; // the start function returned an error

/// A registered handler. While it runs it is taken out of its slot (`f` is
/// `None`), so that it may subscribe, unsubscribe or stop itself.
pub(crate) struct Slot<F> {
    id: u32,
    f: Option<F>,
}

/// Handlers by id. Few enough (the host caps each kind at 64 or 256) that a
/// vector searched in order does.
pub(crate) struct Table<F>(Vec<Slot<F>>);

impl<F> Table<F> {
    const fn new() -> Table<F> {
        Table(Vec::new())
    }

    /// Sets the handler of id, returning the one it replaces (to be dropped
    /// by the caller once no borrow is held: dropping runs user code).
    fn put(&mut self, id: u32, f: F) -> Option<F> {
        match self.0.iter_mut().find(|s| s.id == id) {
            Some(s) => s.f.replace(f),
            None => {
                self.0.push(Slot { id, f: Some(f) });
                None
            }
        }
    }

    /// Removes the handler of id.
    fn remove(&mut self, id: u32) -> Option<F> {
        let i = self.0.iter().position(|s| s.id == id)?;
        self.0.swap_remove(i).f
    }

    /// Takes the handler of id out of its slot, to run it.
    fn take(&mut self, id: u32) -> Option<F> {
        self.0.iter_mut().find(|s| s.id == id)?.f.take()
    }

    /// Puts back a handler that ran, unless it was removed or replaced
    /// meanwhile: then it is handed back, to be dropped.
    fn restore(&mut self, id: u32, f: F) -> Option<F> {
        match self.0.iter_mut().find(|s| s.id == id) {
            Some(s) if s.f.is_none() => {
                s.f = Some(f);
                None
            }
            _ => Some(f),
        }
    }
}

pub(crate) type MessageFn = Box<dyn FnMut(&Message<'_>)>;
pub(crate) type WatchFn = Box<dyn FnMut(&[&str])>;
pub(crate) enum TimerFn {
    Every(Box<dyn FnMut()>),
    After(Box<dyn FnOnce()>),
}

pub(crate) struct Runtime {
    pub subs: Table<MessageFn>,
    pub timers: Table<TimerFn>,
    pub watches: Table<WatchFn>,
    pub stop: Option<Box<dyn FnOnce(&str)>>,
    // on_update's function, with the call of defer_update: only a component
    // that registers one imports defer_update.
    pub update: Option<Box<dyn FnMut(&str)>>,
    pub handover: Vec<u8>,
    pub name: String,
    pub version: String,
}

thread_local! {
    // One thread, one call at a time (the host never calls two exports of an
    // instance at once, nor one during a host call). A borrow is never held
    // while user code runs.
    pub(crate) static RT: RefCell<Runtime> = RefCell::new(Runtime {
        subs: Table::new(),
        timers: Table::new(),
        watches: Table::new(),
        stop: None,
        update: None,
        handover: Vec::new(),
        name: String::new(),
        version: String::new(),
    });

    /// The event buffer the host writes batches into. While a batch is
    /// handled it is taken out, so handlers can borrow the runtime freely.
    static EVBUF: Cell<Vec<u8>> = Cell::new(Vec::new());
}

/// Runs f on the runtime.
pub(crate) fn with<T>(f: impl FnOnce(&mut Runtime) -> T) -> T {
    RT.with(|rt| f(&mut rt.borrow_mut()))
}

/// Sets a handler, dropping the one it replaces after the borrow ends.
pub(crate) fn put_sub(id: u32, f: MessageFn) {
    drop(with(|rt| rt.subs.put(id, f)));
}
pub(crate) fn put_timer(id: u32, f: TimerFn) {
    drop(with(|rt| rt.timers.put(id, f)));
}
pub(crate) fn put_watch(id: u32, f: WatchFn) {
    drop(with(|rt| rt.watches.put(id, f)));
}
pub(crate) fn remove_sub(id: u32) {
    drop(with(|rt| rt.subs.remove(id)));
}
pub(crate) fn remove_timer(id: u32) {
    drop(with(|rt| rt.timers.remove(id)));
}

// ---- Exports ----------------------------------------------------------------

/// `moss_event_buffer(size)`: a buffer of at least size bytes that stays put
/// until the next call.
pub fn event_buffer(size: i32) -> *mut u8 {
    let n = (size as u32 as usize).max(1);
    EVBUF.with(|c| {
        let mut b = c.take();
        if b.len() < n {
            b = vec![0; n];
        }
        let p = b.as_mut_ptr();
        c.set(b);
        p
    })
}

/// `moss_on_events(ptr, len)`: decodes the batch and runs the handlers.
/// start is the component's start function.
///
/// # Safety
///
/// ptr[0..len] must be readable: the host writes the batch into the buffer
/// event_buffer returned.
pub unsafe fn on_events<E: Display>(ptr: *const u8, len: i32, start: fn() -> Result<(), E>) -> i32 {
    let n = len as u32 as usize;
    let mut start = || start().map_err(|e| e.to_string());
    let buf = EVBUF.with(Cell::take);
    let (base, at) = (buf.as_ptr() as usize, ptr as usize);
    let rc = if at >= base && n <= buf.len() && at - base <= buf.len() - n {
        handle_batch(&buf[at - base..at - base + n], &mut start)
    } else {
        // Not inside the event buffer (ABI.md says it is): work on a copy.
        handle_batch(&std::slice::from_raw_parts(ptr, n).to_vec(), &mut start)
    };
    EVBUF.with(|c| c.set(buf));
    rc
}

/// Event kinds (ABI.md, "Events").
const EV_START: u64 = 1;
const EV_MESSAGE: u64 = 2;
const EV_TIMER: u64 = 3;
const EV_CONFIG: u64 = 4;
const EV_STOP: u64 = 5;
const EV_UPDATE: u64 = 6;

/// One event, its strings borrowed from the batch. Keys it does not carry
/// are empty.
#[derive(Default, Debug, PartialEq)]
#[allow(missing_docs)] // the keys of ABI.md's table of events
pub struct Event<'a> {
    pub kind: u64,
    pub id: u64,
    pub abi: u64,
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub name: &'a str,
    pub version: &'a str,
    pub reason: &'a str,
    pub path: Vec<&'a str>,
}

/// Reads one event map; keys from later versions are skipped. An event
/// without a kind, or with a key of the wrong type, is malformed.
pub fn read_event<'a>(d: &mut Decoder<'a>) -> Option<Event<'a>> {
    let mut ev = Event::default();
    let mut has_kind = false;
    for _ in 0..d.map_unique().ok()? {
        match d.text().ok()? {
            "kind" => {
                ev.kind = d.uint().ok()?;
                has_kind = true;
            }
            "id" => ev.id = d.uint().ok()?,
            "abi" => ev.abi = d.uint().ok()?,
            "topic" => ev.topic = d.text().ok()?,
            "payload" => ev.payload = d.bytes().ok()?,
            "name" => ev.name = d.text().ok()?,
            "version" => ev.version = d.text().ok()?,
            "reason" => ev.reason = d.text().ok()?,
            "path" => {
                let n = d.array().ok()?;
                ev.path = Vec::with_capacity(n);
                for _ in 0..n {
                    ev.path.push(d.text().ok()?);
                }
            }
            _ => {
                d.skip().ok()?;
            }
        }
    }
    if has_kind {
        Some(ev)
    } else {
        None
    }
}

/// Decodes and dispatches a batch: a CBOR array of events.
fn handle_batch(batch: &[u8], start: &mut dyn FnMut() -> Result<(), String>) -> i32 {
    let mut d = Decoder::new(batch);
    let n = match d.array() {
        Ok(n) => n,
        Err(_) => {
            crate::error!("moss: event batch of {} bytes is not a CBOR array", batch.len());
            return RC_BAD_BATCH;
        }
    };
    for i in 0..n {
        let ev = match read_event(&mut d) {
            Some(ev) => ev,
            None => {
                crate::error!("moss: event {} of {} in the batch is malformed", i + 1, n);
                return RC_BAD_BATCH;
            }
        };
        let rc = dispatch(&ev, start);
        if rc != 0 {
            return rc;
        }
    }
    if !d.done() {
        crate::error!("moss: {} bytes after the event batch", d.rest().len());
        return RC_BAD_BATCH;
    }
    0
}

/// Handles one event; non-zero ends the batch.
fn dispatch(ev: &Event<'_>, start: &mut dyn FnMut() -> Result<(), String>) -> i32 {
    let id = match u32::try_from(ev.id) {
        Ok(id) => id,
        Err(_) => return 0, // no handler has such an id
    };
    match ev.kind {
        EV_START => {
            with(|rt| {
                rt.name = ev.name.to_string();
                rt.version = ev.version.to_string();
                rt.handover = ev.payload.to_vec();
            });
            if let Err(e) = start() {
                crate::error!("start: {}", e);
                return RC_START_FAILED;
            }
        }
        EV_MESSAGE => {
            if let Some(mut f) = with(|rt| rt.subs.take(id)) {
                f(&Message { id, topic: ev.topic, payload: ev.payload });
                drop(with(|rt| rt.subs.restore(id, f)));
            }
        }
        EV_TIMER => match with(|rt| rt.timers.take(id)) {
            Some(TimerFn::Every(mut f)) => {
                f();
                drop(with(|rt| rt.timers.restore(id, TimerFn::Every(f))));
            }
            Some(TimerFn::After(f)) => {
                // Fired: the host has forgotten it too.
                with(|rt| rt.timers.remove(id));
                f();
            }
            None => {} // stopped since
        },
        EV_CONFIG => {
            if let Some(mut f) = with(|rt| rt.watches.take(id)) {
                f(&ev.path);
                drop(with(|rt| rt.watches.restore(id, f)));
            }
        }
        EV_STOP => {
            if let Some(f) = with(|rt| rt.stop.take()) {
                f(ev.reason);
            }
        }
        EV_UPDATE => {
            if let Some(mut f) = with(|rt| rt.update.take()) {
                f(ev.version);
                // Put it back unless the handler registered another.
                with(|rt| {
                    if rt.update.is_none() {
                        rt.update = Some(f);
                    }
                });
            }
        }
        _ => {} // a kind from a later version
    }
    0
}

/// `_initialize`: runs the module's static constructors (wasm-ld's
/// `__wasm_call_ctors`) once, as wasi-libc's reactor start-up code does.
/// Without an `_initialize` that calls it, wasm-ld would wrap every export
/// in a call of the constructors and destructors (a "command" module).
pub fn initialize() {
    #[cfg(target_arch = "wasm32")]
    {
        extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: wasm-ld defines it; the host calls _initialize once,
        // before any other export.
        unsafe { __wasm_call_ctors() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn event(h: &str) -> Option<Event<'static>> {
        let b: &'static [u8] = Box::leak(unhex(h).into_boxed_slice());
        let mut d = Decoder::new(b);
        let ev = read_event(&mut d)?;
        if d.done() {
            Some(ev)
        } else {
            None
        }
    }

    /// The ABI's shared fixtures (abi/testdata/fixtures.json): events through
    /// read_event, id and error responses through the SDK's decoders. What
    /// the ABI refuses (a key twice among it), the SDK refuses.
    #[test]
    fn shared_fixtures() {
        use crate::json::{self, Value};
        let file = json::parse(include_bytes!("../../../abi/testdata/fixtures.json")).unwrap();
        let mut n = 0;
        for f in file.get("fixtures").and_then(Value::as_array).unwrap() {
            let name = f.get("name").and_then(Value::as_str).unwrap();
            let h = f.get("hex").and_then(Value::as_str).unwrap();
            let refused = f.get("error").is_some();
            let want = |k: &str| f.get("want").and_then(|w| w.get(k));
            let num = |k: &str| match want(k) {
                Some(Value::Number(x)) => *x as u64,
                _ => 0,
            };
            let text = |k: &str| want(k).and_then(Value::as_str).unwrap_or("").to_string();
            match f.get("kind").and_then(Value::as_str).unwrap() {
                "event" => match event(h) {
                    None => assert!(refused, "{}: event {} refused", name, h),
                    Some(ev) => {
                        assert!(!refused, "{}: event {} taken: {:?}", name, h, ev.topic);
                        assert_eq!((ev.kind, ev.id, ev.abi), (num("kind"), num("id"), num("abi")), "{}", name);
                        assert_eq!((ev.topic, ev.name, ev.version), (&*text("topic"), &*text("name"), &*text("version")), "{}", name);
                        let payload: String = ev.payload.iter().map(|b| format!("{:02x}", b)).collect();
                        if want("payload").is_some() {
                            assert_eq!(format!("h'{}'", payload), text("payload"), "{}", name);
                        }
                    }
                },
                "id" => match crate::host::read_id("test")(&unhex(h)) {
                    Ok(id) => assert!(!refused && id as u64 == num("id"), "{}: id {}", name, id),
                    Err(e) => assert!(refused, "{}: {}", name, e),
                },
                "error" => {
                    let msg = crate::host::error_message(&unhex(h));
                    assert_eq!(msg.is_none(), refused, "{}: {:?}", name, msg);
                    if let Some(m) = msg {
                        assert_eq!(m, text("message"), "{}", name);
                    }
                }
                _ => continue,
            }
            n += 1;
        }
        assert!(n > 0, "no event, id or error fixtures");
    }

    #[test]
    fn malformed_events() {
        // The C SDK's cases (sdk/c/c_test.go): each is refused.
        for (name, h) in [
            ("without kind", "a162696401"),
            ("kind as text", "a1646b696e646131"),
            ("truncated in a skipped key", "a2646b696e640363666f6f8301"),
            ("indefinite unknown", "a2646b696e640363666f6f9fff"),
            ("bogus simple value", "a2646b696e640363666f6ff801"),
            ("topic as bytes", "a2646b696e640265746f7069634174"),
            ("declaring 2^32 path items", "a2646b696e640464706174689affffffff"),
        ] {
            assert_eq!(event(h), None, "event {}", name);
        }
    }

    #[test]
    fn skipped_keys() {
        // Floats of every width and a deeply nested unknown key.
        let ev = event("a4646b696e6403626964076168f93c006166fb3ff8000000000000").unwrap();
        assert_eq!((ev.kind, ev.id), (3, 7));
        let ev = event(&format!("a2646b696e6403617a{}00", "81".repeat(40))).unwrap();
        assert_eq!(ev.kind, 3);
    }

    #[test]
    fn config_event() {
        // {"kind": 4, "id": 9, "path": ["a", "", "ü"]}
        assert_eq!(event("a3646b696e640462696409647061746883616160629fc3"), None, "a key that is not UTF-8");
        let ev = event("a3646b696e64046269640964706174688361616062c3bc").unwrap();
        assert_eq!((ev.kind, ev.id, ev.path), (4, 9, vec!["a", "", "ü"]));
    }

    #[test]
    fn handler_table() {
        let mut t = Table::new();
        assert!(t.put(1, "a").is_none());
        assert_eq!(t.put(1, "b"), Some("a"));
        // Running: taken out; removed meanwhile, so handed back to drop.
        assert_eq!(t.take(1), Some("b"));
        assert_eq!(t.remove(1), None);
        assert_eq!(t.restore(1, "b"), Some("b"));
        // Replaced while running: the new one stays.
        t.put(2, "c");
        let c = t.take(2).unwrap();
        t.put(2, "d");
        assert_eq!(t.restore(2, c), Some("c"));
        assert_eq!(t.take(2), Some("d"));
        assert_eq!(t.restore(2, "d"), None);
    }
}
