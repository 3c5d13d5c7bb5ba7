//! shadowprobe.rs exercises the Rust SDK's shadow and cloud functions and
//! its JSON type against a real host and publishes what it saw on
//! probe/<what>; rust_test.go (TestShadowProbe) runs it and checks. Build:
//! sdk/rust/build.sh sdk/rust/testdata/shadowprobe/shadowprobe.rs -o shadowprobe.wasm
//!
//! Its manifest (component.toml beside it) grants shadow.get, shadow.update
//! and shadow.delete on the named shadows of any thing, shadow.list on the
//! device's thing, and cloud.publish and cloud.subscribe on one topic and
//! filter. A result is published as "ok <value>", "rejected <code>
//! <message>" or "<E_CODE>|<message>".

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::rc::Rc;

use moss::cloud::{self, Qos};
use moss::json::{self, Value};
use moss::shadow::{self, ShadowError};
use moss::Subscription;

moss::component!(start);

const SHADOW: &str = "probe-s";

fn say(what: &str, text: &str) {
    if let Err(e) = moss::publish(&format!("probe/{}", what), text.as_bytes()) {
        moss::error!("publish probe/{}: {}", what, e);
    }
}

fn res<T: Debug>(r: moss::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {:?}", v),
        Err(e) => format!("{}|{}", e.code().name(), e.message()),
    }
}

/// Renders a shadow call's result with the value at path in its document.
fn shadow_res(r: Result<Vec<u8>, ShadowError>, path: &[&str]) -> String {
    match r {
        Ok(doc) => match json::parse(&doc) {
            Ok(v) => format!("ok {}", v.path(path).map_or("-".to_string(), Value::to_string)),
            Err(e) => format!("not JSON: {}", e),
        },
        Err(ShadowError::Rejected { code, message }) => format!("rejected {} {}", code, message),
        Err(ShadowError::Call(e)) => format!("{}|{}", e.code().name(), e.message()),
    }
}

/// The value at path of a JSON payload, as JSON.
fn field(payload: &[u8], path: &[&str]) -> String {
    json::parse(payload).ok().and_then(|v| v.path(path).map(Value::to_string)).unwrap_or_else(|| "-".to_string())
}

fn start() -> Result<(), Box<dyn std::error::Error>> {
    say("get-missing", &shadow_res(shadow::get("", SHADOW), &[]));
    let doc = br#"{"state":{"desired":{"color":"RED"},"reported":{"color":"GREEN"}}}"#;
    say("update", &shadow_res(shadow::update("", SHADOW, doc), &["version"]));
    say("get", &shadow_res(shadow::get("", SHADOW), &["state", "delta", "color"]));
    say("update-bad", &shadow_res(shadow::update("", SHADOW, b"{"), &[]));
    say("update-conflict", &shadow_res(shadow::update("", SHADOW, br#"{"state":{"reported":{"n":1}},"version":99}"#), &[]));
    say("list", &format!("{:?}", shadow::list("", 0, "")));
    say("list-all", &format!("{:?}", shadow::list_all("")));
    say("list-bad", &format!("{:?}", shadow::list("", 1000, "").map_err(|e| e.code())));

    // Failures before the service: no grant, a bad name.
    say("classic-denied", &shadow_res(shadow::get("", ""), &[]));
    say("other-thing", &shadow_res(shadow::get("other-thing", SHADOW), &[]));
    say("list-denied", &format!("{:?}", shadow::list("other-thing", 0, "").map_err(|e| e.to_string())));
    say("bad-name", &shadow_res(shadow::get("", "bad name!"), &[]));

    say("delete", &shadow_res(shadow::delete("", SHADOW), &["version"]));
    say("delete-again", &shadow_res(shadow::delete("", SHADOW), &[]));

    // The cloud functions, on a host whose cloud link is offline (no
    // [cloud] endpoint): QoS 1 goes to the spool, QoS 0 is refused;
    // subscriptions are taken, to be made when the link comes up.
    say(
        "cloud-publish",
        &format!(
            "{} {} {}",
            res(cloud::publish("dt/probe", b"1", Qos::AtLeastOnce)),
            res(cloud::publish("dt/probe", b"0", Qos::AtMostOnce)).split('|').next().unwrap_or(""),
            res(cloud::publish("dt/other", b"", Qos::AtLeastOnce)).split('|').next().unwrap_or(""),
        ),
    );
    let sub = cloud::subscribe("cmd/#", |_| {})?;
    let again = cloud::subscribe("cmd/#", |_| {})?;
    say("cloud-subscribe", &format!("{} {}", sub == again, res(sub.unsubscribe())));
    say("cloud-unsubscribe", &res(again.unsubscribe()));

    // The JSON type at its depth limit, parsed, written and dropped on a
    // component's 64 KiB stack.
    let deep = format!("{}1{}", r#"{"a":["#.repeat(json::MAX_DEPTH / 2), "]}".repeat(json::MAX_DEPTH / 2));
    say("json-deep", &format!("{:?}", json::parse(deep.as_bytes()).map(|v| v.to_string() == deep)));

    let deltas = Rc::new(Cell::new(0));
    let n = Rc::clone(&deltas);
    let delta = shadow::on_delta("", SHADOW, move |m| {
        n.set(n.get() + 1);
        say("delta", &format!("{} {} {}", n.get(), m.topic(), field(m.payload(), &["state", "color"])));
    })?;
    let docs = shadow::on_documents("", SHADOW, |m| say("documents", &field(m.payload(), &["current", "state", "desired", "color"])))?;
    let watch: Rc<RefCell<Option<Subscription>>> = Rc::new(RefCell::new(Some(delta)));
    let cmd = moss::subscribe("probe/cmd", move |m| match m.payload() {
        b"unwatch" => {
            let w = watch.borrow_mut().take();
            say("unwatch", &res(w.map_or(Ok(()), Subscription::unsubscribe)));
        }
        b"ping" => say("pong", &deltas.get().to_string()),
        _ => {}
    })?;
    say("watch", &format!("{} {} {}", delta.id(), docs.id(), cmd.id()));
    Ok(())
}
