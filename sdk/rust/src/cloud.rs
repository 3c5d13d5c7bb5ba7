//! AWS IoT Core through the host's one MQTT connection (host functions
//! `cloud_publish`, `cloud_subscribe`, `cloud_unsubscribe`).
//!
//! ```ignore
//! moss::cloud::publish("dt/pump-1/temperature", b"21.5", moss::cloud::Qos::AtLeastOnce)?;
//! let sub = moss::cloud::subscribe("cmd/pump-1/#", |m| moss::info!("{}: {} bytes", m.topic(), m.payload().len()))?;
//! ```

use crate::error::Result;
use crate::host::{self, imports};
use crate::Message;

/// A quality of service for [`publish`]. AWS IoT Core has no QoS 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qos {
    /// QoS 0: fire and forget; refused while the link is down unless the
    /// host keeps QoS 0 messages offline.
    AtMostOnce,
    /// QoS 1: acknowledged by the broker, or kept in the host's spool (on
    /// disk by default) and sent in order when the link is up. A message
    /// may arrive twice.
    AtLeastOnce,
}

/// Sends `payload` to `topic` on AWS IoT Core. With [`Qos::AtLeastOnce`] it
/// returns once the message is safe: acknowledged by the broker, or in the
/// host's spool. The manifest must grant `cloud.publish` on the topic.
///
/// Errors: [`Code::Invalid`](crate::Code::Invalid) (a topic over 256 bytes,
/// with more than 7 slashes, with wildcards, or a reserved `$` topic),
/// [`Code::TooLarge`](crate::Code::TooLarge) (a payload over 128 KiB),
/// [`Code::Full`](crate::Code::Full) (the spool is full: the message was not
/// taken), [`Code::Unavailable`](crate::Code::Unavailable) (QoS 0 while
/// offline, or a host without a cloud link), [`Code::Denied`](crate::Code::Denied).
pub fn publish(topic: &str, payload: &[u8], qos: Qos) -> Result<()> {
    let qos = match qos {
        Qos::AtMostOnce => 0,
        Qos::AtLeastOnce => 1,
    };
    host::call(
        "cloud_publish",
        imports::cloud_publish,
        |e| {
            e.map(3).text("topic").text(topic).text("payload").bytes(payload).text("qos").uint(qos);
        },
        host::no_response,
    )
}

/// A subscription on AWS IoT Core, as [`subscribe`] made it. (The
/// [`Message::subscription`] of its messages is a local one: end a cloud
/// subscription with this type's [`unsubscribe`](Subscription::unsubscribe).)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    id: u32,
}

impl Subscription {
    /// The id the host gave the subscription (from the same space as the
    /// local bus's).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Ends the subscription: its handler is not called again. Errors:
    /// [`Code::NotFound`](crate::Code::NotFound).
    pub fn unsubscribe(self) -> Result<()> {
        host::unsubscribe_with("cloud_unsubscribe", imports::cloud_unsubscribe, self.id)
    }
}

/// Calls `f` with every message from AWS IoT Core whose topic matches
/// `filter`. The host holds one broker subscription per filter for all
/// components and makes it again after every reconnect; the call succeeds
/// while offline too. Subscribing again to a filter returns the same
/// subscription and replaces its handler.
///
/// Errors: [`Code::Invalid`](crate::Code::Invalid), [`Code::Denied`](crate::Code::Denied)
/// (no `cloud.subscribe` grant covering the filter), [`Code::Full`](crate::Code::Full)
/// (the component's subscriptions, or IoT Core's 50 per connection),
/// [`Code::Unavailable`](crate::Code::Unavailable) (a host without a cloud link).
pub fn subscribe(filter: &str, f: impl FnMut(&Message<'_>) + 'static) -> Result<Subscription> {
    let id = host::subscribe_with("cloud_subscribe", imports::cloud_subscribe, filter, Box::new(f))?;
    Ok(Subscription { id })
}
