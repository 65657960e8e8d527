use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{Fields, bounded_text};
use crate::error::Errors;

/// Who performed the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Actor {
    pub const MAX_ID: usize = 128;
    pub const MAX_NAME: usize = 256;
    pub const MAX_EMAIL: usize = 254;

    pub fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let mut fields = Fields::object(value, path, errors)?;
        fields.deny_unknown(&["id", "name", "email"]);
        // Only here, where an actor is recorded: a filter by actor id stores nothing.
        let id = fields.required_parsed("id", |v| {
            super::secrets::refuse_api_key_in_identifier(v)?;
            parse_actor_id(v)
        });
        let name = fields.optional_parsed("name", |v| bounded_text(v, Self::MAX_NAME));
        let email = fields.optional_parsed("email", parse_email);
        Some(Self {
            id: id?,
            name,
            email,
        })
    }
}

/// An actor id, also used as the `actor` filter of list and export requests.
pub fn parse_actor_id(value: &str) -> Result<String, String> {
    bounded_text(value, Actor::MAX_ID)
}

fn parse_email(value: &str) -> Result<String, String> {
    let email = bounded_text(value, Actor::MAX_EMAIL)?;
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace) =>
        {
            Ok(email)
        }
        _ => Err("must be an email address".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Actor, Vec<String>> {
        let mut errors = Errors::default();
        let actor = Actor::parse(&value, "actor", &mut errors);
        match errors.into_result() {
            Ok(()) => Ok(actor.unwrap()),
            Err(crate::ApiError::Validation(list)) => {
                Err(list.into_iter().map(|e| e.field).collect())
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn id_is_required_name_and_email_are_optional() {
        let actor = parse(json!({"id": "u_1", "name": "Alice", "email": "a@x.com"})).unwrap();
        assert_eq!(actor.name.as_deref(), Some("Alice"));
        assert_eq!(parse(json!({"name": "x"})).unwrap_err(), ["actor.id"]);
        assert_eq!(parse(json!({"id": ""})).unwrap_err(), ["actor.id"]);
        assert_eq!(parse(json!("u_1")).unwrap_err(), ["actor"]);
    }

    #[test]
    fn rejects_bad_email_and_unknown_fields() {
        assert_eq!(
            parse(json!({"id": "u", "email": "nope"})).unwrap_err(),
            ["actor.email"]
        );
        assert_eq!(
            parse(json!({"id": "u", "role": "admin"})).unwrap_err(),
            ["actor.role"]
        );
    }
}
