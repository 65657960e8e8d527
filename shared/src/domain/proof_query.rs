//! The query parameters of the proof routes: `GET /v1/integrity/proof/inclusion?index=I&size=N`
//! and `GET /v1/integrity/proof/consistency?from=N&to=M`. Both are two required decimal numbers;
//! the bounds against the log's current size are [`InclusionQuery::within`] /
//! [`ConsistencyQuery::within`], once that size is known.

use std::collections::BTreeMap;

use crate::error::{ApiError, Errors, FieldError};

/// A proof that leaf `index` is in the tree of `size` leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InclusionQuery {
    pub index: u64,
    pub size: u64,
}

/// A proof that the tree of `to` leaves extends the tree of `from` leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsistencyQuery {
    pub from: u64,
    pub to: u64,
}

/// A tree size or leaf index: decimal digits only (no sign, no spaces), at most u64.
fn parse_number(name: &str, value: &str) -> Result<u64, FieldError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            name,
            "must be a whole number (digits only)",
        ));
    }
    value
        .parse()
        .map_err(|_| FieldError::new(name, "is too large"))
}

/// Exactly the parameters `names`, each once, as numbers.
fn two_numbers<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    names: [&'static str; 2],
) -> Result<[u64; 2], ApiError> {
    let mut errors = Errors::default();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, value) in params {
        if !names.contains(&name) {
            errors.push(
                name,
                format!("unknown parameter; allowed: {}, {}", names[0], names[1]),
            );
        } else if seen.insert(name, value).is_some() {
            errors.push(name, "must be given at most once");
        }
    }
    let mut numbers = [0; 2];
    for (slot, name) in numbers.iter_mut().zip(names) {
        match seen.get(name) {
            None => errors.push(name, "is required"),
            Some(value) => {
                if let Some(n) = errors.take(parse_number(name, value)) {
                    *slot = n;
                }
            }
        }
    }
    errors.into_result().map(|()| numbers)
}

impl InclusionQuery {
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let [index, size] = two_numbers(params, ["index", "size"])?;
        Ok(Self { index, size })
    }

    /// `index < size <= current`: the leaf exists in a tree the log has reached.
    pub fn within(self, current: u64) -> Result<Self, ApiError> {
        if self.size > current {
            return Err(ApiError::field(
                "size",
                format!("must be at most the log's size, {current}"),
            ));
        }
        if self.index >= self.size {
            return Err(ApiError::field("index", "must be below `size`"));
        }
        Ok(self)
    }
}

impl ConsistencyQuery {
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ApiError> {
        let [from, to] = two_numbers(params, ["from", "to"])?;
        Ok(Self { from, to })
    }

    /// `0 < from <= to <= current`.
    pub fn within(self, current: u64) -> Result<Self, ApiError> {
        if self.to > current {
            return Err(ApiError::field(
                "to",
                format!("must be at most the log's size, {current}"),
            ));
        }
        if self.from == 0 {
            return Err(ApiError::field("from", "must be at least 1"));
        }
        if self.from > self.to {
            return Err(ApiError::field("from", "must not be above `to`"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(error: ApiError) -> Vec<String> {
        match error {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn both_numbers_are_required_once_and_nothing_else_is_accepted() {
        assert_eq!(
            InclusionQuery::parse([("index", "3"), ("size", "10")]).unwrap(),
            InclusionQuery { index: 3, size: 10 }
        );
        assert_eq!(
            fields(InclusionQuery::parse([("index", "3")]).unwrap_err()),
            ["size"]
        );
        assert_eq!(
            fields(
                InclusionQuery::parse([("index", "1"), ("index", "2"), ("size", "5")]).unwrap_err()
            ),
            ["index"]
        );
        assert_eq!(
            fields(
                ConsistencyQuery::parse([("from", "1"), ("to", "2"), ("account", "x")])
                    .unwrap_err()
            ),
            ["account"]
        );
    }

    #[test]
    fn numbers_are_plain_digits_within_u64() {
        for bad in ["", "-1", "+1", " 1", "1.0", "0x10", "18446744073709551616"] {
            let error = ConsistencyQuery::parse([("from", bad), ("to", "2")]).unwrap_err();
            assert_eq!(fields(error), ["from"], "{bad:?}");
        }
        assert_eq!(
            ConsistencyQuery::parse([("from", "18446744073709551615"), ("to", "007")]).unwrap(),
            ConsistencyQuery {
                from: u64::MAX,
                to: 7
            }
        );
    }

    #[test]
    fn bounds_follow_the_log_size() {
        let q = |from, to| ConsistencyQuery { from, to };
        assert!(q(1, 5).within(5).is_ok());
        assert!(q(5, 5).within(5).is_ok());
        assert_eq!(fields(q(1, 6).within(5).unwrap_err()), ["to"]);
        assert_eq!(fields(q(0, 5).within(5).unwrap_err()), ["from"]);
        assert_eq!(fields(q(4, 3).within(5).unwrap_err()), ["from"]);
        let i = |index, size| InclusionQuery { index, size };
        assert!(i(0, 1).within(1).is_ok());
        assert_eq!(fields(i(0, 2).within(1).unwrap_err()), ["size"]);
        assert_eq!(fields(i(3, 3).within(5).unwrap_err()), ["index"]);
    }
}
