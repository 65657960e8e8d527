//! An event as a producer describes it, in the shape `POST /v1/events` takes (`docs/api.md`).
//! The service validates every field; the types here only make the shape right.

use std::net::IpAddr;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::EventType;

/// One security event. Built with [`Event::new`] and the setters; `occurred_at` defaults to
/// the moment of `new`, and `event_id` to a fresh ULID when the client records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    account_id: String,
    #[serde(rename = "type")]
    event_type: EventType,
    occurred_at: Timestamp,
    actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Location>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    details: Map<String, Value>,
}

/// Who did it: `id` is required, `name` and `email` optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// Where the client was: an ISO 3166-1 alpha-2 `country`, a `region`, a `city`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<String>,
}

impl Event {
    /// An event of `account_id` that happened now.
    pub fn new(account_id: impl Into<String>, event_type: EventType, actor: Actor) -> Self {
        Self {
            account_id: account_id.into(),
            event_type,
            occurred_at: Timestamp::now(),
            actor,
            event_id: None,
            ip: None,
            user_agent: None,
            location: None,
            details: Map::new(),
        }
    }

    /// The idempotency key within the account (1-128 of `A-Za-z0-9_.:-`). Give one when the
    /// event has a natural id (so a re-run of the producer's own job stores nothing twice);
    /// otherwise the client generates one.
    pub fn event_id(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = Some(event_id.into());
        self
    }

    pub fn occurred_at(mut self, occurred_at: Timestamp) -> Self {
        self.occurred_at = occurred_at;
        self
    }

    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    pub fn location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// One member of `details` (the contract's typical details per type are in `docs/api.md`).
    pub fn detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// All of `details` at once, replacing any set before.
    pub fn details(mut self, details: Map<String, Value>) -> Self {
        self.details = details;
        self
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The idempotency key: set by the caller, or by the client when recorded.
    pub fn id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    /// Gives the event its idempotency key unless it has one; returns the key.
    pub(crate) fn ensure_event_id(&mut self) -> &str {
        self.event_id
            .get_or_insert_with(|| ulid::Ulid::generate().to_string())
    }
}

impl Actor {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
            email: None,
        }
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }
}

impl Location {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn country(mut self, country: impl Into<String>) -> Self {
        self.country = Some(country.into());
        self
    }

    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub fn city(mut self, city: impl Into<String>) -> Self {
        self.city = Some(city.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_in_the_contract_shape_without_absent_fields() {
        let at: Timestamp = "2024-04-22T06:32:15Z".parse().expect("time");
        let event = Event::new("acct_1", EventType::Login, Actor::new("u_1").name("Alice"))
            .occurred_at(at)
            .event_id("evt-1")
            .ip("203.0.113.45".parse().expect("ip"))
            .location(Location::new().country("PH"))
            .detail("method", "password");
        let json = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            json,
            json!({
                "account_id": "acct_1",
                "type": "login",
                "occurred_at": "2024-04-22T06:32:15Z",
                "actor": {"id": "u_1", "name": "Alice"},
                "event_id": "evt-1",
                "ip": "203.0.113.45",
                "location": {"country": "PH"},
                "details": {"method": "password"}
            })
        );
    }

    #[test]
    fn a_generated_event_id_is_kept_and_a_given_one_is_never_replaced() {
        let mut generated = Event::new("acct_1", EventType::Login, Actor::new("u_1"));
        let first = generated.ensure_event_id().to_owned();
        assert_eq!(first.len(), 26, "a ULID: {first}");
        assert_eq!(generated.ensure_event_id(), first);

        let mut given = Event::new("acct_1", EventType::Login, Actor::new("u_1")).event_id("evt-7");
        assert_eq!(given.ensure_event_id(), "evt-7");
    }
}
