fn main() -> Result<(), lambda_http::Error> {
    seclog::http::serve(integrity::Integrity::build)
}
