fn main() -> Result<(), lambda_http::Error> {
    seclog::http::serve(create_export::CreateExport::build)
}
