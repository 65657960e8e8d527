fn main() -> Result<(), lambda_http::Error> {
    seclog::http::serve(ingest::Ingest::build)
}
