fn main() -> Result<(), lambda_http::Error> {
    seclog::http::serve(streams::Streams::build)
}
