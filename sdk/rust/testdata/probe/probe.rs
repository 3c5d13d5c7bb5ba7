//! probe.rs exercises every function of the Rust SDK against a real host
//! and publishes what it saw on probe/<what>; rust_test.go (TestProbe) runs
//! it and checks. Build: sdk/rust/build.sh sdk/rust/testdata/probe/probe.rs -o probe.wasm
//!
//! On start it reads configuration of each type, fails a publish on
//! purpose, subscribes, watches, and starts timers; commands published on
//! probe/cmd drive the rest. A result is published as "ok <value>" or
//! "<E_CODE>|<message>".

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::rc::Rc;
use std::time::Duration;

use moss::{Raw, State, Subscription};

moss::component!(start);

/// Publishes text on probe/<what>.
fn say(what: &str, text: &str) {
    if let Err(e) = moss::publish(&format!("probe/{}", what), text.as_bytes()) {
        moss::error!("publish probe/{}: {}", what, e);
    }
}

/// Renders a result.
fn res<T: Debug>(r: moss::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {:?}", v),
        Err(e) => format!("{}|{}", e.code().name(), e.message()),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

fn start() -> moss::Result<()> {
    moss::info!("probe started name={} version={}", moss::name(), moss::version());

    say("string", &res(moss::config_get::<String>("greeting")));
    say("double", &res(moss::config_get::<f64>("ratio")));
    say("int", &res(moss::config_get::<i64>("count")));
    say("int-as-double", &res(moss::config_get::<f64>("count")));
    say("bool", &res(moss::config_get::<bool>("flag")));
    say("dotted", &res(moss::config_get::<String>("nested.inner")));
    say("type", &res(moss::config_get::<i64>("greeting")));
    say("float-as-int", &res(moss::config_get::<i64>("ratio")));
    say("missing", &res(moss::config_get::<f64>("missing")));
    // Larger than the SDK's 512-byte response buffer: fetched with
    // `response`.
    say("big", &res(moss::config_get::<String>("big").map(|s| s.len())));
    say("raw", &res(moss::config_get::<Raw>("nested").map(|r| hex(&r.0))));
    say("path", &res(moss::config_get_path::<String>(&["dotted.key"])));
    say("error", &res(moss::publish("denied/topic", b"x")));

    let echo = moss::subscribe("probe/in/#", |m| {
        say("echo", &format!("{} {} {}", m.topic(), String::from_utf8_lossy(m.payload()), m.subscription().id()));
    })?;
    let again = moss::subscribe("probe/in/#", |m| {
        say("echo", &format!("{} {} {}", m.topic(), String::from_utf8_lossy(m.payload()), m.subscription().id()));
    })?;
    // A handler that unsubscribes itself: it runs once.
    moss::subscribe("probe/self", |m| say("self-unsubscribed", &res(m.subscription().unsubscribe())))?;
    let echo_sub = Rc::new(Cell::new(Some(echo)));
    let cmd = moss::subscribe("probe/cmd", move |m| command(std::str::from_utf8(m.payload()).unwrap_or("?"), &echo_sub))?;
    let watch = moss::config_watch("watched", |path| {
        say("config", &format!("{} x={}", path.join("/"), res(moss::config_get::<i64>("watched.x"))));
    })?;
    let after = moss::after(Duration::from_millis(1), || say("after", "fired"))?;
    // A repeating timer that stops itself on its third call.
    let count = Rc::new(Cell::new(0));
    let me = Rc::new(RefCell::new(None::<moss::Timer>));
    let every = {
        let me = Rc::clone(&me);
        moss::every(Duration::from_millis(10), move || {
            count.set(count.get() + 1);
            say("every", &count.get().to_string());
            if count.get() == 3 {
                let t = me.borrow().expect("set after every returned");
                say("every-stopped", &res(t.stop()));
            }
        })?
    };
    *me.borrow_mut() = Some(every);
    say("ids", &format!("{} {} {} {} {} {}", echo.id(), again.id(), cmd.id(), watch.id(), after.id(), every.id()));
    moss::on_stop(|reason| say("stopped", reason));
    Ok(())
}

fn command(cmd: &str, echo: &Cell<Option<Subscription>>) {
    match cmd {
        "update" => {
            let mut e = moss::cbor::Encoder::new();
            e.map(1).text("x").int(7);
            say("update", &res(moss::config_update("watched", Raw(e.into_bytes()))));
        }
        "unsubscribe" => {
            let s = echo.get().expect("subscribed in start");
            say("unsubscribed", &res(s.unsubscribe()));
            say("unsubscribed-again", &res(s.unsubscribe()));
        }
        "secret" => {
            say("secret", &res(moss::secret_get("token").map(|v| String::from_utf8_lossy(&v).into_owned())));
            say("secret-denied", &res(moss::secret_get("other")));
        }
        "log" => {
            // Over 64 KiB, cut by the SDK at a character boundary: 65535
            // bytes, as 'é' takes two.
            let big = format!("x{}", "é".repeat(50000));
            say("log", &res(moss::log(moss::Level::INFO, &big)));
        }
        "large" => {
            // Over the 64 KiB the SDK keeps a request buffer for.
            say("after-large", &res(moss::publish("probe/large", &vec![b'L'; 100 << 10])));
        }
        "too-large" => {
            say("too-large", &res(moss::publish("probe/large", &vec![b'L'; 1 << 20])));
        }
        "bad-timer" => say("bad-timer", &res(moss::every(Duration::ZERO, || {}))),
        "panic" => panic!("probe panics on purpose"),
        "errored" => say("erroring", &res(moss::report_state(State::Errored, Some("asked to")))),
        "finish" => say("finishing", &res(moss::report_state(State::Finished, None))),
        other => say("unknown", other),
    }
}
