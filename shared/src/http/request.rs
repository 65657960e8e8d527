//! Reading parts of an API Gateway request.

use lambda_http::{Request, RequestExt};

/// The query string as `(name, value)` pairs, repeated names included, in order.
pub fn query_params(request: &Request) -> impl Iterator<Item = (&str, &str)> {
    request
        .query_string_parameters_ref()
        .into_iter()
        .flat_map(|params| params.iter())
}
