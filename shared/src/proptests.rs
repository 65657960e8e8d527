//! Property tests of the edges: the masker (nothing secret survives into stored details, the
//! summary or the CSV) and every parser of caller input (any input gives `Ok` or a 4xx error,
//! never a panic or a 5xx).
//!
//! A test-only module at the top of the crate, not inside `domain/`: the properties read the
//! parsers' errors as the HTTP edge answers them (`http::problem`) and the masked entries as
//! the CSV renders them (`csv`), and from inside `domain/` those uses would close circles with
//! modules that use the domain (infra/check-modules.py).
//!
//! Each property runs [`CASES`] generated cases, so the whole set stays within seconds of
//! `cargo test -p seclog`.

mod cursor;
mod export;
mod ingest;
mod masking;
mod query;
mod strategies;
mod streams;

use proptest::prelude::*;

use crate::ApiError;

/// Cases per property: enough to find what the unit tests miss, small enough to run on every
/// `cargo test`.
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(CASES)
}

/// A parser's error must be the caller's fault: a 4xx problem (`Validation` naming at least one
/// field, `PayloadTooLarge`, ...), never `Storage` / `Internal`.
fn assert_client_error(error: &ApiError) -> Result<(), TestCaseError> {
    prop_assert!(
        !matches!(error, ApiError::Storage(_) | ApiError::Internal(_)),
        "a service fault for caller input: {error:?}"
    );
    let status = crate::http::problem(error).status().as_u16();
    prop_assert!(
        (400..500).contains(&status),
        "{error:?} answers {status}, not 4xx"
    );
    if let ApiError::Validation(errors) = error {
        prop_assert!(!errors.is_empty(), "a validation error names no field");
        // A field is named as sent, so an unknown key `""` is named `""`; the reason never is.
        prop_assert!(errors.iter().all(|e| !e.message.is_empty()));
    }
    Ok(())
}
