use isocountry::CountryCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{Fields, bounded_text};
use crate::error::Errors;

/// Where the action came from, as the calling service resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

impl Location {
    pub const MAX_PART: usize = 128;

    pub fn parse(value: &Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let mut fields = Fields::object(value, path, errors)?;
        fields.deny_unknown(&["country", "region", "city"]);
        let country = fields.optional_parsed("country", parse_country);
        let region = fields.optional_parsed("region", |v| bounded_text(v, Self::MAX_PART));
        let city = fields.optional_parsed("city", |v| bounded_text(v, Self::MAX_PART));
        Some(Self {
            country,
            region,
            city,
        })
    }

    /// "Manila, Metro Manila, PH": the most specific parts first.
    pub fn display(&self) -> String {
        self.parts().collect::<Vec<_>>().join(", ")
    }

    /// The known parts, most specific first: what [`display`](Self::display) joins.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        [&self.city, &self.region, &self.country]
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

/// An ISO 3166-1 alpha-2 code that exists; stored upper-case.
fn parse_country(value: &str) -> Result<String, String> {
    let upper = value.to_ascii_uppercase();
    if upper.len() == 2 && CountryCode::for_alpha2(&upper).is_ok() {
        Ok(upper)
    } else {
        Err("must be an ISO 3166-1 alpha-2 country code, e.g. PH".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_real_country_codes_only() {
        assert_eq!(parse_country("ph"), Ok("PH".into()));
        assert_eq!(parse_country("US"), Ok("US".into()));
        for bad in ["XX", "PHL", "P", ""] {
            assert!(parse_country(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_most_specific_first() {
        let mut errors = Errors::default();
        let loc = Location::parse(
            &json!({"country": "PH", "region": "Metro Manila", "city": "Makati"}),
            "location",
            &mut errors,
        )
        .unwrap();
        assert!(errors.is_empty());
        assert_eq!(loc.display(), "Makati, Metro Manila, PH");
    }
}
