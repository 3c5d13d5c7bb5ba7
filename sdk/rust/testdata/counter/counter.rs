//! counter.rs is the Rust port of host/daemon/testdata/counter, for the
//! handover scenario (internal/conformance.RunHandover): it counts the
//! messages on "seq/in" and publishes "TAG SEQ COUNT" on "seq/out" for each,
//! TAG being its configuration's "tag". On an upgrade it hands its count to
//! the next version (moss::state_save), which carries on from it
//! (moss::handover); with configuration "defer_s" it defers the first update
//! announced by that many seconds (moss::on_update). Build:
//! sdk/rust/build.sh sdk/rust/testdata/counter/counter.rs -o counter.wasm

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

moss::component!(start);

fn start() -> moss::Result<()> {
    let tag: String = moss::config_get("tag").unwrap_or_else(|_| "v1".to_string());
    let mut defer_s: i64 = moss::config_get("defer_s").unwrap_or(0);
    let h = moss::handover();
    let count = Rc::new(Cell::new(if h.len() == 8 { u64::from_le_bytes(h[..8].try_into().unwrap()) } else { 0 }));
    let c = count.clone();
    moss::on_stop(move |reason| {
        if reason == "upgrade" {
            if let Err(e) = moss::state_save(&c.get().to_le_bytes()) {
                moss::error!("state_save: {}", e);
            }
        }
    });
    moss::on_update(move |_| {
        let d = Duration::from_secs(defer_s.max(0) as u64);
        defer_s = 0; // once
        d
    });
    moss::subscribe("seq/in", move |m| {
        count.set(count.get() + 1);
        let out = format!("{} {} {}", tag, String::from_utf8_lossy(m.payload()), count.get());
        if let Err(e) = moss::publish("seq/out", out.as_bytes()) {
            moss::error!("publish: {}", e);
        }
    })?;
    Ok(())
}
