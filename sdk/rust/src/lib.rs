//! The Moss component SDK for Rust (component ABI version 1, abi/ABI.md).
//!
//! A Moss component is a WASI reactor (`wasm32-wasi`): the host instantiates
//! it and then calls into it once per batch of events (start, a message, a
//! timer, a configuration change, stop). This crate hides the ABI and its
//! CBOR behind a small API: [`publish`] and [`subscribe`] on the local bus,
//! timers ([`every`], [`after`]), configuration ([`config_get`],
//! [`config_watch`], [`config_update`]), logs ([`info!`] and friends),
//! [`report_state`] and [`secret_get`]; AWS IoT Core ([`cloud`]), device
//! shadows ([`shadow`]) and a small JSON type for their documents
//! ([`json`]). It has no dependencies.
//!
//! # A component
//!
//! [`component!`] names the start function and defines the module's exports
//! (`_initialize`, `moss_abi_version`, `moss_event_buffer`,
//! `moss_on_events`); the start function runs on the start event, the
//! first of every instance, and registers handlers:
//!
//! ```ignore
//! moss::component!(start);
//!
//! fn start() -> moss::Result<()> {
//!     let limit = match moss::config_get::<f64>("limit") {
//!         Err(e) if e.code() == moss::Code::NotFound => 30.0, // the default
//!         r => r?,
//!     };
//!     moss::subscribe("sensors/+/temperature", move |m| {
//!         moss::info!("{}: {} bytes (limit {})", m.topic(), m.payload().len(), limit);
//!     })?;
//!     moss::every(std::time::Duration::from_secs(10), || {
//!         let _ = moss::publish("status/ping", b"ok");
//!     })?;
//!     Ok(())
//! }
//! ```
//!
//! The start function may return any error that implements `Display`: the
//! SDK logs it and the start fails (`moss_on_events` returns 2), so the
//! component goes ERRORED and is restarted after a backoff.
//!
//! # Why a macro, and not a constructor
//!
//! Rust has no stable way to run code when a module is instantiated, and
//! rustc 1.63 cannot build a `wasm32-wasi` reactor (`-Z wasi-exec-model` is
//! unstable): a `cdylib` is linked as a command, and wasm-ld would wrap
//! each export in a call of the static constructors and destructors.
//! [`component!`] therefore defines `_initialize` itself, calling wasm-ld's
//! `__wasm_call_ctors` once as wasi-libc's reactor start-up code does, and
//! passes the start function to the runtime statically. The SDK's state is
//! created lazily, on first use, so nothing needs a constructor.
//!
//! # Building
//!
//! Without cargo (what `sdk/rust/build.sh` does): the SDK as an rlib, then
//! the component as a cdylib against it:
//!
//! ```text
//! rustc --edition 2021 --target wasm32-wasi -O -C panic=abort --crate-type rlib --crate-name moss sdk/rust/src/lib.rs
//! rustc --edition 2021 --target wasm32-wasi -O -C panic=abort --crate-type cdylib --extern moss=libmoss.rlib component.rs
//! ```
//!
//! With cargo: depend on this crate by path, set `crate-type = ["cdylib"]`
//! and `panic = "abort"`, and build with `--target wasm32-wasi --release`.
//!
//! # Errors and panics
//!
//! Every call that reaches the host returns a [`Result`]; an [`Error`]
//! carries the ABI's [`Code`] and the host's message. A panic aborts: the
//! message goes to stderr, which the host writes to the component's log,
//! and the trap makes the component ERRORED.
//!
//! # Threads and memory
//!
//! A component runs one call at a time on one thread, and the host never
//! calls it during a host call. Handlers are `'static` closures kept by the
//! SDK until they are unsubscribed or stopped; a handler may subscribe,
//! unsubscribe, start and stop timers, including its own. The strings a
//! handler receives borrow from the event batch, valid while it runs.

#![warn(missing_docs)]

pub mod cbor;
pub mod cloud;
mod config;
mod error;
mod host;
pub mod json;
mod runtime;
pub mod shadow;

use std::time::Duration;

pub use config::{config_get, config_get_path, config_update, config_watch, mismatch, FromConfig, IntoConfig, Raw, Watch};
pub use error::{Code, Error, Result};
use host::imports;

/// The ABI version this SDK speaks (the `moss_abi_version` export).
pub const ABI_VERSION: i32 = 1;

/// Defines the component's exports, with `start` (a `fn() -> Result<(), E>`
/// where `E: Display`) as its start function. Use it once, in the crate
/// that is built as the cdylib:
///
/// ```ignore
/// moss::component!(start);
/// ```
#[macro_export]
macro_rules! component {
    ($start:path) => {
        #[no_mangle]
        pub extern "C" fn _initialize() {
            $crate::__rt::initialize()
        }

        #[no_mangle]
        pub extern "C" fn moss_abi_version() -> i32 {
            $crate::ABI_VERSION
        }

        #[no_mangle]
        pub extern "C" fn moss_event_buffer(size: i32) -> *mut u8 {
            $crate::__rt::event_buffer(size)
        }

        /// # Safety
        ///
        /// Called by the host with the batch it wrote into the event buffer.
        #[no_mangle]
        pub unsafe extern "C" fn moss_on_events(ptr: *const u8, len: i32) -> i32 {
            $crate::__rt::on_events(ptr, len, $start)
        }
    };
}

/// What [`component!`] expands to calls; not part of the API.
#[doc(hidden)]
pub mod __rt {
    pub use crate::runtime::{event_buffer, initialize, on_events, read_event, Event};
}

// ---- Lifecycle ----------------------------------------------------------------

/// Runs `f` with the host's reason on the stop event, the last of an
/// instance. Register it from the start function (an instance that reports
/// [`State::Finished`] gets no stop event).
pub fn on_stop(f: impl FnOnce(&str) + 'static) {
    let old = runtime::with(|rt| rt.stop.replace(Box::new(f)));
    drop(old);
}

// ---- Hot swaps and deployments --------------------------------------------------

/// Hands `data` to the next version of the component when a deployment
/// replaces this one without a restart (hot swap): call it from the
/// [`on_stop`] function when the reason is `"upgrade"` (at most 1 MiB; a
/// later call replaces the data). The new version reads it with
/// [`handover`]. Errors: `E_INVALID` outside such a stop. Host function:
/// `state_save`.
pub fn state_save(data: &[u8]) -> Result<()> {
    host::call(
        "state_save",
        imports::state_save,
        |e| {
            e.map(1).text("data").bytes(data);
        },
        host::no_response,
    )
}

/// The data the previous version handed over with [`state_save`]; empty
/// when this instance did not start from a hot swap. Valid from the start
/// function on.
pub fn handover() -> Vec<u8> {
    runtime::with(|rt| rt.handover.clone())
}

/// Runs `f` on each update event: a deployment is about to update or
/// reconfigure the component (the new version, "" when only its
/// configuration changes). `f` returns how long the deployment should wait,
/// zero to accept now, as Greengrass's DeferComponentUpdate; the SDK asks
/// for it with [`defer_update`]. The deployment asks again when the time is
/// up, and goes ahead anyway once its update policy's timeout has passed.
/// A later `on_update` replaces `f`.
pub fn on_update(mut f: impl FnMut(&str) -> Duration + 'static) {
    let run = move |version: &str| {
        let wait = f(version);
        if !wait.is_zero() {
            if let Err(e) = defer_update(wait) {
                error!("defer update: {}", e);
            }
        }
    };
    let old = runtime::with(|rt| rt.update.replace(Box::new(run)));
    drop(old);
}

/// Asks the deployment to wait `wait` (rounded up to whole seconds, at most
/// a day; zero withdraws an earlier request). Errors: `E_INVALID` (over a
/// day). Host function: `defer_update`.
pub fn defer_update(wait: Duration) -> Result<()> {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    host::call(
        "defer_update",
        imports::defer_update,
        |e| {
            e.map(1).text("seconds").uint(secs);
        },
        host::no_response,
    )
}

/// The component's name, as the start event gave it ("" before).
pub fn name() -> String {
    runtime::with(|rt| rt.name.clone())
}

/// The component's version, as the start event gave it ("" before).
pub fn version() -> String {
    runtime::with(|rt| rt.version.clone())
}

/// A state [`report_state`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Running normally.
    Running,
    /// Broken: the host discards this instance after the current call and
    /// restarts it as for a crash.
    Errored,
    /// Done: the host stops the component after the current call, for good.
    Finished,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Running => "RUNNING",
            State::Errored => "ERRORED",
            State::Finished => "FINISHED",
        }
    }
}

/// Reports the component's own state, with an optional reason.
pub fn report_state(state: State, reason: Option<&str>) -> Result<()> {
    host::call(
        "report_state",
        imports::report_state,
        |e| {
            e.map(if reason.is_some() { 2 } else { 1 }).text("state").text(state.as_str());
            if let Some(r) = reason {
                e.text("reason").text(r);
            }
        },
        host::no_response,
    )
}

// ---- Logging ------------------------------------------------------------------

/// A log level: slog's numbers. Values in between are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(pub i32);

impl Level {
    /// -4
    pub const DEBUG: Level = Level(-4);
    /// 0
    pub const INFO: Level = Level(0);
    /// 4
    pub const WARN: Level = Level(4);
    /// 8
    pub const ERROR: Level = Level(8);
}

/// The longest line the host takes (ABI.md, `log`).
const MAX_LOG: usize = 64 << 10;

/// Writes a line to the component's log; a line over 64 KiB is cut there.
/// Errors: [`Code::Rate`] when the host's log flood limit drops the line.
/// The macros [`debug!`], [`info!`], [`warn!`] and [`error!`] format a
/// line and ignore the error.
pub fn log(level: Level, msg: &str) -> Result<()> {
    let mut end = msg.len().min(MAX_LOG);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    host::call(
        "log",
        imports::log,
        |e| {
            e.map(2).text("level").int(level.0 as i64).text("msg").text(&msg[..end]);
        },
        host::no_response,
    )
}

/// Logs a formatted line at a level: `moss::log!(moss::Level(2), "x={}", x)`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {{
        let _ = $crate::log($level, &::std::format!($($arg)+));
    }};
}

/// Logs a formatted line at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log!($crate::Level::DEBUG, $($arg)+) };
}

/// Logs a formatted line at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log!($crate::Level::INFO, $($arg)+) };
}

/// Logs a formatted line at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log!($crate::Level::WARN, $($arg)+) };
}

/// Logs a formatted line at error level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log!($crate::Level::ERROR, $($arg)+) };
}

// ---- Publish and subscribe ----------------------------------------------------

/// Publishes `payload` on `topic` (no wildcards). It returns once the message
/// is queued for every subscriber.
///
/// Errors: [`Code::Invalid`] (a bad topic), [`Code::Denied`] (the access
/// policy does not grant it), [`Code::TooLarge`], [`Code::Rate`].
pub fn publish(topic: &str, payload: &[u8]) -> Result<()> {
    host::call(
        "publish",
        imports::publish,
        |e| {
            e.map(2).text("topic").text(topic).text("payload").bytes(payload);
        },
        host::no_response,
    )
}

/// A message on a subscription. Its strings borrow from the event batch.
#[derive(Debug)]
pub struct Message<'a> {
    id: u32,
    topic: &'a str,
    payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// The topic it was published on.
    pub fn topic(&self) -> &'a str {
        self.topic
    }

    /// The payload.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The subscription it came through.
    pub fn subscription(&self) -> Subscription {
        Subscription { id: self.id }
    }
}

/// A subscription, as [`subscribe`] made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    id: u32,
}

impl Subscription {
    /// The id the host gave the subscription (the same for the same filter,
    /// across restarts of the instance too).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Ends the subscription: its handler is not called again, even for
    /// messages already queued. Errors: [`Code::NotFound`].
    pub fn unsubscribe(self) -> Result<()> {
        host::unsubscribe_with("unsubscribe", imports::unsubscribe, self.id)
    }
}

/// Subscribes to an MQTT-style filter (`+` one level, `#` the rest) and
/// calls `f` for each message. Subscribing again to the same filter returns
/// the same subscription and replaces its handler.
///
/// Errors: [`Code::Invalid`] (a bad filter), [`Code::Denied`],
/// [`Code::Full`].
pub fn subscribe(filter: &str, f: impl FnMut(&Message<'_>) + 'static) -> Result<Subscription> {
    let id = host::subscribe_with("subscribe", imports::subscribe, filter, Box::new(f))?;
    Ok(Subscription { id })
}

// ---- Timers ---------------------------------------------------------------------

/// A host timer, as [`every`] or [`after`] started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timer {
    id: u32,
}

impl Timer {
    /// The id the host gave the timer.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Stops the timer: its function is not called again. Errors:
    /// [`Code::NotFound`] for a timer that is not running (a one-shot timer
    /// that has fired included).
    pub fn stop(self) -> Result<()> {
        runtime::remove_timer(self.id);
        host::call(
            "timer_stop",
            imports::timer_stop,
            |e| {
                e.map(1).text("id").uint(self.id as u64);
            },
            host::no_response,
        )
    }
}

fn timer_start(interval: Duration, repeat: bool) -> Result<u32> {
    let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    host::call(
        "timer_start",
        imports::timer_start,
        |e| {
            e.map(2).text("interval_ms").uint(ms).text("repeat").bool(repeat);
        },
        host::read_id("timer_start"),
    )
}

/// Calls `f` every `interval` (whole milliseconds, at least 1) until the
/// timer is stopped or the instance ends. A timer whose previous call is
/// still queued skips a beat rather than queueing a second call.
///
/// Errors: [`Code::Invalid`] (under 1 ms), [`Code::Full`] (64 timers).
pub fn every(interval: Duration, f: impl FnMut() + 'static) -> Result<Timer> {
    let id = timer_start(interval, true)?;
    runtime::put_timer(id, runtime::TimerFn::Every(Box::new(f)));
    Ok(Timer { id })
}

/// Calls `f` once, after `delay` (whole milliseconds, at least 1).
///
/// Errors: as [`every`].
pub fn after(delay: Duration, f: impl FnOnce() + 'static) -> Result<Timer> {
    let id = timer_start(delay, false)?;
    runtime::put_timer(id, runtime::TimerFn::After(Box::new(f)));
    Ok(Timer { id })
}

// ---- Secrets --------------------------------------------------------------------

/// Reads the secret `name` the operator stored on the device. The SDK keeps
/// no copy of it.
///
/// Errors: [`Code::Denied`], [`Code::NotFound`], [`Code::Unavailable`] (the
/// host has no secret store).
pub fn secret_get(name: &str) -> Result<Vec<u8>> {
    host::call(
        "secret_get",
        imports::secret_get,
        |e| {
            e.map(1).text("name").text(name);
        },
        |resp| {
            host::value_of("secret_get", resp, "value")?
                .bytes()
                .map(<[u8]>::to_vec)
                .map_err(|_| Error::new(Code::Protocol, "moss: secret_get: the value is not bytes"))
        },
    )
}
