//! The host functions (abi/ABI.md, "Host functions") and the one way the
//! SDK calls them: build a request, call, fetch what is pending.

use std::cell::RefCell;

use crate::cbor::{self, Decoder, Encoder};
use crate::error::{Code, Error, Result};

/// The signature every host function but `response` has: (req_ptr,
/// req_len, resp_ptr, resp_cap) -> the response's length, or -code.
pub(crate) type HostFn = unsafe extern "C" fn(*const u8, u32, *mut u8, u32) -> i32;

/// The imports. rustc gives each a symbol of its own (the import name stays
/// the ABI's), and the linker keeps only those a component calls, so a
/// component runs on every host that has what it uses.
#[cfg(target_arch = "wasm32")]
pub(crate) mod imports {
    #[link(wasm_import_module = "moss")]
    extern "C" {
        pub fn log(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn publish(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn subscribe(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn unsubscribe(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn config_get(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn config_update(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn config_watch(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn timer_start(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn timer_stop(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn report_state(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn secret_get(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn cloud_publish(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn cloud_subscribe(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn cloud_unsubscribe(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn shadow_get(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn shadow_update(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn shadow_delete(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn shadow_list(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn shadow_watch(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn state_save(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        pub fn defer_update(req: *const u8, req_len: u32, resp: *mut u8, resp_cap: u32) -> i32;
        /// Copies the pending response to ptr if it fits in cap; returns its
        /// length, or -code.
        pub fn response(ptr: *mut u8, cap: u32) -> i32;
    }
}

/// Outside Wasm (the SDK's own unit tests) there is no host: every call
/// fails with `E_UNSUPPORTED` and nothing is pending.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_safety_doc)]
pub(crate) mod imports {
    macro_rules! absent {
        ($($name:ident),*) => {$(
            pub unsafe extern "C" fn $name(_: *const u8, _: u32, _: *mut u8, _: u32) -> i32 {
                -12
            }
        )*};
    }
    absent!(
        log,
        publish,
        subscribe,
        unsubscribe,
        config_get,
        config_update,
        config_watch,
        timer_start,
        timer_stop,
        report_state,
        secret_get,
        cloud_publish,
        cloud_subscribe,
        cloud_unsubscribe,
        shadow_get,
        shadow_update,
        shadow_delete,
        shadow_list,
        shadow_watch,
        state_save,
        defer_update
    );
    pub unsafe fn response(_: *mut u8, _: u32) -> i32 {
        -10
    }
}

/// Buffers above this size, grown for one large request or response, are
/// given back at the next call.
const KEEP: usize = 64 << 10;

/// The request being built and the response buffer, reused by every call.
struct Buffers {
    req: Encoder,
    resp: Vec<u8>, // its length is its capacity: the host writes into all of it
}

thread_local! {
    // A component runs on one thread, one call at a time, and the host never
    // calls the guest during a host call: borrows of this never overlap as
    // long as no user code runs inside `call`, which it does not.
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers { req: Encoder::new(), resp: Vec::new() });
}

/// Calls host function `f` (named `name` in messages) with the request
/// `build` writes, and hands the response (empty for functions that have
/// none) to `read`. A failure's message is fetched from the host at once.
pub(crate) fn call<T>(
    name: &'static str,
    f: HostFn,
    build: impl FnOnce(&mut Encoder),
    read: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<T> {
    BUFFERS.with(|b| {
        let b = &mut *b.borrow_mut();
        b.req.reset(KEEP);
        if b.resp.len() > KEEP || b.resp.is_empty() {
            b.resp = vec![0; 512];
        }
        build(&mut b.req);
        let req = b.req.as_bytes();
        if req.len() > cbor::MAX_SIZE {
            return Err(Error::new(Code::TooLarge, format!("moss: {}: request of {} bytes", name, req.len())));
        }
        // SAFETY: both ranges are inside live buffers; the host reads the
        // first and writes at most resp_cap bytes into the second.
        let r = unsafe { f(req.as_ptr(), req.len() as u32, b.resp.as_mut_ptr(), b.resp.len() as u32) };
        if r < 0 {
            return Err(host_error(name, r, &mut b.resp));
        }
        let n = r as usize;
        if n > b.resp.len() {
            b.resp = vec![0; n];
            let got = fetch(&mut b.resp);
            if got != r {
                return Err(Error::new(
                    Code::Protocol,
                    format!("moss: {}: response returned {} for a {}-byte response", name, got, n),
                ));
            }
        }
        let out = read(&b.resp[..n]);
        if name == "secret_get" {
            // Keep no copy of a secret.
            b.resp[..n].iter_mut().for_each(|x| *x = 0);
        }
        out
    })
}

/// Calls `response` into buf.
fn fetch(buf: &mut [u8]) -> i32 {
    // SAFETY: the range is inside buf.
    unsafe { imports::response(buf.as_mut_ptr(), buf.len() as u32) }
}

/// Makes the error for a host function's result r < 0, with the host's
/// message when it has one pending.
fn host_error(name: &str, r: i32, buf: &mut Vec<u8>) -> Error {
    let code = Code::from_abi(r.unsigned_abs());
    let mut n = fetch(buf);
    if n > 0 && n as usize > buf.len() {
        *buf = vec![0; n as usize];
        n = fetch(buf);
    }
    let message = if n > 0 && n as usize <= buf.len() { error_message(&buf[..n as usize]) } else { None };
    Error::new(code, message.unwrap_or_else(|| format!("{}: {}", name, code)))
}

/// Reads the message of a pending `{code, message}` map (none if the map is
/// malformed, a key twice included).
pub(crate) fn error_message(b: &[u8]) -> Option<String> {
    let mut d = Decoder::new(b);
    let mut message = None;
    for _ in 0..d.map_unique().ok()? {
        match d.text().ok()? {
            "message" => message = Some(d.text().ok()?.to_string()),
            _ => {
                d.skip().ok()?;
            }
        }
    }
    message.filter(|m| !m.is_empty())
}

/// Positions a decoder over a response map at the value of `key`.
pub(crate) fn value_of<'a>(name: &str, resp: &'a [u8], key: &str) -> Result<Decoder<'a>> {
    let mut d = Decoder::new(resp);
    let bad = || Error::new(Code::Protocol, format!("moss: {}: the response holds no {}", name, key));
    for _ in 0..d.map_unique().map_err(|_| bad())? {
        if d.text().map_err(|_| bad())? == key {
            return Ok(d);
        }
        d.skip().map_err(|_| bad())?;
    }
    Err(bad())
}

/// Reads the `{id}` response of subscribe, timer_start and config_watch.
pub(crate) fn read_id(name: &'static str) -> impl FnOnce(&[u8]) -> Result<u32> {
    move |resp| {
        let mut d = value_of(name, resp, "id")?;
        match d.uint() {
            Ok(id) if id <= u32::MAX as u64 => Ok(id as u32),
            _ => Err(Error::new(Code::Protocol, format!("moss: {}: the id is not a 32-bit integer", name))),
        }
    }
}

/// Reads a response that should be empty.
pub(crate) fn no_response(_: &[u8]) -> Result<()> {
    Ok(())
}

/// Writes a path ("a.b.c", "" for the whole tree) as an array of keys.
pub(crate) fn put_dotted(e: &mut Encoder, path: &str) {
    if path.is_empty() {
        e.array(0);
    } else {
        e.array(path.split('.').count());
        for k in path.split('.') {
            e.text(k);
        }
    }
}

/// Subscribes with `f` (subscribe or cloud_subscribe) and registers the
/// handler under the id the host gives.
pub(crate) fn subscribe_with(
    name: &'static str,
    f: HostFn,
    filter: &str,
    handler: crate::runtime::MessageFn,
) -> Result<u32> {
    let id = call(
        name,
        f,
        |e| {
            e.map(1).text("filter").text(filter);
        },
        read_id(name),
    )?;
    crate::runtime::put_sub(id, handler);
    Ok(id)
}

/// Forgets the handler of `id` and ends the subscription with `f`
/// (unsubscribe or cloud_unsubscribe).
pub(crate) fn unsubscribe_with(name: &'static str, f: HostFn, id: u32) -> Result<()> {
    crate::runtime::remove_sub(id);
    call(
        name,
        f,
        |e| {
            e.map(1).text("id").uint(id as u64);
        },
        no_response,
    )
}
